"""Export a PyTorch embedding network to ONNX with a fixed 112x112 input, write the contract in,
check the graph, and prove parity with torch before anything is written."""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import torch

from fqe_onnx.align.template import model_template
from fqe_onnx.contract import Contract, OutputSpec, write_contract
from fqe_onnx.demo import demo_face
from fqe_onnx.preprocess import prepare, prepare_crop

from .presets import with_template
from .parity import FP16, FP32, ParityResult, compare, onnx_embeddings, torch_embeddings

#: The ONNX opset of each exporter: torch's current exporter (torch.export, "dynamo") starts at 18;
#: the TorchScript exporter (deprecated by torch, kept behind --exporter torchscript) uses 17.
OPSETS = {"dynamo": 18, "torchscript": 17}
INPUT_SIZE = (112, 112)
INPUT_NAME, OUTPUT_NAME, BATCH_AXIS = "input", "embedding", "N"


class ExportError(Exception):
    """The export cannot be trusted (bad shapes, failed checks or parity)."""


@dataclass
class ExportResult:
    path: Path
    sha256: str
    contract: Contract
    parity: list[ParityResult]
    fp16: bool
    fixed_batch: bool
    exporter: str = "dynamo"

    @property
    def opset(self) -> int:
        return OPSETS[self.exporter]


def parity_inputs(contract: Contract, n_random: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images through the contract's geometry, and a real face (the demo's astronaut) aligned
    onto the contract's face template, as (N, 3, 112, 112) float32 batches."""
    rng = np.random.default_rng(seed)
    random_images = [rng.integers(0, 256, size=(160, 160, 3), dtype=np.uint8) for _ in range(n_random)]
    face = demo_face(model_template(contract.preprocess), contract.preprocess.geometry.crop_size)
    return {
        f"{n_random} random images": np.stack([prepare(im, contract.preprocess) for im in random_images]),
        "aligned demo face (+ mirrored)": np.stack(
            [prepare_crop(im, contract.preprocess) for im in (face, face[:, ::-1].copy())]
        ),
    }


class SelectOutput(torch.nn.Module):
    """Wraps a network whose forward returns a tuple, a list or a dict (an embedding plus a norm or
    logits, say): only the chosen output, by position or by key, is exported."""

    def __init__(self, network: torch.nn.Module, index: int | None = None, key: str | None = None) -> None:
        super().__init__()
        self.network, self.index, self.key = network, index, key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if self.key is not None:
            if not isinstance(out, dict) or self.key not in out:
                raise ExportError(
                    f"--output-name {self.key}: the network returned "
                    + (f"a dict with keys {sorted(out)}" if isinstance(out, dict) else type(out).__name__)
                )
            return out[self.key]
        if self.index is not None:
            if not isinstance(out, (tuple, list)) or not -len(out) <= self.index < len(out):
                size = len(out) if isinstance(out, (tuple, list)) else None
                raise ExportError(
                    f"--output-index {self.index}: the network returned "
                    + (f"{size} outputs" if size is not None else type(out).__name__)
                )
            return out[self.index]
        return out


def select_output(network: torch.nn.Module, index: int | None = None, key: str | None = None) -> torch.nn.Module:
    """The network itself, or wrapped to export only one of its outputs; ExportError when a network
    returns several outputs and none is chosen."""
    if index is not None and key is not None:
        raise ExportError("give --output-index or --output-name, not both")
    if index is None and key is None:
        with torch.no_grad():
            probe = network.eval()(torch.zeros((1, 3) + INPUT_SIZE))
        if isinstance(probe, dict):
            raise ExportError(
                f"the network returns a dict ({', '.join(map(str, probe))}): choose the embedding "
                "with --output-name KEY"
            )
        if isinstance(probe, (tuple, list)):
            raise ExportError(f"the network returns {len(probe)} outputs: choose the embedding with --output-index N")
        return network
    return SelectOutput(network, index, key).eval()


def to_onnx(network: torch.nn.Module, fixed_batch: bool, exporter: str = "dynamo") -> onnx.ModelProto:
    """Export with a fixed 3x112x112 input: torch's current exporter (``dynamo``, torch.export and
    onnxscript) or the deprecated TorchScript one (``torchscript``)."""
    if exporter not in OPSETS:
        raise ExportError(f"unknown exporter {exporter!r}; known: {', '.join(OPSETS)}")
    dummy = torch.zeros((1, 3) + INPUT_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices, and torch.export's notes on unused torchvision ops
        if exporter == "dynamo":
            quiet = logging.getLogger("torch.onnx")
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                shapes = None if fixed_batch else ({0: torch.export.Dim("N")},)
                program = torch.onnx.export(
                    network,
                    (dummy,),
                    dynamo=True,
                    opset_version=OPSETS[exporter],
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_shapes=shapes,
                    verbose=False,
                )
            except ImportError as exc:
                raise ExportError(
                    f"the dynamo exporter needs onnxscript (in the export extra): {exc}; or use --exporter torchscript"
                ) from exc
            finally:
                quiet.setLevel(level)
            model = program.model_proto
            if not fixed_batch:  # name the batch axis as the TorchScript path does
                for value in list(model.graph.input) + list(model.graph.output):
                    value.type.tensor_type.shape.dim[0].dim_param = BATCH_AXIS
            return model
        buffer = io.BytesIO()
        axes = None if fixed_batch else {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}
        torch.onnx.export(
            network,
            (dummy,),
            buffer,
            dynamo=False,
            opset_version=OPSETS[exporter],
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise ExportError("--fp16 needs onnxconverter-common: pip install onnxconverter-common") from None
    return float16.convert_float_to_float16(model, keep_io_types=True)


def export_model(
    network: torch.nn.Module,
    contract: Contract,
    out: Path,
    *,
    fixed_batch: bool = False,
    fp16: bool = False,
    exporter: str = "dynamo",
    output_index: int | None = None,
    output_name: str | None = None,
) -> ExportResult:
    """Export, write ``contract`` (its embedding dim taken from the network, its face template written
    out), check, prove parity, save."""
    if contract.preprocess.geometry.crop_size != INPUT_SIZE or contract.preprocess.channels != 3:
        raise ExportError(
            f"exports take 3-channel {INPUT_SIZE[0]}x{INPUT_SIZE[1]} inputs; the contract crops "
            f"{contract.preprocess.geometry.crop_size} with {contract.preprocess.channels} channel(s)"
        )
    if contract.preprocess.layout != "NCHW":
        raise ExportError("PyTorch networks take NCHW input: the contract's layout must be NCHW")
    network = select_output(network.eval(), output_index, output_name)
    inputs = parity_inputs(contract)
    reference = {name: torch_embeddings(network, batch) for name, batch in inputs.items()}
    dim = next(iter(reference.values())).shape[1]
    contract = replace(with_template(contract), output=OutputSpec("embedding", dim))

    model = to_onnx(network, fixed_batch, exporter)
    if fp16:
        model = to_fp16(model)
    write_contract(model, contract)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the exported graph: {exc}") from exc
    data = model.SerializeToString()

    tolerance = FP16 if fp16 else FP32
    results = [
        compare(name, reference[name], onnx_embeddings(data, batch, fixed_batch), tolerance)
        for name, batch in inputs.items()
    ]
    failed = [r for r in results if not r.passed]
    if failed:
        raise ExportError(
            "ONNX output differs from torch beyond tolerance:\n" + "\n".join(r.describe() for r in failed)
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return ExportResult(out, hashlib.sha256(data).hexdigest(), contract, results, fp16, fixed_batch, exporter)


def models_md_entry(result: ExportResult, title: str) -> str:
    """A models.md-ready section for the exported file."""
    pre, cal = result.contract.preprocess, result.contract.calibration
    geo = pre.geometry
    return "\n".join(
        [
            f"### {title}",
            f"- file: `{result.path.name}`, sha256 `{result.sha256}`",
            f"- source: {result.contract.source or 'not given'}",
            f"- license: {result.contract.license or 'not given'}",
            f"- export: {result.exporter} exporter, opset {result.opset}, input 3x{INPUT_SIZE[0]}x{INPUT_SIZE[1]}, batch "
            f"{'fixed 1' if result.fixed_batch else 'dynamic'}, {'fp16 weights' if result.fp16 else 'fp32'}",
            f"- preprocessing: {pre.channel_order}, resize {geo.resize[0]}x{geo.resize[1]} {geo.interpolation}, crop "
            f"(top, left, h, w) = {geo.crop_box()}, x = (pixel - {list(pre.mean)}) / {list(pre.scale)}",
            "- face template (input pixels; eyes, nose tip, mouth corners): "
            + ", ".join(f"({x:g}, {y:g})" for x, y in model_template(pre).tolist()),
            f"- output: {result.contract.output.dim}-D embedding",
            f"- calibration: h={cal.h:g}, a={cal.a:g}, s={cal.s:g}, x0={cal.x0:g}, w={cal.w:g}",
            "- parity with torch: " + "; ".join(r.describe() for r in result.parity),
            "- norm range: (measure with `fqe-onnx score` on your data and record it here)",
        ]
    )

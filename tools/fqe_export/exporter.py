"""Export a PyTorch embedding network to ONNX with a fixed 112x112 input, write the contract in,
check the graph, and prove parity with torch before anything is written."""

from __future__ import annotations

import hashlib
import io
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

#: The ONNX opset every export uses: supported by ONNX Runtime >= 1.14 and by the TorchScript exporter.
OPSET = 17
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


def parity_inputs(contract: Contract, n_random: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images through the contract's geometry, and a real face (the demo's astronaut) aligned
    onto the contract's face template, as (N, 3, 112, 112) float32 batches."""
    rng = np.random.default_rng(seed)
    random_images = [rng.integers(0, 256, size=(160, 160, 3), dtype=np.uint8) for _ in range(n_random)]
    face = demo_face(model_template(contract.preprocess), contract.preprocess.geometry.crop_size)
    return {
        f"{n_random} random images": np.stack([prepare(im, contract.preprocess) for im in random_images]),
        "aligned demo face (+ mirrored)": np.stack([prepare_crop(im, contract.preprocess)
                                                    for im in (face, face[:, ::-1].copy())]),
    }


def to_onnx(network: torch.nn.Module, fixed_batch: bool) -> onnx.ModelProto:
    """TorchScript-based export (no onnxscript needed), input fixed at 3x112x112."""
    buffer = io.BytesIO()
    dummy = torch.zeros((1, 3) + INPUT_SIZE)
    axes = None if fixed_batch else {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation on every call
        torch.onnx.export(network, (dummy,), buffer, dynamo=False, opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], dynamic_axes=axes, do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue())


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        from onnxconverter_common import float16
    except ImportError:
        raise ExportError("--fp16 needs onnxconverter-common: pip install onnxconverter-common") from None
    return float16.convert_float_to_float16(model, keep_io_types=True)


def export_model(network: torch.nn.Module, contract: Contract, out: Path, *, fixed_batch: bool = False,
                 fp16: bool = False) -> ExportResult:
    """Export, write ``contract`` (its embedding dim taken from the network, its face template written
    out), check, prove parity, save."""
    if contract.preprocess.geometry.crop_size != INPUT_SIZE or contract.preprocess.channels != 3:
        raise ExportError(f"exports take 3-channel {INPUT_SIZE[0]}x{INPUT_SIZE[1]} inputs; the contract crops "
                          f"{contract.preprocess.geometry.crop_size} with {contract.preprocess.channels} channel(s)")
    if contract.preprocess.layout != "NCHW":
        raise ExportError("PyTorch networks take NCHW input: the contract's layout must be NCHW")
    network = network.eval()
    inputs = parity_inputs(contract)
    reference = {name: torch_embeddings(network, batch) for name, batch in inputs.items()}
    dim = next(iter(reference.values())).shape[1]
    contract = replace(with_template(contract), output=OutputSpec("embedding", dim))

    model = to_onnx(network, fixed_batch)
    if fp16:
        model = to_fp16(model)
    write_contract(model, contract)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the exported graph: {exc}") from exc
    data = model.SerializeToString()

    tolerance = FP16 if fp16 else FP32
    results = [compare(name, reference[name], onnx_embeddings(data, batch, fixed_batch), tolerance)
               for name, batch in inputs.items()]
    failed = [r for r in results if not r.passed]
    if failed:
        raise ExportError("ONNX output differs from torch beyond tolerance:\n" + "\n".join(r.describe() for r in failed))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return ExportResult(out, hashlib.sha256(data).hexdigest(), contract, results, fp16, fixed_batch)


def models_md_entry(result: ExportResult, title: str) -> str:
    """A models.md-ready section for the exported file."""
    pre, cal = result.contract.preprocess, result.contract.calibration
    geo = pre.geometry
    return "\n".join([
        f"### {title}",
        f"- file: `{result.path.name}`, sha256 `{result.sha256}`",
        f"- source: {result.contract.source or 'not given'}",
        f"- license: {result.contract.license or 'not given'}",
        f"- export: opset {OPSET}, input 3x{INPUT_SIZE[0]}x{INPUT_SIZE[1]}, batch "
        f"{'fixed 1' if result.fixed_batch else 'dynamic'}, {'fp16 weights' if result.fp16 else 'fp32'}",
        f"- preprocessing: {pre.channel_order}, resize {geo.resize[0]}x{geo.resize[1]} {geo.interpolation}, crop "
        f"(top, left, h, w) = {geo.crop_box()}, x = (pixel - {list(pre.mean)}) / {list(pre.scale)}",
        f"- face template (input pixels; eyes, nose tip, mouth corners): "
        + ", ".join(f"({x:g}, {y:g})" for x, y in model_template(pre).tolist()),
        f"- output: {result.contract.output.dim}-D embedding",
        f"- calibration: h={cal.h:g}, a={cal.a:g}, s={cal.s:g}, x0={cal.x0:g}, w={cal.w:g}",
        "- parity with torch: " + "; ".join(r.describe() for r in result.parity),
        "- norm range: (measure with `fqe-onnx score` on your data and record it here)",
    ])

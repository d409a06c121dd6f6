"""ONNX Runtime: choosing the execution provider, loading a model, checking its I/O, running batches.

ONNX Runtime silently falls back to the CPU when CUDA cannot be used, so the providers a session
really got are checked after it is built: ``cuda`` fails loudly, ``auto`` says which one ran.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np

from .contract import contract_from_metadata, with_overrides
from .errors import DeviceError, ModelError, RuntimeMissingError
from .quality import embedding_norms

log = logging.getLogger(__name__)

ModelSource = Union[str, "os.PathLike[str]", bytes]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def import_onnxruntime() -> Any:
    """Import onnxruntime, or say how to install it (the CPU and GPU wheels clash, so neither is required)."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeMissingError(
            "ONNX Runtime is not installed: pip install onnxruntime (CPU) or onnxruntime-gpu (CUDA), never both "
            "(the cpu and gpu extras)"
        ) from None
    return onnxruntime


def parse_device(device: str) -> tuple[str, int]:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'openvino' -> (kind, device index)."""
    text = device.strip().lower()
    if text in ("auto", "cpu", "cuda", "openvino"):
        return text, 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return "cuda", int(text[5:])
    raise DeviceError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or openvino")


def available_providers() -> list[str]:
    """ONNX Runtime's execution providers, and OpenVINO when its extra is installed."""
    from .backends.openvino import PROVIDER, openvino_available

    return list(import_onnxruntime().get_available_providers()) + ([PROVIDER] if openvino_available() else [])


def available_cores() -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
    container's ``cpu.max``), not the host's count."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _session_options(ort: Any, threads: Optional[int] = None) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Not "session.set_denormal_as_zero": it sets denormals-are-zero on the calling thread, which
    # would change the host application's own float arithmetic. Zoo models have their denormal
    # weights flushed instead (modelprep.graph.flush_denormals; `fqe-onnx contract --optimize`).
    options.log_severity_level = 3
    return options


def _load(model: ModelSource) -> tuple[Any, Any]:
    ort = import_onnxruntime()
    if not isinstance(model, bytes):
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        model = str(path)
    return ort, model


def create_session(model: ModelSource, device: str = "auto", threads: Optional[int] = None) -> tuple[Any, str]:
    """Build an InferenceSession on the requested device (``threads``: ONNX Runtime's intra-op
    threads, None for its default); returns (session, provider that runs it).

    ``auto`` prefers CUDA when it really works, then ONNX Runtime's CPU provider. OpenVINO runs
    only when asked for (``openvino``): on the processors measured so far the CPU provider is
    faster end to end on our models once PReLU is rewritten (benchmarks/speed.py)."""
    kind, index = parse_device(device)
    if kind == "openvino":
        if isinstance(model, bytes):
            raise DeviceError("the OpenVINO backend reads model files, not bytes")
        from .backends.openvino import PROVIDER, OpenVinoSession

        _load(model)  # the same missing-file error as ONNX Runtime's path
        return OpenVinoSession(Path(model), streams=available_cores()), PROVIDER
    ort, source = _load(model)
    available = ort.get_available_providers()
    options = _session_options(ort, threads)

    def build(providers: list[Any]) -> Any:
        try:
            return ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            if "INVALID_PROTOBUF" in str(exc) or "Protobuf parsing failed" in str(exc):
                from .modelfile import not_onnx

                where = "" if isinstance(source, bytes) else f"{source}: "
                raise ModelError(f"ONNX Runtime cannot load the model: {where}{not_onnx(source)}") from exc
            raise ModelError(f"ONNX Runtime cannot load the model: {exc}") from exc

    if kind in ("cuda", "auto") and CUDA in available:
        session = build([(CUDA, {"device_id": index}), CPU])
        if session.get_providers()[0] == CUDA:
            return session, CUDA
        if kind == "cuda":
            raise DeviceError(
                "CUDA was requested but ONNX Runtime fell back to the CPU (CUDA/cuDNN libraries "
                "missing or no usable GPU); check 'nvidia-smi' and the onnxruntime-gpu install notes"
            )
        log.warning("CUDA is installed but not usable; running on the CPU")
    elif kind == "cuda":
        raise DeviceError(
            f"CUDA was requested but this ONNX Runtime has no CUDA provider (available: "
            f"{', '.join(available)}); pip uninstall onnxruntime && pip install onnxruntime-gpu"
        )
    return build([CPU]), CPU


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Any, ...]
    type: str


def describe(nodes: list[Any]) -> list[TensorInfo]:
    return [TensorInfo(n.name, tuple(n.shape), n.type) for n in nodes]


def _fixed(dim: Any) -> bool:
    return isinstance(dim, int) and dim > 0


class EmbeddingModel:
    """A loaded face model: validated I/O, its contract, and batched inference to raw norms ``q``.

    The contract is the model's own (or the seed default) with ``overrides`` applied (the keyword
    arguments of ``contract.with_overrides``); the I/O is checked against it before any image is read.
    """

    def __init__(
        self,
        model: ModelSource,
        device: str = "auto",
        overrides: Mapping[str, Any] | None = None,
        threads: Optional[int] = None,
        precision: str = "fp32",
        io_binding: bool = False,
    ):
        from .precision import check_precision

        self.source = None if isinstance(model, bytes) else str(model)  # the file, when there is one
        self.precision = check_precision(precision)
        if parse_device(device)[0] == "openvino" and (precision == "fp16" or io_binding):
            raise DeviceError(
                "precision fp16 and IO binding are for ONNX Runtime's providers (CUDA); OpenVINO runs fp32 arrays"
            )
        if precision == "fp16":
            from .modelfile import load_model_proto
            from .precision import to_float16

            model = to_float16(load_model_proto(model))
        self.session, self.provider = create_session(model, device, threads)
        if precision == "fp16" and self.provider == CPU:
            log.warning(
                "precision fp16 on the CPU provider runs through casts to float32, which is "
                "not what a GPU computes; it is meant for CUDA"
            )
        self.io_binding = io_binding
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.model_contract, self.has_contract = contract_from_metadata(metadata)
        self.contract = with_overrides(self.model_contract, **(overrides or {}))
        self.inputs = describe(self.session.get_inputs())
        self.outputs = describe(self.session.get_outputs())
        self._check_io()

    def _check_io(self) -> None:
        pre, out = self.contract.preprocess, self.contract.output
        if len(self.inputs) != 1:
            names = ", ".join(i.name for i in self.inputs)
            raise ModelError(f"expected exactly one image input, the model has {len(self.inputs)}: {names}")
        if len(self.outputs) != 1:
            names = ", ".join(o.name for o in self.outputs)
            raise ModelError(f"expected exactly one output, the model has {len(self.outputs)}: {names}")
        inp = self.inputs[0]
        if inp.type not in _FLOAT_TYPES:
            raise ModelError(f"input {inp.name!r} must be float32 or float16, the model declares {inp.type}")
        if len(inp.shape) != 4:
            raise ModelError(
                f"input {inp.name!r} must have rank 4 ({pre.layout}), the model declares {list(inp.shape)}"
            )
        channels, spatial = (inp.shape[1], inp.shape[2:4]) if pre.layout == "NCHW" else (inp.shape[3], inp.shape[1:3])
        if _fixed(channels) and channels != pre.channels:
            raise ModelError(
                f"input {inp.name!r} has {channels} channels ({pre.layout} {list(inp.shape)}); the contract's "
                f"channel order {pre.channel_order} gives {pre.channels}"
            )
        crop = pre.geometry.crop_size
        for declared, wanted in zip(spatial, crop):
            if _fixed(declared) and declared != wanted:
                raise ModelError(
                    f"input {inp.name!r} expects {spatial[0]}x{spatial[1]} images ({pre.layout} "
                    f"{list(inp.shape)}); the preprocessing crops {crop[0]}x{crop[1]}"
                )
        declared_out = self.outputs[0].shape
        if out.kind == "embedding" and declared_out and _fixed(declared_out[-1]) and len(declared_out) == 2:
            if declared_out[-1] != out.dim:
                raise ModelError(
                    f"output {self.outputs[0].name!r} declares {list(declared_out)}; the contract expects "
                    f"a {out.dim}-D embedding"
                )
        self.input_name = inp.name
        self.input_dtype = _FLOAT_TYPES[inp.type]
        self.fixed_batch = inp.shape[0] if _fixed(inp.shape[0]) else None

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run preprocessed inputs (N, ...) through the model; returns the raw output as (N, K)."""
        n = batch.shape[0]
        step = self.fixed_batch or n
        parts = []
        for start in range(0, n, step):
            chunk = batch[start : start + step]
            if len(chunk) < step:  # a fixed-batch model: pad the last chunk, drop the padding after
                pad = np.zeros((step - len(chunk),) + chunk.shape[1:], dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            result = self._infer(chunk.astype(self.input_dtype, copy=False))
            parts.append(self._check_output(np.asarray(result), step)[: min(step, n - start)])
        return np.concatenate(parts)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        """One runtime call. With ``io_binding`` the input is bound from host memory and the output
        bound by name, which spares ONNX Runtime's staging copies on a GPU."""
        if not self.io_binding:
            return self.session.run(None, {self.input_name: batch})[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(batch))
        binding.bind_output(self.outputs[0].name)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def _check_output(self, output: np.ndarray, n: int) -> np.ndarray:
        out = self.contract.output
        width = out.dim if out.kind == "embedding" else 1
        if output.ndim == 0 or output.shape[0] != n or output.size != n * width:
            expected = f"({n}, {out.dim})" if out.kind == "embedding" else f"({n},) or ({n}, 1)"
            raise ModelError(
                f"output {self.outputs[0].name!r} has shape {list(output.shape)} for a batch of {n}; "
                f"the contract ({out.kind}) expects {expected}"
            )
        return output.reshape(n, width)

    def norms_of(self, output: np.ndarray) -> np.ndarray:
        """Raw quality ``q`` from ``run``'s (N, K) output, float64 (N,): the embedding's L2 norm, or the
        model's norm."""
        if self.contract.output.kind == "norm":
            return output[:, 0].astype(np.float64)
        return embedding_norms(output)

    def norms(self, batch: np.ndarray) -> np.ndarray:
        """Raw quality ``q`` for each preprocessed input, float64 (N,)."""
        return self.norms_of(self.run(batch))

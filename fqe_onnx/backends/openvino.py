"""OpenVINO as an optional backend (the ``openvino`` extra, ``--device openvino``).

The OpenVINO runtime reads the same ONNX file, with an f32 precision hint so that results agree
with ONNX Runtime's CPU provider (the tests check q to 1e-5 on the demo ladder). It runs on AMD
processors too. Each calling thread gets its own infer request, and the compiled model gets one
stream per core, so the scorer's worker threads run in parallel as they do on ONNX Runtime.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..errors import DeviceError, ModelError

PROVIDER = "OpenVINO"
_TYPES = {"f32": "tensor(float)", "f16": "tensor(float16)", "i64": "tensor(int64)", "i32": "tensor(int32)"}


def import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise DeviceError("OpenVINO is not installed: pip install openvino (the openvino extra)") from None
    return openvino


def openvino_available() -> bool:
    try:
        import_openvino()
    except DeviceError:
        return False
    return True


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple
    type: str


@dataclass(frozen=True)
class _Meta:
    custom_metadata_map: Mapping[str, str]


def _describe(ports: Sequence[Any]) -> list[_Tensor]:
    out = []
    for port in ports:
        shape = tuple(d.get_length() if d.is_static else "N" for d in port.get_partial_shape())
        out.append(_Tensor(port.get_any_name(), shape, _TYPES.get(port.get_element_type().get_type_name(), "?")))
    return out


class OpenVinoSession:
    """The subset of ``onnxruntime.InferenceSession`` that fqe-onnx uses, on OpenVINO's CPU plugin."""

    def __init__(self, model: Path, streams: int = 1) -> None:
        ov = import_openvino()
        import onnx

        try:
            core = ov.Core()
            self._compiled = core.compile_model(
                core.read_model(str(model)),
                "CPU",
                {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": str(streams)},
            )
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise ModelError(f"OpenVINO cannot load the model: {exc}") from exc
        proto = onnx.load(str(model), load_external_data=False)
        self._meta = _Meta({p.key: p.value for p in proto.metadata_props})
        self._inputs = _describe(self._compiled.inputs)
        self._outputs = _describe(self._compiled.outputs)
        self._local = threading.local()

    def get_inputs(self) -> list[_Tensor]:
        return self._inputs

    def get_outputs(self) -> list[_Tensor]:
        return self._outputs

    def get_modelmeta(self) -> _Meta:
        return self._meta

    def get_providers(self) -> list[str]:
        return [PROVIDER]

    def run(self, output_names: Optional[Sequence[str]], feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        results = request.infer(dict(feed))
        by_name = {port.get_any_name(): np.array(value) for port, value in results.items()}
        names = output_names or [o.name for o in self._outputs]
        return [by_name[name] for name in names]

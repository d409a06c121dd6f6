"""fqe-onnx: face image quality from the norm of a face-recognition embedding, on ONNX Runtime.

``q = ||V||2`` for the embedding V of a preprocessed face; ``Q`` maps q to 0..100 with a calibrated
sigmoid. The preprocessing and calibration travel inside the ONNX file (see ``fqe_onnx.contract``).
Names are imported on first use, so ``fqe-onnx --help`` does not load OpenCV or NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Scorer": "scorer",
    "Record": "records",
    "run": "dataframe",
    "ERROR_KINDS": "errors",
    "Contract": "contract",
    "Preprocess": "contract",
    "Geometry": "contract",
    "OutputSpec": "contract",
    "Calibration": "contract",
    "GEOMETRIES": "contract",
    "FqeError": "errors",
    "ModelError": "errors",
    "ContractError": "errors",
    "DeviceError": "errors",
    "ImageError": "errors",
    "RuntimeMissingError": "errors",
    "ModelFetchError": "errors",
    "FaceAligner": "align.aligner",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'fqe_onnx' has no attribute {name!r}")

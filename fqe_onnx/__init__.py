"""fqe-onnx: face image quality from the norm of a face-recognition embedding, on ONNX Runtime.

``q = ||V||2`` for the embedding V of a preprocessed face; ``Q`` maps q to 0..100 with a calibrated
sigmoid. The preprocessing and calibration travel inside the ONNX file (see ``fqe_onnx.contract``).
"""

__version__ = "0.1.0"

from .contract import GEOMETRIES, Calibration, Contract, Geometry, OutputSpec, Preprocess
from .errors import ContractError, DeviceError, FqeError, ImageError, ModelError, RuntimeMissingError
from .scorer import Record, Scorer, run

__all__ = [
    "GEOMETRIES", "Calibration", "Contract", "ContractError", "DeviceError", "FqeError", "Geometry",
    "ImageError", "ModelError", "OutputSpec", "Preprocess", "Record", "RuntimeMissingError", "Scorer",
    "run", "__version__",
]

"""The exception family: every error the library raises on purpose is an FqeError."""


class FqeError(Exception):
    """Base class for errors fqe-onnx raises on purpose."""


class ModelError(FqeError):
    """The model file cannot be used: unreadable, wrong inputs/outputs, or a bad contract."""


class ContractError(ModelError):
    """The preprocessing/calibration contract is malformed or inconsistent with the model."""


class DeviceError(FqeError):
    """The requested execution device is not available (e.g. CUDA asked for, CPU would run)."""


class RuntimeMissingError(FqeError):
    """No ONNX Runtime wheel is installed."""


class ImageError(FqeError):
    """One input image cannot be decoded or is not a usable image array."""


class ModelFetchError(FqeError):
    """A zoo model cannot be fetched or fails its hash check."""

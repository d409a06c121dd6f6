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


#: Stable error kinds for per-image failures (the ``error_kind`` column): what a pipeline acts on.
#: The texts say what happened and what to do; docs/reference/errors.md lists them.
ERROR_KINDS = {
    "unreadable": "the file or folder could not be read (missing, no permission, I/O error): fix access, then retry",
    "not-a-file": "a FIFO, socket or device with an image's name: skip it",
    "empty-file": "the file has no bytes (often an interrupted copy): copy it again",
    "truncated": "the image file is cut short: copy or download it again",
    "corrupt": "the image's compressed data is damaged (its decoder said so): copy or download it again",
    "not-an-image": "the bytes are not an image that is decoded here (JPEG, PNG, BMP, WebP, TIFF): skip it",
    "too-large": "over the file size or pixel limit (a decompression bomb, or --max-pixels too low)",
    "too-small": "a side below the smallest usable size: a reject",
    "flat": "one flat colour, no detail at all: a reject",
    "bad-array": "an in-memory array is not an HxWx3 or HxW uint8 image: fix the caller",
    "no-face": "no face was found (also for a face too degraded for the detector): a reject",
    "bad-output": "the model gave a non-finite output for this image",
    "model-error": "ONNX Runtime failed on this image alone (its batch was retried one image at a time)",
    "name-clash": "(align) another input already wrote the crop this one would write",
    "internal": "an unexpected error while preparing this image (a bug: please report it with the message)",
}


class ImageError(FqeError):
    """One input image cannot be used; ``kind`` is one of ``ERROR_KINDS``."""

    def __init__(self, message: str, kind: str = "not-an-image") -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.format = ""  # the sniffed image format, when the bytes got that far


class ModelFetchError(FqeError):
    """A zoo model cannot be fetched or fails its hash check."""

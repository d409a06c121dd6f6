"""Half-precision copies of a model for GPUs: weights and arithmetic in float16, inputs and
outputs kept float32 so the rest of the pipeline (preprocessing, the norm, the contract) is unchanged."""

from __future__ import annotations

from typing import Any

from .errors import ModelError

PRECISIONS = ("fp32", "fp16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def to_float16(model: Any) -> bytes:
    """The serialized model (a ModelProto) converted to float16 with float32 inputs and outputs,
    metadata (the contract) kept. Uses the converter that ships inside the onnxruntime wheel, so it
    needs nothing beyond the runtime dependencies."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:  # an onnxruntime build without its Python tools
        raise ModelError(f"this onnxruntime has no float16 converter ({exc}); use precision fp32") from exc
    try:
        converted = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    except Exception as exc:  # the converter raises plain exceptions on graphs it cannot handle
        raise ModelError(f"cannot convert the model to float16: {type(exc).__name__}: {exc}") from exc
    return converted.SerializeToString()

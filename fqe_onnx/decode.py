"""Turning files, bytes and caller arrays into BGR uint8 images, with a specific error for each failure.

Files are read as bytes and decoded with ``cv2.imdecode``: ``cv2.imread`` with a str path crashes on
file names that are not UTF-8, and both silently return the top of a truncated JPEG filled with grey,
so completeness is checked on the bytes before decoding.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

_JPEG_SOI = b"\xff\xd8"
_JPEG_SOS = b"\xff\xda"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_complete(data: bytes) -> None:
    """Raise ImageError if a JPEG or PNG byte stream is visibly truncated.

    JPEG: an end-of-image marker must follow the last start-of-scan marker (entropy-coded data
    escapes 0xFF, so neither marker can occur inside it). PNG: the IEND chunk must be present.
    """
    if data.startswith(_JPEG_SOI):
        last_scan = data.rfind(_JPEG_SOS)
        if last_scan < 0 or data.find(_JPEG_EOI, last_scan) < 0:
            raise ImageError("truncated JPEG: no end-of-image marker after the last scan", "truncated")
    elif data.startswith(_PNG_SIGNATURE):
        if data.rfind(b"IEND") < 0:
            raise ImageError("truncated PNG: no IEND chunk", "truncated")


def decode_bytes(data: bytes | np.ndarray) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, ...) to an HxWx3 BGR uint8 array."""
    buffer = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if buffer.size == 0:
        raise ImageError("empty file", "empty-file")
    check_complete(buffer.tobytes())
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header declaring more pixels than OpenCV allows
        raise ImageError(f"OpenCV refused to decode the image: {exc.err}") from exc
    if image is None:
        raise ImageError("not a decodable image (OpenCV could not decode the bytes)")
    return image


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read and decode one image file to HxWx3 BGR uint8."""
    try:
        data = np.fromfile(Path(path), dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}", "unreadable") from exc
    return decode_bytes(data)


def as_bgr_image(array: np.ndarray) -> np.ndarray:
    """Validate a caller's array: HxWx3 BGR uint8, or HxW grey uint8 (converted to BGR)."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(array).__name__}", "bad-array")
    if array.dtype != np.uint8:
        raise ImageError(f"expected dtype uint8, got {array.dtype}", "bad-array")
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    elif array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"expected an HxWx3 BGR or HxW grey image, got shape {array.shape}", "bad-array")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"empty image, shape {array.shape}", "bad-array")
    return array

"""Pure preprocessing: a BGR uint8 image to the model's float32 input, as the contract says.

Order: channel conversion, resize to ``geometry.resize`` (skipped when already that size), crop,
``(pixel - mean) / scale`` in float32, then the layout's axis order. Crops that are already at the
model's input size (aligned faces) skip the geometry. No onnxruntime here.
"""

from __future__ import annotations

import cv2
import numpy as np

from .contract import Geometry, Preprocess

_INTERPOLATION_FLAGS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def convert_channels(bgr: np.ndarray, channel_order: str) -> np.ndarray:
    """HxWx3 BGR to HxWxC in ``channel_order`` (C = 1 for GRAY)."""
    if channel_order == "BGR":
        return bgr
    if channel_order == "RGB":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[:, :, None]


def apply_geometry(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Resize to ``geometry.resize`` (h, w) unless already that size, then crop the box."""
    height, width = geometry.resize
    if image.shape[:2] != (height, width):
        channels = image.shape[2]
        image = cv2.resize(image, (width, height), interpolation=_INTERPOLATION_FLAGS[geometry.interpolation])
        image = image.reshape(height, width, channels)  # cv2 drops a single channel axis
    top, left, h, w = geometry.crop_box()
    return image[top : top + h, left : left + w]


def normalize(pixels: np.ndarray, mean: tuple[float, ...], scale: tuple[float, ...]) -> np.ndarray:
    """``(pixels - mean) / scale`` per channel (last axis), computed in float32."""
    mean_f32 = np.asarray(mean, dtype=np.float32)
    scale_f32 = np.asarray(scale, dtype=np.float32)
    return (pixels.astype(np.float32) - mean_f32) / scale_f32


def to_tensor(pixels: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """Model-sized pixels (HxWxC, the model's channel order) to CxHxW or HxWxC float32."""
    tensor = normalize(pixels, preprocess.mean, preprocess.scale)
    if preprocess.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    return np.ascontiguousarray(tensor)


def prepare(bgr: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """One BGR uint8 image through the contract's geometry to one model input (float32)."""
    return to_tensor(apply_geometry(convert_channels(bgr, preprocess.channel_order), preprocess.geometry), preprocess)


def prepare_crop(bgr_crop: np.ndarray, preprocess: Preprocess) -> np.ndarray:
    """A BGR uint8 crop already at the model's input size (aligned, or given as such) to one model
    input: the geometry is not applied."""
    height, width = preprocess.geometry.crop_size
    if bgr_crop.shape[:2] != (height, width):
        raise ValueError(f"crop is {bgr_crop.shape[1]}x{bgr_crop.shape[0]}, the model takes {width}x{height}")
    return to_tensor(convert_channels(bgr_crop, preprocess.channel_order), preprocess)

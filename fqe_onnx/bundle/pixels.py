"""The app's pixels: their channel layout, OpenCV's grey, and the ``too-small`` and ``flat`` checks.

Every image value stays an integer held in float32 (exact up to 2^24), so integer steps of the
Python path (cv2's fixed-point grey) are reproduced bit for bit.
"""

from __future__ import annotations

import numpy as np

from ..decode import FLAT_STD, MIN_SIDE
from .builder import Graph

PIXEL_LAYOUTS = ("bgr", "rgb", "rgba")
#: cv2.cvtColor(BGR2GRAY) on uint8 in OpenCV 5: Y = (B*3735 + G*19235 + R*9798 + 2^14) >> 15 (found
#: to agree with cv2 on every pixel tried; OpenCV 4's 14-bit table differs in 0.25% of pixels by one level).
GREY_WEIGHTS_BGR = (3735.0, 19235.0, 9798.0)
GREY_SHIFT = 15


#: Where blue, green and red sit in each layout (alpha, the fourth channel of rgba, is dropped, as
#: cv2's decoder drops it).
BGR_CHANNELS = {"bgr": (0, 1, 2), "rgb": (2, 1, 0), "rgba": (2, 1, 0)}


def check_layout(pixels: str) -> str:
    """``pixels`` itself, or a ValueError naming the layouts a bundle takes."""
    if pixels not in PIXEL_LAYOUTS:
        raise ValueError(f"pixels must be one of {', '.join(PIXEL_LAYOUTS)}, got {pixels!r}")
    return pixels


def levels(g: Graph, image: str) -> str:
    """uint8 [H, W, C] -> float32 [H, W, C], the channels left in the app's layout. The whole photo is
    never reordered (a Gather on the last axis of 1920x1080 RGBA costs 32 ms): each step picks its
    channels from what it reads (``to_bgr`` on small results, layout-placed grey weights)."""
    return g.cast(image, np.float32)


def to_bgr(g: Graph, hwc: str, pixels: str) -> str:
    """float32 [..., C] in ``pixels`` layout -> [..., 3] BGR."""
    if check_layout(pixels) == "bgr":
        return hwc
    return g.op("Gather", [hwc, g.const(list(BGR_CHANNELS[pixels]), np.int64, "to_bgr")], axis=-1)


def grey_plane(g: Graph, hwc: str, pixels: str = "bgr") -> str:
    """float32 [..., C] integer values in ``pixels`` layout -> [...] grey levels, as cv2.cvtColor(BGR2GRAY)
    gives them for the BGR image. Every sum is an integer under 2^24, so float32 holds it exactly; the
    shift is a power-of-two scale. No trailing axis of 1: ONNX Runtime's broadcasting runs 25x slower on one."""
    weights = np.zeros((4 if check_layout(pixels) == "rgba" else 3, 1), np.float32)
    weights[list(BGR_CHANNELS[pixels]), 0] = GREY_WEIGHTS_BGR
    # a [C, 1] weight (a [C] one takes a matrix-vector path 90x slower), then the axis of 1 dropped
    summed = g.op("Squeeze", [g.op("MatMul", [hwc, g.const(weights, hint="grey_weights")]), g.const([-1], np.int64)])
    total = g.op("Add", [summed, g.const(float(1 << (GREY_SHIFT - 1)))])
    return g.op("Floor", [g.op("Mul", [total, g.const(1.0 / (1 << GREY_SHIFT))])])


def grey(g: Graph, bgr: str) -> str:
    """float32 [..., 3] BGR integer values -> [..., 1] grey levels (``grey_plane`` with a channel axis)."""
    return g.op("Unsqueeze", [grey_plane(g, bgr), g.const([-1], np.int64)])


def too_small(g: Graph, hwc: str) -> str:
    """bool []: a side under decode.MIN_SIDE (the Python path refuses it as ``too-small``)."""
    side = g.op("ReduceMin", [g.shape_dims(hwc, 0, 2)], keepdims=0)
    return g.op("Less", [side, g.const(MIN_SIDE, np.int64, "min_side")])


def flat(g: Graph, hwc: str, pixels: str = "bgr") -> str:
    """bool []: grey-level standard deviation under decode.FLAT_STD (cv2.meanStdDev, two-pass here)."""
    grey_levels = grey_plane(g, hwc, pixels)
    mean = g.op("ReduceMean", [grey_levels], keepdims=1)
    centred = g.op("Sub", [grey_levels, mean])
    variance = g.op("ReduceMean", [g.op("Mul", [centred, centred])], keepdims=0)
    return g.op("Less", [g.op("Sqrt", [variance]), g.const(FLAT_STD)])

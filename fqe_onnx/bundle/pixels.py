"""The app's pixels: channel layout to BGR float, OpenCV's grey, and the ``too-small`` and ``flat`` checks.

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


def to_bgr(g: Graph, image: str, pixels: str) -> str:
    """uint8 [H, W, C] in ``pixels`` layout -> float32 [H, W, 3] BGR (alpha dropped, as cv2's decoder does)."""
    if pixels not in PIXEL_LAYOUTS:
        raise ValueError(f"pixels must be one of {', '.join(PIXEL_LAYOUTS)}, got {pixels!r}")
    x = g.cast(image, np.float32)
    if pixels == "bgr":
        return x
    return g.op("Gather", [x, g.const([2, 1, 0], np.int64, "rgb_to_bgr")], axis=2)


def grey_plane(g: Graph, bgr: str) -> str:
    """float32 [..., 3] BGR integer values -> [...] grey levels, as cv2.cvtColor(BGR2GRAY) gives them.
    Every sum is an integer under 2^24, so float32 holds it exactly; the shift is a power-of-two scale.
    No trailing axis of 1: ONNX Runtime's broadcasting runs 25x slower on one."""
    weights = g.const(np.array(GREY_WEIGHTS_BGR, np.float32).reshape(3, 1), hint="grey_weights")
    # a [3, 1] weight (a [3] one takes a matrix-vector path 90x slower), then the axis of 1 dropped
    summed = g.op("Squeeze", [g.op("MatMul", [bgr, weights]), g.const([-1], np.int64)])
    total = g.op("Add", [summed, g.const(float(1 << (GREY_SHIFT - 1)))])
    return g.op("Floor", [g.op("Mul", [total, g.const(1.0 / (1 << GREY_SHIFT))])])


def grey(g: Graph, bgr: str) -> str:
    """float32 [..., 3] BGR integer values -> [..., 1] grey levels (``grey_plane`` with a channel axis)."""
    return g.op("Unsqueeze", [grey_plane(g, bgr), g.const([-1], np.int64)])


def too_small(g: Graph, bgr: str) -> str:
    """bool []: a side under decode.MIN_SIDE (the Python path refuses it as ``too-small``)."""
    side = g.op("ReduceMin", [g.shape_dims(bgr, 0, 2)], keepdims=0)
    return g.op("Less", [side, g.const(MIN_SIDE, np.int64, "min_side")])


def flat(g: Graph, bgr: str) -> str:
    """bool []: grey-level standard deviation under decode.FLAT_STD (cv2.meanStdDev, two-pass here)."""
    levels = grey_plane(g, bgr)
    mean = g.op("ReduceMean", [levels], keepdims=1)
    centred = g.op("Sub", [levels, mean])
    variance = g.op("ReduceMean", [g.op("Mul", [centred, centred])], keepdims=0)
    return g.op("Less", [g.op("Sqrt", [variance]), g.const(FLAT_STD)])

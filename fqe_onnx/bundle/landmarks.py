"""The landmark stage: the square crop around the main face's box, the 64x64 grey input, the
68 points back in image pixels, and the five points. Mirrors ``fqe_onnx.align.detection``
(``landmark_crop``, ``landmark_input``, ``FaceDetector.landmarks_batch``, ``five_points``).
"""

from __future__ import annotations

import numpy as np

from ..align.detection import LANDMARK_SIZE
from .builder import Graph
from .pixels import grey_plane
from .resize import resize_linear_hwc, size_const

#: detection.landmark_input divides the grey levels by 256.
LANDMARK_SCALE = 256.0
#: detection.five_points: eyes from their four eyelid points, the nose tip, mouth corners from inner and outer.
FIVE_POINT_GROUPS = ((37, 38, 40, 41), (43, 44, 46, 47), (30, 30, 30, 30), (48, 60, 48, 60), (54, 64, 54, 64))


def landmark_crop(g: Graph, box: str, width_height: str) -> str:
    """float64 [4] box, [2] image (W, H) -> float64 [4] (left, top, right, bottom), as ``landmark_crop``."""
    x1, y1, x2, y2 = (g.op("Gather", [box, g.const(k, np.int64)]) for k in range(4))
    half = g.const(0.5, np.float64)
    side = g.op("Max", [g.op("Floor", [g.op("Add", [g.op("Sub", [y2, y1]), half])]), g.const(1.0, np.float64)])
    half_side = g.op("Div", [side, g.const(2.0, np.float64)])

    def start(a: str, b: str, extent: str) -> str:
        centre = g.op("Div", [g.op("Add", [a, b]), g.const(2.0, np.float64)])
        value = g.op("Floor", [g.op("Add", [g.op("Sub", [centre, half_side]), half])])
        upper = g.op("Max", [g.op("Sub", [extent, side]), g.const(0.0, np.float64)])
        return g.op("Min", [g.op("Max", [value, g.const(0.0, np.float64)]), upper])

    width = g.op("Gather", [width_height, g.const(0, np.int64)])
    height = g.op("Gather", [width_height, g.const(1, np.int64)])
    left, top = start(x1, x2, width), start(y1, y2, height)
    right = g.op("Min", [g.op("Add", [left, side]), width])
    bottom = g.op("Min", [g.op("Add", [top, side]), height])
    return g.op("Concat", [g.op("Unsqueeze", [v, g.const([0], np.int64)]) for v in (left, top, right, bottom)], axis=0)


def landmark_input(g: Graph, image: str, crop: str, pixels: str = "bgr") -> str:
    """float32 [H, W, C] in ``pixels`` layout and the crop -> [1, 1, 64, 64]: the patch at 64x64, grey, / 256."""
    bounds = g.cast(crop, np.int64)
    starts = g.op("Gather", [bounds, g.const([1, 0], np.int64)])
    size = g.op("Sub", [g.op("Gather", [bounds, g.const([3, 2], np.int64)]), starts])
    resized = resize_linear_hwc(g, image, size_const(g, LANDMARK_SIZE, LANDMARK_SIZE), (starts, size))
    levels = g.op("Div", [grey_plane(g, resized, pixels), g.const(LANDMARK_SCALE)])
    return g.op("Reshape", [levels, g.const([1, 1, LANDMARK_SIZE, LANDMARK_SIZE], np.int64)])


def five_points(g: Graph, output: str, crop: str) -> str:
    """Landmark output [1, 136] (normalised to the crop) -> the five points, float64 [5, 2] in image pixels."""
    points = g.op("Reshape", [g.cast(output, np.float64), g.const([68, 2], np.int64)])
    origin = g.op("Gather", [crop, g.const([0, 1], np.int64)])
    extent = g.op("Sub", [g.op("Gather", [crop, g.const([2, 3], np.int64)]), origin])
    pixels = g.op("Add", [g.op("Mul", [points, extent]), origin])
    grouped = g.op("Gather", [pixels, g.const(np.array(FIVE_POINT_GROUPS), np.int64)], axis=0)  # [5, 4, 2]
    return g.op("ReduceMean", [grouped, g.const([1], np.int64)], keepdims=0)

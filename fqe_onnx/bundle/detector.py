"""The face detector's stage: its input (resize, RGB, normalisation), the network, and its
post-processing (boxes to pixels, confidence threshold, NMS, the main-face rule).

Mirrors ``fqe_onnx.align.detection`` (``detector_input``, ``confident_boxes``, ``merge_views``, ``nms``,
``same_face``) and ``select_main_face``. Here the detector sees the whole image alone (batch item 0, scale
``[W, H, W, H]``, offset 0): the path of every image that ``tile_rects`` gives no tiles (a 250x250
frame, a 640x480 one). Larger photos take ``tiles.py``, which reuses these steps over all its views.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..align.detection import CONFIDENCE, DETECTOR_SIZE, NMS_IOU, SAME_FACE_AREA, SAME_FACE_INSIDE
from .builder import Graph
from .pixels import BGR_CHANNELS
from .resize import resize_linear_hwc, size_const

#: detection.detector_input: (x - 127) / 128 on RGB.
DETECTOR_MEAN = 127.0
DETECTOR_SCALE = 128.0
#: An upper bound on faces kept by NMS (the Python path keeps all; the detector has 4,420 priors).
MAX_FACES = 4420


def detector_input(g: Graph, image: str, window: Optional[tuple[str, str]] = None, pixels: str = "bgr") -> str:
    """float32 [H, W, C] in ``pixels`` layout (or its ``window``: origin and size, int64 [2] each) ->
    [1, 3, 240, 320]: stretched with cv2's bilinear, RGB, (x - 127) / 128."""
    width, height = DETECTOR_SIZE
    resized = resize_linear_hwc(g, image, size_const(g, height, width), window)
    # channels picked as whole planes after the transpose (a Gather on the last axis is slow)
    rgb_index = list(BGR_CHANNELS[pixels][::-1])
    rgb = g.op("Gather", [g.op("Transpose", [resized], perm=[2, 0, 1]), g.const(rgb_index, np.int64, "to_rgb")], axis=0)
    normalised = g.op("Div", [g.op("Sub", [rgb, g.const(DETECTOR_MEAN)]), g.const(DETECTOR_SCALE)])
    # the network input with its static shape, as the detector declares it
    return g.op("Reshape", [normalised, g.const([1, 3, height, width], np.int64)])


def whole_image_item(g: Graph, bgr: str) -> tuple[str, str]:
    """(scale, offset), float64 [1, 4] each: batch item 0 is the whole image, boxes times [W, H, W, H]."""
    hw = g.cast(g.shape_dims(bgr, 0, 2), np.float64)
    wh = g.op("Gather", [hw, g.const([1, 0, 1, 0], np.int64)], axis=0)
    return g.op("Unsqueeze", [wh, g.const([0], np.int64)]), g.const(np.zeros((1, 4)), np.float64, "offset")


def candidates(g: Graph, scores: str, boxes: str, scale: str, offset: str) -> tuple[str, str]:
    """Detector outputs scores [N, K, 2] and normalised boxes [N, K, 4] of N views -> every prior of
    every view as (face score float32 [M], box float64 [M, 4] in image pixels), M = N * K."""
    face = g.op("Gather", [scores, g.const(1, np.int64)], axis=2)
    pixels = g.op(
        "Add",
        [
            g.op("Mul", [g.cast(boxes, np.float64), g.op("Unsqueeze", [scale, g.const([1], np.int64)])]),
            g.op("Unsqueeze", [offset, g.const([1], np.int64)]),
        ],
    )
    return (g.op("Reshape", [face, g.const([-1], np.int64)]), g.op("Reshape", [pixels, g.const([-1, 4], np.int64)]))


def same_face(g: Graph, boxes: str) -> str:
    """``detection.same_face``: bool [F] for float64 boxes [F, 4] best first, True where a box and a
    more confident one are one face (the smaller mostly inside the other, not tiny beside it; the
    same float64 sums)."""
    zero = g.const(0.0, np.float64)
    x1, y1, x2, y2 = (g.op("Gather", [boxes, g.const(k, np.int64)], axis=1) for k in range(4))

    def rows(v: str) -> str:  # [F, 1]: box i
        return g.op("Unsqueeze", [v, g.const([1], np.int64)])

    def cols(v: str) -> str:  # [1, F]: box j
        return g.op("Unsqueeze", [v, g.const([0], np.int64)])

    def span(lo: str, hi: str) -> str:  # [F, F]: the overlap of i and j along one axis
        return g.op("Max", [g.op("Sub", [g.op("Min", [rows(hi), cols(hi)]), g.op("Max", [rows(lo), cols(lo)])]), zero])

    areas = g.op("Mul", [g.op("Max", [g.op("Sub", [x2, x1]), zero]), g.op("Max", [g.op("Sub", [y2, y1]), zero])])
    inter = g.op("Mul", [span(x1, x2), span(y1, y2)])
    smaller, larger = g.op("Min", [rows(areas), cols(areas)]), g.op("Max", [rows(areas), cols(areas)])
    inside = g.op("GreaterOrEqual", [inter, g.op("Mul", [g.const(SAME_FACE_INSIDE, np.float64), smaller])])
    comparable = g.op("GreaterOrEqual", [smaller, g.op("Mul", [g.const(SAME_FACE_AREA, np.float64), larger])])
    order = g.op(
        "Range", [g.const(0, np.int64), g.op("Squeeze", [g.op("Shape", [boxes], start=0, end=1)]), g.const(1, np.int64)]
    )
    better = g.op("Less", [cols(order), rows(order)])  # j before i
    hits = g.cast(g.op("And", [g.op("And", [inside, comparable]), better]), np.int64)
    return g.op("Greater", [g.op("ReduceSum", [hits, g.const([1], np.int64)], keepdims=0), g.const(0, np.int64)])


def confident_faces(g: Graph, face_scores: str, boxes: str, with_index: bool = False) -> tuple[str, ...]:
    """Scores >= CONFIDENCE (a score of -1 marks a box already dropped), then NMS at NMS_IOU (a box
    goes when its IoU with a better one is over it), then pieces of a face kept beside it
    (``same_face``): (scores float32 [F], boxes float64 [F, 4]), best score first, as
    ``confident_boxes`` and ``merge_views``; ``with_index`` adds the kept rows' indices.
    NMS keeps at most MAX_FACES (every prior of one view); with ``with_index`` (the tiles' many views)
    at most all the candidates, so that, as in the Python path, no face is ever cut."""
    confident = g.op("GreaterOrEqual", [face_scores, g.const(CONFIDENCE)])
    # Below the threshold a score becomes -1, which NMS's threshold of 0 drops (no confident score is <= 0).
    gated = g.op("Where", [confident, face_scores, g.const(-1.0)])
    selected = g.op(
        "NonMaxSuppression",
        [
            g.op("Unsqueeze", [g.cast(boxes, np.float32), g.const([0], np.int64)]),
            g.op("Reshape", [gated, g.const([1, 1, -1], np.int64)]),
            g.op("Reshape", [g.op("Size", [face_scores]), g.const([1], np.int64)])
            if with_index
            else g.const([MAX_FACES], np.int64),
            g.const([NMS_IOU]),
            g.const([0.0]),
        ],
    )
    index = g.op("Gather", [selected, g.const(2, np.int64)], axis=1)
    index = g.op("Compress", [index, g.op("Not", [same_face(g, g.op("Gather", [boxes, index], axis=0))])], axis=0)
    kept = g.op("Gather", [face_scores, index], axis=0), g.op("Gather", [boxes, index], axis=0)
    return (*kept, index) if with_index else kept


def merit(g: Graph, boxes: str, width_height: str) -> str:
    """``select_main_face``'s merit of each box (float64 [F]): its area weighted by closeness to the
    image centre. ``width_height`` float64 [2]."""
    x1, y1, x2, y2 = (g.op("Gather", [boxes, g.const(k, np.int64)], axis=1) for k in range(4))
    w, h = g.op("Gather", [width_height, g.const(0, np.int64)]), g.op("Gather", [width_height, g.const(1, np.int64)])
    half = g.const(0.5, np.float64)
    cx, cy = g.op("Mul", [g.op("Add", [x1, x2]), half]), g.op("Mul", [g.op("Add", [y1, y2]), half])

    def hypot(a: str, b: str) -> str:
        return g.op("Sqrt", [g.op("Add", [g.op("Mul", [a, a]), g.op("Mul", [b, b])])])

    diagonal = g.op("Div", [hypot(w, h), g.const(2.0, np.float64)])
    off = g.op(
        "Div", [hypot(g.op("Sub", [cx, g.op("Mul", [w, half])]), g.op("Sub", [cy, g.op("Mul", [h, half])])), diagonal]
    )
    off = g.op("Min", [off, g.const(1.0, np.float64)])
    weight = g.op("Sub", [g.const(1.0, np.float64), g.op("Mul", [half, off])])
    return g.op("Mul", [g.op("Mul", [g.op("Sub", [x2, x1]), g.op("Sub", [y2, y1])]), weight])


def main_face(g: Graph, boxes: str, width_height: str) -> tuple[str, str]:
    """``select_main_face``: the index (int64 []) of the largest box weighted by closeness to the image
    centre, first on ties, and whether any face was found (bool []). ``width_height`` float64 [2].
    With no face the index is 0 of a padded row (callers mask by the flag)."""
    merits = merit(g, boxes, width_height)
    padded = g.op("Concat", [merits, g.const([-np.inf], np.float64)], axis=0)  # ArgMax needs one row
    index = g.op("ArgMax", [padded], axis=0, keepdims=0)
    found = g.op("Greater", [g.op("Size", [merits]), g.const(0, np.int64)])
    return index, found

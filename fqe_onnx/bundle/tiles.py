"""Tiled detection for large photos, as ``fqe_onnx.align.detection.FaceDetector.detect_batch`` does it.

The views (``view_rects``) are ``tile_rects(H, W)`` computed in the graph from the image's size with
the same formulas and constants (imported, never copied): the whole image, then each used level's
tiles, row by row. A Loop runs the detector on each view (crop, 320x240 input, network), keeps a
view's confident boxes that ``inside_tile`` keeps, and all views' boxes meet in one NMS and the
``same_face`` rule, as ``merge_views``. The second look (``second_look_window``, ``found_again``) is
taken lazily: the merged faces are visited in main-face order (``select_main_face``'s merit, best
first, ties to the better detector score), a face the whole image saw is taken at once, a face only a
tile saw is taken when the detector finds that face again in its window, and the Loop stops at the
first face taken. That is the face ``select_main_face`` picks among the faces that survive every
second look, with no cap on how many are looked at (never more than the Python path, which looks at
all of them).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..align.detection import (
    CONFIDENCE,
    DETECTOR_SIZE,
    MIN_FACE_PX,
    SECOND_LOOK_CENTRE,
    SECOND_LOOK_IOU,
    SECOND_LOOK_SHARE,
    TILE_EDGE_PX,
    TILE_OVERLAP,
    TILE_SCALES,
    TILE_TRIGGER,
)
from .builder import Graph
from .detector import confident_faces, merit

#: ``detect(g, image, (origin, size)) -> (scores [1, K, 2], boxes [1, K, 4])``: the inlined detector on
#: one window of the image (``detector_input`` and the network).
Detect = Callable[[Graph, str, tuple[str, str]], list[str]]


def _f64(g: Graph, v: float) -> str:
    return g.const(v, np.float64)


def _at(g: Graph, x: str, k: int, axis: int = 0) -> str:
    return g.op("Gather", [x, g.const(k, np.int64)], axis=axis)


def _positions(g: Graph, length: str, tile: str, overlap: str, used: str) -> str:
    """``tile_positions`` (float64 [n]; none when the level is not ``used``)."""
    span = g.op("Sub", [length, tile])
    step = g.op("Max", [g.op("Sub", [tile, overlap]), _f64(g, 1.0)])
    count = g.op("Add", [g.op("Ceil", [g.op("Div", [span, step])]), _f64(g, 1.0)])  # 1 when the tile is the side
    count = g.op("Where", [used, count, _f64(g, 0.0)])
    index = g.op("Range", [_f64(g, 0.0), count, _f64(g, 1.0)])
    last = g.op("Max", [g.op("Sub", [count, _f64(g, 1.0)]), _f64(g, 1.0)])
    return g.op("Round", [g.op("Div", [g.op("Mul", [index, span]), last])])  # Round: half to even, as round()


def _whole_scale(g: Graph, height_width: str) -> tuple[str, str, str]:
    """(H, W, the whole image's source pixels per detector pixel), float64 [] each."""
    det_w, det_h = DETECTOR_SIZE
    hw = g.cast(height_width, np.float64)
    height, width = _at(g, hw, 0), _at(g, hw, 1)
    return height, width, g.op("Max", [g.op("Div", [width, _f64(g, det_w)]), g.op("Div", [height, _f64(g, det_h)])])


def has_tiles(g: Graph, height_width: str) -> str:
    """bool []: ``tile_rects`` gives more than the whole image (some level is used), in a few scalar ops."""
    _, _, whole = _whole_scale(g, height_width)
    return g.op("Greater", [whole, _f64(g, min(scale * TILE_TRIGGER for scale in TILE_SCALES))])


def view_rects(g: Graph, height_width: str) -> str:
    """``tile_rects``: int64 [2] (H, W) -> float64 [V, 5] rows (x, y, w, h, max_face), the whole
    image first (max_face inf)."""
    det_w, det_h = DETECTOR_SIZE
    height, width, whole = _whole_scale(g, height_width)
    used = [g.op("Greater", [whole, _f64(g, scale * TILE_TRIGGER)]) for scale in TILE_SCALES]
    # each level's coarser view: the next used level's scale, else the whole image
    coarser: list[str] = []
    following = whole
    for scale, level_used in reversed(list(zip(TILE_SCALES, used))):
        coarser.insert(0, following)
        following = g.op("Where", [level_used, _f64(g, scale), following])
    unsq = lambda t, axes: g.op("Unsqueeze", [t, g.const(axes, np.int64)])  # noqa: E731  (a one-line graph shorthand)
    rows = [
        unsq(
            g.op(
                "Concat",
                [g.const([0.0, 0.0], np.float64), unsq(width, [0]), unsq(height, [0]), g.const([np.inf], np.float64)],
                axis=0,
            ),
            [0],
        )
    ]
    for scale, level_used, level_coarser in zip(TILE_SCALES, used, coarser):
        tile_w = g.op("Min", [_f64(g, float(round(det_w * scale))), width])
        tile_h = g.op("Min", [_f64(g, float(round(det_h * scale))), height])
        overlap = g.op("Ceil", [g.op("Mul", [_f64(g, TILE_OVERLAP * MIN_FACE_PX), level_coarser])])
        ys = _positions(g, height, tile_h, overlap, level_used)
        xs = _positions(g, width, tile_w, overlap, level_used)
        grid = g.op("Concat", [g.op("Shape", [ys]), g.op("Shape", [xs])], axis=0)
        flat = g.const([-1, 1], np.int64)
        x = g.op("Reshape", [g.op("Expand", [unsq(xs, [0]), grid]), flat])
        y = g.op("Reshape", [g.op("Expand", [unsq(ys, [1]), grid]), flat])
        size = unsq(g.op("Concat", [unsq(tile_w, [0]), unsq(tile_h, [0]), unsq(overlap, [0])], axis=0), [0])
        count = g.op("Concat", [g.op("Shape", [x], start=0, end=1), g.const([3], np.int64)], axis=0)
        rows.append(g.op("Concat", [x, y, g.op("Expand", [size, count])], axis=1))
    return g.op("Concat", rows, axis=0)


def inside_tile(g: Graph, boxes: str, rect: str, width: str, height: str) -> str:
    """``detection.inside_tile``: bool [K] for float64 boxes [K, 4] and a view row [5]."""
    x, y, w, h, max_face = (_at(g, rect, k) for k in range(5))
    margin_x = g.op("Div", [g.op("Mul", [_f64(g, TILE_EDGE_PX), w]), _f64(g, DETECTOR_SIZE[0])])
    margin_y = g.op("Div", [g.op("Mul", [_f64(g, TILE_EDGE_PX), h]), _f64(g, DETECTOR_SIZE[1])])
    x1, y1, x2, y2 = (_at(g, boxes, k, axis=1) for k in range(4))
    zero = _f64(g, 0.0)
    right, bottom = g.op("Add", [x, w]), g.op("Add", [y, h])
    keep = g.op("LessOrEqual", [g.op("Sub", [x2, x1]), max_face])
    for side_inside, clear in [
        (g.op("Greater", [x, zero]), g.op("Greater", [x1, g.op("Add", [x, margin_x])])),
        (g.op("Greater", [y, zero]), g.op("Greater", [y1, g.op("Add", [y, margin_y])])),
        (g.op("Less", [right, width]), g.op("Less", [x2, g.op("Sub", [right, margin_x])])),
        (g.op("Less", [bottom, height]), g.op("Less", [y2, g.op("Sub", [bottom, margin_y])])),
    ]:
        keep = g.op("And", [keep, g.op("Or", [g.op("Not", [side_inside]), clear])])
    return keep


def second_look_window(g: Graph, box: str, width: str, height: str) -> str:
    """``detection.second_look_window``: float64 box [4] -> view row float64 [4] (x, y, w, h)."""
    x1, y1, x2, y2 = (_at(g, box, k) for k in range(4))
    window_w = g.op("Div", [g.op("Sub", [x2, x1]), _f64(g, SECOND_LOOK_SHARE)])
    window_h = g.op("Div", [g.op("Mul", [window_w, _f64(g, DETECTOR_SIZE[1])]), _f64(g, DETECTOR_SIZE[0])])
    one, zero, half = _f64(g, 1.0), _f64(g, 0.0), _f64(g, 2.0)
    w = g.op("Max", [g.op("Min", [g.op("Round", [window_w]), width]), one])
    h = g.op("Max", [g.op("Min", [g.op("Round", [window_h]), height]), one])

    def start(a: str, b: str, side: str, limit: str) -> str:
        centre = g.op("Sub", [g.op("Div", [g.op("Add", [a, b]), half]), g.op("Div", [side, half])])
        return g.op("Min", [g.op("Max", [g.op("Round", [centre]), zero]), g.op("Sub", [limit, side])])

    x, y = start(x1, x2, w, width), start(y1, y2, h, height)
    return g.op("Concat", [g.op("Unsqueeze", [v, g.const([0], np.int64)]) for v in (x, y, w, h)], axis=0)


def look(g: Graph, bgr: str, rect: str, detect: Detect) -> tuple[str, str]:
    """The detector on one view (row float64 [>= 4]: x, y, w, h): every prior's face score
    (float32 [K]) and box in image pixels (float64 [K, 4]), as ``confident_boxes`` scales them."""
    x, y, w, h = (_at(g, rect, k) for k in range(4))
    origin, size = (g.cast(g.op("Gather", [rect, g.const(k, np.int64)]), np.int64) for k in ([1, 0], [3, 2]))
    scores, boxes = detect(g, bgr, (origin, size))
    face = _at(g, _at(g, scores, 0), 1, axis=1)
    cat = lambda vs: g.op("Concat", [g.op("Unsqueeze", [v, g.const([0], np.int64)]) for v in vs], axis=0)  # noqa: E731  (a one-line graph shorthand)
    pixels = g.op("Add", [g.op("Mul", [g.cast(_at(g, boxes, 0), np.float64), cat([w, h, w, h])]), cat([x, y, x, y])])
    return face, pixels


def box_iou(g: Graph, box: str, boxes: str) -> str:
    """``detection.box_iou``: float64 [4] against [K, 4] -> [K]."""
    b = [_at(g, box, k) for k in range(4)]
    c = [_at(g, boxes, k, axis=1) for k in range(4)]
    zero = _f64(g, 0.0)
    span = lambda lo, hi: g.op("Max", [g.op("Sub", [g.op("Min", [b[hi], c[hi]]), g.op("Max", [b[lo], c[lo]])]), zero])  # noqa: E731  (a one-line graph shorthand)
    inter = g.op("Mul", [span(0, 2), span(1, 3)])
    areas = g.op("Mul", [g.op("Sub", [c[2], c[0]]), g.op("Sub", [c[3], c[1]])])
    own = g.op("Mul", [g.op("Sub", [b[2], b[0]]), g.op("Sub", [b[3], b[1]])])
    union = g.op("Sub", [g.op("Add", [own, areas]), inter])
    return g.op("Div", [inter, g.op("Max", [union, _f64(g, 1e-12)])])


def found_again(g: Graph, box: str, boxes: str, confident: str) -> str:
    """``detection.found_again``: bool [] for a float64 box [4] and a second look's boxes [K, 4] of
    which ``confident`` (bool [K]) count: one with IoU >= SECOND_LOOK_IOU centred within
    SECOND_LOOK_CENTRE of the box's width and height of its centre (the same float64 sums)."""
    b = [_at(g, box, k) for k in range(4)]
    c = [_at(g, boxes, k, axis=1) for k in range(4)]
    limit = _f64(g, 2 * SECOND_LOOK_CENTRE)

    def near(lo: int, hi: int) -> str:
        off = g.op("Abs", [g.op("Sub", [g.op("Add", [c[lo], c[hi]]), g.op("Add", [b[lo], b[hi]])])])
        return g.op("LessOrEqual", [off, g.op("Mul", [limit, g.op("Sub", [b[hi], b[lo]])])])

    centred = g.op("And", [near(0, 2), near(1, 3)])
    match = g.op(
        "And",
        [confident, g.op("And", [g.op("GreaterOrEqual", [box_iou(g, box, boxes), _f64(g, SECOND_LOOK_IOU)]), centred])],
    )
    return g.op(
        "Greater",
        [g.op("ReduceSum", [g.cast(match, np.int64), g.const([0], np.int64)], keepdims=0), g.const(0, np.int64)],
    )


def tiled_candidates(g: Graph, bgr: str, views: str, detect: Detect) -> tuple[str, str, str]:
    """Every view through the detector (a Loop): each prior's score (float32 [M], -1 where under
    CONFIDENCE or dropped by ``inside_tile``), box (float64 [M, 4], image pixels) and whether only a
    tile gave it (bool [M]), views in order."""
    hw = g.cast(g.shape_dims(bgr, 0, 2), np.float64)
    height, width = _at(g, hw, 0), _at(g, hw, 1)
    body = g.branch()
    step, cond = body.name("view"), body.name("cond")
    rect = body.op("Gather", [views, step], axis=0)
    face, pixels = look(body, bgr, rect, detect)
    keep = body.op(
        "And",
        [body.op("GreaterOrEqual", [face, body.const(CONFIDENCE)]), inside_tile(body, pixels, rect, width, height)],
    )
    gated = body.op("Where", [keep, face, body.const(-1.0)])
    part = body.op("Or", [body.op("Less", [_at(body, rect, 2), width]), body.op("Less", [_at(body, rect, 3), height])])
    tiled = body.op("Expand", [part, body.op("Shape", [face])])
    graph = body.subgraph("view_body", [cond, gated, pixels, tiled], inputs=[(step, np.int64), (cond, np.bool_)])
    count = g.op("Shape", [views], start=0, end=1)
    scores, boxes, flags = g.op("Loop", [g.op("Squeeze", [count]), ""], outputs=3, body=graph)
    return (
        g.op("Reshape", [scores, g.const([-1], np.int64)]),
        g.op("Reshape", [boxes, g.const([-1, 4], np.int64)]),
        g.op("Reshape", [flags, g.const([-1], np.int64)]),
    )


def tiled_main_face(g: Graph, bgr: str, detect: Detect, views: str) -> list[str]:
    """The main face of the tiled detection with its second looks: (box float64 [4], face score
    float32 [], found bool []) for ``views`` (``view_rects``); with no face, the whole image's box and NaN (callers mask by the flag)."""
    hw = g.cast(g.shape_dims(bgr, 0, 2), np.float64)
    height, width = _at(g, hw, 0), _at(g, hw, 1)
    scores, boxes, flags = tiled_candidates(g, bgr, views, detect)
    kept_scores, kept_boxes, index = confident_faces(g, scores, boxes, with_index=True)
    kept_tiled = g.op("Gather", [flags, index], axis=0)
    width_height = g.op("Gather", [hw, g.const([1, 0], np.int64)])
    merits = merit(g, kept_boxes, width_height)
    faces = g.op("Shape", [merits])
    _, order = g.op("TopK", [merits, faces], outputs=2, axis=0, largest=1, sorted=1)  # ties: the lower index first
    body = g.branch()
    step, cond, chosen = body.name("face"), body.name("cond"), body.name("chosen")
    candidate = body.op("Gather", [order, step], axis=0)
    look_g, whole_g = body.branch(), body.branch()
    box = look_g.op("Gather", [kept_boxes, candidate], axis=0)
    window = second_look_window(look_g, box, width, height)
    face, pixels = look(look_g, bgr, window, detect)
    again = found_again(look_g, box, pixels, look_g.op("GreaterOrEqual", [face, look_g.const(CONFIDENCE)]))
    taken = body.op(
        "If",
        [body.op("Gather", [kept_tiled, candidate], axis=0)],
        then_branch=look_g.subgraph("second_look", [again]),
        else_branch=whole_g.subgraph("seen_whole", [whole_g.const(True, np.bool_)]),
    )
    result = body.op("Where", [taken, candidate, body.const(-1, np.int64)])
    graph = body.subgraph(
        "main_face_body",
        [body.op("Not", [taken]), result],
        inputs=[(step, np.int64), (cond, np.bool_), (chosen, np.int64)],
    )
    final = g.op("Loop", [g.op("Squeeze", [faces]), "", g.const(-1, np.int64)], body=graph)
    found = g.op("GreaterOrEqual", [final, g.const(0, np.int64)])
    index = g.op("Where", [found, final, g.op("Squeeze", [faces])])
    whole = g.op(
        "Unsqueeze", [g.op("Concat", [g.const([0.0, 0.0], np.float64), width_height], axis=0), g.const([0], np.int64)]
    )
    box = g.op("Gather", [g.op("Concat", [kept_boxes, whole], axis=0), index], axis=0)
    face_score = g.op("Gather", [g.op("Concat", [kept_scores, g.const([np.nan])], axis=0), index], axis=0)
    return [box, face_score, found]

"""``warp_to_template``'s pre-shrink: when the face is more than twice the crop's size, the photo is
first shrunk with cv2.resize(INTER_AREA) by ``2 * scale`` so the warp does not alias.

INTER_AREA at a non-integer factor averages each output pixel's source cell, weighting the edge pixels
by the share they cover. Here only the window the warp will read is shrunk (the output crop's corners
mapped back, two pixels of margin), as two matrix products with those coverage weights; the warp's
matrix is moved to the window. OpenCV accumulates in float32 in another order, so a pixel can land one
level apart.
"""

from __future__ import annotations

import numpy as np

from .builder import Graph
from .similarity import similarity

#: warp_to_template pre-shrinks when the similarity's scale is under this.
PRE_SHRINK_BELOW = 0.5
MARGIN = 2.0


def _f64(g: Graph, v: float) -> str:
    return g.const(v, np.float64)


def coverage(
    g: Graph, out_start: str, out_count: str, src_start: str, src_count: str, cell: str, src_first: bool = False
) -> str:
    """float64 [out, src] ([src, out] with ``src_first``): the share of output pixel i's cell
    [i s, (i + 1) s) that source pixel j covers, divided by s (a row of INTER_AREA's weights), for
    outputs and sources from the given starts."""
    i = g.op(
        "Unsqueeze",
        [
            g.op("Range", [out_start, g.op("Add", [out_start, out_count]), _f64(g, 1.0)]),
            g.const([0 if src_first else 1], np.int64),
        ],
    )
    j = g.op(
        "Unsqueeze",
        [
            g.op("Range", [src_start, g.op("Add", [src_start, src_count]), _f64(g, 1.0)]),
            g.const([1 if src_first else 0], np.int64),
        ],
    )
    lo = g.op("Max", [g.op("Mul", [i, cell]), j])
    hi = g.op("Min", [g.op("Mul", [g.op("Add", [i, _f64(g, 1.0)]), cell]), g.op("Add", [j, _f64(g, 1.0)])])
    return g.op("Div", [g.op("Max", [g.op("Sub", [hi, lo]), _f64(g, 0.0)]), cell])


def shrink_for_warp(g: Graph, bgr: str, points: str, template: str, height: int, width: int) -> tuple[str, str]:
    """(window float32 [h', w', C] levels, matrix float64 [2, 3] from the window to the crop) for a
    photo whose face needs the pre-shrink, mirroring ``warp_to_template``."""
    from .warp import invert_affine

    matrix = similarity(g, points, template)
    a, b = (g.op("Gather", [g.op("Reshape", [matrix, g.const([6], np.int64)]), g.const(k, np.int64)]) for k in (0, 3))
    factor = g.op("Mul", [_f64(g, 2.0), g.op("Sqrt", [g.op("Add", [g.op("Mul", [a, a]), g.op("Mul", [b, b])])])])
    hw = g.cast(g.shape_dims(bgr, 0, 2), np.float64)  # [H, W]
    new_hw = g.op("Max", [g.op("Round", [g.op("Mul", [hw, factor])]), _f64(g, 1.0)])
    ratio_xy = g.op("Gather", [g.op("Div", [new_hw, hw]), g.const([1, 0], np.int64)])
    refit = similarity(g, g.op("Mul", [points, ratio_xy]), template)
    # the window of the shrunk image the warp reads: the crop's corners mapped back, plus a margin.
    # No MatMul here reads a Transpose: ONNX Runtime up to 1.23 fuses the pair into a FusedMatMul
    # that has no float64 kernel, and the session then fails to load.
    inverse = invert_affine(g, refit)
    corners = g.const(
        [[0, width - 1, 0, width - 1], [0, 0, height - 1, height - 1], [1, 1, 1, 1]], np.float64, "corners"
    )
    back = g.op("MatMul", [inverse, corners])  # [2, 4]: x, y of each corner
    new_xy = g.op("Gather", [new_hw, g.const([1, 0], np.int64)])
    low = g.op(
        "Max",
        [
            g.op(
                "Floor", [g.op("Sub", [g.op("ReduceMin", [back, g.const([1], np.int64)], keepdims=0), _f64(g, MARGIN)])]
            ),
            _f64(g, 0.0),
        ],
    )
    high = g.op(
        "Min",
        [
            g.op(
                "Ceil",
                [g.op("Add", [g.op("ReduceMax", [back, g.const([1], np.int64)], keepdims=0), _f64(g, MARGIN + 1)])],
            ),
            new_xy,
        ],
    )
    low = g.op("Min", [low, g.op("Sub", [new_xy, _f64(g, 1.0)])])
    high = g.op("Max", [high, g.op("Add", [low, _f64(g, 1.0)])])
    cell_xy = g.op("Div", [g.op("Gather", [hw, g.const([1, 0], np.int64)]), new_xy])  # source pixels per output pixel

    def axis(k: int, size: str, src_first: bool) -> tuple[str, str, str]:
        out_start, out_end = g.op("Gather", [low, g.const(k, np.int64)]), g.op("Gather", [high, g.const(k, np.int64)])
        cell = g.op("Gather", [cell_xy, g.const(k, np.int64)])
        src_start = g.op("Floor", [g.op("Mul", [out_start, cell])])
        src_end = g.op("Min", [g.op("Ceil", [g.op("Mul", [out_end, cell])]), size])
        weights = coverage(
            g,
            out_start,
            g.op("Sub", [out_end, out_start]),
            src_start,
            g.op("Sub", [src_end, src_start]),
            cell,
            src_first,
        )
        return weights, g.cast(src_start, np.int64), g.cast(src_end, np.int64)

    width_in, height_in = (g.op("Gather", [hw, g.const(k, np.int64)]) for k in (1, 0))
    wx, x0, x1 = axis(0, width_in, src_first=True)  # [cols, w']
    wy, y0, y1 = axis(1, height_in, src_first=False)  # [h', rows]
    unsq = lambda t: g.op("Unsqueeze", [t, g.const([0], np.int64)])  # noqa: E731  (a one-line graph shorthand)
    window = g.op(
        "Slice",
        [
            bgr,
            g.op("Concat", [unsq(y0), unsq(x0)], axis=0),
            g.op("Concat", [unsq(y1), unsq(x1)], axis=0),
            g.const([0, 1], np.int64),
        ],
    )
    chw = g.cast(g.op("Transpose", [window], perm=[2, 0, 1]), np.float64)  # [3, rows, cols]
    rows = g.op("MatMul", [wy, chw])  # [3, h', cols]
    shrunk = g.op("MatMul", [rows, wx])  # [3, h', w']
    levels = g.op("Clip", [g.op("Round", [shrunk]), _f64(g, 0.0), _f64(g, 255.0)])
    pixels = g.cast(g.op("Transpose", [levels], perm=[1, 2, 0]), np.float32)
    # move the refitted matrix to the window's origin: crop = M [x + left, y + top, 1]
    linear = g.op("Slice", [refit, g.const([0, 0], np.int64), g.const([2, 2], np.int64), g.const([0, 1], np.int64)])
    shift = g.op(
        "Add",
        [
            g.op("Slice", [refit, g.const([0, 2], np.int64), g.const([2, 3], np.int64), g.const([0, 1], np.int64)]),
            g.op("MatMul", [linear, g.op("Unsqueeze", [low, g.const([1], np.int64)])]),
        ],
    )
    return pixels, g.op("Concat", [linear, shift], axis=1)


def needs_shrink(g: Graph, points: str, template: str) -> str:
    """bool []: the face is more than twice the crop's size (the similarity's scale under 0.5)."""
    matrix = similarity(g, points, template)
    flat = g.op("Reshape", [matrix, g.const([6], np.int64)])
    a, b = (g.op("Gather", [flat, g.const(k, np.int64)]) for k in (0, 3))
    scale = g.op("Sqrt", [g.op("Add", [g.op("Mul", [a, a]), g.op("Mul", [b, b])])])
    return g.op("Less", [scale, g.const(PRE_SHRINK_BELOW, np.float64)])

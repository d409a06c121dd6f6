"""cv2.resize(INTER_LINEAR) on uint8 images, bit for bit, in integer ONNX ops.

OpenCV does not interpolate in float: per axis, the source position ``(d + 0.5) * n_in / n_out - 0.5``
(float32) gives two taps and weights quantised to 2048ths; the horizontal pass sums ``pixel * weight``,
the vertical one ``((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2 >> 2``. Horizontally a tap
outside the image takes the edge pixel with weight 1; vertically the weights stay and the row index is
clamped. An exact halving of both sides is INTER_AREA's 2x2 mean in OpenCV (``(sum + 2) >> 2``).
ONNX Resize in float rounds about 11% of the pixels one level away from this (tests/test_bundle_pieces.py).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .builder import Graph

COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS
COEF_SCALE = 1 << COEF_BITS


def _axis(g: Graph, n_in: str, n_out: str, vertical: bool) -> tuple[str, str, str, str]:
    """(tap0, tap1) int64 [n_out] and (w0, w1) int32 [n_out] for one axis; n_in, n_out int64 [1]."""
    scale = g.op("Div", [g.cast(n_in, np.float64), g.cast(n_out, np.float64)])
    index = g.cast(g.op("Range", [g.const(0, np.int64), g.op("Squeeze", [n_out]), g.const(1, np.int64)]), np.float64)
    position = g.cast(
        g.op("Sub", [g.op("Mul", [g.op("Add", [index, g.const(0.5, np.float64)]), scale]), g.const(0.5, np.float64)]),
        np.float32,
    )
    tap = g.op("Floor", [position])
    fraction = g.op("Sub", [position, tap])
    last = g.cast(g.op("Sub", [n_in, g.const([1], np.int64)]), np.float32)
    if not vertical:  # a tap outside the image: the edge pixel, weight 1
        outside = g.op("Or", [g.op("Less", [tap, g.const(0.0)]), g.op("GreaterOrEqual", [tap, last])])
        fraction = g.op("Where", [outside, g.const(0.0), fraction])
        tap = g.op("Clip", [tap, g.const(0.0), g.op("Squeeze", [last])])
    coef = g.const(float(COEF_SCALE))
    w1 = g.op("Round", [g.op("Mul", [fraction, coef])])
    w0 = g.op("Round", [g.op("Mul", [g.op("Sub", [g.const(1.0), fraction]), coef])])
    zero, top = g.const(0.0), g.op("Squeeze", [last])
    tap0 = g.cast(g.op("Clip", [tap, zero, top]), np.int64)
    tap1 = g.cast(g.op("Clip", [g.op("Add", [tap, g.const(1.0)]), zero, top]), np.int64)
    return tap0, tap1, g.cast(w0, np.int32), g.cast(w1, np.int32)


def _dim(g: Graph, v: str, k: int) -> str:
    """int64 [1]: element k of an int64 vector."""
    return g.op("Slice", [v, g.const([k], np.int64), g.const([k + 1], np.int64)])


#: The horizontal pass over a whole image runs column-major while the image is at most this many times
#: wider than the output (each gathered row is transposed whole); wider, and for a window of the image,
#: it gathers pixels by flat index instead.
COLUMN_MAJOR_UP_TO = 4


def _horizontal_by_columns(g: Graph, hwc: str, rows: str, top: str, x0: str, x1: str, a0: str, a1: str) -> str:
    """[R, w, C] sums ``pixel * weight`` of the rows of the whole image, column-major ([W, C, R]):
    whole columns are gathered, where a Gather of 3-value pixels costs 10x more; both transposes move
    one axis (ONNX Runtime's fast case)."""
    picked = g.op("Gather", [hwc, g.op("Add", [rows, top])], axis=0)  # [R, W, C]
    columns = g.op("Transpose", [picked], perm=[1, 2, 0])  # [w_in, C, R]
    column = g.const([-1, 1, 1], np.int64, "column_shape")
    a0, a1 = (g.op("Reshape", [g.cast(a, np.float32), column]) for a in (a0, a1))
    summed = g.op(
        "Add",
        [
            g.op("Mul", [g.op("Gather", [columns, x0], axis=0), a0]),
            g.op("Mul", [g.op("Gather", [columns, x1], axis=0), a1]),
        ],
    )  # [w, C, R]
    return g.op("Transpose", [summed], perm=[2, 0, 1])


def _horizontal_by_pixels(
    g: Graph, hwc: str, rows: str, top: str, left: str, w_out: str, x0: str, x1: str, a0: str, a1: str
) -> str:
    """[R, w, C] sums ``pixel * weight`` of the rows, each tap gathered by its flat index in the whole
    image (no copy of the rows or the window: for a source much wider than the output)."""
    channels = g.shape_dims(hwc, 2, 3)
    flat = g.op("Reshape", [hwc, g.op("Concat", [g.const([-1], np.int64), channels], axis=0)])
    row_start = g.op(
        "Unsqueeze", [g.op("Mul", [g.op("Add", [rows, top]), g.shape_dims(hwc, 1, 2)]), g.const([1], np.int64)]
    )

    def taps(x: str) -> str:  # [R, w, C]: the source pixel at column x of every gathered row
        return g.op(
            "Gather",
            [flat, g.op("Add", [row_start, g.op("Unsqueeze", [g.op("Add", [x, left]), g.const([0], np.int64)])])],
            axis=0,
        )

    # the weights as [1, w, C], not [1, w, 1]: ONNX Runtime broadcasts a trailing axis of 1 25x slower
    shape = g.op("Concat", [g.const([1], np.int64), w_out, channels], axis=0)
    a0, a1 = (
        g.op("Expand", [g.op("Unsqueeze", [g.cast(a, np.float32), g.const([0, 2], np.int64)]), shape]) for a in (a0, a1)
    )
    return g.op("Add", [g.op("Mul", [taps(x0), a0]), g.op("Mul", [taps(x1), a1])])


def _linear(g: Graph, hwc: str, origin: str, window_hw: str, size_hw: str, windowed: bool) -> str:
    """float32 [H, W, C] levels and a window (origin: top, left; window_hw: height, width; int64 [2]
    each) -> int32 [h, w, C], OpenCV's fixed-point bilinear of the window.

    Only the source rows some output row reads are gathered (each once, ``Unique``): for a downscale
    by more than two, ``2 h`` rows go through the horizontal pass, not all. That pass is exact in
    float32 (every value an integer under 2^24); the vertical one, whose products need 27 bits, is
    in int32."""
    (top, left), (h_in, w_in) = (_dim(g, origin, k) for k in range(2)), (_dim(g, window_hw, k) for k in range(2))
    h_out, w_out = _dim(g, size_hw, 0), _dim(g, size_hw, 1)
    x0, x1, a0, a1 = _axis(g, w_in, w_out, vertical=False)
    y0, y1, b0, b1 = _axis(g, h_in, h_out, vertical=True)
    rows, _, inverse, _ = g.op("Unique", [g.op("Concat", [y0, y1], axis=0)], outputs=4, sorted=1)
    y0 = g.op("Slice", [inverse, g.const([0], np.int64), h_out])
    y1 = g.op("Slice", [inverse, h_out, g.const([1 << 62], np.int64)])
    if windowed:  # a view or patch of a larger photo: its rows would be copied whole, so by pixels
        summed = _horizontal_by_pixels(g, hwc, rows, top, left, w_out, x0, x1, a0, a1)
    else:
        by_columns, by_pixels = g.branch(), g.branch()
        narrow = g.op("LessOrEqual", [w_in, g.op("Mul", [w_out, g.const([COLUMN_MAJOR_UP_TO], np.int64)])])
        summed = g.op(
            "If",
            [g.op("Squeeze", [narrow, g.const([0], np.int64)])],
            then_branch=by_columns.subgraph(
                "by_columns", [_horizontal_by_columns(by_columns, hwc, rows, top, x0, x1, a0, a1)]
            ),
            else_branch=by_pixels.subgraph(
                "by_pixels", [_horizontal_by_pixels(by_pixels, hwc, rows, top, left, w_out, x0, x1, a0, a1)]
            ),
        )
    rows_h = g.cast(g.op("Floor", [g.op("Mul", [summed, g.const(1.0 / 16)])]), np.int32)
    row = g.const([-1, 1, 1], np.int64, "row_shape")
    b0, b1 = g.op("Reshape", [b0, row]), g.op("Reshape", [b1, row])
    k16 = g.const(1 << 16, np.int32)
    upper = g.op("Div", [g.op("Mul", [g.op("Gather", [rows_h, y0], axis=0), b0]), k16])
    lower = g.op("Div", [g.op("Mul", [g.op("Gather", [rows_h, y1], axis=0), b1]), k16])
    return g.op("Div", [g.op("Add", [g.op("Add", [upper, lower]), g.const(2, np.int32)]), g.const(4, np.int32)])


def _halve(g: Graph, pixels: str, size_hw: str) -> str:
    """int32 [2h, 2w, C] -> [h, w, C]: the 2x2 mean, rounded as OpenCV's INTER_AREA fast path."""
    shape = g.op(
        "Concat", [_dim(g, size_hw, 0), g.const([2], np.int64), _dim(g, size_hw, 1), g.const([2, -1], np.int64)], axis=0
    )
    total = g.op("ReduceSum", [g.op("Reshape", [pixels, shape]), g.const([1, 3], np.int64)], keepdims=0)
    return g.op("Div", [g.op("Add", [total, g.const(2, np.int32)]), g.const(4, np.int32)])


def resize_linear_hwc(g: Graph, hwc: str, size_hw: str, window: Optional[tuple[str, str]] = None) -> str:
    """float32 [H, W, C] integer levels -> float32 [h, w, C] at ``size_hw`` (int64 [2]), as
    cv2.resize(INTER_LINEAR) gives for the uint8 image; of ``window`` (origin: top, left; size:
    height, width; int64 [2] each, inside the image) when given, as cv2.resize gives for that crop."""
    origin, window_hw = window if window is not None else (g.const([0, 0], np.int64, "origin"), g.shape_dims(hwc, 0, 2))
    is_half = g.op(
        "ReduceMin",
        [g.cast(g.op("Equal", [window_hw, g.op("Mul", [size_hw, g.const(2, np.int64)])]), np.int64)],
        keepdims=0,
    )
    then_g, else_g = g.branch(), g.branch()
    crop = (
        hwc
        if window is None
        else then_g.op("Slice", [hwc, origin, then_g.op("Add", [origin, window_hw]), then_g.const([0, 1], np.int64)])
    )
    halved = _halve(then_g, then_g.cast(crop, np.int32), size_hw)
    linear = _linear(else_g, hwc, origin, window_hw, size_hw, windowed=window is not None)
    out = g.op(
        "If",
        [g.cast(is_half, np.bool_)],
        then_branch=then_g.subgraph("halve", [halved]),
        else_branch=else_g.subgraph("linear", [linear]),
    )
    return g.cast(out, np.float32)


def size_const(g: Graph, height: int, width: int) -> str:
    """An int64 [2] size constant (h, w)."""
    return g.const([height, width], np.int64, "size")


def clip_levels(g: Graph, x: str) -> str:
    """Clamp to 0..255, as cv2's saturate_cast to uint8 does."""
    return g.op("Clip", [x, g.const(0.0), g.const(255.0)])

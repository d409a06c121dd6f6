"""cv2.warpAffine(INTER_LINEAR, BORDER_REPLICATE) as it runs in OpenCV 5, in Gather ops.

OpenCV inverts the 2x3 matrix in double (``invertAffineTransform``), computes each output pixel's
source position in float32 (``x' = M00 x + (M01 y + M02)``), takes the four taps with indices clamped to
the image (the replicated border) and interpolates bilinearly. The same positions and taps are computed
here, the weights in float64, and the result rounded to levels: equal to OpenCV but for a value in
several thousand, one level apart, where OpenCV's float32 SIMD rounds an exact half otherwise (which
values depends on the CPU's vector width and FMA: tests/test_bundle_pieces.py).
(OpenCV 4 put positions on a 1/32 pixel grid with 15-bit weights; against that, about 7% of pixels
land one or two levels away.)

A photo whose face is more than twice the crop's size is shrunk first (``shrink``), as in
``warp_to_template``.
"""

from __future__ import annotations

import numpy as np

from .builder import Graph
from .resize import clip_levels


def invert_affine(g: Graph, matrix: str) -> str:
    """float64 [2, 3] -> its inverse map, as cv2's invertAffineTransform computes it."""
    m = [g.op("Gather", [g.op("Reshape", [matrix, g.const([6], np.int64)]), g.const(k, np.int64)]) for k in range(6)]
    det = g.op("Sub", [g.op("Mul", [m[0], m[4]]), g.op("Mul", [m[1], m[3]])])
    inv = g.op("Div", [g.const(1.0, np.float64), det])
    a11, a22 = g.op("Mul", [m[4], inv]), g.op("Mul", [m[0], inv])
    a12, a21 = g.op("Neg", [g.op("Mul", [m[1], inv])]), g.op("Neg", [g.op("Mul", [m[3], inv])])
    b1 = g.op("Sub", [g.op("Neg", [g.op("Mul", [a11, m[2]])]), g.op("Mul", [a12, m[5]])])
    b2 = g.op("Sub", [g.op("Neg", [g.op("Mul", [a21, m[2]])]), g.op("Mul", [a22, m[5]])])
    axis0 = g.const([0], np.int64)
    return g.op(
        "Reshape",
        [
            g.op("Concat", [g.op("Unsqueeze", [v, axis0]) for v in (a11, a12, b1, a21, a22, b2)], axis=0),
            g.const([2, 3], np.int64),
        ],
    )


def source_positions(g: Graph, inverse: str, height: int, width: int) -> tuple[str, str]:
    """Source positions (x, y) float32 [h, w] of each output pixel: ``M00 x + (M01 y + M02)`` in float32."""
    m = [
        g.op("Gather", [g.cast(g.op("Reshape", [inverse, g.const([6], np.int64)]), np.float32), g.const(k, np.int64)])
        for k in range(6)
    ]
    xs = g.const(np.arange(width, dtype=np.float32)[None, :], hint="xs")
    ys = g.const(np.arange(height, dtype=np.float32)[:, None], hint="ys")

    def position(cx: str, cy: str, c: str) -> str:
        return g.op("Add", [g.op("Mul", [cx, xs]), g.op("Add", [g.op("Mul", [cy, ys]), c])])

    return position(m[0], m[1], m[2]), position(m[3], m[4], m[5])


def warp(g: Graph, bgr: str, matrix: str, height: int, width: int) -> str:
    """float32 [H, W, C] levels and the 2x3 matrix (image -> crop) -> the crop float32 [h, w, C] levels
    (any channel layout: each channel is warped alike)."""
    x, y = source_positions(g, invert_affine(g, matrix), height, width)
    x, y = g.cast(x, np.float64), g.cast(y, np.float64)
    x0, y0 = g.op("Floor", [x]), g.op("Floor", [y])
    fx, fy = g.op("Sub", [x, x0]), g.op("Sub", [y, y0])
    dims = g.shape_dims(bgr, 0, 2)
    rows, cols = (g.op("Gather", [dims, g.const(k, np.int64)]) for k in (0, 1))
    channels = g.shape_dims(bgr, 2, 3)
    flat = g.op("Reshape", [bgr, g.op("Concat", [g.const([-1], np.int64), channels], axis=0)])
    one, zero = g.const(1.0, np.float64), g.const(0, np.int64)

    def tap(yy: str, xx: str) -> str:
        yi = g.op("Clip", [g.cast(yy, np.int64), zero, g.op("Sub", [rows, g.const(1, np.int64)])])
        xi = g.op("Clip", [g.cast(xx, np.int64), zero, g.op("Sub", [cols, g.const(1, np.int64)])])
        return g.cast(g.op("Gather", [flat, g.op("Add", [g.op("Mul", [yi, cols]), xi])], axis=0), np.float64)

    x1, y1 = g.op("Add", [x0, one]), g.op("Add", [y0, one])
    gx, gy = g.op("Sub", [one, fx]), g.op("Sub", [one, fy])
    # each weight [h, w] as [h, w, C] (times a row of ones, exact): a trailing axis of 1 broadcasts 25x slower
    ones = g.op(
        "Expand", [g.const([[1.0]], np.float64, "one"), g.op("Concat", [g.const([1], np.int64), channels], axis=0)]
    )
    weight = lambda a, b: g.op("MatMul", [g.op("Unsqueeze", [g.op("Mul", [a, b]), g.const([2], np.int64)]), ones])  # noqa: E731  (a one-line graph shorthand)
    value = g.op(
        "Add",
        [
            g.op("Add", [g.op("Mul", [tap(y0, x0), weight(gx, gy)]), g.op("Mul", [tap(y0, x1), weight(fx, gy)])]),
            g.op("Add", [g.op("Mul", [tap(y1, x0), weight(gx, fy)]), g.op("Mul", [tap(y1, x1), weight(fx, fy)])]),
        ],
    )
    return clip_levels(g, g.cast(g.op("Round", [value]), np.float32))

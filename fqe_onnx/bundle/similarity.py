"""The least-squares similarity onto the template, in closed form (ONNX has no SVD).

For a rotation with uniform scale ``[[a, -b], [b, a]]`` the fit is linear in (a, b): with points and
template centred, ``a = sum(x u + y v) / sum(x^2 + y^2)`` and ``b = sum(x v - y u) / sum(x^2 + y^2)``.
That is the optimum Umeyama's method finds (``align.template.similarity_transform``) when it rules out a
reflection; the tests compare the two.
"""

from __future__ import annotations

import numpy as np

from .builder import Graph


def similarity(g: Graph, points: str, template: str) -> str:
    """float64 [5, 2] points and template -> the 2x3 matrix M (float64) with template ~ M @ [x, y, 1]."""
    axis0 = g.const([0], np.int64)
    src_mean = g.op("ReduceMean", [points, axis0], keepdims=1)
    dst_mean = g.op("ReduceMean", [template, axis0], keepdims=1)
    src, dst = g.op("Sub", [points, src_mean]), g.op("Sub", [template, dst_mean])

    def column(t: str, k: int) -> str:
        return g.op("Gather", [t, g.const(k, np.int64)], axis=1)

    x, y, u, v = column(src, 0), column(src, 1), column(dst, 0), column(dst, 1)
    total = lambda t: g.op("ReduceSum", [t, axis0], keepdims=0)  # noqa: E731  (a one-line graph shorthand)
    variance = total(g.op("Add", [g.op("Mul", [x, x]), g.op("Mul", [y, y])]))
    a = g.op("Div", [total(g.op("Add", [g.op("Mul", [x, u]), g.op("Mul", [y, v])])), variance])
    b = g.op("Div", [total(g.op("Sub", [g.op("Mul", [x, v]), g.op("Mul", [y, u])])), variance])
    mx, my = (g.op("Squeeze", [column(src_mean, k)]) for k in (0, 1))
    mu, mv = (g.op("Squeeze", [column(dst_mean, k)]) for k in (0, 1))
    tx = g.op("Sub", [g.op("Sub", [mu, g.op("Mul", [a, mx])]), g.op("Mul", [g.op("Neg", [b]), my])])
    ty = g.op("Sub", [g.op("Sub", [mv, g.op("Mul", [b, mx])]), g.op("Mul", [a, my])])
    row = lambda *vs: g.op("Concat", [g.op("Unsqueeze", [t, axis0]) for t in vs], axis=0)  # noqa: E731  (a one-line graph shorthand)
    return g.op(
        "Concat",
        [g.op("Unsqueeze", [row(a, g.op("Neg", [b]), tx), axis0]), g.op("Unsqueeze", [row(b, a, ty), axis0])],
        axis=0,
    )

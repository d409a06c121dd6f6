"""The quality head: the contract's preprocessing of the model-sized crop, and from the network's
output to ``q`` and ``Q``. Mirrors ``preprocess.prepare_crop`` / ``to_tensor`` and ``quality``
(``embedding_norms`` in float64, ``norm_to_score`` with rounding half away from zero).
"""

from __future__ import annotations

import numpy as np

from ..contract import Calibration, Preprocess
from .builder import Graph
from .pixels import grey


def model_input(g: Graph, crop: str, preprocess: Preprocess) -> str:
    """float32 [h, w, 3] BGR levels -> the model's input [1, C, h, w] (NCHW) or [1, h, w, C] (NHWC)."""
    if preprocess.channel_order == "RGB":
        crop = g.op("Gather", [crop, g.const([2, 1, 0], np.int64, "bgr_to_rgb")], axis=2)
    elif preprocess.channel_order == "GRAY":
        crop = grey(g, crop)
    x = g.op(
        "Div",
        [
            g.op("Sub", [crop, g.const(np.asarray(preprocess.mean, np.float32))]),
            g.const(np.asarray(preprocess.scale, np.float32)),
        ],
    )
    if preprocess.layout == "NCHW":
        x = g.op("Transpose", [x], perm=[2, 0, 1])
    return g.op("Unsqueeze", [x, g.const([0], np.int64)])


def norm(g: Graph, output: str, output_kind: str) -> str:
    """The model's output for one image -> q, float64 []: the embedding's L2 norm in float64, or the
    output itself for a model that outputs its norm."""
    values = g.op("Reshape", [g.cast(output, np.float64), g.const([-1], np.int64)])
    if output_kind == "norm":
        return g.op("Squeeze", [values, g.const([0], np.int64)])
    return g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [values, values]), g.const([0], np.int64)], keepdims=0)])


def score(g: Graph, q: str, calibration: Calibration) -> str:
    """q float64 [] -> Q int32 []: clip(round_half_away(h (a + s sigmoid((q - x0) / w))), 0, 100)."""
    c = calibration
    f64 = lambda v: g.const(v, np.float64)  # noqa: E731  (a one-line graph shorthand)
    z = g.op("Div", [g.op("Sub", [q, f64(c.x0)]), f64(c.w)])
    value = g.op("Mul", [f64(c.h), g.op("Add", [f64(c.a), g.op("Mul", [f64(c.s), g.op("Sigmoid", [z])])])])
    rounded = g.op("Mul", [g.op("Sign", [value]), g.op("Floor", [g.op("Add", [g.op("Abs", [value]), f64(0.5)])])])
    return g.cast(g.op("Clip", [rounded, f64(0.0), f64(100.0)]), np.int32)

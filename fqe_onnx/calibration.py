"""Fitting the score mapping to a reference set: chosen quantiles of q map to chosen scores.

With ``Q = 100 * sigmoid((q - x0) / w)``, asking that quantile ``p_lo`` of the reference norms scores
``s_lo`` and quantile ``p_hi`` scores ``s_hi`` gives two linear equations in x0 and w:
``logit(s/100) = (q_p - x0) / w``. The default (5th -> 10, 95th -> 90) spreads the reference set
over the score range and keeps room at both ends for better and worse images.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .contract import Calibration
from .errors import FqeError

DEFAULT_QUANTILES = (0.05, 0.95)
DEFAULT_SCORES = (10.0, 90.0)


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def fit_calibration(
    q: Sequence[float], quantiles: Sequence[float] = DEFAULT_QUANTILES, scores: Sequence[float] = DEFAULT_SCORES
) -> Calibration:
    """The Calibration (h=100, a=0, s=1) mapping q's ``quantiles`` to ``scores``."""
    values = np.asarray(q, dtype=np.float64)
    values = values[np.isfinite(values)]
    p_lo, p_hi = quantiles
    s_lo, s_hi = scores
    if not (0 < p_lo < p_hi < 1):
        raise FqeError(f"quantiles must satisfy 0 < low < high < 1, got {p_lo}, {p_hi}")
    if not (0 < s_lo < s_hi < 100):
        raise FqeError(f"scores must satisfy 0 < low < high < 100, got {s_lo}, {s_hi}")
    if len(values) < 2:
        raise FqeError(f"need at least 2 scored reference images, got {len(values)}")
    q_lo, q_hi = np.quantile(values, [p_lo, p_hi])
    if not q_hi > q_lo:
        raise FqeError(f"the reference norms do not spread: quantiles {p_lo} and {p_hi} are both {q_lo}")
    l_lo, l_hi = logit(s_lo / 100), logit(s_hi / 100)
    w = (q_hi - q_lo) / (l_hi - l_lo)
    return Calibration(x0=float(q_lo - w * l_lo), w=float(w))


def describe_distribution(values: Sequence[float]) -> str:
    """'min .. p5 .. median .. p95 .. max' in one line."""
    v = np.asarray(values, dtype=np.float64)
    p = np.percentile(v, [0, 5, 25, 50, 75, 95, 100])
    return "min {:.3f}  p5 {:.3f}  p25 {:.3f}  median {:.3f}  p75 {:.3f}  p95 {:.3f}  max {:.3f}".format(*p)


def score_histogram(scores: Sequence[int]) -> str:
    """Counts of Q per decile band, e.g. '0-9: 3  10-19: 40 ...  90-100: 7'."""
    counts = np.bincount(np.minimum(np.asarray(scores, dtype=int) // 10, 9), minlength=10)
    return "  ".join(f"{10 * i}-{10 * i + 9 if i < 9 else 100}: {c}" for i, c in enumerate(counts))

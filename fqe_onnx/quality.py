"""From embedding to quality: the raw norm ``q`` and the 0..100 score ``Q``.

``q = ||V||2`` in float64 (the MagFace principle: a larger norm is a better sample).
``Q = clip(round_half_away(h * (a + s * sigmoid((q - x0) / w))), 0, 100)``, the ISO/IEC 29794-5
mapping that OFIQ uses; the seed's ``round(100 * sigmoid(q))`` is the default calibration.
"""

from __future__ import annotations

import math

import numpy as np

from .contract import Calibration


def embedding_norms(embeddings: np.ndarray) -> np.ndarray:
    """L2 norm of each row of an (N, D) array, computed in float64; returns shape (N,)."""
    return np.sqrt(np.square(embeddings.astype(np.float64)).sum(axis=1))


def sigmoid(z: float) -> float:
    """Logistic function without overflow for any z, infinities included."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def round_half_away(x: float) -> float:
    """Round to the nearest integer, halves away from zero (Python's round() goes to even)."""
    magnitude = abs(x)
    floor = math.floor(magnitude)
    # magnitude - floor is exact in binary floating point, so the 0.5 test is too.
    rounded = floor + 1.0 if magnitude - floor >= 0.5 else floor
    return math.copysign(rounded, x)


def norm_to_score(q: float, calibration: Calibration) -> int:
    """Map a finite raw quality ``q`` to the integer score ``Q`` in 0..100."""
    if not math.isfinite(q):
        raise ValueError(f"q must be finite, got {q}")
    c = calibration
    # (q - x0) / w may overflow to +-inf for extreme values: sigmoid takes its limit there.
    value = c.h * (c.a + c.s * sigmoid((q - c.x0) / c.w))
    return int(min(100.0, max(0.0, round_half_away(value))))


def collapse_share(scores: list[int]) -> tuple[float, int]:
    """The largest share of identical scores and that score, e.g. (0.97, 100); (0.0, 0) if empty."""
    if not scores:
        return 0.0, 0
    values, counts = np.unique(np.asarray(scores), return_counts=True)
    top = int(np.argmax(counts))
    return float(counts[top]) / len(scores), int(values[top])

"""Straightforward re-implementations to check the package against (written plainly, on purpose)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import cv2
import numpy as np


def seed_preprocess(bgr: np.ndarray) -> np.ndarray:
    """The seed's pipeline as it was written: resize 192x192 bilinear, centre crop 112, /255, CHW."""
    resized = cv2.resize(bgr, (192, 192), interpolation=cv2.INTER_LINEAR)
    crop = resized[40:152, 40:152]
    return (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)


def pooled_linear_q(tensor_chw: np.ndarray, weights: np.ndarray) -> float:
    """Norm of the pooled-linear model's embedding for one CHW input, in float64."""
    means = tensor_chw.astype(np.float64).mean(axis=(1, 2))
    return float(np.linalg.norm(means @ weights.astype(np.float64)))


def seed_score(q: float, h=100.0, a=0.0, s=1.0, x0=0.0, w=1.0) -> int:
    """The ISO/IEC 29794-5 mapping with decimal half-up rounding (the values here are positive)."""
    with np.errstate(over="ignore"):  # exp overflows to inf for very negative q: sigmoid -> 0
        value = float(h * (a + s / (1.0 + np.exp(-(q - x0) / w))))
    return min(100, max(0, round_half_up(value)))


def round_half_up(value: float) -> int:
    return int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP))

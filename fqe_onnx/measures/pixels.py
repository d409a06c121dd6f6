"""Exposure, dynamic range and luminance: statistics of the luminance inside the face region.

OFIQ's luminance (OFIQlib/modules/utils/src/image_utils.cpp, ``GetLuminanceImageFromBGR``): each
sRGB channel linearised, Y = 0.2126 R + 0.7152 G + 0.0722 B, stored as round(255 Y) in 0..255.
Its 256-bin histogram over the landmarked region gives:

- under- and over-exposure: the share of the region at 0..25 and 247..255
  (UnderExposurePrevention.cpp, OverExposurePrevention.cpp; OFIQ also removes occluded pixels,
  which needs its occlusion network: we use the landmarked region alone);
- dynamic range: the histogram's entropy in bits (DynamicRange.cpp);
- luminance mean and variance of i / 255 (Luminance.cpp).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mapping import SIGMOIDS, dynamic_range_score, luminance_mean_score, luminance_variance_score, over_exposure_score

#: Inclusive luminance ranges that count as under- and over-exposed (OFIQ's darkRange, lightRange).
DARK_RANGE, LIGHT_RANGE = (0, 25), (247, 255)


def _linear_table() -> np.ndarray:
    """sRGB value 0..255 -> linear light 0..1 (OFIQ's ``ColorConvert``)."""
    x = np.arange(256) / 255.0
    return np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)


LINEAR = _linear_table()
LINEAR.setflags(write=False)
#: Per BGR channel, the linear value times its luminance weight (Rec. 709: 0.0722, 0.7152, 0.2126).
_WEIGHTED = (LINEAR[:, None] * np.array([0.0722, 0.7152, 0.2126])[None, :]).reshape(1, 256, 3)


def luminance(bgr: np.ndarray) -> np.ndarray:
    """(h, w) uint8: OFIQ's luminance, round(255 Y) with Y = 0.2126 R + 0.7152 G + 0.0722 B of the
    linearised channels."""
    image = np.ascontiguousarray(bgr)
    if image.size == 0:
        return np.zeros(image.shape[:2], dtype=np.uint8)
    y = cv2.transform(cv2.LUT(image, _WEIGHTED), np.ones((1, 3)))
    return np.floor(y.reshape(image.shape[:2]) * 255.0 + 0.5).astype(np.uint8)


def histogram(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(256,) counts of the uint8 ``values`` (inside ``mask`` when given)."""
    chosen = values[mask] if mask is not None else values.reshape(-1)
    return np.bincount(chosen, minlength=256).astype(np.float64)


@dataclass(frozen=True)
class LuminanceStats:
    """The raw values of the region's luminance histogram; None for all when the region is empty."""

    dark_share: float
    bright_share: float
    entropy_bits: float
    mean: float
    variance: float


def luminance_stats(counts: np.ndarray) -> LuminanceStats | None:
    """The five raw values from a 256-bin histogram (None when it is empty)."""
    total = counts.sum()
    if total <= 0:
        return None
    p = counts / total
    levels = np.arange(256) / 255.0
    mean = float((p * levels).sum())
    nonzero = p[p > 0]
    return LuminanceStats(
        dark_share=float(p[DARK_RANGE[0] : DARK_RANGE[1] + 1].sum()),
        bright_share=float(p[LIGHT_RANGE[0] : LIGHT_RANGE[1] + 1].sum()),
        entropy_bits=float(-(nonzero * np.log2(nonzero)).sum()) + 0.0,  # + 0.0: no -0.0
        mean=mean,
        variance=float((p * (levels - mean) ** 2).sum()),
    )


def pixel_measures(stats: LuminanceStats | None) -> dict[str, tuple[int, float] | None]:
    """(0-100 value, raw) of the five pixel measures, or None each when the region is empty."""
    names = (
        "under_exposure_prevention",
        "over_exposure_prevention",
        "dynamic_range",
        "luminance_mean",
        "luminance_variance",
    )
    if stats is None:
        return dict.fromkeys(names)
    return {
        "under_exposure_prevention": (SIGMOIDS["under_exposure_prevention"](stats.dark_share), stats.dark_share),
        "over_exposure_prevention": (over_exposure_score(stats.bright_share), stats.bright_share),
        "dynamic_range": (dynamic_range_score(stats.entropy_bits), stats.entropy_bits),
        "luminance_mean": (luminance_mean_score(stats.mean), stats.mean),
        "luminance_variance": (luminance_variance_score(stats.variance), stats.variance),
    }

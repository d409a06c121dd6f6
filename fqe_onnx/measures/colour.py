"""Illumination uniformity and natural colour: the two cheek regions of the face on OFIQ's 616x616
frame (``parts.cheek_regions``, ``frame.cheeks``), compared and averaged. Pixels outside the
landmarked region count as black, as in OFIQ.

- illumination uniformity: the intersection of the two regions' normalised luminance histograms,
  mapped by 100 x^0.3 (OFIQlib/modules/measures/src/IlluminationUniformity.cpp);
- natural colour: the regions' mean colour in CIELAB (OFIQ's own sRGB -> XYZ -> Lab with a D50
  white), and its distance from the box a in [5, 25], b in [5, 35]; 100 when a or b is negative;
  0 for a grey image (NaturalColour.cpp).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .frame import Cheek
from .mapping import SIGMOIDS, illumination_uniformity_score
from .pixels import histogram, luminance


def _blacked(cheek: Cheek) -> np.ndarray:
    """The region's pixels, black outside the landmarked region."""
    return cheek.bgr * cheek.mask[..., None].astype(np.uint8)


def illumination_uniformity(cheeks: Sequence[Cheek]) -> float:
    """Raw: the sum of the element-wise minimum of the two regions' normalised luminance histograms
    (1: the same distribution, 0: disjoint)."""
    left, right = (histogram(luminance(_blacked(c))) for c in cheeks)
    return float(np.minimum(left / left.sum(), right / right.sum()).sum())


def _srgb_linear(x: float) -> float:
    return ((x + 0.055) / 1.055) ** 2.4 if x > 0.04045 else x / 12.92


def _cube(x: float) -> float:
    """CIELAB's f(t) as OFIQ writes it (``Cubic``, k = 24289/27, eps = 216/24389)."""
    k, eps = 24289 / 27.0, 216 / 24389.0
    return (k * x + 16) / 116 if x <= eps else x ** (1 / 3)


def lab_ab(mean_bgr: np.ndarray) -> tuple[float, float]:
    """CIELAB a and b of a mean BGR colour (0..255), OFIQ's ``ConvertBGRToCIELAB``: sRGB
    linearised, its XYZ matrix, reference white X 0.964221, Y 1, Z 0.825211."""
    r, g, b = (_srgb_linear(float(v) / 255.0) for v in (mean_bgr[2], mean_bgr[1], mean_bgr[0]))
    x = r * 0.43605 + g * 0.38508 + b * 0.14309
    y = r * 0.22249 + g * 0.71689 + b * 0.06062
    z = r * 0.01393 + g * 0.09710 + b * 0.71419
    fx, fy, fz = _cube(x / 0.964221), _cube(y), _cube(z / 0.825211)
    return 500.0 * (fx - fy), 200.0 * (fy - fz)


def colour_distance(a: float, b: float) -> float:
    """Raw natural colour: how far (a, b) lies outside a in [5, 25], b in [5, 35]; 100 when a or b < 0."""
    if a < 0 or b < 0:
        return 100.0
    return math.hypot(max(0.0, 5 - a, a - 25), max(0.0, 5 - b, b - 35))


def is_coloured(bgr: np.ndarray) -> bool:
    """Whether any pixel's channels differ (OFIQ's ``IsColoured``)."""
    return bool(np.any(bgr[..., 0] != bgr[..., 1]) or np.any(bgr[..., 1] != bgr[..., 2]))


def natural_colour(cheeks: Sequence[Cheek], coloured: bool = True) -> float:
    """Raw: ``colour_distance`` of the two regions' mean colour; 0 for a grey face (``coloured`` False)."""
    if not coloured:
        return 0.0
    pixels = np.concatenate([_blacked(c).reshape(-1, 3) for c in cheeks])
    return colour_distance(*lab_ab(pixels.mean(axis=0)))


def colour_measures(cheeks: Optional[Sequence[Cheek]], coloured: bool) -> dict[str, Optional[tuple[int, float]]]:
    """(0-100 value, raw) of both measures, None each when the cheeks could not be cut."""
    if cheeks is None:
        return {"illumination_uniformity": None, "natural_colour": None}
    uniformity = illumination_uniformity(cheeks)
    colour = natural_colour(cheeks, coloured)
    return {
        "illumination_uniformity": (illumination_uniformity_score(uniformity), uniformity),
        "natural_colour": (SIGMOIDS["natural_colour"](colour), colour),
    }

"""OFIQ's mappings from a native value to 0-100, kept apart from the measures that give the values.

Most follow OFIQ's general sigmoid (``Measure::ScalarConversion`` in
OFIQlib/modules/measures/Measure.h): ``h * (a + s * sigmoid(x; x0, w))``, rounded, clamped to
0..100, with ``sigmoid(x; x0, w) = 1 / (1 + exp((x0 - x) / w))``. Parameters are OFIQ's defaults
(data/ofiq_config.jaxn and each measure's constructor). A few measures map otherwise in OFIQ's
code; those mappings are the functions below the table, each naming its OFIQ source file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def sigmoid(x: float, x0: float, w: float) -> float:
    """The logistic 1 / (1 + exp((x0 - x) / w)), without overflow for far-off x."""
    z = (x0 - x) / w
    if z > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(z))


def clamp_round(value: float) -> int:
    """OFIQ's last step: round half away from zero (C's round), then clamp to 0..100."""
    rounded = math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)
    return int(min(max(rounded, 0), 100))


@dataclass(frozen=True)
class Sigmoid:
    """OFIQ's ``SigmoidParameters``: h, a, s, x0, w (its defaults are h=100, a=0, s=1)."""

    x0: float
    w: float
    h: float = 100.0
    a: float = 0.0
    s: float = 1.0

    def __call__(self, raw: float) -> int:
        return clamp_round(self.h * (self.a + self.s * sigmoid(raw, self.x0, self.w)))


#: OFIQ's sigmoid parameters per measure (defaults in the measure's constructor, as in
#: data/ofiq_config.jaxn). ``sharpness`` is ours: OFIQ maps its random forest's vote count.
SIGMOIDS: dict[str, Sigmoid] = {
    "under_exposure_prevention": Sigmoid(x0=0.92, w=0.05, h=120, a=0.832, s=-1),  # UnderExposurePrevention.cpp
    "natural_colour": Sigmoid(x0=0.0, w=10.0, h=200, a=1, s=-1),  # NaturalColour.cpp
    "inter_eye_distance": Sigmoid(x0=70.0, w=20.0),  # InterEyeDistance.cpp
    "head_size": Sigmoid(x0=0.0, w=0.05, h=200, a=1, s=-1),  # HeadSize.cpp, of |raw - 0.45|
    "leftward_crop": Sigmoid(x0=0.9, w=0.1),  # CropOfTheFaceImage.cpp
    "rightward_crop": Sigmoid(x0=0.9, w=0.1),
    "margin_above": Sigmoid(x0=1.4, w=0.1),
    "margin_below": Sigmoid(x0=1.8, w=0.1),
    "eyes_open": Sigmoid(x0=0.02, w=0.01),  # EyesOpen.cpp
    "mouth_closed": Sigmoid(x0=0.2, w=0.06, a=1, s=-1),  # MouthClosed.cpp
}

#: The head size OFIQ takes as ideal: the eye-midpoint-to-chin distance over the image height.
HEAD_SIZE_IDEAL = 0.45


def head_pose_score(angle_degrees: float) -> int:
    """100 cos^2(angle), 0 beyond 90 degrees (HeadPose.cpp)."""
    c = max(0.0, math.cos(math.radians(angle_degrees)))
    return clamp_round(100.0 * c * c)


def over_exposure_score(raw: float) -> int:
    """1 / (raw + 0.01): 100 with no bright pixel, 50 at 1 % (OverExposurePrevention.cpp)."""
    return clamp_round(1.0 / (raw + 0.01))


def dynamic_range_score(entropy_bits: float) -> int:
    """12.5 per bit of entropy: 8 bits give 100 (DynamicRange.cpp)."""
    return clamp_round(12.5 * entropy_bits)


def luminance_mean_score(mean: float) -> int:
    """100 sigmoid(m; 0.2, 0.05) (1 - sigmoid(m; 0.8, 0.05)): high between 0.3 and 0.7 (Luminance.cpp)."""
    return clamp_round(100.0 * sigmoid(mean, 0.2, 0.05) * (1.0 - sigmoid(mean, 0.8, 0.05)))


def luminance_variance_score(variance: float) -> int:
    """100 sin(pi 60v / (60v + 1)): highest at v = 1/60 (Luminance.cpp)."""
    return clamp_round(100.0 * math.sin(math.pi * 60.0 * variance / (60.0 * variance + 1.0)))


def illumination_uniformity_score(intersection: float) -> int:
    """100 raw^0.3 (IlluminationUniformity.cpp)."""
    return clamp_round(100.0 * max(intersection, 0.0) ** 0.3)


def single_face_score(ratio: float) -> int:
    """100 (1 - f), f the second largest face's area over the largest's (SingleFacePresent.cpp)."""
    return clamp_round(100.0 * (1.0 - ratio))


def head_size_score(raw: float) -> int:
    """The head size sigmoid of |raw - 0.45| (HeadSize.cpp)."""
    return SIGMOIDS["head_size"](abs(raw - HEAD_SIZE_IDEAL))

"""Eyes open and mouth closed: lid and lip openings over the eye-to-chin distance.

OFIQlib/modules/measures/src/EyesOpen.cpp: the smaller eye's widest lid opening (upper lid point
to lower lid point, per pair) over ``tmetric`` (eye midpoint to chin). MouthClosed.cpp: the widest
inner-lip opening over the same distance. Both are ratios of distances, the same on the photo's
landmarks as on the aligned ones. Our eyes have two lid pairs each, ADNet's three.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .mapping import SIGMOIDS
from .parts import INNER_LIP_PAIRS, LEFT_EYE_PAIRS, RIGHT_EYE_PAIRS, chin_distance, max_pair_distance


def eyes_open(points: np.ndarray) -> Optional[float]:
    """Raw: min over the eyes of the widest lid opening, over the eye-to-chin distance (None if that is 0)."""
    t = chin_distance(points)
    if t <= 0:
        return None
    return min(max_pair_distance(points, LEFT_EYE_PAIRS), max_pair_distance(points, RIGHT_EYE_PAIRS)) / t


def mouth_closed(points: np.ndarray) -> Optional[float]:
    """Raw: the widest inner-lip opening over the eye-to-chin distance (None if that is 0)."""
    t = chin_distance(points)
    if t <= 0:
        return None
    return max_pair_distance(points, INNER_LIP_PAIRS) / t


def eyes_mouth_measures(points: np.ndarray) -> dict[str, Optional[tuple[int, float]]]:
    eyes, mouth = eyes_open(points), mouth_closed(points)
    return {
        "eyes_open": None if eyes is None else (SIGMOIDS["eyes_open"](eyes), eyes),
        "mouth_closed": None if mouth is None else (SIGMOIDS["mouth_closed"](mouth), mouth),
    }

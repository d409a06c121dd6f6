"""Geometry of the face in its photo: how many faces, how large, how far from each edge.

From the detector's boxes and the 68 landmarks in photo pixels:

- single face present: the second largest box's area over the largest's (SingleFacePresent.cpp);
- inter-eye distance: eye centre to eye centre, divided by cos(yaw) (InterEyeDistance.cpp and
  FaceMeasures.cpp, ``InterEyeDistance``);
- head size: eye midpoint to chin over the photo's height (HeadSize.cpp);
- crops and margins (CropOfTheFaceImage.cpp), in OFIQ's terms: leftward crop = the right eye
  centre's x over the eye distance; rightward crop = (width - the left eye centre's x) over the
  eye distance; margin above = the eye midpoint's y over the eye-to-chin distance; margin below =
  (height - that y) over the same distance. ("Left" and "right" as seen in the image.)
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .mapping import SIGMOIDS, head_size_score, single_face_score
from .parts import chin_distance, eye_centres, eye_distance, eye_midpoint

Box = tuple[float, float, float, float]  # x1, y1, x2, y2


def single_face_ratio(boxes: Sequence[Box]) -> Optional[float]:
    """Raw: 0 for one face, else the second largest box's area over the largest's; None for none."""
    areas = sorted((max(x2 - x1, 0.0) * max(y2 - y1, 0.0) for x1, y1, x2, y2 in boxes), reverse=True)
    if not areas:
        return None
    if len(areas) == 1 or areas[0] <= 0:
        return 0.0
    return areas[1] / areas[0]


def inter_eye_distance(points: np.ndarray, yaw_degrees: float) -> Optional[float]:
    """Raw: eye centre to eye centre (photo pixels) over cos(yaw); None when cos(yaw) is about 0."""
    c = math.cos(math.radians(yaw_degrees))
    if abs(c) < 1e-6:
        return None
    return eye_distance(points) / c


def head_size(points: np.ndarray, height: int) -> float:
    """Raw: eye midpoint to chin over the photo's height."""
    return chin_distance(points) / height


def crops(points: np.ndarray, width: int, height: int) -> dict[str, Optional[float]]:
    """Raw leftward and rightward crop and margins above and below (None when a distance is 0)."""
    left_eye, right_eye = eye_centres(points)
    middle = eye_midpoint(points)
    ied, t = eye_distance(points), chin_distance(points)
    return {
        "leftward_crop": float(right_eye[0]) / ied if ied > 0 else None,
        "rightward_crop": (width - float(left_eye[0])) / ied if ied > 0 else None,
        "margin_above": float(middle[1]) / t if t > 0 else None,
        "margin_below": (height - float(middle[1])) / t if t > 0 else None,
    }


def geometry_measures(
    points: np.ndarray, boxes: Sequence[Box], width: int, height: int, yaw_degrees: Optional[float]
) -> dict[str, Optional[tuple[int, float]]]:
    """(0-100 value, raw) of the geometry measures; None for a measure that cannot be assessed."""
    values: dict[str, Optional[tuple[int, float]]] = {}
    ratio = single_face_ratio(boxes)
    values["single_face_present"] = None if ratio is None else (single_face_score(ratio), ratio)
    ied = None if yaw_degrees is None else inter_eye_distance(points, yaw_degrees)
    values["inter_eye_distance"] = None if ied is None else (SIGMOIDS["inter_eye_distance"](ied), ied)
    size = head_size(points, height)
    values["head_size"] = (head_size_score(size), size)
    for name, raw in crops(points, width, height).items():
        values[name] = None if raw is None else (SIGMOIDS[name](raw), raw)
    return values

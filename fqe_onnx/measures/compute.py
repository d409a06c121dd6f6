"""All the measures of one face: (photo, boxes, 68 landmarks) in, named 0-100 and raw values out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..measure_catalog import BELOW_FLOOR_COLUMN, FLOORS, MEASURE_COLUMNS, MEASURES, below_floor, raw_column
from .colour import colour_measures, is_coloured
from .eyes_mouth import eyes_mouth_measures
from .frame import align, cheeks, ofiq_matrix
from .geometry import Box, geometry_measures
from .parts import as_points
from .pixels import histogram, luminance, luminance_stats, pixel_measures
from .pose import head_pose, pose_scores
from .sharpness import sharpness_measure

#: Significant digits kept of a raw value (the 0-100 values are integers).
RAW_DIGITS = 6


@dataclass(frozen=True)
class FaceMeasures:
    """One face's measures: ``values`` (0-100, int) and ``raw`` by name, None where a measure could
    not be assessed; ``below_floor``, the measures under their floors, worst first."""

    values: dict[str, Optional[int]]
    raw: dict[str, Optional[float]]
    below_floor: list[str] = field(default_factory=list)

    def columns(self) -> dict[str, Any]:
        """The row cells of ``measure_catalog.MEASURE_COLUMNS``."""
        cells: dict[str, Any] = {}
        for name in MEASURES:
            cells[name] = self.values.get(name)
            cells[raw_column(name)] = self.raw.get(name)
        cells[BELOW_FLOOR_COLUMN] = ";".join(self.below_floor)
        return cells


def empty_columns() -> dict[str, Any]:
    """The measure cells of a row without an aligned face: all empty."""
    return dict.fromkeys(MEASURE_COLUMNS)


def _raw(value: float) -> float:
    return float(f"{value:.{RAW_DIGITS}g}") + 0.0


def measure_face(
    bgr: np.ndarray, landmarks: np.ndarray, boxes: Sequence[Box], floors: Mapping[str, int] = FLOORS
) -> FaceMeasures:
    """Every measure of the face with these 68 ``landmarks`` (photo pixels) in the BGR uint8 photo
    ``bgr``, whose detector found ``boxes`` (x1, y1, x2, y2; every face of the photo, this one included)."""
    points = as_points(landmarks)
    height, width = bgr.shape[:2]
    pose = head_pose(points)
    matrix = ofiq_matrix(points)
    face = align(bgr, points, matrix)
    results: dict[str, Optional[tuple[int, float]]] = {}
    results.update(geometry_measures(points, boxes, width, height, pose.yaw))
    for name, score in pose_scores(pose).items():
        results[name] = (score, getattr(pose, name.rsplit("_", 1)[1]))
    lum = luminance(face.bgr)
    results.update(pixel_measures(luminance_stats(histogram(lum, face.mask))))
    results.update(colour_measures(cheeks(bgr, points, matrix), is_coloured(face.bgr)))
    results["sharpness"] = sharpness_measure(face)
    results.update(eyes_mouth_measures(points))
    assessed = {name: result for name, result in results.items() if result is not None}
    values = {name: (assessed[name][0] if name in assessed else None) for name in MEASURES}
    raw = {name: (_raw(assessed[name][1]) if name in assessed else None) for name in MEASURES}
    return FaceMeasures(values, raw, below_floor(values, floors))

"""The measures by name: their order, families, floors and output columns, defined here only.

Names are OFIQ's (ISO/IEC 29794-5's quality components) in snake_case. Each measure gives a
0-100 value (column ``NAME``, an int, higher is better) and its native value (``NAME_raw``).
``measures_below_floor`` names the measures whose 0-100 value is under its floor, worst first.
It is data the records and tables need (``fqe_onnx.records`` and ``fqe_onnx.table`` build their
columns from it), so it sits in the bottom layer beside them, apart from the computation in
``fqe_onnx.measures``, which needs the face templates of ``fqe_onnx.align``.
"""

from __future__ import annotations

from typing import Mapping, Optional

#: (name, family) in column order. The families are the modules of ``fqe_onnx.measures``.
CATALOG: tuple[tuple[str, str], ...] = (
    ("single_face_present", "geometry"),
    ("head_pose_yaw", "pose"),
    ("head_pose_pitch", "pose"),
    ("head_pose_roll", "pose"),
    ("under_exposure_prevention", "pixels"),
    ("over_exposure_prevention", "pixels"),
    ("dynamic_range", "pixels"),
    ("luminance_mean", "pixels"),
    ("luminance_variance", "pixels"),
    ("illumination_uniformity", "colour"),
    ("natural_colour", "colour"),
    ("sharpness", "sharpness"),
    ("inter_eye_distance", "geometry"),
    ("head_size", "geometry"),
    ("leftward_crop", "geometry"),
    ("rightward_crop", "geometry"),
    ("margin_above", "geometry"),
    ("margin_below", "geometry"),
    ("eyes_open", "eyes_mouth"),
    ("mouth_closed", "eyes_mouth"),
)
MEASURES: tuple[str, ...] = tuple(name for name, _ in CATALOG)
FAMILIES: dict[str, str] = dict(CATALOG)

#: The 0-100 value under which a measure names a defect. 50 for every measure: the value halfway
#: along OFIQ's mapping (a sigmoid's midpoint x0; cos^2 of 45 degrees for pose; the raw values
#: each floor stands for are in docs/guides/measures.md). An application may pass its own.
FLOORS: dict[str, int] = {name: 50 for name in MEASURES}

BELOW_FLOOR_COLUMN = "measures_below_floor"
#: The columns ``--measures`` adds after score's own, in order: NAME, NAME_raw per measure, then
#: the measures below their floors ('a;b', worst first, '' when none).
MEASURE_COLUMNS: tuple[str, ...] = tuple(c for name in MEASURES for c in (name, f"{name}_raw")) + (BELOW_FLOOR_COLUMN,)


def raw_column(name: str) -> str:
    return f"{name}_raw"


def below_floor(values: Mapping[str, Optional[int]], floors: Mapping[str, int] = FLOORS) -> list[str]:
    """The measures whose 0-100 value is under its floor, the largest shortfall first (catalog
    order among equals); a measure without a value (failure to assess) is not named."""
    short = [
        (floors[name] - value, index, name)
        for index, name in enumerate(MEASURES)
        if name in floors and (value := values.get(name)) is not None and value < floors[name]
    ]
    return [name for _, _, name in sorted(short, key=lambda t: (-t[0], t[1]))]

"""One row per input: the record every scorer yields and every writer writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

from .measure_catalog import MEASURE_COLUMNS

#: Output columns, in order. ``mode``: how the image was framed (aligned, as-is, geometry);
#: ``format``: sniffed from the file's bytes (jpeg, png, bmp, webp; empty for arrays and unreadable
#: files); ``error_kind``: a stable word from ``fqe_onnx.errors.ERROR_KINDS``; ``error``: the message.
#: The geometry of an aligned face (empty for as-is and geometry rows and for errors): ``face``, its
#: index among the image's detections (best detector score first); ``box``, x1 y1 x2 y2 in source
#: pixels; ``face_score``, the detector's confidence; ``eye_distance``, eye centre to eye centre in
#: source pixels (ISO/IEC 29794-5's inter-eye distance).
COLUMNS = (
    "path",
    "identity",
    "q",
    "Q",
    "mode",
    "format",
    "error_kind",
    "error",
    "face",
    "box",
    "face_score",
    "eye_distance",
)
#: The columns that are empty unless the row is an aligned face.
GEOMETRY_COLUMNS = ("face", "box", "face_score", "eye_distance")


def columns(measures: bool = False) -> tuple[str, ...]:
    """A run's columns: COLUMNS, then with ``measures`` the ISO/IEC 29794-5 measures
    (``fqe_onnx.measure_catalog.MEASURE_COLUMNS``: NAME and NAME_raw per measure, then
    ``measures_below_floor``), empty unless the row is an aligned face."""
    return COLUMNS + MEASURE_COLUMNS if measures else COLUMNS


@dataclass(frozen=True)
class Record:
    """One scored image: raw norm ``q`` and score ``Q``, or None for both with an error kind and text."""

    path: str
    identity: str
    q: Optional[float]
    Q: Optional[int]
    mode: str = ""
    format: str = ""
    error_kind: str = ""
    error: str = ""
    face: Optional[int] = None
    box: Optional[tuple[float, float, float, float]] = None
    face_score: Optional[float] = None
    eye_distance: Optional[float] = None
    #: The measure cells (``MEASURE_COLUMNS``) of an aligned face scored with measures, else None.
    measures: Optional[Mapping[str, Any]] = None

    @property
    def ok(self) -> bool:
        return not self.error_kind

    def as_dict(self, measures: bool = False) -> dict[str, Any]:
        """The row by column (``columns(measures)``); with ``measures`` the measure cells are
        flattened in (None where the row has none)."""
        values = asdict(self)
        cells = values.pop("measures")
        if self.box is not None:
            values["box"] = list(self.box)
        if measures:
            values.update({c: (cells or {}).get(c) for c in MEASURE_COLUMNS})
        return values


def cell(value: Any) -> str:
    """A CSV cell: '' for None, full float precision (repr round-trips), a box as 'x1 y1 x2 y2'."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return " ".join(cell(v) for v in value)
    return str(value)


def parse_box(value: Any) -> Optional[tuple[float, float, float, float]]:
    """A box as ``cell`` writes it ('x1 y1 x2 y2'), or as JSONL and Parquet give it (a list); None
    when empty or not four numbers."""
    if value in ("", None):
        return None
    numbers = tuple(float(v) for v in (value.split() if isinstance(value, str) else value))
    return numbers if len(numbers) == 4 else None

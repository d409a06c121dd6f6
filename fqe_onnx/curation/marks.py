"""A reviewer's marks on findings: the decisions file that the review page exports and that
``curate --decisions FILE`` reads back.

A CSV with the header ``finding,kind,members,mark``, one row per marked finding: its id, kind
and members (``;``-separated, as in findings.csv, for a person reading the file) and the mark,
``confirmed``, ``rejected`` or ``unsure``. Only ``finding`` and ``mark`` are read back: the id
says which finding, whatever the rest of the row says.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Union

from ..errors import FqeError

MARKS = ("confirmed", "rejected", "unsure")
#: Marks that settle a finding: a rerun with the file no longer shows it. ``unsure`` does not.
SETTLED = ("confirmed", "rejected")
COLUMNS = ("finding", "kind", "members", "mark")
SEPARATOR = ";"


@dataclass(frozen=True)
class Mark:
    finding: str
    kind: str
    members: str
    mark: str


def read_marks(path: Union[str, Path]) -> dict[str, Mark]:
    """The marks of a decisions file by finding id (a later row for one id wins). FqeError for
    a file that cannot be read, has no ``finding`` and ``mark`` columns, or an unknown mark."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may have added a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise FqeError(f"cannot read the decisions {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"finding", "mark"} <= set(reader.fieldnames):
        raise FqeError(
            f"{path} is not a decisions file: its header must have {','.join(COLUMNS)} "
            f"(the review page's 'Download decisions.csv' writes one), got {reader.fieldnames}"
        )
    marks: dict[str, Mark] = {}
    for line, row in enumerate(reader, start=2):
        finding, mark = (row.get("finding") or "").strip(), (row.get("mark") or "").strip()
        if not finding and not mark:
            continue
        if not finding:
            raise FqeError(f"{path}, line {line}: no finding id")
        if mark not in MARKS:
            raise FqeError(f"{path}, line {line}: mark {mark!r} for {finding}: expected one of {', '.join(MARKS)}")
        marks[finding] = Mark(finding, row.get("kind") or "", row.get("members") or "", mark)
    return marks


def marks_csv(marks: Iterable[Mark]) -> str:
    """A decisions file's text (what the review page's download holds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((m.finding, m.kind, m.members, m.mark) for m in marks)
    return out.getvalue()

"""Writing records as they are scored: CSV (``path,identity,q,Q,error``) or JSON Lines."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from .scorer import ALIGN_COLUMNS, COLUMNS, Record

FORMATS = ("csv", "jsonl")


class RecordWriter:
    """Writes one row per record to a text stream; q keeps full float precision (repr round-trips)."""

    def __init__(self, stream: TextIO, fmt: str = "csv", with_mode: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.columns = ALIGN_COLUMNS if with_mode else COLUMNS
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def write(self, record: Record) -> None:
        values = record.as_dict()
        if self._csv is not None:
            values["q"] = "" if record.q is None else repr(record.q)
            values["Q"] = "" if record.Q is None else str(record.Q)
            self._csv.writerow([values[c] for c in self.columns])
        else:
            self.stream.write(json.dumps({c: values[c] for c in self.columns}, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self.stream.flush()

"""Writing records as they are scored: CSV (``path,identity,q,Q,error``) or JSON Lines."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from .scorer import COLUMNS, Record

FORMATS = ("csv", "jsonl")


class RecordWriter:
    """Writes one row per record to a text stream; q keeps full float precision (repr round-trips)."""

    def __init__(self, stream: TextIO, fmt: str = "csv") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(COLUMNS)

    def write(self, record: Record) -> None:
        if self._csv is not None:
            q = "" if record.q is None else repr(record.q)
            Q = "" if record.Q is None else str(record.Q)
            self._csv.writerow([record.path, record.identity, q, Q, record.error])
        else:
            self.stream.write(json.dumps(record.as_dict(), ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self.stream.flush()

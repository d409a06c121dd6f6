"""Writing records as they are scored: CSV (``path,identity,q,Q,mode,error_kind,error``) or JSON Lines."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, TextIO

from .diagnostics import tally
from .records import COLUMNS, Record

FORMATS = ("csv", "jsonl")


class RecordWriter:
    """Writes one row per record to a text stream; q keeps full float precision (repr round-trips)."""

    def __init__(self, stream: TextIO, fmt: str = "csv") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.columns = COLUMNS
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


@dataclass
class RunSummary:
    """What a scoring run wrote: the scores of the images that worked, the error count, the time."""

    scores: list[int] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    modes: Counter = field(default_factory=Counter)
    error_kinds: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return len(self.scores) + self.errors

    def add(self, record: Record) -> None:
        self.modes[record.mode] += 1
        if record.ok and record.Q is not None:
            self.scores.append(record.Q)
        else:
            self.errors += 1
            self.error_kinds[record.error_kind] += 1

    def describe(self, provider: str) -> str:
        rate = self.total / self.seconds if self.seconds > 0 else 0.0
        text = f"{self.total} images, {self.errors} errors, {rate:.1f} images/s, {provider}; mode: {tally(self.modes.elements())}"
        if self.errors:
            text += f"; errors: {tally(self.error_kinds.elements())}"
        return text


def write_records(records: Iterable[Record], writer: RecordWriter, flush_every: int = 32,
                  progress: Optional[Callable[[int], None]] = None) -> RunSummary:
    """Write each record as it arrives (flushing every ``flush_every`` rows) and count the outcome."""
    summary, started = RunSummary(), time.perf_counter()
    try:
        for record in records:
            writer.write(record)
            summary.add(record)
            if progress is not None:
                progress(1)
            if summary.total % flush_every == 0:
                writer.flush()
    finally:
        writer.flush()
        summary.seconds = time.perf_counter() - started
    return summary

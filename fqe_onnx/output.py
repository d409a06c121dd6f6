"""Writing records as they are scored, and resuming an interrupted run.

Formats: CSV (the columns of ``fqe_onnx.records.columns``: COLUMNS, and with ``--measures`` the
measure columns after them) or JSON Lines with the same keys.
Every row is flushed as it is written, so a killed run loses at most the row being written. Next
to an output file, a small side file (``OUTPUT.fqe-run.json``) records what made it (model file
hash, contract, framing and decoding options, inputs); ``--resume`` refuses to append rows made
differently, and keeps the output a plain table.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, TextIO

from .diagnostics import tally
from .errors import FqeError
from .fs import write_atomically
from .records import COLUMNS, Record, cell, columns

FORMATS = ("csv", "jsonl")
SIDE_SUFFIX = ".fqe-run.json"


class RecordWriter:
    """Writes one row per record to a text stream; q keeps full float precision (repr round-trips)."""

    def __init__(self, stream: TextIO, fmt: str = "csv", header: bool = True, measures: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.measures = measures
        self.columns = columns(measures)
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None and header:
            self._csv.writerow(self.columns)

    def write(self, record: Record) -> None:
        values = record.as_dict(self.measures)
        if self._csv is not None:
            self._csv.writerow([cell(values[c]) for c in self.columns])
        else:
            self.stream.write(json.dumps({c: values[c] for c in self.columns}, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self.stream.flush()


@dataclass
class RunSummary:
    """What a scoring run wrote: the scores of the images that worked, errors, modes, time; with
    ``--resume``, what the output already held."""

    scores: list[int] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    modes: Counter = field(default_factory=Counter)
    error_kinds: Counter = field(default_factory=Counter)
    inputs: int = 0
    already: int = 0  # rows of these inputs already in the output (--resume)
    already_errors: int = 0
    left_out: str = ""  # the files a folder walk left out, by extension with the reason
    per_face: bool = False  # --faces all: an image's rows are its faces 0, 1, ...
    images: int = 0

    @property
    def total(self) -> int:
        return len(self.scores) + self.errors

    def add(self, record: Record) -> None:
        if not self.per_face or record.face is None or record.face == 0:  # an image's first (or only) row
            self.images += 1
        self.modes[record.mode] += 1
        if record.ok and record.Q is not None:
            self.scores.append(record.Q)
        else:
            self.errors += 1
            self.error_kinds[record.error_kind] += 1

    def describe(self, provider: str, interrupted: str = "") -> str:
        rate = self.images / self.seconds if self.seconds > 0 else 0.0
        faces = f" ({self.total} rows: one per face)" if self.per_face else ""
        text = (
            f"{self.images} images{faces}, {self.errors} errors, {rate:.1f} images/s, {provider}; "
            f"mode: {tally(self.modes.elements())}"
        )
        if self.errors:
            text += f"; errors: {tally(self.error_kinds.elements())}"
        if self.already:
            text += f"; {self.already} inputs were already in the output ({self.already_errors} of them errors)"
        if self.left_out:
            text += f"; files left out: {self.left_out}"
        left = self.inputs - self.already - self.images
        if interrupted:
            text = f"{interrupted}: {text}; {left} of {self.inputs} inputs not scored yet (rerun with --resume)"
        elif left:  # cannot happen: one row per input; said loudly if it ever does
            text += f"; WARNING: {left} of {self.inputs} inputs have no row"
        return text


def write_records(
    records: Iterable[Record],
    writer: RecordWriter,
    summary: RunSummary,
    progress: Optional[Callable[[int], None]] = None,
) -> RunSummary:
    """Write and flush each record as it arrives, counting it in ``summary`` (kept up to date, so an
    interrupted run still knows what it wrote)."""
    started = time.perf_counter()
    try:
        for record in records:
            writer.write(record)
            writer.flush()
            summary.add(record)
            if progress is not None:
                progress(1)
    finally:
        summary.seconds += time.perf_counter() - started
    return summary


# -- the side file and --resume --------------------------------------------------------------------


def side_file(output: os.PathLike[str] | str) -> Path:
    return Path(str(output) + SIDE_SUFFIX)


def settings_digest(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def write_side_file(output: os.PathLike[str] | str, settings: dict[str, Any]) -> None:
    body = {
        "what": "fqe-onnx score settings for the output file beside this one",
        "sha256": settings_digest(settings),
        "settings": settings,
    }
    write_atomically(side_file(output), (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())


@dataclass
class ResumeState:
    """Rows an earlier run left in the output: error kind ('' when scored) by path."""

    done: dict[str, str]
    torn: bool  # a half-written last line was dropped


def read_for_resume(output: Path, fmt: str, settings: dict[str, Any]) -> ResumeState:
    """Check that ``output`` was made with the same ``settings``, drop a torn last line, and return
    what it holds. FqeError (exit 2) when it cannot be resumed safely."""
    side = side_file(output)
    if not output.exists():
        return ResumeState({}, False)
    try:
        recorded = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FqeError(
            f"cannot resume {output}: its side file {side.name} is missing or unreadable ({exc}); "
            "rerun without --resume to start over"
        ) from exc
    previous = recorded.get("settings", {})
    if recorded.get("sha256") != settings_digest(settings):
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        raise FqeError(
            f"cannot resume {output}: it was made with other settings ({', '.join(changed) or 'unknown'} "
            "differ); use the same model and options, or another --output"
        )
    data = output.read_bytes()
    torn = bool(data) and not data.endswith(b"\n")
    if torn:
        keep = data.rfind(b"\n") + 1
        with open(output, "r+b") as handle:
            handle.truncate(keep)
        data = data[:keep]
    text = data.decode("utf-8")
    rows: list[tuple[str, str]] = []  # (path, error kind) per row
    if fmt == "csv":
        header = columns(bool(settings.get("measures")))
        cells = list(csv.reader(io.StringIO(text)))
        if cells and cells[0] != list(header):
            raise FqeError(f"cannot resume {output}: its header is not {','.join(header)}")
        for row in cells[1:]:
            if len(row) != len(header):
                raise FqeError(f"cannot resume {output}: a row has {len(row)} cells, expected {len(header)}")
            rows.append((row[0], row[COLUMNS.index("error_kind")]))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            try:
                row = json.loads(line)
                rows.append((row["path"], row["error_kind"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise FqeError(f"cannot resume {output}: line {number} is not a row ({exc})") from exc
    if settings.get("faces") == "all" and rows:
        rows = drop_last_image(output, fmt, text, rows)
    return ResumeState(dict(rows), torn)


def drop_last_image(output: Path, fmt: str, text: str, rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """With one row per face, a killed run may have written only some faces of its last image: its
    rows are cut from the file (and the image scored again). Returns the rows kept."""
    last = rows[-1][0]
    keep = len(rows)
    while keep and rows[keep - 1][0] == last:
        keep -= 1
    if fmt == "csv":
        kept = io.StringIO()
        csv.writer(kept, lineterminator="\n").writerows(list(csv.reader(io.StringIO(text)))[: keep + 1])
        prefix = kept.getvalue()
    else:
        prefix = "".join(line + "\n" for line in text.splitlines()[:keep])
    if not text.startswith(prefix):  # not written by this writer: refuse rather than cut wrongly
        raise FqeError(f"cannot resume {output}: its rows are not as fqe-onnx writes them")
    with open(output, "r+b") as handle:
        handle.truncate(len(prefix.encode("utf-8")))
    return rows[:keep]


@contextlib.contextmanager
def open_writer(
    output: Optional[str],
    fmt: str,
    *,
    append: bool = False,
    header: bool = True,
    metadata: Optional[Mapping[bytes, bytes]] = None,
    measures: bool = False,
) -> Iterator[Any]:
    """The writer for a run: CSV or JSONL to ``output`` (appending with ``--resume``) or stdout, or
    one Parquet file, with the measure columns when ``measures``; closed (and for Parquet,
    completed) on exit. FqeError when it cannot be opened."""
    closing: Any = None
    try:
        if fmt == "parquet":
            from .table import ParquetRecordWriter

            closing = ParquetRecordWriter(str(output), metadata or {}, measures=measures)
        elif output:
            closing = open(output, "a" if append else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise FqeError(f"cannot write {output}: {exc.strerror or exc}") from exc
    try:  # the CSV header goes out here: a closed stdout raises BrokenPipeError to the caller
        yield (
            closing if fmt == "parquet" else RecordWriter(closing or sys.stdout, fmt, header=header, measures=measures)
        )
    finally:
        if closing is not None:
            closing.close()


def skip_done(
    sources: Sequence[Any], output: str, fmt: str, settings: dict[str, Any], summary: RunSummary
) -> tuple[list[Any], bool, bool]:
    """For ``--resume``: (the sources not yet in ``output``, whether a header is still needed, whether
    a torn last line was dropped); ``summary`` learns what the output already held."""
    state = read_for_resume(Path(output), fmt, settings)
    summary.already = sum(s.name in state.done for s in sources)
    summary.already_errors = sum(bool(state.done[s.name]) for s in sources if s.name in state.done)
    header = not state.done and not (Path(output).exists() and Path(output).stat().st_size)
    return [s for s in sources if s.name not in state.done], header, state.torn

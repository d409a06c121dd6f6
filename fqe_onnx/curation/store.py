"""The embedding store: each image's score record and its raw embedding, kept together on disk.

Two layouts. ``FILE.npy`` (float32, N x D, a NaN row for an image that failed) with its index
``FILE.index.csv`` beside it: the columns of ``score``'s CSV, one row per npy row, in the same
order. Or one Parquet file (``FILE.parquet``), or a folder of Parquet part files (``curate
--engine ray``): ``score``'s engine-facing columns plus an ``embedding`` column (a list of D
float32; null for an image that failed), rows in path order. The npy is written
through a memory map as the images are embedded, so memory stays bounded however many there are.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

import numpy as np

from ..errors import FqeError
from ..output import RecordWriter
from ..records import COLUMNS, Record, parse_box

PathLike = Union[str, Path]


@dataclass
class EmbeddingStore:
    """Records (one per image, in order) and their raw embeddings (N x D float32, NaN rows for failures)."""

    records: list[Record]
    embeddings: np.ndarray

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.records):
            raise FqeError(
                f"an embedding store needs one embedding row per record: {len(self.records)} records, "
                f"embeddings of shape {self.embeddings.shape}"
            )

    @property
    def ok(self) -> np.ndarray:
        """Whether each image has an embedding (bool, N); never for a 0-wide row (all failed)."""
        return np.isfinite(self.embeddings).all(axis=1) & (self.embeddings.shape[1] > 0)

    def unit(self) -> np.ndarray:
        """L2-normalised embeddings (float32, N x D); zero rows for images without one."""
        ok = self.ok
        out = np.zeros(self.embeddings.shape, dtype=np.float32)
        rows = self.embeddings[ok].astype(np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        out[ok] = rows / np.where(norms > 0, norms, 1)
        return out


def index_path(path: PathLike) -> Path:
    """The index CSV beside an npy store: ``X.npy`` -> ``X.index.csv``."""
    path = Path(path)
    return path.with_name(path.stem + ".index.csv")


def is_parquet(path: PathLike) -> bool:
    return str(path).lower().endswith(".parquet")


class StoreWriter:
    """Writes a store as embeddings arrive. ``count``: how many rows the npy will hold (known up front
    from the list of sources). Use ``tee`` on ``Scorer.embed_sources`` and consume the records."""

    def __init__(self, path: PathLike, count: int) -> None:
        self.path = Path(path)
        self.count = count
        self.written = 0
        self._records: list[Record] = []  # Parquet only: written at close
        self._rows: list[Optional[np.ndarray]] = []
        self._array: Optional[np.memmap] = None
        self._index: Any = None
        self._csv: Optional[RecordWriter] = None
        self._pending: list[Record] = []  # rows before the dimension is known (all failed so far)
        if not is_parquet(self.path):
            try:
                self._index = open(index_path(self.path), "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise FqeError(f"cannot write {index_path(self.path)}: {exc.strerror or exc}") from exc
            self._csv = RecordWriter(self._index, "csv")

    def add(self, record: Record, embedding: Optional[np.ndarray]) -> None:
        if self.written >= self.count:
            raise FqeError(f"the store at {self.path} was opened for {self.count} rows; got more")
        vector = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(-1)
        if is_parquet(self.path):
            self._records.append(record)
            self._rows.append(vector)
        else:
            if self._array is None and vector is not None:
                self._open_array(len(vector))
            if self._array is not None:
                self._array[self.written] = np.nan if vector is None else vector
            self._csv.write(record)  # type: ignore[union-attr]  # set for .npy stores, the only ones here
        self.written += 1

    def _open_array(self, dim: int) -> None:
        try:
            self._array = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32, shape=(self.count, dim))
        except OSError as exc:
            raise FqeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self._array[: self.written] = np.nan

    def tee(self, scored: Iterable[Any]) -> Iterator[Record]:
        """Store each ``Scored`` (record, embedding) and yield its record."""
        for item in scored:
            self.add(item.record, item.embedding)
            yield item.record

    def close(self) -> None:
        """Finish the files. An npy opened for more rows than were written is cut to what was written."""
        if is_parquet(self.path):
            write_parquet(self.path, self._records, self._rows)
            return
        if self._index is not None:
            self._index.close()
        if self._array is None:  # every image failed: no dimension; a 0-wide array keeps the row count
            np.save(self.path, np.full((self.written, 0), np.nan, dtype=np.float32))
            return
        self._array.flush()
        if self.written < self.count:
            kept = np.array(self._array[: self.written])
            del self._array
            np.save(self.path, kept)
        self._array = None

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextlib.contextmanager
def scored_records(scorer: Any, sources: list, embeddings_out: Optional[PathLike]) -> Iterator[Iterator[Record]]:
    """``score``'s records, and with ``embeddings_out`` each embedding written to that store as the
    records go by (``score --embeddings-out``)."""
    if not embeddings_out:
        yield scorer.score_sources(sources)
        return
    with StoreWriter(embeddings_out, len(sources)) as writer:
        yield writer.tee(scorer.embed_sources(sources))


def write_parquet(path: PathLike, records: list[Record], rows: list[Optional[np.ndarray]]) -> None:
    """One Parquet file: the records' engine-facing columns plus ``embedding`` (list of float32)."""
    from ..table import import_pyarrow, records_table

    pa = import_pyarrow()
    import pyarrow.parquet as pq

    table = records_table(records)
    values = [None if r is None else r.tolist() for r in rows]
    table = table.append_column("embedding", pa.array(values, type=pa.list_(pa.float32())))
    pq.write_table(table, str(path))


def _converter(annotation: str) -> Any:
    if "tuple" in annotation:  # the box
        return parse_box
    if "float" in annotation:
        return lambda text: None if text in ("", None) else float(text)
    if "int" in annotation:
        return lambda text: None if text in ("", None) else int(text)
    return lambda text: "" if text is None else text


def _record(values: dict[str, Any]) -> Record:
    """A Record from a row of strings (or typed values), converting by the field's annotation."""
    hints = {f.name: str(f.type) for f in dataclasses.fields(Record)}
    kwargs = {}
    for name, annotation in hints.items():
        if name in values:
            value = values[name]
            typed = isinstance(value, str) or value is None or "tuple" in annotation  # Parquet's box is a list
            kwargs[name] = _converter(annotation)(value) if typed else value
    return Record(**kwargs)


def read_store(path: PathLike) -> EmbeddingStore:
    """Read an npy store (with its index CSV) or a Parquet store. FqeError when it cannot be used."""
    path = Path(path)
    try:
        if is_parquet(path) or path.is_dir():  # a folder: the part files of curate --engine ray
            return _read_parquet(path)
        embeddings = np.load(path, mmap_mode="r")
        with open(index_path(path), newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, ValueError) as exc:
        raise FqeError(f"cannot read the embeddings {path} (and {index_path(path).name}): {exc}") from exc
    if rows and not {"path", "identity", "q", "Q"} <= set(rows[0]):
        raise FqeError(f"{index_path(path)} is not an index of records: its header must have {','.join(COLUMNS)}")
    records = [_record(r) for r in rows]
    if embeddings.ndim != 2 or len(embeddings) != len(records):
        raise FqeError(f"{path} has embeddings of shape {embeddings.shape} for {len(records)} index rows")
    return EmbeddingStore(records, np.asarray(embeddings, dtype=np.float32))


def _read_parquet(path: Path) -> EmbeddingStore:
    from ..table import ENGINE_NAMES, import_pyarrow

    import_pyarrow()
    import pyarrow.parquet as pq

    table = pq.read_table(str(path))
    if "embedding" not in table.column_names:
        raise FqeError(f"{path} has no 'embedding' column: write it with score --embeddings-out FILE.parquet")
    names = {engine: column for column, engine in ENGINE_NAMES.items()}
    data = table.to_pydict()
    order = sorted(range(table.num_rows), key=lambda i: data["path"][i])  # part files come in any order
    records = [_record({names.get(k, k): v[i] for k, v in data.items() if k != "embedding"}) for i in order]
    vectors = [data["embedding"][i] for i in order]
    dim = next((len(v) for v in vectors if v is not None), 0)
    embeddings = np.full((len(vectors), dim), np.nan, dtype=np.float32)
    for i, vector in enumerate(vectors):
        if vector is not None:
            embeddings[i] = vector
    return EmbeddingStore(records, embeddings)

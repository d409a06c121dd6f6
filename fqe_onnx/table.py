"""Rows as Arrow tables and Parquet files, for data engines (Ray, Spark, Dask) and large outputs.

The CSV keeps ``q`` and ``Q``; engines whose column names are case-insensitive (Spark) cannot hold
both, so the engine-facing schema renames the columns, here and only here. The schema is fixed
(an all-empty ``error`` column keeps its type), and every Parquet file carries the contract's hash
and the run's settings in its metadata.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping, Optional

from .errors import FqeError
from .measure_catalog import BELOW_FLOOR_COLUMN, MEASURE_COLUMNS, MEASURES
from .records import Record, columns

#: CSV column -> engine-facing column. Distinct even when compared case-insensitively. The measure
#: columns (lower-case already) keep their names.
ENGINE_NAMES = {
    "path": "path",
    "identity": "identity",
    "q": "quality_raw",
    "Q": "quality_score",
    "mode": "framing_mode",
    "format": "image_format",
    "error_kind": "error_kind",
    "error": "error",
    "face": "face_index",
    "box": "face_box",
    "face_score": "face_score",
    "eye_distance": "eye_distance",
    **{c: c for c in MEASURE_COLUMNS},
}
KEY_CONTRACT_SHA256 = b"fqe_onnx.contract_sha256"
KEY_SETTINGS = b"fqe_onnx.settings"


def import_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise FqeError("Parquet output needs pyarrow: pip install pyarrow (the parquet extra)") from None
    return pyarrow


def contract_sha256(contract: Any) -> str:
    return hashlib.sha256(json.dumps(contract.to_json(), sort_keys=True).encode()).hexdigest()


def schema(metadata: Optional[Mapping[bytes, bytes]] = None, measures: bool = False) -> Any:
    """The fixed Arrow schema, in CSV column order (with the measure columns when ``measures``)."""
    pa = import_pyarrow()
    types = {
        "q": pa.float64(),
        "Q": pa.int32(),
        "face": pa.int32(),
        "box": pa.list_(pa.float64()),
        "face_score": pa.float64(),
        "eye_distance": pa.float64(),
        BELOW_FLOOR_COLUMN: pa.string(),
    }
    for name in MEASURES:
        types[name], types[f"{name}_raw"] = pa.int32(), pa.float64()
    return pa.schema(
        [pa.field(ENGINE_NAMES[c], types.get(c, pa.string())) for c in columns(measures)], metadata=metadata
    )


def run_metadata(contract: Any, settings: Mapping[str, Any]) -> dict[bytes, bytes]:
    return {
        KEY_CONTRACT_SHA256: contract_sha256(contract).encode(),
        KEY_SETTINGS: json.dumps(settings, sort_keys=True).encode(),
    }


def records_table(
    records: Iterable[Record], metadata: Optional[Mapping[bytes, bytes]] = None, measures: bool = False
) -> Any:
    """Records as an Arrow table with the fixed schema."""
    pa = import_pyarrow()
    rows = [r.as_dict(measures) for r in records]
    table = {ENGINE_NAMES[c]: [row[c] for row in rows] for c in columns(measures)}
    return pa.Table.from_pydict(table, schema=schema(metadata, measures))


class ParquetRecordWriter:
    """Writes records to one Parquet file in row groups (``--format parquet`` without an engine)."""

    def __init__(
        self, path: str, metadata: Mapping[bytes, bytes], rows_per_group: int = 1024, measures: bool = False
    ) -> None:
        import_pyarrow()
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema(metadata, measures))
        self._metadata = metadata
        self.measures = measures
        self._pending: list[Record] = []
        self.rows_per_group = rows_per_group

    def write(self, record: Record) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.rows_per_group:
            self._write_group()

    def flush(self) -> None:
        """Nothing to do per row: a Parquet file is readable only once closed (use --engine ray,
        whose part files make a run resumable, for jobs that may be interrupted)."""

    def _write_group(self) -> None:
        if self._pending:
            self._writer.write_table(records_table(self._pending, self._metadata, self.measures))
            self._pending = []

    def close(self) -> None:
        self._write_group()
        self._writer.close()

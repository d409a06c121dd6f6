"""Writing a curation's tables: ``curation.csv`` (one row per image, input order),
``identities.csv`` (one row per identity folder) and ``findings.csv`` (one row per finding,
strongest first), each written whole or not at all."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..fs import atomic_file
from ..records import COLUMNS
from .pipeline import Curation

#: What curate adds to score's columns, in order.
CURATION_COLUMNS = ("own_similarity", "nearest_other", "nearest_other_similarity", "decision", "reasons", "findings")
IDENTITY_COLUMNS = ("identity", "images", "median_Q", "same_person_as", "mixed", "decision", "reasons", "findings")
FINDING_COLUMNS = (
    "finding",
    "rank",
    "kind",
    "members",
    "similarity",
    "threshold",
    "margin",
    "mutual",
    "strength",
    "mark",
    "detail",
)
#: Reasons (and folder names) in one cell are joined by this.
SEPARATOR = ";"


def _number(value: float) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.4f}"


def image_rows(curation: Curation) -> list[dict[str, Any]]:
    """One dict per image: score's columns (``Record.as_dict``), then ``CURATION_COLUMNS``."""
    records = curation.store.records
    rows = []
    for record, verdict in zip(records, curation.verdicts):
        row = record.as_dict()
        row["q"] = "" if record.q is None else repr(record.q)
        row["Q"] = "" if record.Q is None else str(record.Q)
        row.update(
            own_similarity=_number(verdict.own_similarity),
            nearest_other=records[verdict.nearest_other].path if verdict.nearest_other >= 0 else "",
            nearest_other_similarity=_number(verdict.nearest_other_similarity),
            decision=verdict.decision,
            reasons=SEPARATOR.join(verdict.reasons),
            findings=SEPARATOR.join(verdict.findings) if any(verdict.findings) else "",
        )
        rows.append(row)
    return rows


def identity_rows(curation: Curation) -> list[dict[str, Any]]:
    """One dict per identity folder (images without one are left out)."""
    return [
        {
            "identity": v.identity,
            "images": v.images,
            "median_Q": "" if v.median_Q is None else f"{v.median_Q:g}",
            "same_person_as": SEPARATOR.join(v.same_person_as),
            "mixed": "+".join(str(len(g)) for g in v.groups),
            "decision": v.decision,
            "reasons": SEPARATOR.join(v.reasons),
            "findings": SEPARATOR.join(v.findings) if any(v.findings) else "",
        }
        for v in curation.identities
        if v.identity
    ]


def finding_rows(curation: Curation) -> list[dict[str, Any]]:
    """One dict per finding, rank order."""
    return [
        {
            "finding": f.id,
            "rank": f.rank,
            "kind": f.kind,
            "members": SEPARATOR.join(f.members),
            "similarity": _number(f.similarity),
            "threshold": _number(f.threshold),
            "margin": _number(f.margin),
            "mutual": "" if f.mutual is None else ("yes" if f.mutual else "no"),
            "strength": _number(f.strength),
            "mark": f.mark,
            "detail": f.detail,
        }
        for f in curation.findings
    ]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with atomic_file(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row[c] for c in columns] for row in rows)


def _json_safe(value: Any) -> Any:
    """Non-finite numbers as null (strict JSON has no Infinity or NaN)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_tables(curation: Curation, out: Path, info: dict[str, Any]) -> list[Path]:
    """curation.csv, identities.csv, findings.csv and summary.json in ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "curation.csv", out / "identities.csv", out / "findings.csv", out / "summary.json"]
    _write_csv(written[0], tuple(COLUMNS) + CURATION_COLUMNS, image_rows(curation))
    _write_csv(written[1], IDENTITY_COLUMNS, identity_rows(curation))
    _write_csv(written[2], FINDING_COLUMNS, finding_rows(curation))
    with atomic_file(written[3]) as temporary:
        temporary.write_text(json.dumps(_json_safe(info), indent=2, default=str) + "\n", encoding="utf-8")
    return written

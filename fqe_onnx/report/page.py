"""The report page: what a curator opens to pick a threshold. One HTML file, nothing fetched."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from pathlib import Path
from statistics import median
from typing import Any, Optional

from ..errors import FqeError
from ..measure_catalog import BELOW_FLOOR_COLUMN, FLOORS, MEASURES
from ..records import COLUMNS, parse_box
from ..evaluation.plot import pauc_label
from .charts import histogram, scatter, small_histogram, step_curves
from .slider import STYLE as SLIDER_STYLE, read_cut_table, slider_section
from .thumbnails import thumbnail_uri

#: Identities shown in the per-identity table at most (those with the lowest median Q first).
MAX_IDENTITIES = 300
#: q-against-Q points drawn at most (an even sample beyond).
MAX_POINTS = 4000

STYLE = (
    """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:8px} figure{margin:0;width:128px;font-size:11px;word-break:break-all}
figure img{width:112px;height:112px;object-fit:contain;background:#f4f4f4;display:block}
.why{color:#b22}
.chart text{font-size:11px} .chart .title{font-size:13px;font-weight:600} .axis{stroke:#555}
.bar{fill:#4c78a8} .dot{fill:#4c78a8;fill-opacity:.5} .tick{fill:#555} .legend{font-size:11px}
.charts{display:flex;flex-wrap:wrap;gap:16px} .muted{color:#777}
"""
    + SLIDER_STYLE
)


@dataclass(frozen=True)
class Row:
    path: str
    identity: str
    q: Optional[float]
    Q: Optional[int]
    mode: str
    error_kind: str
    face: Optional[int] = None  # an aligned face's index and box (source pixels)
    box: Optional[tuple[float, ...]] = None
    measures: Optional[dict[str, Optional[int]]] = None  # with score --measures: the 0-100 values
    below_floor: tuple[str, ...] = ()


def _int_or_none(value: Any) -> Optional[int]:
    return None if value in ("", None) else int(value)


def _measures_of(raw: dict[str, Any]) -> tuple[Optional[dict[str, Optional[int]]], tuple[str, ...]]:
    """A row's measure values and the measures below their floors (None, () without --measures)."""
    if BELOW_FLOOR_COLUMN not in raw:
        return None, ()
    return {name: _int_or_none(raw.get(name)) for name in MEASURES}, tuple(
        n for n in (raw[BELOW_FLOOR_COLUMN] or "").split(";") if n
    )


def read_scores(path: Path) -> list[Row]:
    """Rows of a ``fqe-onnx score`` CSV (or JSONL), with the measures when it has them."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FqeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if path.suffix == ".jsonl":
        raw = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or not {"path", "q", "Q"} <= set(reader.fieldnames):
            raise FqeError(f"{path} is not a score table: its header must have path, q and Q ({','.join(COLUMNS)})")
        raw = list(reader)
    return [
        Row(
            r["path"],
            r.get("identity", "") or "",
            float(r["q"]) if r["q"] not in ("", None) else None,
            _int_or_none(r["Q"]),
            r.get("mode", "") or "",
            r.get("error_kind", "") or "",
            _int_or_none(r.get("face")),
            parse_box(r.get("box")),
            *_measures_of(r),
        )
        for r in raw
    ]


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: Measures named under a low-scored face at most (the worst first).
MAX_REASONS = 3
#: A measure below its floor on at least this share of the run's faces says nothing about one
#: face (LFW's loose crops: every head is small): it is named once, not under each face.
COMMON_SHARE = 0.9


def common_defects(rows: list[Row]) -> tuple[str, ...]:
    """The measures below their floors on at least COMMON_SHARE of the scored faces with measures."""
    measured = [r for r in rows if r.measures is not None and r.Q is not None]
    if not measured:
        return ()
    below = Counter(name for r in measured for name in r.below_floor)
    return tuple(name for name in MEASURES if below[name] >= COMMON_SHARE * len(measured))


def _reasons(row: Row, common: tuple[str, ...] = ()) -> str:
    """The measures below their floors, worst first, with their values: why this face may score
    low (those below on nearly every face of the run left out)."""
    if row.measures is None:
        return ""
    own = [name for name in row.below_floor if name not in common]
    if not own:
        return (
            '<br><span class="muted">no other measure below its floor</span>'
            if common
            else '<br><span class="muted">no measure below its floor</span>'
        )
    named = [f"{escape(name)} {row.measures.get(name)}" for name in own[:MAX_REASONS]]
    more = f" +{len(own) - MAX_REASONS}" if len(own) > MAX_REASONS else ""
    return f'<br><span class="why">{", ".join(named)}{more}</span>'


def _faces(rows: list[Row], images: Path, reasons: Optional[tuple[str, ...]] = None) -> str:
    """Thumbnails with their captions; ``reasons`` (the run's common defects, left out) adds the
    measures below their floors under each face."""
    cells = []
    for row in rows:
        uri = thumbnail_uri(images / row.path, box=row.box)
        image = f'<img src="{uri}" alt="{escape(row.path)}">' if uri else '<div class="muted">(unreadable)</div>'
        face = f" · face {row.face}" if row.face is not None else ""
        cells.append(
            f'<figure class="face" data-q="{row.Q}">{image}<figcaption>{escape(row.path)}{face}<br>'
            f"q {row.q:.3f} · Q {row.Q}{_reasons(row, reasons) if reasons is not None else ''}"
            "</figcaption></figure>"
        )
    return f'<div class="grid">{"".join(cells)}</div>'


def _common_note(common: tuple[str, ...]) -> str:
    if not common:
        return ""
    return (
        f'<p class="muted">Below their floors on at least {COMMON_SHARE:.0%} of these faces, so not named under '
        f"each: {escape(', '.join(common))}.</p>"
    )


def _measures(rows: list[Row]) -> str:
    """One small histogram per measure over the faces that have them, and which floors bind most."""
    measured = [r for r in rows if r.measures is not None and r.Q is not None]
    if not measured:
        return ""
    charts = [
        small_histogram([r.measures.get(name) for r in measured if r.measures is not None], name, FLOORS[name])
        for name in MEASURES
    ]
    below = Counter(name for r in measured for name in r.below_floor)
    first = Counter(r.below_floor[0] for r in measured if r.below_floor)
    table = _table(
        ["measure", "floor", "faces below it", "faces where it is the worst"],
        [[name, FLOORS[name], below[name], first[name]] for name in MEASURES if below[name]],
    )
    return (
        "<h2>Component measures (ISO/IEC 29794-5)</h2>"
        f'<p class="muted">{len(measured)} scored faces with measures; the dashed line is each measure\'s floor '
        "(docs/guides/measures.md).</p>"
        + '<div class="charts">'
        + "".join(charts)
        + "</div>"
        + (table if below else '<p class="muted">No face has a measure below its floor.</p>')
    )


def _identities(rows: list[Row]) -> str:
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.identity:
            groups[row.identity].append(row)
    if not groups:
        return '<p class="muted">No identities (images are not in identity folders).</p>'
    table: list[list[Any]] = []
    for identity, members in groups.items():
        scores = [r.Q for r in members if r.Q is not None]
        table.append(
            [
                identity,
                len(members),
                len(members) - len(scores),
                f"{median(scores):g}" if scores else "",
                min(scores) if scores else "",
                max(scores) if scores else "",
            ]
        )
    table.sort(key=lambda r: (r[3] == "", float(r[3]) if r[3] != "" else 0.0, r[0]))
    note = (
        f'<p class="muted">{len(table)} identities; the {MAX_IDENTITIES} with the lowest median Q are shown.</p>'
        if len(table) > MAX_IDENTITIES
        else ""
    )
    return note + _table(["identity", "images", "errors", "median Q", "min Q", "max Q"], table[:MAX_IDENTITIES])


def _evaluation(folder: Path) -> str:
    summary_path = folder / "summary.json" if folder.is_dir() else folder
    curves_path = summary_path.parent / "curves.csv"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        with open(curves_path, newline="", encoding="utf-8") as handle:
            points = list(csv.DictReader(handle))
    except (OSError, ValueError) as exc:
        raise FqeError(f"cannot read the evaluation in {folder} (summary.json and curves.csv): {exc}") from exc
    parts = []
    for fmr, result in summary["fmr"].items():
        if not result.get("supported"):
            parts.append(f'<p class="muted">FMR {escape(fmr)}: {escape(result.get("reason", ""))}</p>')
            continue
        curves: dict[str, list[tuple[float, float]]] = {}
        for p in points:
            if p["fmr"] == fmr:
                name = p["source"]
                pauc = result["sources"][name]["pauc"]["0.2"]["normalised"]
                label = pauc_label(name, pauc)
                curves.setdefault(label, []).append((float(p["discarded"]), float(p["fnmr"])))
        parts.append(step_curves(curves, f"EDC at FMR {fmr} (threshold {result['threshold']:.3f})"))
    return '<div class="charts">' + "".join(parts) + "</div>"


def build_report(scores: Path, images: Path, count: int = 24, evaluation: Optional[Path] = None) -> str:
    """The whole page as one string."""
    rows = read_scores(scores)
    common = common_defects(rows)
    scored = sorted((r for r in rows if r.Q is not None), key=lambda r: (r.q, r.path))
    step = max(1, len(scored) // MAX_POINTS)
    sample = scored[::step]
    modes = Counter(r.mode or "(none)" for r in rows)
    kinds = Counter(r.error_kind for r in rows if r.error_kind)
    sections = [
        f"<h1>fqe-onnx report: {escape(scores.name)}</h1>",
        f"<p>{len(rows)} {'rows (one per face)' if any(r.face is not None for r in rows) else 'images'}, {len(scored)} scored, {len(rows) - len(scored)} errors. Images from "
        f"{escape(str(images))}.</p>",
        '<h2>Scores</h2><div class="charts">'
        + histogram([r.Q for r in scored])  # type: ignore[misc]  # scored rows have Q
        + scatter([r.q for r in sample], [r.Q for r in sample], "Q against q", "q (embedding norm)", "Q")  # type: ignore[misc]  # and q
        + "</div>",
        "<h2>Framing and errors</h2>"
        + _table(["mode", "images"], [[m, c] for m, c in modes.most_common()])
        + (
            "<br>" + _table(["error kind", "images"], [[k, c] for k, c in kinds.most_common()])
            if kinds
            else '<p class="muted">No errors.</p>'
        ),
        _measures(rows),
        f"<h2>The {min(count, len(scored))} lowest scored faces</h2>"
        + _common_note(common)
        + _faces(scored[:count], images, reasons=common),
        f"<h2>The {min(count, len(scored))} highest scored faces</h2>" + _faces(scored[::-1][:count], images),
        "<h2>Per identity</h2>" + _identities(rows),
    ]
    scored_Q: list[int] = [r.Q for r in scored]  # type: ignore[misc]  # scored rows have Q
    slider, script = slider_section(
        scored_Q,
        len(rows) - len(scored),
        any(r.identity for r in rows),
        read_cut_table(evaluation) if evaluation is not None else None,
    )
    sections.insert(2, "<h2>Threshold</h2>" + slider)
    if evaluation is not None:
        sections.append("<h2>Error versus discard</h2>" + _evaluation(evaluation))
    sections.append(script)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>fqe-onnx report: {escape(scores.name)}</title><style>{STYLE}</style></head><body>"
        + "".join(sections)
        + "</body></html>\n"
    )


def save_report(page: str, out: Path) -> Path:
    """Write the page to ``out`` atomically, with the user's file mode (``fs.atomic_file``)."""
    from ..fs import write_atomically

    write_atomically(out, page.encode("utf-8"))
    return out

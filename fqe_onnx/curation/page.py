"""The review page: one self-contained HTML file (thumbnails inline, no script, nothing fetched)
where a person settles each flagged case. Each flagged image stands beside typical images of its
identity and of its look-alike, with the similarities and the reasons; each flagged folder comes
with a grid of its images (a mixed folder, group by group)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

import numpy as np

from ..report.page import STYLE, _table
from ..report.thumbnails import thumbnail_uri
from .decisions import KEEP, REJECT, REVIEW
from .pipeline import Curation

#: Flagged images shown at most (the rest are in curation.csv), reviews before rejects.
MAX_CASES = 400
#: Typical images shown per identity beside a case, and images per folder grid.
TYPICAL = 3
GRID = 24

PAGE_STYLE = STYLE + """
.case{display:flex;gap:18px;align-items:flex-start;border-bottom:1px solid #eee;padding:10px 0}
.case .side{display:flex;gap:6px;align-items:flex-start} .case h3{font-size:13px;margin:0 0 4px}
.reason{font-family:monospace;font-size:12px;background:#f3f0e6;padding:1px 4px;border-radius:3px}
.review{color:#a15c00} .reject{color:#b00020} .flagged img{outline:3px solid #b00020}
"""


class Page:
    """Builds the page of one curation; thumbnails are made once per image."""

    def __init__(self, curation: Curation, images: Path) -> None:
        self.curation = curation
        self.images = images
        self.records = curation.store.records
        self._uris: dict[int, Optional[str]] = {}
        own = np.array([v.own_similarity for v in curation.verdicts], dtype=np.float64)
        self.typical: dict[str, list[int]] = {}
        for row in np.argsort(-np.nan_to_num(own, nan=-2.0), kind="stable").tolist():
            identity = self.records[row].identity
            if identity and curation.verdicts[row].decision == KEEP and len(self.typical.setdefault(identity, [])) < TYPICAL:
                self.typical[identity].append(row)
        self.members: dict[str, list[int]] = {}
        for row, record in enumerate(self.records):
            self.members.setdefault(record.identity, []).append(row)

    def figure(self, row: int, caption: str = "", flagged: bool = False) -> str:
        if row not in self._uris:
            self._uris[row] = thumbnail_uri(self.images / self.records[row].path)
        uri = self._uris[row]
        path = self.records[row].path
        image = f'<img src="{uri}" alt="{escape(path)}">' if uri else '<div class="muted">(unreadable)</div>'
        extra = ' flagged' if flagged else ''
        return f'<figure class="face{extra}">{image}<figcaption>{escape(path)}{caption}</figcaption></figure>'

    def side(self, title: str, rows: list[int], flagged: int = -1) -> str:
        figures = "".join(self.figure(r, flagged=r == flagged) for r in rows)
        return f'<div><h3>{escape(title)}</h3><div class="side">{figures or "<span class=muted>none</span>"}</div></div>'

    def case(self, row: int) -> str:
        verdict = self.curation.verdicts[row]
        record = self.records[row]
        sims = (f"<br>Q {record.Q if record.Q is not None else '-'} · own {verdict.own_similarity:.3f}"
                if record.Q is not None else f"<br>{escape(record.error_kind)}")
        reasons = " ".join(f'<span class="reason">{escape(r)}</span>' for r in verdict.reasons)
        parts = [f'<div class="case"><div><b class="{verdict.decision}">{verdict.decision}</b> {reasons}'
                 f'<div class="side">{self.figure(row, sims, flagged=True)}</div></div>']
        own = [r for r in self.typical.get(record.identity, []) if r != row]
        parts.append(self.side(f"typical of {record.identity or '(no folder)'}", own))
        other = verdict.duplicate if verdict.duplicate >= 0 else verdict.nearest_other
        if other >= 0:
            identity = self.records[other].identity
            label = "duplicate" if other == verdict.duplicate else "nearest other"
            rows = [other] + [r for r in self.typical.get(identity, []) if r != other][: TYPICAL - 1]
            shown = verdict.duplicate_similarity if other == verdict.duplicate else verdict.nearest_other_similarity
            parts.append(self.side(f"{label}: {identity or '(no folder)'} (similarity {shown:.3f})", rows, flagged=other))
        parts.append("</div>")
        return "".join(parts)

    def folder(self, identity: str, groups: list[list[int]]) -> str:
        if groups:
            return "".join(self.side(f"{identity}: group {k + 1} of {len(groups)} ({len(g)} images)", g[:GRID])
                           for k, g in enumerate(groups))
        rows = self.members.get(identity, [])
        return self.side(f"{identity} ({len(rows)} images)", rows[:GRID])

    def build(self, title: str) -> str:
        curation = self.curation
        info_rows = [[k, v] for k, v in (
            ("images", len(self.records)),
            ("keep / review / reject", " / ".join(str(sum(v.decision == d for v in curation.verdicts))
                                                   for d in (KEEP, REVIEW, REJECT))),
            ("looks-like found", curation.looks_like_count),
            ("looks-like expected by chance", f"{curation.expected_false_alarms:.1f} at --search-far "
                                               f"{curation.settings.search_far:g}"),
            ("search threshold", f"{curation.thresholds.search:.4f}"),
            ("own-identity threshold", f"{curation.thresholds.own:.4f}"),
            ("duplicate threshold", f"{curation.thresholds.duplicate:.4f}"),
            ("quality cut", f"Q < {curation.quality_cut:g}"))]
        flagged = [i for i, v in enumerate(curation.verdicts) if v.decision != KEEP]
        flagged.sort(key=lambda i: (curation.verdicts[i].decision != REVIEW, self.records[i].path))
        shown = flagged[:MAX_CASES]
        folders = [v for v in curation.identities if v.reasons]
        sections = [
            f"<h1>{escape(title)}</h1>", _table(["", ""], info_rows),
            f"<h2>Flagged folders ({len(folders)})</h2>",
        ]
        for v in folders:
            reasons = " ".join(f'<span class="reason">{escape(r)}</span>' for r in v.reasons)
            body = self.folder(v.identity, v.groups)
            for other in v.same_person_as:
                body += self.side(f"typical of {other}", self.typical.get(other, []))
            sections.append(f'<div class="case"><div><b class="review">review</b> {escape(v.identity)} {reasons}</div>'
                            f"{body}</div>")
        note = (f'<p class="muted">The first {MAX_CASES} of {len(flagged)} are shown; curation.csv has them all.</p>'
                if len(flagged) > MAX_CASES else "")
        sections.append(f"<h2>Flagged images ({len(flagged)})</h2>{note}" + "".join(self.case(i) for i in shown))
        return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head><body>"
                + "".join(sections) + "</body></html>\n")


def build_page(curation: Curation, images: Path, title: str = "fqe-onnx curation") -> str:
    """The whole review page as one string (thumbnails read from ``images``, the ROOT)."""
    return Page(curation, images).build(title)

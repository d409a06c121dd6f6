"""The review page: one self-contained HTML file (thumbnails and its small script inline, nothing
fetched) where a person settles each finding once. Findings come strongest evidence first, each
with its evidence and the images that decide it on every side, and a confirmed / rejected /
unsure mark that the page downloads as decisions.csv (``marking``). Findings marked confirmed or
rejected in the decisions file read back are not shown again; images rejected without a
question (an error, low quality) are listed after the findings."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

import numpy as np

from ..report.page import STYLE, _table
from ..report.thumbnails import thumbnail_uri
from .decisions import KEEP, REJECT, REVIEW
from .findings import Finding, Side, plural
from .marking import STYLE as MARKING_STYLE, mark_choice, marks_script, toolbar
from .marks import SEPARATOR, SETTLED, Mark
from .pipeline import Curation

#: Findings shown at most (strongest first; the rest are in findings.csv).
MAX_FINDINGS = 400
#: Images rejected without a question shown at most (the rest are in curation.csv).
MAX_REJECTS = 200

PAGE_STYLE = (
    STYLE
    + MARKING_STYLE
    + """
.finding{border-bottom:1px solid #eee;padding:10px 6px}
.finding .sides{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.side{display:flex;gap:6px;align-items:flex-start;flex-wrap:wrap} .finding h3{font-size:13px;margin:6px 0 4px}
.kind{font-family:monospace;font-size:12px;background:#f3f0e6;padding:1px 4px;border-radius:3px}
.evidence{font-size:13px;margin:2px 0} .decisive img{outline:3px solid #b00020}
.review{color:#a15c00} .reject{color:#b00020} .thresholds li{margin:3px 0}
"""
)

#: What each kind's threshold is called on the page.
THRESHOLD_NAMES = {
    "same-person": "folder threshold",
    "looks-like": "search threshold",
    "duplicate": "duplicate threshold",
    "misfiled": "own-identity threshold",
    "mixed": "group threshold",
}
#: What "mutual" means for each kind.
MUTUAL = {
    "same-person": "each folder's nearest folder (by mean) is the other",
    "looks-like": "a pair of the images are each other's most similar image of another folder",
    "duplicate": "each image's most similar image is the other",
    "misfiled": "the image and its look-alike are each other's most similar image of another folder",
}


def threshold_sentences(curation: Curation) -> list[str]:
    """One sentence per threshold: what passing it means and what fixed it."""
    t, s = curation.thresholds, curation.settings
    folder = (
        f"<b>Folder threshold {t.identity:.4f}</b>: two folders whose mean embeddings are at least this "
        f"similar hold one person (same-person); a folder passes it by chance at rate {s.search_far:g} "
        "(<code>--search-far</code>, per folder)."
        if np.isfinite(t.identity)
        else "<b>Folder threshold</b>: not tested, too few folders to tell a match from chance."
    )
    return [
        f"<b>Search threshold {t.search:.4f}</b>: an image of another folder at least this similar is a look-alike; "
        f"an image with no real look-alike gets one by chance at rate {s.search_far:g} (<code>--search-far</code>), "
        f"so about {curation.expected_false_alarms:.1f} of the look-alikes here are chance.",
        folder,
        f"<b>Own-identity threshold {t.own:.4f}</b>: an image less similar than this to the mean of the rest of its "
        f"folder, and matched by none of its images at the group threshold, matches none of its folder (misfiled); "
        f"other people's images reach it at rate {s.own_fmr:g} (<code>--own-fmr</code>).",
        f"<b>Duplicate threshold {t.duplicate:.4f}</b>: two images at least this similar are one photo, re-encoded, "
        "resized or slightly cropped (<code>--duplicate-similarity</code>, or the search threshold if higher).",
        f"<b>Group threshold {t.group:.4f}</b>: images of one folder at least this similar are one group (pairwise "
        "false match rate 1e-4); a folder of two groups of 2 or more images with no such link between them is mixed.",
        f"<b>Quality cut Q &lt; {curation.quality_cut:g}</b>: images below it are rejected as low quality "
        "(<code>--min-Q</code>, <code>--max-fnmr</code>)."
        if curation.quality_cut > 0
        else "<b>Quality cut</b>: none (<code>--min-Q</code> or <code>--max-fnmr</code> sets one).",
    ]


def evidence(finding: Finding) -> str:
    """The evidence line: the similarity against its threshold, the margin, whether mutual, the strength."""
    above = finding.passes_above
    what = {"misfiled": "similarity to the rest of its folder", "mixed": "most similar pair across groups"}.get(
        finding.kind, "similarity"
    )
    line = (
        f"{what} {finding.similarity:.3f} {'&ge;' if above else '&lt;'} {THRESHOLD_NAMES[finding.kind]} "
        f"{finding.threshold:.3f} (margin {finding.margin:+.3f})"
    )
    if finding.mutual is not None:
        line += f' · mutual: {"yes" if finding.mutual else "no"} <span class="muted">({MUTUAL[finding.kind]})</span>'
    return f'<div class="evidence">{line} · strength {finding.strength:.2f}</div>'


class Page:
    """Builds the page of one curation; thumbnails are made once per image."""

    def __init__(self, curation: Curation, images: Path) -> None:
        self.curation = curation
        self.images = images
        self.records = curation.store.records
        self._uris: dict[int, Optional[str]] = {}

    def figure(self, row: int, caption: str = "", decisive: bool = False) -> str:
        if row not in self._uris:
            self._uris[row] = thumbnail_uri(self.images / self.records[row].path)
        uri = self._uris[row]
        path = self.records[row].path
        image = f'<img src="{uri}" alt="{escape(path)}">' if uri else '<div class="muted">(unreadable)</div>'
        extra = " decisive" if decisive else ""
        return f'<figure class="face{extra}">{image}<figcaption>{escape(path)}{caption}</figcaption></figure>'

    def side(self, side: Side) -> str:
        figures = []
        for row, similarity in zip(side.rows, side.similarity):
            record = self.records[row]
            decisive = row in side.decisive and np.isfinite(similarity)
            caption = f"<br>{similarity:.3f} to {escape(side.toward)}" if decisive else ""
            caption += (
                f"<br>Q {record.Q}" if record.Q is not None else f"<br>{escape(record.error_kind or 'no embedding')}"
            )
            figures.append(self.figure(row, caption, decisive=row in side.decisive))
        shown = "" if len(side.rows) == side.total else f", {len(side.rows)} shown"
        return (
            f"<div><h3>{escape(side.title)} ({plural(side.total, 'image')}{shown})</h3>"
            f'<div class="side">{"".join(figures)}</div></div>'
        )

    def finding(self, finding: Finding) -> str:
        parts = [self.side(side) for side in finding.sides]
        members = escape(" · ".join(finding.members))
        return (
            f'<section class="finding" id="{escape(finding.id)}" data-kind="{finding.kind}">'
            f'<div><b>#{finding.rank}</b> <span class="kind">{finding.kind}</span> {members} '
            f'<code class="muted">{escape(finding.id)}</code></div>'
            f'{evidence(finding)}<div class="muted">{escape(finding.detail)}</div>{mark_choice(finding)}'
            f'<div class="sides">{"".join(parts)}</div></section>'
        )

    def rejects(self) -> list[int]:
        """Rows rejected with no finding behind the rejection: an error, or low quality."""
        return [i for i, v in enumerate(self.curation.verdicts) if v.decision == REJECT and not any(v.findings)]

    def build(self, title: str) -> str:
        curation = self.curation
        verdicts = curation.verdicts
        open_findings = curation.open_findings
        shown = open_findings[:MAX_FINDINGS]
        settled = [f for f in curation.findings if f.mark in SETTLED]
        ids = {f.id for f in curation.findings}
        rejects = self.rejects()
        counts = [sum(v.decision == d for v in verdicts) for d in (KEEP, REVIEW, REJECT)]
        info_rows = [
            [k, v]
            for k, v in (
                ("images", len(self.records)),
                ("keep / review / reject", " / ".join(map(str, counts))),
                (
                    "findings",
                    f"{len(curation.findings)} ({len(open_findings)} to review"
                    + (f", {len(settled)} settled by the marks read back)" if settled else ")"),
                ),
                (
                    "looks-like expected by chance",
                    f"{curation.expected_false_alarms:.1f} images at --search-far "
                    f"{curation.settings.search_far:g}; "
                    f"{plural(curation.looks_like_count, 'image')} found",
                ),
            )
        ]
        sentences = "".join(f"<li>{s}</li>" for s in threshold_sentences(curation))
        sections = [
            f"<h1>{escape(title)}</h1>",
            _table(["", ""], info_rows),
            f'<h2>Thresholds</h2><ul class="thresholds">{sentences}</ul>',
            toolbar(len(shown)),
            f"<h2>Findings to review ({len(open_findings)})</h2>",
            '<p class="muted">Strongest evidence first: how far past its threshold, as a share of the room from the '
            "threshold to a perfect match, halved when only one side points at the other. Outlined images decide the "
            "finding; a small folder is shown whole, a large one by the images nearest the other side and its most "
            "typical ones.</p>",
        ]
        if len(open_findings) > MAX_FINDINGS:
            sections.append(
                f'<p class="muted">The first {MAX_FINDINGS} of {len(open_findings)} are shown; '
                "findings.csv has them all.</p>"
            )
        sections += [self.finding(f) for f in shown]
        if not shown:
            sections.append('<p class="muted">Nothing to review.</p>')
        if rejects:
            note = (
                f'<p class="muted">The first {MAX_REJECTS} are shown; curation.csv has them all.</p>'
                if len(rejects) > MAX_REJECTS
                else ""
            )
            figures = "".join(
                self.figure(i, "<br>" + escape(SEPARATOR.join(verdicts[i].reasons))) for i in rejects[:MAX_REJECTS]
            )
            sections.append(
                f"<h2>Rejected without a question ({plural(len(rejects), 'image')})</h2>{note}"
                f'<div class="grid">{figures}</div>'
            )
        stale = [m for m in curation.marks.values() if m.finding not in ids]
        if settled or stale:
            rows = [[f.rank, f.id, f.kind, SEPARATOR.join(f.members), f.mark] for f in settled]
            rows += [["", m.finding, m.kind, m.members, f"{m.mark} (not found in this run)"] for m in stale]
            sections.append(
                f'<h2>Marked earlier ({len(rows)})</h2><p class="muted">Read back from the decisions '
                "file and not shown again; the download keeps their marks.</p>"
                + _table(["rank", "finding", "kind", "members", "mark"], rows)
            )
        current = {f.id: f for f in curation.findings}
        carried = [
            Mark(m.finding, current[m.finding].kind, SEPARATOR.join(current[m.finding].members), m.mark)
            if m.finding in current
            else m
            for m in curation.marks.values()
        ]
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head><body>"
            + "".join(sections)
            + marks_script(shown, carried)
            + "</body></html>\n"
        )


def build_page(curation: Curation, images: Path, title: str = "fqe-onnx curation") -> str:
    """The whole review page as one string (thumbnails read from ``images``, the ROOT)."""
    return Page(curation, images).build(title)

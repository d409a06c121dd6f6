"""One curation run: an embedding store in, verdicts, thresholds and a summary out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..errors import FqeError
from .decisions import IdentityVerdict, ImageVerdict, decide, quality_cut_from_edc
from .findings import Finding, collect
from .marks import SETTLED, Mark
from .search import cross_search
from .store import EmbeddingStore
from .thresholds import NON_MATED, Thresholds, fix_thresholds, label_sums, loo_centroid_similarity

#: Defaults of the command's options.
SEARCH_FAR = 1e-3
OWN_FMR = 1e-2
#: A re-encoded, resized or slightly cropped copy of one photo stays above this (benchmarks/curation.py
#: measures it); two different photos of one person rarely reach it.
DUPLICATE_SIMILARITY = 0.94


@dataclass
class Settings:
    search_far: float = SEARCH_FAR
    own_fmr: float = OWN_FMR
    min_Q: float = 0.0
    max_fnmr: Optional[float] = None
    duplicate_similarity: float = DUPLICATE_SIMILARITY
    index: str = "exact"
    non_mated: int = NON_MATED
    seed: int = 0


@dataclass
class Curation:
    store: EmbeddingStore
    verdicts: list[ImageVerdict]
    identities: list[IdentityVerdict]
    thresholds: Thresholds
    quality_cut: float
    fnmr_before: float
    settings: Settings
    seconds: dict[str, float]
    findings: list[Finding] = field(default_factory=list)  # ranked, strongest first
    marks: dict[str, Mark] = field(default_factory=dict)  # a reviewer's marks read back (curate --decisions)

    @property
    def open_findings(self) -> list[Finding]:
        """The findings still to review: unmarked, or marked unsure."""
        return [f for f in self.findings if f.mark not in SETTLED]

    @property
    def looks_like_count(self) -> int:
        return sum(any(r.startswith("looks-like:") for r in v.reasons) for v in self.verdicts)

    @property
    def expected_false_alarms(self) -> float:
        """Images expected to get a looks-like by chance alone at --search-far: rate x images searched."""
        return self.settings.search_far * int(self.store.ok.sum())


def integer_labels(identities: list[str]) -> np.ndarray:
    """One int per identity; every image without an identity folder gets a label of its own."""
    names: dict[str, int] = {}
    labels = np.empty(len(identities), dtype=np.int64)
    for i, identity in enumerate(identities):
        key = identity if identity else f"\0{i}"
        labels[i] = names.setdefault(key, len(names))
    return labels


def curate(
    store: EmbeddingStore, settings: Optional[Settings] = None, progress: Optional[Callable[[int], None]] = None
) -> Curation:
    """Thresholds, search and decisions for every image and identity of ``store``."""
    settings = settings or Settings()
    if settings.max_fnmr is not None and not 0 <= settings.max_fnmr < 1:
        raise FqeError(f"--max-fnmr must be in [0, 1), got {settings.max_fnmr}")
    records = store.records
    if not records:
        raise FqeError("no images to curate")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    unit = store.unit()
    valid = store.ok & np.array([r.ok and r.Q is not None for r in records])
    identities = [r.identity for r in records]
    labels = integer_labels(identities)
    sums, counts = label_sums(unit, labels, valid)
    rows = np.arange(len(records))
    own = loo_centroid_similarity(unit, labels, valid, rows, rows, sums, counts)
    thresholds = fix_thresholds(
        unit,
        labels,
        valid,
        sums,
        counts,
        own,
        settings.search_far,
        settings.own_fmr,
        settings.duplicate_similarity,
        settings.non_mated,
        settings.seed,
    )
    Q = np.array([r.Q if r.Q is not None else -1 for r in records], dtype=np.float64)
    cut, fnmr0 = float(settings.min_Q), float("nan")
    if settings.max_fnmr is not None:
        implied, fnmr0 = quality_cut_from_edc(Q, unit, labels, valid, thresholds.pair, settings.max_fnmr)
        cut = max(cut, implied)
    seconds["thresholds"] = time.perf_counter() - started
    started = time.perf_counter()
    neighbours = cross_search(unit, labels, valid, settings.index, progress=progress)
    seconds["search"] = time.perf_counter() - started
    started = time.perf_counter()
    names = [r.path for r in records]
    verdicts, identity_verdicts = decide(
        names, identities, [r.error_kind for r in records], Q, unit, labels, valid, own, neighbours, thresholds, cut
    )
    findings = collect(names, identities, unit, labels, valid, verdicts, identity_verdicts, thresholds, sums, counts)
    seconds["decisions"] = time.perf_counter() - started
    return Curation(store, verdicts, identity_verdicts, thresholds, cut, fnmr0, settings, seconds, findings)


def apply_marks(curation: Curation, marks: dict[str, Mark]) -> None:
    """Give each finding its mark from ``marks`` (by id) and keep them all on the curation (the
    review page's download carries them on, those of findings not seen in this run included)."""
    curation.marks = dict(marks)
    for finding in curation.findings:
        mark = marks.get(finding.id)
        finding.mark = mark.mark if mark else ""


def summary(curation: Curation) -> dict[str, Any]:
    """Counts by decision and reason, thresholds, and expected against found false alarms."""
    from collections import Counter

    decisions = Counter(v.decision for v in curation.verdicts)
    reasons = Counter(r.split(":")[0] for v in curation.verdicts for r in v.reasons)
    identity_reasons = Counter(r.split(":")[0] for v in curation.identities for r in v.reasons)
    ids = {f.id for f in curation.findings}
    findings = {
        "total": len(curation.findings),
        "by_kind": dict(Counter(f.kind for f in curation.findings)),
        "marked": dict(Counter(f.mark for f in curation.findings if f.mark)),
        "open": len(curation.open_findings),
        "marks_not_found": sum(m not in ids for m in curation.marks),
    }
    return {
        "images": len(curation.verdicts),
        "identities": sum(bool(v.identity) for v in curation.identities),
        "decisions": dict(decisions),
        "reasons": dict(reasons),
        "identity_reasons": dict(identity_reasons),
        "findings": findings,
        "thresholds": curation.thresholds.as_dict(),
        "quality_cut": curation.quality_cut,
        "fnmr_before_quality_cut": curation.fnmr_before,
        "looks_like": {"found": curation.looks_like_count, "expected_false_alarms": curation.expected_false_alarms},
        "settings": dict(curation.settings.__dict__),
        "seconds": curation.seconds,
    }


def describe(info: dict[str, Any]) -> str:
    """The summary printed on stderr."""
    t = info["thresholds"]
    d = info["decisions"]
    lines = [
        f"{info['images']} images, {info['identities']} identities: {d.get('keep', 0)} keep, "
        f"{d.get('review', 0)} review, {d.get('reject', 0)} reject",
        "reasons: " + (", ".join(f"{k} {v}" for k, v in sorted(info["reasons"].items())) or "none"),
        "identities: " + (", ".join(f"{k} {v}" for k, v in sorted(info["identity_reasons"].items())) or "none flagged"),
        findings_line(info["findings"]),
        f"looks-like: {info['looks_like']['found']} images found; {info['looks_like']['expected_false_alarms']:.1f} "
        f"expected by chance at --search-far {t['search_far']:g} (threshold {t['search']:.4f}, pairwise FMR "
        f"{t['search_pairwise_fmr']:.2g} over {t['gallery']} images)",
        f"thresholds: own identity {t['own']:.4f} (--own-fmr {t['own_fmr']:g}), pair {t['pair']:.4f} (FMR 1e-3), "
        f"duplicate {t['duplicate']:.4f}, folders {t['identity']:.4f} (mean to mean), from {t['non_mated']} non-mated comparisons; quality cut Q < {info['quality_cut']:g}",
    ]
    return "\n".join(lines)


def findings_line(findings: dict[str, Any]) -> str:
    """``findings: 12 to review (...)``, and what the marks read back settled."""
    from .findings import KINDS, plural

    kinds = ", ".join(f"{kind} {findings['by_kind'][kind]}" for kind in KINDS if kind in findings["by_kind"])
    line = f"findings: {findings['total']}" + (f" ({kinds})" if kinds else "")
    marked = findings["marked"]
    if marked or findings["marks_not_found"]:
        line += (
            f"; marks read back: {', '.join(f'{v} {k}' for k, v in sorted(marked.items())) or 'none of these'}"
            f" ({plural(findings['marks_not_found'], 'mark')} for findings not in this run); "
            f"{findings['open']} still to review"
        )
    return line

"""Which Q to keep: the table of quality cuts on top of the EDC's pairs and threshold.

Pure functions on arrays. A cut ``T`` drops every image whose quality is below ``T`` (an image
that failed has the lowest quality, -inf, and is dropped by every cut); a mated comparison is
discarded when either of its images is dropped, which is the EDC's pair quality ``min(q_a, q_b)``
below ``T``. FNMR is the share of the remaining mated comparisons below the comparison threshold
fixed at the target FMR, exactly as in ``edc``.

For an integer scale (Q, 0..100) the table has one row for every integer where the kept set
changes: the lowest score, then each score plus one. For any other scale (q, another tool's
values) it has one row per distinct value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..errors import FqeError

#: The cuts shown on screen for a 0..100 scale (the complete table goes to cuts.csv).
SUMMARY_POINTS = (10, 20, 30, 40, 50, 60, 70, 80, 90)
#: For another scale, the cuts shown on screen are at these quantiles of its values.
SUMMARY_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Cut:
    """Dropping images with quality < ``cut``: what goes, and the FNMR of what stays."""

    cut: float
    images_below: int
    images_share: float
    mated_discarded: int
    mated_share: float
    mated_kept: int
    fnmr: Optional[float]  # None when no mated comparison is left

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["cut"] = int(self.cut) if float(self.cut).is_integer() else self.cut
        return row


def is_integer_scale(quality: np.ndarray) -> bool:
    """True when every finite value is a whole number (Q), so cuts are integers."""
    finite = quality[np.isfinite(quality)]
    return bool(len(finite)) and bool(np.all(finite == np.round(finite)))


def change_points(quality: np.ndarray) -> np.ndarray:
    """The cuts where the kept set changes, ascending (see the module's docstring)."""
    finite = np.unique(quality[np.isfinite(quality)])
    if len(finite) == 0:
        raise FqeError("no image has a quality value: there is nothing to cut")
    if is_integer_scale(quality):
        return np.unique(np.concatenate(([finite[0]], finite + 1)))
    return finite


def cuts_at(
    cuts: Union[Sequence[float], np.ndarray],
    quality: np.ndarray,
    mated_a: np.ndarray,
    mated_b: np.ndarray,
    mated_similarity: np.ndarray,
    threshold: float,
) -> list[Cut]:
    """One row per cut: images with ``quality`` < cut, mated comparisons discarded, FNMR of the rest.

    ``quality`` per image (-inf for failed), ``mated_a``/``mated_b`` image indices of the mated
    comparisons and ``mated_similarity`` their scores; below ``threshold`` is a false non-match."""
    quality = np.asarray(quality, dtype=np.float64)
    if np.isnan(quality).any():
        raise FqeError("qualities must not be NaN (failed images take -inf)")
    cut_values = np.asarray(cuts, dtype=np.float64)
    pair = np.sort(np.minimum(quality[mated_a], quality[mated_b]))
    errors = np.asarray(mated_similarity, dtype=np.float64) < threshold
    error_pair = np.sort(np.minimum(quality[mated_a], quality[mated_b])[errors])
    images = np.sort(quality)
    below = np.searchsorted(images, cut_values, side="left")
    discarded = np.searchsorted(pair, cut_values, side="left")
    errors_discarded = np.searchsorted(error_pair, cut_values, side="left")
    n_images, n_mated, n_errors = len(images), len(pair), len(error_pair)
    rows = []
    for cut, b, d, e in zip(cut_values.tolist(), below.tolist(), discarded.tolist(), errors_discarded.tolist()):
        kept = n_mated - d
        rows.append(
            Cut(
                cut,
                b,
                b / n_images if n_images else 0.0,
                d,
                d / n_mated if n_mated else 0.0,
                kept,
                (n_errors - e) / kept if kept else None,
            )
        )
    return rows


def cut_table(
    quality: np.ndarray, mated_a: np.ndarray, mated_b: np.ndarray, mated_similarity: np.ndarray, threshold: float
) -> list[Cut]:
    """Every cut where the kept set changes (``change_points``), ascending."""
    return cuts_at(
        change_points(np.asarray(quality, dtype=np.float64)), quality, mated_a, mated_b, mated_similarity, threshold
    )


def summary_points(quality: np.ndarray) -> list[float]:
    """Cuts to show on screen: Q 10..90 for a 0..100 integer scale, else deciles of the values."""
    finite = quality[np.isfinite(quality)]
    if is_integer_scale(quality) and finite.min() >= 0 and finite.max() <= 100:
        return [float(p) for p in SUMMARY_POINTS]
    return [float(v) for v in np.quantile(finite, SUMMARY_QUANTILES)]


def cut_for_target(table: Sequence[Cut], target_fnmr: float) -> Optional[Cut]:
    """The lowest cut whose FNMR is at most ``target_fnmr``; None when no cut reaches it."""
    return next((c for c in table if c.fnmr is not None and c.fnmr <= target_fnmr), None)


def budget_images(max_discard: float, n_images: int) -> int:
    """A discard budget in images: a share of the images when below 1, else a count."""
    if max_discard < 0:
        raise FqeError(f"--max-discard must be >= 0, got {max_discard:g}")
    return int(np.floor(max_discard * n_images + 1e-9)) if max_discard < 1 else int(max_discard)


def cut_within_budget(table: Sequence[Cut], max_images: int) -> Optional[Cut]:
    """The cut with the lowest FNMR that drops at most ``max_images`` images (the lowest such cut
    on ties); None when every cut drops more (failed images are dropped by every cut)."""
    allowed = [c for c in table if c.images_below <= max_images and c.fnmr is not None]
    if not allowed:
        return None
    best = min(c.fnmr for c in allowed)  # type: ignore[type-var]  # allowed: only cuts with an FNMR
    return next(c for c in allowed if c.fnmr == best)


def describe_cut(cut: Cut, scale: str = "Q") -> str:
    """'drop Q < 43: 120 images (6.0%), 410 mated comparisons (4.5%), FNMR 0.0098'."""
    value = f"{int(cut.cut)}" if float(cut.cut).is_integer() else f"{cut.cut:.6g}"
    fnmr = "n/a (no mated comparison left)" if cut.fnmr is None else f"{cut.fnmr:.4f}"
    return (
        f"drop {scale} < {value}: {cut.images_below} images ({100 * cut.images_share:.1f}%), "
        f"{cut.mated_discarded} mated comparisons ({100 * cut.mated_share:.1f}%), FNMR {fnmr}"
    )


def choose_cuts(
    table: Sequence[Cut], n_images: int, target_fnmr: Optional[float] = None, max_discard: Optional[float] = None
) -> dict[str, Any]:
    """The JSON record of ``--target-fnmr`` and ``--max-discard``: the chosen cut, or None with the
    reason. Only the options given appear."""
    chosen: dict[str, Any] = {}
    if target_fnmr is not None:
        hit = cut_for_target(table, target_fnmr)
        lowest = min((c.fnmr for c in table if c.fnmr is not None), default=None)
        chosen["target_fnmr"] = {
            "target": target_fnmr,
            "cut": hit.as_dict() if hit else None,
            **(
                {}
                if hit
                else {
                    "reason": f"no cut reaches FNMR <= {target_fnmr:g}; the lowest is {lowest:.4f}"
                    if lowest is not None
                    else "no cut leaves a mated comparison"
                }
            ),
        }
    if max_discard is not None:
        budget = budget_images(max_discard, n_images)
        hit = cut_within_budget(table, budget)
        chosen["max_discard"] = {
            "max_discard": max_discard,
            "budget_images": budget,
            "cut": hit.as_dict() if hit else None,
            **({} if hit else {"reason": f"every cut drops more than {budget} images"}),
        }
    return chosen


def threshold_cuts(
    scales: dict[str, np.ndarray],
    similarity: np.ndarray,
    pairs: Any,
    fmr_results: dict[str, Any],
    target_fnmr: Optional[float] = None,
    max_discard: Optional[float] = None,
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str, Cut]]]:
    """For every supported FMR (``fmr_results``: the evaluation's ``summary["fmr"]``) and every cut
    scale: the on-screen summary, the chosen cuts, and the complete table as (source, fmr, Cut) rows."""
    mated = np.asarray(pairs.mated, dtype=bool)
    mated_a, mated_b, mated_sim = pairs.a[mated], pairs.b[mated], similarity[mated]
    by_fmr: dict[str, dict[str, Any]] = {}
    rows: list[tuple[str, str, Cut]] = []
    for key, result in fmr_results.items():
        if not result.get("supported"):
            continue
        by_fmr[key] = {}
        for name, quality in scales.items():
            quality = np.asarray(quality, dtype=np.float64)
            if not np.isfinite(quality).any():
                continue
            table = cut_table(quality, mated_a, mated_b, mated_sim, result["threshold"])
            rows += [(name, key, c) for c in table]
            shown = cuts_at(summary_points(quality), quality, mated_a, mated_b, mated_sim, result["threshold"])
            by_fmr[key][name] = {
                "integer_scale": is_integer_scale(quality),
                "cuts": len(table),
                "summary": [c.as_dict() for c in shown],
                **choose_cuts(table, len(quality), target_fnmr, max_discard),
            }
    return by_fmr, rows


CSV_COLUMNS = (
    "source",
    "fmr",
    "cut",
    "images_below",
    "images_share",
    "mated_discarded",
    "mated_share",
    "mated_kept",
    "fnmr",
)


def csv_row(source: str, fmr: str, cut: Cut) -> list[Any]:
    """One line of cuts.csv (full float precision; an empty FNMR when nothing is left)."""
    d = cut.as_dict()
    return [
        source,
        fmr,
        repr(d["cut"]),
        d["images_below"],
        repr(d["images_share"]),
        d["mated_discarded"],
        repr(d["mated_share"]),
        d["mated_kept"],
        "" if d["fnmr"] is None else repr(d["fnmr"]),
    ]


def format_cuts(by_fmr: dict[str, dict[str, Any]]) -> str:
    """The Q-cut summary per FMR and source, and the chosen cuts, for the screen."""
    lines = []
    for key, sources in by_fmr.items():
        for name, entry in sources.items():
            lines.append(f"FMR {key}, cuts on {name} ({entry['cuts']} cuts in cuts.csv):")
            lines.append(
                f"  {'drop below':>10} {'images':>7} {'share':>6} {'mated disc.':>11} {'share':>6} {'FNMR':>7}"
            )
            for c in entry["summary"]:
                value = f"{c['cut']}" if isinstance(c["cut"], int) else f"{c['cut']:.4g}"
                fnmr = "n/a" if c["fnmr"] is None else f"{c['fnmr']:.4f}"
                lines.append(
                    f"  {value:>10} {c['images_below']:>7} {100 * c['images_share']:>5.1f}% "
                    f"{c['mated_discarded']:>11} {100 * c['mated_share']:>5.1f}% {fnmr:>7}"
                )
            scale = "Q" if name == "Q" else name
            for option, label in (("target_fnmr", "--target-fnmr"), ("max_discard", "--max-discard")):
                if option in entry:
                    chosen = entry[option]
                    given = chosen["target"] if option == "target_fnmr" else chosen["max_discard"]
                    text = describe_cut(Cut(**chosen["cut"]), scale) if chosen["cut"] else chosen["reason"]
                    lines.append(f"  {label} {given:g}: {text}")
    return "\n".join(lines)

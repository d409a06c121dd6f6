"""The Error-versus-Discard Characteristic (ISO/IEC 29794-1:2024; Schlett et al., IEEE T-BIOM 2024).

Pure functions on arrays. The FNM-EDC: a comparison threshold is fixed once, on all comparisons, at
a target FMR; each mated comparison gets the pair quality min(q_a, q_b); comparisons are discarded
lowest pair quality first, all comparisons with a tied quality together; FNMR is the share of the
remaining mated comparisons whose similarity is below the threshold. The curve is a step function
of the discarded fraction; its partial area (pAUC) up to a limit is integrated stepwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FqeError

#: A target FMR is only used when the non-mated comparisons would show at least this many false
#: matches at it (1e-3 needs 10,000 non-mated comparisons, 1e-4 needs 100,000).
MIN_FALSE_MATCHES = 10


def threshold_at_fmr(non_mated: np.ndarray, fmr: float) -> float:
    """The comparison threshold t for a target FMR: a comparison with similarity >= t is a match.

    Returns the smallest threshold (just above one of the scores) at which at most
    floor(fmr x N) of the N non-mated comparisons match, so the FMR on these data never exceeds
    ``fmr``. FqeError when N x fmr < MIN_FALSE_MATCHES (too few comparisons for this FMR)."""
    scores = np.sort(np.asarray(non_mated, dtype=np.float64))[::-1]  # descending
    if len(scores) * fmr < MIN_FALSE_MATCHES:
        raise FqeError(
            f"{len(scores)} non-mated comparisons cannot set a threshold at FMR {fmr:g}: at least "
            f"{int(np.ceil(MIN_FALSE_MATCHES / fmr))} are needed"
        )
    allowed = int(np.floor(fmr * len(scores)))  # false matches allowed
    # accept everything strictly above the (allowed+1)-th highest score: sim >= t matches
    return float(np.nextafter(scores[allowed], np.inf))


def fmr_supported(n_non_mated: int, fmr: float) -> bool:
    return n_non_mated * fmr >= MIN_FALSE_MATCHES


@dataclass(frozen=True)
class EdcCurve:
    """A step curve: ``fnmr[i]`` holds for discarded fractions in [discard[i], discard[i + 1])."""

    discard: np.ndarray  # discarded fraction at each step start, from 0, ascending
    fnmr: np.ndarray  # FNMR of the remaining comparisons
    comparisons: int

    def fnmr_at(self, fraction: float) -> float:
        """FNMR after discarding ``fraction`` of the comparisons (the step in force there)."""
        return float(self.fnmr[np.searchsorted(self.discard, fraction, side="right") - 1])

    def pauc(self, limit: float) -> float:
        """Area under the step curve from 0 to ``limit`` of the discarded fraction."""
        edges = np.minimum(np.append(self.discard, 1.0), limit)
        return float(np.sum(self.fnmr * np.diff(edges)))


def edc_curve(pair_quality: np.ndarray, similarity: np.ndarray, threshold: float) -> EdcCurve:
    """The FNM-EDC of mated comparisons (``similarity`` below ``threshold`` is a false non-match)."""
    pair_quality = np.asarray(pair_quality, dtype=np.float64)
    similarity = np.asarray(similarity, dtype=np.float64)
    n = len(pair_quality)
    if n == 0 or len(similarity) != n:
        raise FqeError(
            f"need matching, non-empty mated comparisons; got {n} qualities and {len(similarity)} similarities"
        )
    if np.isnan(pair_quality).any():
        raise FqeError("pair qualities must not be NaN (failed images take -inf)")
    order = np.argsort(pair_quality, kind="stable")
    quality, errors = pair_quality[order], ~(similarity[order] >= threshold)  # NaN: no match
    remaining_errors = np.cumsum(errors[::-1])[::-1]  # errors among comparisons i..n-1
    starts = np.concatenate(([0], np.flatnonzero(quality[1:] != quality[:-1]) + 1))  # tie groups go together
    fnmr = remaining_errors[starts] / (n - starts)
    discard = starts / n
    return EdcCurve(np.append(discard, 1.0), np.append(fnmr, 0.0), n)


def theoretical_best_area(fnmr0: float, limit: float) -> float:
    """Area under max(0, FNMR(0) - x) from 0 to ``limit``: discarding exactly the errors first."""
    reach = min(fnmr0, limit)
    return float(fnmr0 * reach - reach * reach / 2)


DISCARD_POINTS = (0.0, 0.05, 0.10, 0.20, 0.30)
PAUC_LIMITS = (0.20, 0.30)


def edc_summary(curve: EdcCurve) -> dict[str, object]:
    """FNMR at 0, 5, 10, 20 and 30% discarded, and pAUC to 20% and 30%: raw, minus the theoretical
    best, and normalised by FNMR(0) x limit (1.0: quality does not help; lower is better)."""
    fnmr0 = curve.fnmr_at(0.0)
    pauc = {}
    for limit in PAUC_LIMITS:
        raw = curve.pauc(limit)
        pauc[f"{limit:g}"] = {
            "raw": raw,
            "minus_best": raw - theoretical_best_area(fnmr0, limit),
            "normalised": raw / (fnmr0 * limit) if fnmr0 > 0 else None,
        }
    return {"fnmr": {f"{p:g}": curve.fnmr_at(p) for p in DISCARD_POINTS}, "pauc": pauc}

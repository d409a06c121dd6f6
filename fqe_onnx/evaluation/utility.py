"""A score that reads as a match probability: the utility calibration.

Target, per probe image i with references R_i (the person's other images, or those chosen with a
pattern): ``s_i`` of its ``n_i = |R_i|`` comparisons with the references reach the threshold t
fixed at the chosen FMR. The calibration ``Q/100 = sigmoid((q - x0) / w)`` is fitted by maximum
likelihood on those binomial counts (logistic regression of s_i out of n_i on q_i, so each probe
weighs by its number of comparisons). Then ``Q/100`` estimates the probability that the image,
compared with a reference image of the same person, is accepted at t.

Reliability: probes are grouped by their predicted Q decile (0-9, ..., 90-100); in each group the
predicted probability (mean of sigmoid, weighted by n_i) is set against the observed success rate
(sum s_i / sum n_i). The expected calibration error is the comparison-weighted mean of the gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np

from ..contract import Calibration
from ..errors import FqeError

if TYPE_CHECKING:
    from ..scorer import Scorer
    from ..sources import ImageSource


@dataclass(frozen=True)
class UtilityTargets:
    """Per probe with references: its image index, successes and trials (comparisons)."""

    index: np.ndarray
    successes: np.ndarray
    trials: np.ndarray


def utility_targets(
    embeddings: Sequence[Optional[np.ndarray]],
    identities: Sequence[str],
    is_reference: Union[Sequence[bool], np.ndarray],
    threshold: float,
) -> UtilityTargets:
    """Successes and trials for every usable probe that has at least one usable reference."""
    usable = np.array([e is not None for e in embeddings])
    dim = next(len(e) for e in embeddings if e is not None)
    unit = np.zeros((len(embeddings), dim))
    for i, e in enumerate(embeddings):
        if e is not None:
            unit[i] = np.asarray(e, dtype=np.float64) / np.linalg.norm(e)
    ids = np.asarray(identities)
    refs = np.asarray(is_reference, dtype=bool) & usable
    index, successes, trials = [], [], []
    for identity in np.unique(ids):
        members = np.flatnonzero(ids == identity)
        ref_members = members[refs[members]]
        for i in members[usable[members]]:
            others = ref_members[ref_members != i]
            if len(others) == 0:
                continue
            similarity = unit[others] @ unit[i]
            index.append(i)
            successes.append(int(np.sum(similarity >= threshold)))
            trials.append(len(others))
    return UtilityTargets(
        np.array(index, dtype=np.int64), np.array(successes, dtype=np.float64), np.array(trials, dtype=np.float64)
    )


def fit_utility(q: np.ndarray, successes: np.ndarray, trials: np.ndarray, iterations: int = 100) -> Calibration:
    """Maximum-likelihood logistic fit of successes out of trials on q (Newton's method);
    returns the Calibration with ``Q/100 = sigmoid((q - x0) / w)`` (h=100, a=0, s=1)."""
    q = np.asarray(q, dtype=np.float64)
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if len(q) < 2 or n.sum() == 0:
        raise FqeError(f"the utility fit needs probes with references; got {len(q)}")
    if s.sum() == 0 or s.sum() == n.sum():
        raise FqeError(
            "every comparison "
            + ("failed" if s.sum() == 0 else "succeeded")
            + " at this threshold: the data hold no failures (or no successes) to fit; "
            "add harder probes (see docs/guides/calibration.md)"
        )
    centre, spread = float(np.average(q, weights=n)), float(np.std(q)) or 1.0
    x = (q - centre) / spread  # standardised for a well-conditioned Newton step
    a = math.log(s.sum() / (n.sum() - s.sum()))
    b = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a + b * x)))
        weight = n * p * (1 - p)
        gradient = np.array([np.sum(s - n * p), np.sum((s - n * p) * x)])
        hessian = np.array([[weight.sum(), (weight * x).sum()], [(weight * x).sum(), (weight * x * x).sum()]])
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        a, b = a + step[0], b + step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    if not b > 0:
        raise FqeError(
            f"on this data a higher q does not mean a likelier match (fitted slope {b:.3g}); "
            "a utility calibration would be meaningless"
        )
    w = spread / b
    return Calibration(x0=centre - a * w, w=w)


def predicted(q: np.ndarray, calibration: Calibration) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(q, dtype=np.float64) - calibration.x0) / calibration.w))


@dataclass(frozen=True)
class ReliabilityRow:
    band: str  # Q band, e.g. "30-39"
    probes: int
    comparisons: int
    predicted: float
    observed: float


def reliability(
    q: np.ndarray, successes: np.ndarray, trials: np.ndarray, calibration: Calibration
) -> tuple[list[ReliabilityRow], float]:
    """Predicted against observed success per Q decile, and the expected calibration error."""
    p = predicted(q, calibration)
    s, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    bands = np.minimum((np.round(100 * p) // 10).astype(int), 9)
    rows, ece = [], 0.0
    for band in range(10):
        inside = bands == band
        if not inside.any():
            continue
        weight = n[inside].sum()
        pred = float(np.sum(p[inside] * n[inside]) / weight)
        obs = float(s[inside].sum() / weight)
        ece += weight / n.sum() * abs(pred - obs)
        label = f"{10 * band}-{10 * band + 9 if band < 9 else 100}"
        rows.append(ReliabilityRow(label, int(inside.sum()), int(weight), pred, obs))
    return rows, float(ece)


def format_reliability(rows: list[ReliabilityRow], ece: float) -> str:
    lines = [f"{'Q band':>8} {'probes':>7} {'comparisons':>11} {'predicted':>9} {'observed':>8}"]
    lines += [f"{r.band:>8} {r.probes:>7} {r.comparisons:>11} {r.predicted:>9.3f} {r.observed:>8.3f}" for r in rows]
    lines.append(f"expected calibration error (ECE): {ece:.4f}")
    return "\n".join(lines)


@dataclass(frozen=True)
class UtilityResult:
    calibration: Calibration
    info: dict
    rows: list
    ece: float
    q: np.ndarray
    targets: UtilityTargets


def references_mask(names: Sequence[str], pattern: Optional[str]) -> np.ndarray:
    """Which images are references: all (None), or those whose relative path or file name matches
    the glob ``pattern``."""
    from fnmatch import fnmatch

    if pattern is None:
        return np.ones(len(names), dtype=bool)
    return np.array([fnmatch(name, pattern) or fnmatch(name.rsplit("/", 1)[-1], pattern) for name in names])


@dataclass(frozen=True)
class UtilityData:
    """Probes' q and their targets, the threshold used, and a record of the data."""

    q: np.ndarray
    targets: UtilityTargets
    threshold: float
    info: dict


def utility_data(
    scorer: Scorer,
    sources: Sequence[ImageSource],
    fr_scorer: Optional[Scorer] = None,
    fmr: float = 1e-3,
    references: Optional[str] = None,
    threshold: Optional[float] = None,
    non_mated: Optional[int] = None,
    seed: int = 0,
) -> UtilityData:
    """Score and embed identity-labelled ``sources`` once and compute every probe's target. The
    threshold is fixed at ``fmr`` on a seeded sample of non-mated comparisons, unless given (held-out
    data are judged at the threshold of the data the calibration was fitted on)."""
    from .edc import threshold_at_fmr
    from .pairs import NON_MATED, Pairs, cosine_similarities, non_mated_pairs
    from .run import embed

    sources = [s for s in sources if s.identity]
    if len({s.identity for s in sources}) < 2:
        raise FqeError(
            "the utility calibration needs identity-labelled images: ROOT/IDENTITY/IMAGE, two identities or more"
        )
    quality_pass = embed(scorer, sources)
    fr_pass = embed(fr_scorer, sources) if fr_scorer is not None else quality_pass
    identities = [s.identity for s in sources]
    sampled = 0  # non-mated comparisons that set the threshold here (none when it is given)
    if threshold is None:
        a, b = non_mated_pairs(identities, non_mated or NON_MATED, seed)
        similarity = cosine_similarities(fr_pass.embeddings, Pairs(a, b, np.zeros(len(a), dtype=bool)))
        threshold = threshold_at_fmr(similarity, fmr)
        sampled = len(a)
    is_reference = references_mask([s.name for s in sources], references)
    if not is_reference.any():
        raise FqeError(f"no image matches --references {references!r}")
    targets = utility_targets(fr_pass.embeddings, identities, is_reference, threshold)
    usable = np.array([quality_pass.records[i].q is not None for i in targets.index], dtype=bool)
    targets = UtilityTargets(targets.index[usable], targets.successes[usable], targets.trials[usable])
    q = np.array([quality_pass.records[i].q for i in targets.index], dtype=np.float64)
    failed = sum(r.q is None for r in quality_pass.records)
    info = {
        "method": "utility",
        "fmr": fmr,
        "threshold": threshold,
        "fr_model": model_identity((fr_scorer or scorer).model.source),
        "images": len(sources),
        "failed_images": failed,
        "identities": len(set(identities)),
        "probes": int(len(targets.index)),
        "comparisons": int(targets.trials.sum()),
        "references": references or "the person's other images",
        "non_mated": sampled,
        "target": "per probe, the share of its comparisons with the references at or above the threshold",
    }
    return UtilityData(q, targets, threshold, info)


def utility_calibration(
    scorer: Scorer,
    sources: Sequence[ImageSource],
    fr_scorer: Optional[Scorer] = None,
    fmr: float = 1e-3,
    references: Optional[str] = None,
    non_mated: Optional[int] = None,
    seed: int = 0,
) -> UtilityResult:
    """``utility_data``, then the fit (see the module's docstring) and its reliability on the same data."""
    data = utility_data(scorer, sources, fr_scorer, fmr, references, None, non_mated, seed)
    calibration = fit_utility(data.q, data.targets.successes, data.targets.trials)
    rows, ece = reliability(data.q, data.targets.successes, data.targets.trials, calibration)
    return UtilityResult(calibration, dict(data.info, ece=ece), rows, ece, data.q, data.targets)


def model_identity(source: Optional[str]) -> dict:
    """A model file's name and sha256, for the record of what a calibration was made with."""
    from pathlib import Path

    from ..zoo import sha256_of

    if source is None:
        return {"file": "<bytes>"}
    return {"file": Path(source).name, "sha256": sha256_of(Path(source))}

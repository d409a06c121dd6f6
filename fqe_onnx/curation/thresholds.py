"""Thresholds fixed on the data's own non-mated comparisons, each for a stated error rate.

* A pair threshold at a pairwise FMR (``evaluate``'s ``threshold_at_fmr``), for matches between
  two images: same-person-as counting and the groups of a mixed folder.
* The search threshold, for "does this image have a look-alike anywhere among the G images of
  other identities?". The question is a multiple comparison: if every non-mated pair passes with
  probability p, an image with no true look-alike has a false one with probability
  ``far = 1 - (1 - p)^G``. So p is set from the stated per-image rate ``far`` (``--search-far``)
  and G. Such a p (1e-7 and below) is far beyond what a sample of comparisons can show, so the
  threshold at p is extrapolated from the tail of the non-mated similarities: their empirical
  thresholds at FMR 1e-2 and 1e-3 fix a normal tail, carried on to p. Measured on LFW (all 2M
  non-mated pairs, benchmarks/curation.py), that tail holds where it can be checked, down to
  5e-6; on embeddings spread at random on a sphere, whose tail falls faster, it errs high (fewer
  false alarms than stated; tests/test_curation.py). The tail is read from a sample that the
  label errors being looked for are first taken out of (see ``fix_thresholds``).
* The own-identity threshold, for "does this image match its own identity at all?": the
  similarity to the mean of the identity's other images, against the same statistic for images
  of another identity; images of other people score above it at rate ``own_fmr``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..errors import FqeError
from ..evaluation.edc import MIN_FALSE_MATCHES, threshold_at_fmr
from ..evaluation.pairs import non_mated_pairs
from .search import same_person_pairs, unit_rows

#: Non-mated comparisons sampled from the data (as evaluate's default).
NON_MATED = 200_000
#: The pairwise FMR of a match between two images (same-person-as counting, mixed folders).
PAIR_FMR = 1e-3
#: The pairwise FMR of the edges that hold the groups of a folder together (mixed).
GROUP_FMR = 1e-4
#: The tail used for extrapolation lies between these pairwise FMRs.
TAIL_FMRS = (1e-2, 1e-3)


def pair_similarities(unit: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Inner products of rows a[i] and b[i], in chunks (float64 result)."""
    out = np.empty(len(a), dtype=np.float64)
    for start in range(0, len(a), chunk):
        sa, sb = a[start : start + chunk], b[start : start + chunk]
        out[start : start + chunk] = np.einsum("ij,ij->i", unit[sa], unit[sb])
    return out


def sample_non_mated(
    labels: np.ndarray, valid: np.ndarray, count: int = NON_MATED, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of cross-identity pairs of valid images (a, b): a drawn from all images, b
    from an identity drawn uniformly among the others, then an image of it.

    Why not uniformly over image pairs (as evaluate's ``non_mated_pairs``)? On data with label
    errors, a person split into two folders makes every pair across the two folders a mated pair
    labelled non-mated: with one large folder split, that is about 1% of all image pairs, enough
    to lift the tail. Drawn this way, a wrong pair of folders is one among all pairs of folders."""
    rows = np.flatnonzero(valid)
    present, inverse = np.unique(labels[rows], return_inverse=True)
    if len(present) < 2:
        raise FqeError("curation needs images of at least two identities that could be embedded")
    sizes = np.bincount(inverse, minlength=len(present))
    if len(rows) * (len(rows) - 1) // 2 - int(np.sum(sizes * (sizes - 1) // 2)) <= count:
        a, b = non_mated_pairs(list(inverse), count, seed)  # a small set: every pair, once
        return rows[a], rows[b]
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(present)))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(rows), size=count)
    other = rng.integers(0, len(present) - 1, size=count)
    other = other + (other >= inverse[a])  # uniform among the identities other than a's
    b = order[starts[other] + (rng.random(count) * sizes[other]).astype(np.int64)]
    return rows[a], rows[b]


def tail_threshold(non_mated: np.ndarray, fmr: float) -> float:
    """The similarity that a share ``fmr`` of non-mated comparisons reaches: empirical where the
    sample shows it (down to 1e-3), below that the normal tail through the empirical thresholds
    at 10 L and L, L = 1e-3 or, for a smaller sample, the smallest share it supports (10
    comparisons above the threshold)."""
    low = max(TAIL_FMRS[1], MIN_FALSE_MATCHES / max(len(non_mated), 1))
    if low > 0.05:
        raise FqeError(
            f"{len(non_mated)} non-mated comparisons are too few to fix a threshold: at least "
            f"{int(MIN_FALSE_MATCHES / 0.05)} are needed (more images, or more identities)"
        )
    if fmr >= low:
        return threshold_at_fmr(non_mated, fmr)
    high = min(10 * low, 0.5)
    t_high, t_low = threshold_at_fmr(non_mated, high), threshold_at_fmr(non_mated, low)
    z = NormalDist().inv_cdf
    spread = max(t_low - t_high, 1e-6) / (z(1 - low) - z(1 - high))  # the normal's standard deviation
    return float(t_low + spread * (z(1 - fmr) - z(1 - low)))


def pairwise_fmr_for_search(far: float, gallery: int) -> float:
    """The pairwise FMR p at which a search of ``gallery`` non-mated comparisons finds a false
    match with probability ``far``: 1 - (1 - far)^(1 / gallery)."""
    if not 0 < far < 1:
        raise FqeError(f"the search false-alarm rate must be between 0 and 1, got {far}")
    return -math.expm1(math.log1p(-far) / max(gallery, 1))


def label_sums(unit: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per label (0..M-1): the sum of the valid images' unit vectors (M x D, float64) and their count."""
    count = int(labels.max()) + 1 if len(labels) else 0
    sums = np.zeros((count, unit.shape[1]), dtype=np.float64)
    np.add.at(sums, labels[valid], unit[valid])
    return sums, np.bincount(labels[valid], minlength=count)


def loo_centroid_similarity(
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    rows: np.ndarray,
    against: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    chunk: int = 65536,
) -> np.ndarray:
    """cos(unit[rows[i]], the mean of the valid images labelled as against[i] other than against[i]
    itself): NaN where that leaves no image. With rows == against, an image's similarity to the
    rest of its own identity, leave-one-out. ``sums``, ``counts``: from ``label_sums``."""
    out = np.full(len(rows), np.nan)
    for start in range(0, len(rows), chunk):
        r, o = rows[start : start + chunk], against[start : start + chunk]
        rest = sums[labels[o]] - np.where(valid[o][:, None], unit[o], 0)
        left = counts[labels[o]] - valid[o]
        norm = np.linalg.norm(rest, axis=1)
        good = (left > 0) & (norm > 1e-9)
        dots = np.einsum("ij,ij->i", unit[r].astype(np.float64), rest)
        out[start : start + chunk] = np.where(good, dots / np.where(good, norm, 1), np.nan)
    out[~valid[rows]] = np.nan
    return out


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of one curation run and what fixed them."""

    pair: float  # pairwise FMR PAIR_FMR
    group: float  # pairwise FMR GROUP_FMR
    search: float  # per-image false-alarm rate search_far over a search of `gallery` images
    search_pairwise_fmr: float
    own: float  # images of other people reach it at rate own_fmr
    identity: float  # mean-to-mean similarity of two folders: rate search_far per folder over all folders (inf: too few folders)
    duplicate: float
    search_far: float
    own_fmr: float
    gallery: int
    non_mated: int

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def fix_thresholds(
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    own: np.ndarray,
    search_far: float,
    own_fmr: float,
    duplicate: float,
    count: int = NON_MATED,
    seed: int = 0,
) -> Thresholds:
    """All thresholds from one seeded sample of the data's non-mated comparisons (``own``: each
    image's leave-one-out similarity to its identity, from ``loo_centroid_similarity``).

    Robust to the label errors being looked for: the own-identity and folder thresholds come first
    (a label error moves a mean of many images little), then the pairs that they explain (an image
    that matches none of its identity, two folders of one person) leave the sample before the
    pair, group and search thresholds are read from its tail. Otherwise 2% of images filed under
    the wrong name, each a mated pair with every image of its real identity, would be a larger
    share of the "non-mated" sample than the tail read from it."""
    a, b = sample_non_mated(labels, valid, count, seed)
    own_null = loo_centroid_similarity(unit, labels, valid, a, b, sums, counts)
    own_threshold = tail_threshold(own_null[np.isfinite(own_null)], own_fmr)
    present = np.flatnonzero(counts > 0)
    centroids = unit_rows(sums[present])
    ia, ib = non_mated_pairs(list(range(len(present))), count, seed)
    try:
        identity = min(
            1.0,
            tail_threshold(pair_similarities(centroids, ia, ib), pairwise_fmr_for_search(search_far, len(present) - 1)),
        )
    except FqeError:  # too few folders to tell chance from a match: same-person-as is not tested
        identity = math.inf
    suspect = np.isfinite(own) & (own < own_threshold)
    keep = ~(suspect[a] | suspect[b])
    same = {(x, y) for x, y, _ in same_person_pairs(sums, counts, identity)}
    if same:
        pair_labels = np.minimum(labels[a], labels[b]) * (int(labels.max()) + 1) + np.maximum(labels[a], labels[b])
        known = np.array([x * (int(labels.max()) + 1) + y for x, y in same])
        keep &= ~np.isin(pair_labels, known)
    if keep.sum() < len(keep) / 2:  # most images match none of their folder: there is nothing to set apart
        keep[:] = True
    similarity = pair_similarities(unit, a[keep], b[keep])
    gallery = int(valid.sum()) - 1
    p = pairwise_fmr_for_search(search_far, gallery)
    search = min(1.0, tail_threshold(similarity, p))
    return Thresholds(
        pair=tail_threshold(similarity, PAIR_FMR),
        group=tail_threshold(similarity, GROUP_FMR),
        search=search,
        search_pairwise_fmr=p,
        own=own_threshold,
        identity=identity,
        duplicate=max(duplicate, search),
        search_far=search_far,
        own_fmr=own_fmr,
        gallery=gallery,
        non_mated=len(similarity),
    )

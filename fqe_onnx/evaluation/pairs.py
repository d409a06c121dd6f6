"""Comparison pairs for evaluation: mated pairs within each identity (capped per identity), a seeded
random sample of non-mated pairs across identities, and their cosine similarities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from ..errors import FqeError

#: At most this many mated pairs per identity (a seeded sample beyond it), so one person cannot dominate.
MATED_CAP = 500
#: Non-mated comparisons sampled by default: enough for a threshold at FMR 1e-4 (see edc.MIN_FALSE_MATCHES).
NON_MATED = 200_000
MIN_IDENTITIES = 2


@dataclass(frozen=True)
class Pairs:
    """Index pairs (a, b) into the image list, mated or not."""

    a: np.ndarray
    b: np.ndarray
    mated: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.a)


def pair_at(rank: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i, j), 0 <= i < j < m, at positions ``rank`` of their lexicographic order (the
    order of ``itertools.combinations(range(m), 2)``), without listing the others."""
    rank = np.asarray(rank, dtype=np.int64)
    # row i starts at i*m - i*(i+1)/2: invert that quadratic in floats (0 <= estimate <= m - 1), then
    # step the estimate until start(i) <= rank < start(i + 1), whatever the rounding did
    i = np.floor(((2 * m - 1) - np.sqrt(np.maximum((2 * m - 1) ** 2 - 8.0 * rank, 0.0))) / 2).astype(np.int64)

    def start(row: np.ndarray) -> np.ndarray:
        return row * m - row * (row + 1) // 2

    while True:  # the float estimate can be a few rows off near the end of a very large m (3e8: two)
        over, under = start(i) > rank, start(i + 1) <= rank
        if not (over.any() or under.any()):
            return i, rank - start(i) + i + 1
        i = i - over + under


def mated_pairs(identities: Sequence[str], cap: int = MATED_CAP, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All pairs within each identity, at most ``cap`` per identity (a seeded sample beyond).

    Memory is O(images + cap x identities): a capped identity's pairs are drawn by their rank in
    the lexicographic order, never all listed (20,000 images of one person have 2e8 pairs)."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for index, identity in enumerate(identities):
        groups.setdefault(identity, []).append(index)
    a: list[np.ndarray] = [np.zeros(0, np.int64)]
    b: list[np.ndarray] = [np.zeros(0, np.int64)]
    for identity in sorted(groups):
        members = np.array(groups[identity], dtype=np.int64)
        m = len(members)
        total = m * (m - 1) // 2
        ranks = np.arange(total) if total <= cap else np.sort(rng.choice(total, size=cap, replace=False))
        i, j = pair_at(ranks, m)
        a.append(members[i])
        b.append(members[j])
    return np.concatenate(a), np.concatenate(b)


def non_mated_pairs(
    identities: Union[Sequence[str], Sequence[int]], count: int = NON_MATED, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct cross-identity pairs (a < b), seeded; all of them when there are fewer."""
    labels = np.unique(np.asarray(identities), return_inverse=True)[1].reshape(-1)
    n = len(labels)
    sizes = np.bincount(labels)
    possible = n * (n - 1) // 2 - int(np.sum(sizes * (sizes - 1) // 2))
    if possible <= count or 2 * possible < n * (n - 1) // 2:
        return cross_pairs(labels, count, np.random.default_rng(seed + 1))
    # most pairs are non-mated: draw pairs at random and drop mated and repeated ones
    rng = np.random.default_rng(seed + 1)
    chosen: set[int] = set()
    while len(chosen) < count:
        i = rng.integers(0, n, size=2 * (count - len(chosen)) + 16)
        j = rng.integers(0, n, size=len(i))
        keep = labels[i] != labels[j]
        low, high = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
        for key in (low * n + high).tolist():
            if len(chosen) == count:
                break
            chosen.add(key)
    keys = np.array(sorted(chosen), dtype=np.int64)
    return keys // n, keys % n


def cross_pairs(labels: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct pairs (a < b) of different labels, drawn uniformly by their rank (all of
    them when there are fewer), sorted; memory O(images + count), however few such pairs exist.

    With images ordered by label, the image at position p pairs with every position from the end
    of its label's block on, so the k-th cross pair is found by a binary search on those counts."""
    n = len(labels)
    order = np.argsort(labels, kind="stable")
    block_end = np.cumsum(np.bincount(labels))[labels[order]]  # per position: where its label's block ends
    partners = n - block_end
    first = np.concatenate(([0], np.cumsum(partners)))  # rank of each position's first cross pair
    possible = int(first[-1])
    ranks = np.arange(possible) if possible <= count else rng.choice(possible, size=count, replace=False)
    p = np.searchsorted(first, ranks, side="right") - 1
    q = block_end[p] + (ranks - first[p])
    a, b = order[p], order[q]
    keys = np.sort(np.minimum(a, b) * n + np.maximum(a, b))
    return keys // n, keys % n


def comparison_pairs(
    identities: Sequence[str], cap: int = MATED_CAP, non_mated: int = NON_MATED, seed: int = 0
) -> Pairs:
    """Mated and non-mated pairs of images labelled by identity; FqeError when there are too few."""
    if len(set(identities)) < MIN_IDENTITIES:
        raise FqeError(
            f"evaluation needs at least {MIN_IDENTITIES} identities (one folder each), got {len(set(identities))}"
        )
    ma, mb = mated_pairs(identities, cap, seed)
    if len(ma) == 0:
        raise FqeError("no identity has two images: there are no mated comparisons to evaluate")
    na, nb = non_mated_pairs(identities, non_mated, seed)
    return Pairs(
        np.concatenate([ma, na]),
        np.concatenate([mb, nb]),
        np.concatenate([np.ones(len(ma), bool), np.zeros(len(na), bool)]),
    )


def cosine_similarities(embeddings: Sequence[Optional[np.ndarray]], pairs: Pairs) -> np.ndarray:
    """Cosine similarity of each pair's L2-normalised embeddings; -inf where an image has none (it
    failed) or one with no direction (zero or non-finite), so a failed mated comparison is a false
    non-match and a failed non-mated one no match."""
    dim = next((len(e) for e in embeddings if e is not None), 0)
    unit = np.zeros((len(embeddings), max(dim, 1)), dtype=np.float64)
    failed = np.zeros(len(embeddings), dtype=bool)
    for index, embedding in enumerate(embeddings):
        if embedding is None:
            failed[index] = True
            continue
        vector = np.asarray(embedding, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if not (np.isfinite(norm) and norm > 0):  # zero, inf or NaN: no direction, a failed image
            failed[index] = True
            continue
        unit[index] = vector / norm
    similarity = np.einsum("ij,ij->i", unit[pairs.a], unit[pairs.b])
    similarity[failed[pairs.a] | failed[pairs.b]] = -np.inf
    return similarity

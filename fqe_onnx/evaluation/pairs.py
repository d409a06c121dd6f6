"""Comparison pairs for evaluation: mated pairs within each identity (capped per identity), a seeded
random sample of non-mated pairs across identities, and their cosine similarities."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Optional, Sequence

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


def mated_pairs(identities: Sequence[str], cap: int = MATED_CAP, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All pairs within each identity, at most ``cap`` per identity (a seeded sample beyond)."""
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for index, identity in enumerate(identities):
        groups.setdefault(identity, []).append(index)
    a: list[int] = []
    b: list[int] = []
    for identity in sorted(groups):
        pairs = list(combinations(groups[identity], 2))
        if len(pairs) > cap:
            pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), size=cap, replace=False))]
        a += [p[0] for p in pairs]
        b += [p[1] for p in pairs]
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


def non_mated_pairs(identities: Sequence[str], count: int = NON_MATED, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct cross-identity pairs (a < b), seeded; all of them when there are fewer."""
    labels = np.unique(np.asarray(identities), return_inverse=True)[1]
    n = len(labels)
    sizes = np.bincount(labels)
    possible = n * (n - 1) // 2 - int(np.sum(sizes * (sizes - 1) // 2))
    if possible <= count:
        i, j = np.triu_indices(n, k=1)
        keep = labels[i] != labels[j]
        return i[keep].astype(np.int64), j[keep].astype(np.int64)
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


def comparison_pairs(identities: Sequence[str], cap: int = MATED_CAP, non_mated: int = NON_MATED,
                     seed: int = 0) -> Pairs:
    """Mated and non-mated pairs of images labelled by identity; FqeError when there are too few."""
    if len(set(identities)) < MIN_IDENTITIES:
        raise FqeError(f"evaluation needs at least {MIN_IDENTITIES} identities (one folder each), got {len(set(identities))}")
    ma, mb = mated_pairs(identities, cap, seed)
    if len(ma) == 0:
        raise FqeError("no identity has two images: there are no mated comparisons to evaluate")
    na, nb = non_mated_pairs(identities, non_mated, seed)
    return Pairs(np.concatenate([ma, na]), np.concatenate([mb, nb]),
                 np.concatenate([np.ones(len(ma), bool), np.zeros(len(na), bool)]))


def cosine_similarities(embeddings: Sequence[Optional[np.ndarray]], pairs: Pairs) -> np.ndarray:
    """Cosine similarity of each pair's L2-normalised embeddings; -inf where an image has none (it
    failed), so a failed mated comparison is a false non-match and a failed non-mated one no match."""
    dim = next((len(e) for e in embeddings if e is not None), 0)
    unit = np.zeros((len(embeddings), max(dim, 1)), dtype=np.float64)
    failed = np.array([e is None for e in embeddings])
    for index, embedding in enumerate(embeddings):
        if embedding is not None:
            vector = np.asarray(embedding, dtype=np.float64).reshape(-1)
            unit[index] = vector / np.linalg.norm(vector)
    similarity = np.einsum("ij,ij->i", unit[pairs.a], unit[pairs.b])
    similarity[failed[pairs.a] | failed[pairs.b]] = -np.inf
    return similarity

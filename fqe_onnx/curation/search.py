"""Nearest neighbours in fixed-size blocks: memory bounded by the block, never an N x N matrix.

Cosine similarity of L2-normalised float32 embeddings (inner products). ``cross_search`` finds
each image's most similar images of *other* identities, exactly (every pair, one block of
``block`` x ``block`` similarities at a time) or through a faiss index (the curate extra), which
is approximate: ``ann_recall`` measures it against the exact answer. ``within_identity`` works
per identity (the sizes of the identities bound its blocks), for the own-identity statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ..errors import FqeError

#: Query and gallery rows per block: 2048 x 2048 float32 similarities are 16 MiB.
BLOCK = 2048
#: Most similar images of other identities kept per image.
K_OTHER = 8
ENGINES = ("exact", "faiss")

Progress = Optional[Callable[[int], None]]


@dataclass(frozen=True)
class Neighbours:
    """Per query, the ``k`` most similar images of another identity, best first (index -1 and
    similarity -inf where there are fewer)."""

    index: np.ndarray  # int64, N x k
    similarity: np.ndarray  # float32, N x k


def _merge_top(
    best_i: np.ndarray, best_s: np.ndarray, cand_i: np.ndarray, cand_s: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k highest of two candidate sets per row, unsorted."""
    all_s = np.concatenate([best_s, cand_s], axis=1)
    all_i = np.concatenate([best_i, cand_i], axis=1)
    if all_s.shape[1] > k:
        keep = np.argpartition(-all_s, k - 1, axis=1)[:, :k]
        all_s = np.take_along_axis(all_s, keep, axis=1)
        all_i = np.take_along_axis(all_i, keep, axis=1)
    return all_i, all_s


def _sorted(index: np.ndarray, similarity: np.ndarray) -> Neighbours:
    order = np.argsort(-similarity, axis=1, kind="stable")
    return Neighbours(np.take_along_axis(index, order, axis=1), np.take_along_axis(similarity, order, axis=1))


def exact_cross_search(
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    k: int = K_OTHER,
    block: int = BLOCK,
    queries: Optional[np.ndarray] = None,
    progress: Progress = None,
) -> Neighbours:
    """The ``k`` most similar valid images of another label for each query (default: every image;
    else the row indices in ``queries``), by every inner product, one block at a time.

    ``unit``: N x D float32, L2-normalised; ``labels``: N ints; ``valid``: N bools (invalid images
    are neither queries' answers nor, when they are queries, given any). Memory: O(block^2 + N k)."""
    unit = np.ascontiguousarray(unit, dtype=np.float32)
    labels = np.asarray(labels)
    rows = np.arange(len(unit)) if queries is None else np.asarray(queries, dtype=np.int64)
    gallery = np.flatnonzero(valid)
    out_i = np.full((len(rows), k), -1, dtype=np.int64)
    out_s = np.full((len(rows), k), -np.inf, dtype=np.float32)
    for q0 in range(0, len(rows), block):
        q_rows = rows[q0 : q0 + block]
        q = unit[q_rows]
        best_i, best_s = out_i[q0 : q0 + block], out_s[q0 : q0 + block]
        for g0 in range(0, len(gallery), block):
            g_rows = gallery[g0 : g0 + block]
            sims = q @ unit[g_rows].T
            sims[labels[q_rows][:, None] == labels[g_rows][None, :]] = -np.inf  # same identity, and self
            take = min(k, sims.shape[1])
            part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
            best_i, best_s = _merge_top(best_i, best_s, g_rows[part], np.take_along_axis(sims, part, axis=1), k)
        best_s[~valid[q_rows]] = -np.inf
        best_i[~valid[q_rows]] = -1
        best_i[~np.isfinite(best_s)] = -1
        sorted_ = _sorted(best_i, best_s)
        out_i[q0 : q0 + block], out_s[q0 : q0 + block] = sorted_.index, sorted_.similarity
        if progress is not None:
            progress(len(q_rows))
    return Neighbours(out_i, out_s)


def import_faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise FqeError("--index faiss needs faiss: pip install faiss-cpu (the curate extra)") from None
    return faiss


def faiss_index(unit: np.ndarray, valid: np.ndarray, lists: Optional[int] = None, seed: int = 0) -> Any:
    """An inverted-file index (IVF, flat lists, inner product) over the valid rows, trained on a
    seeded sample of at most 64 images per list. ``lists`` defaults to about sqrt(N)."""
    faiss = import_faiss()
    gallery = np.flatnonzero(valid)
    dim = unit.shape[1]
    lists = lists or max(1, min(65536, int(np.sqrt(max(len(gallery), 1)))))
    lists = min(lists, max(1, len(gallery) // 39))  # faiss wants 39 training points per list
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = gallery if len(gallery) <= 64 * lists else np.sort(rng.choice(gallery, 64 * lists, replace=False))
    index.train(np.ascontiguousarray(unit[sample], dtype=np.float32))
    for start in range(0, len(gallery), 65536):
        part = gallery[start : start + 65536]
        index.add_with_ids(np.ascontiguousarray(unit[part], dtype=np.float32), part.astype(np.int64))
    return index


def faiss_cross_search(
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    k: int = K_OTHER,
    probes: int = 16,
    fetch: int = 64,
    queries: Optional[np.ndarray] = None,
    index: Any = None,
    block: int = BLOCK,
    progress: Progress = None,
) -> Neighbours:
    """As ``exact_cross_search``, through a faiss IVF index: each query asks for its ``fetch``
    nearest images in ``probes`` lists, and those of its own identity are dropped. Approximate: a
    neighbour can be missed (in a list not probed, or behind more than ``fetch - k`` images of the
    query's own identity)."""
    faiss_index_ = index if index is not None else faiss_index(unit, valid)
    faiss_index_.nprobe = probes
    labels = np.asarray(labels)
    rows = np.arange(len(unit)) if queries is None else np.asarray(queries, dtype=np.int64)
    out_i = np.full((len(rows), k), -1, dtype=np.int64)
    out_s = np.full((len(rows), k), -np.inf, dtype=np.float32)
    for q0 in range(0, len(rows), block):
        q_rows = rows[q0 : q0 + block]
        sims, found = faiss_index_.search(np.ascontiguousarray(unit[q_rows], dtype=np.float32), fetch)
        same = (found < 0) | (labels[np.maximum(found, 0)] == labels[q_rows][:, None])
        sims = np.where(same, -np.inf, sims).astype(np.float32)
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(sims, order, axis=1)
        best_i = np.where(np.isfinite(best_s), np.take_along_axis(found, order, axis=1), -1)
        best_s[~valid[q_rows]], best_i[~valid[q_rows]] = -np.inf, -1
        width = best_s.shape[1]
        out_i[q0 : q0 + block, :width], out_s[q0 : q0 + block, :width] = best_i, best_s
        if progress is not None:
            progress(len(q_rows))
    return Neighbours(out_i, out_s)


def cross_search(
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    engine: str = "exact",
    k: int = K_OTHER,
    progress: Progress = None,
) -> Neighbours:
    """Each image's ``k`` most similar images of other identities, by ``engine`` (exact or faiss)."""
    if engine == "exact":
        return exact_cross_search(unit, labels, valid, k, progress=progress)
    if engine == "faiss":
        return faiss_cross_search(unit, labels, valid, k, progress=progress)
    raise FqeError(f"unknown search index {engine!r}: one of {', '.join(ENGINES)}")


def ann_recall(exact: Neighbours, approximate: Neighbours) -> float:
    """Share of queries (with an exact answer) whose nearest image of another identity the
    approximate search also found first (ties in similarity count as found)."""
    has = exact.index[:, 0] >= 0
    if not has.any():
        return float("nan")
    same = (approximate.index[has, 0] == exact.index[has, 0]) | np.isclose(
        approximate.similarity[has, 0], exact.similarity[has, 0], rtol=0, atol=1e-6
    )
    return float(np.mean(same))


def groups(labels: np.ndarray) -> Iterator[np.ndarray]:
    """Row indices of each label, labels in ascending order."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    yield from np.split(order, bounds)


def block_similarities(unit: np.ndarray, members: np.ndarray, block: int = BLOCK) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, similarities of rows first..first+b against all ``members``) for one group, in
    blocks of rows: a group of n images costs block x n floats at a time."""
    vectors = unit[members]
    for start in range(0, len(members), block):
        yield start, vectors[start : start + block] @ vectors.T


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1)).astype(np.float32)


def same_person_pairs(sums: np.ndarray, counts: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """Pairs of labels (a < b, with their similarity) whose mean embeddings are more alike than
    ``threshold`` (the per-folder false-alarm rate over the search of all folders): two folders
    that hold one person. Found by the blocked search over one mean per label."""
    present = np.flatnonzero(counts > 0)
    if len(present) < 2:
        return []
    centroids = unit_rows(sums[present])
    found = exact_cross_search(centroids, np.arange(len(present)), np.ones(len(present), bool), k=4)
    pairs = set()
    for row in range(len(present)):
        for other, similarity in zip(found.index[row].tolist(), found.similarity[row].tolist()):
            if other >= 0 and similarity >= threshold:
                a, b = sorted((int(present[row]), int(present[other])))
                pairs.add((a, b, float(similarity)))
    return sorted(pairs)

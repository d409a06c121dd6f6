"""The curation search step alone on synthetic 512-D embeddings (default 1M): time and peak memory,
exact and through a faiss IVF index, and the index's recall against exact search.

The embeddings: random directions for the people, each image one of them plus noise (mated
similarity about 0.7, as a face model's), float32, unit length, made in chunks; and 1% of the images
replaced by a near copy of an image of another person (similarity 0.5 to 0.97: misfiled photos and
duplicates, what the search is for). An exact search of every image against
every other (N^2 inner products) takes hours on a small machine, so the exact search runs on a
seeded sample of QUERIES images against the whole gallery and its time is scaled by N / QUERIES
(each query costs the same full pass over the gallery: the time is linear in the queries). The
index is trained and filled once; its search is timed on the same queries and on INDEX_QUERIES,
and scaled the same way. Recall: the share of sampled queries whose nearest image of another
identity the index also returns first, over all queries and over those whose nearest other image is
at least 0.5 similar (the look-alikes a threshold keeps; in random directions an image's nearest
non-mated image is no nearer than many others, which no index finds). Peak memory: tracemalloc's peak during each step, above the
embeddings themselves (N x 512 float32: 2 GiB for 1M).

    python benchmarks/curation_scale.py [--images 1000000] [--queries 1000] [--probes 8,32]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from fqe_onnx.curation.search import Neighbours, ann_recall, exact_cross_search, faiss_cross_search, faiss_index
from fqe_onnx.machine import describe_line


def synthetic(images: int, per_person: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    people = images // per_person
    centres = rng.standard_normal((people, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(people), per_person)[:images]
    unit = np.empty((images, dim), dtype=np.float32)
    for start in range(0, images, 65536):
        part = labels[start : start + 65536]
        noise = rng.standard_normal((len(part), dim), dtype=np.float32)
        noise *= 0.6 / np.linalg.norm(noise, axis=1, keepdims=True)
        block = centres[part] + noise
        unit[start : start + len(part)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    planted = rng.choice(images, size=images // 100, replace=False)
    for start in range(0, len(planted), 65536):
        rows = planted[start : start + 65536]
        sources = rng.integers(0, images, size=len(rows))
        sources = np.where(labels[sources] == labels[rows], (sources + per_person) % images, sources)
        noise = rng.standard_normal((len(rows), dim), dtype=np.float32)
        noise *= rng.uniform(0.25, 1.7, size=(len(rows), 1)).astype(np.float32) / np.linalg.norm(
            noise, axis=1, keepdims=True
        )
        block = unit[sources] + noise
        unit[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return unit, labels, planted


def measured(call):
    tracemalloc.start()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--per-person", type=int, default=10)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--index-queries", type=int, default=20_000)
    parser.add_argument("--probes", default="8,32")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = args.images
    (unit, labels, planted), seconds, _ = measured(lambda: synthetic(n, args.per_person, 512, args.seed))
    print(
        f"{n} synthetic 512-D embeddings of {n // args.per_person} people made in {seconds:.1f} s "
        f"({unit.nbytes / 2**30:.2f} GiB)"
    )
    valid = np.ones(n, bool)
    rng = np.random.default_rng(args.seed + 1)
    queries = np.unique(
        np.concatenate(
            [
                rng.choice(n, size=args.queries, replace=False),
                rng.choice(planted, size=min(args.queries, len(planted)), replace=False),
            ]
        )
    )
    exact, seconds, peak = measured(lambda: exact_cross_search(unit, labels, valid, queries=queries))
    near = exact.similarity[:, 0] >= 0.5
    print(
        f"exact: {len(queries)} queries (half of them planted look-alikes; {int(near.sum())} with a nearest "
        f"other at similarity >= 0.5) against all {n} in {seconds:.1f} s, peak {peak / 2**20:.0f} MiB; "
        f"all {n} queries: about {seconds * n / len(queries) / 3600:.1f} h at this rate"
    )
    index, seconds, peak = measured(lambda: faiss_index(unit, valid, seed=args.seed))
    print(
        f"faiss IVF index ({index.nlist} lists, flat): trained and filled in {seconds:.1f} s, peak {peak / 2**20:.0f} MiB "
        f"(the index holds a copy of the embeddings)"
    )
    more = np.sort(rng.choice(n, size=min(args.index_queries, n), replace=False))
    for probes in (int(p) for p in args.probes.split(",")):
        approximate, _, _ = measured(
            lambda probes=probes: faiss_cross_search(unit, labels, valid, queries=queries, index=index, probes=probes)
        )
        _, seconds, peak = measured(
            lambda probes=probes: faiss_cross_search(unit, labels, valid, queries=more, index=index, probes=probes)
        )
        close = [
            ann_recall(
                Neighbours(exact.index[m], exact.similarity[m]),
                Neighbours(approximate.index[m], approximate.similarity[m]),
            )
            for m in (near, exact.similarity[:, 0] >= 0.7)
        ]
        print(
            f"faiss, {probes} probes: recall {ann_recall(exact, approximate):.3f} against exact on all "
            f"{len(queries)} queries, {close[0]:.3f} on those at >= 0.5, {close[1]:.3f} at >= 0.7; {len(more)} queries in {seconds:.1f} s, peak {peak / 2**20:.0f} MiB; "
            f"all {n} queries: about {seconds * n / len(more) / 60:.1f} min"
        )


if __name__ == "__main__":
    main()

"""Curation on LFW with seeded, planted errors of each kind: precision and recall per kind, the share
of untouched images flagged, time and peak memory (default model, ``--align auto``).

Planted from real faces of the set (seeded):
* moved: 2% of the images moved to another identity's folder (of at least 3 images);
* duplicate: 20 photos copied into another identity's folder, each cropped by 2-6% per side,
  resized by 0.6-0.9 and re-encoded as JPEG at quality 60-85;
* split: 5 identities (at least 4 images; ``--splits N``) whose images are split in two halves under two names;
* merged: 5 pairs of identities (at least 3 images each) put into one folder.
Kinds never share an identity (a moved image or a copy goes into an untouched folder).

What counts: moved, an image with ``not-own-identity``; duplicate, a pair (copy, original) joined by
``duplicate-of``; split, a pair of folders joined by ``same-person-as``; merged, a ``mixed`` folder.
Precision: the share of what was flagged with that reason that was planted (a moved image's
``not-own-identity`` is counted against moved images and planted copies both, as a copy in a wrong
folder is not its identity either). LFW's own label errors and near-identical frames count against
precision: nothing is assumed about the set. A second precision leaves out what the same settings
flag on the set before anything is planted (the same keys: LFW's own near-identical frames and
mixed folders), so it reads as the precision on the planted errors alone. Untouched: images in folders no kind touched, other
than the destination folders' own images and the originals of the copies; flagged: decision other than keep.

The review load: what a reviewer goes through. Before findings, the page listed every flagged folder and
every flagged image (decision other than keep); now it lists findings, one per question. Recall per kind is
counted twice, from the reasons (as above) and from the findings: a moved image is found when a finding
(misfiled, or a duplicate pair) has it as a member; a copy, when a duplicate finding is its pair; a split,
when a same-person finding is its two folders; a merge, when a mixed finding is its folder. The rank is
checked by where the findings that are not planted errors fall.

The originals are embedded once (through ``Scorer.embed_sources``, the path ``curate`` takes) and
cached with ``--cache FILE.npy``; the copies are written to a temporary folder and embedded every
run. Time and peak memory (tracemalloc) are those of the curation step (``fqe_onnx.curation.curate``).

    python benchmarks/curation.py [--seed 0] [--cache /tmp/lfw-embeddings.npy] [--splits 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.curation.pipeline import Settings, curate, describe, summary
from fqe_onnx.curation.store import EmbeddingStore, StoreWriter, read_store
from fqe_onnx.sources import ImageSource, find_images
from verification import LFW_DEV
from fqe_onnx.machine import describe_line

DUPLICATES, SPLITS, MERGES, MOVED_SHARE = 20, 5, 5, 0.02


def embed_store(sources: list[ImageSource], path: Path) -> EmbeddingStore:
    with Scorer(None) as scorer, StoreWriter(path, len(sources)) as writer:
        for _ in writer.tee(scorer.embed_sources(sources)):
            pass
    return read_store(path)


def original_store(cache: Path | None, scratch: Path) -> EmbeddingStore:
    if cache is not None and cache.exists():
        return read_store(cache)
    store = embed_store(find_images(LFW_DEV), cache or scratch / "lfw.npy")
    return store


def copy_image(source: Path, target: Path, rng: np.random.Generator) -> None:
    image = cv2.imread(str(source))
    h, w = image.shape[:2]
    top, left, bottom, right = (int(round(f * s)) for f, s in zip(rng.uniform(0.02, 0.06, 4), (h, w, h, w)))
    image = image[top : h - bottom, left : w - right]
    scale = rng.uniform(0.6, 0.9)
    image = cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    target.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 86))])


def plant(store: EmbeddingStore, seed: int, scratch: Path, splits: int = SPLITS):
    """The planted store and the truth of each kind."""
    rng = np.random.default_rng(seed)
    records = list(store.records)
    by_identity: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_identity.setdefault(r.identity, []).append(i)
    names = sorted(by_identity)
    order = [names[i] for i in rng.permutation(len(names))]
    used: set[str] = set()

    def take(count: int, min_size: int) -> list[str]:
        chosen = [n for n in order if n not in used and len(by_identity[n]) >= min_size][:count]
        used.update(chosen)
        return chosen

    split = take(splits, 4)
    merged = take(2 * MERGES, 3)
    identity = {i: r.identity for i, r in enumerate(records)}
    split_pairs = set()
    for name in split:
        members = rng.permutation(by_identity[name])
        for i in members[: len(members) // 2]:
            identity[int(i)] = f"{name}__second_folder"
        split_pairs.add(frozenset((name, f"{name}__second_folder")))
    merged_folders = set()
    for a, b in zip(merged[0::2], merged[1::2]):
        for i in by_identity[b]:
            identity[i] = a
        merged_folders.add(a)
    free = [n for n in names if n not in used]
    destinations = [n for n in free if len(by_identity[n]) >= 3]
    sources = [i for n in free for i in by_identity[n]]
    moved_count = int(round(MOVED_SHARE * len(records)))
    picked = rng.choice(sources, moved_count + DUPLICATES, replace=False)
    moved, originals = [int(i) for i in picked[:moved_count]], [int(i) for i in picked[moved_count:]]
    for i in moved:
        identity[i] = str(rng.choice([d for d in destinations if d != records[i].identity]))
    rows = [replace(r, identity=identity[i], path=f"{identity[i]}/{Path(r.path).name}") for i, r in enumerate(records)]
    copies = []
    for k, i in enumerate(originals):
        target = str(rng.choice([d for d in destinations if d != records[i].identity]))
        path = scratch / "copies" / target / f"copy_{k}_{Path(records[i].path).name}"
        copy_image(LFW_DEV / records[i].path, path, rng)
        copies.append(ImageSource(path, f"{target}/{path.name}", target))
    copied = embed_store(copies, scratch / "copies.npy")
    planted = EmbeddingStore(rows + copied.records, np.concatenate([store.embeddings, copied.embeddings]))
    truth = {
        "moved": {rows[i].path for i in moved},
        "duplicate": {frozenset((rows[i].path, c.name)) for i, c in zip(originals, copies)},
        "split": split_pairs,
        "merged": merged_folders,
        "copies": {c.name for c in copies},
        "originals": {rows[i].path for i in originals},
        "touched_identities": set(used),
    }
    return planted, truth


def score(found: set, truth: set) -> tuple[float, float, int, int]:
    hits = len(found & truth)
    return (hits / len(found) if found else float("nan")), hits / len(truth), len(found), len(truth)


def flags(result, paths: list[str]) -> tuple[set, set, set, set]:
    """What a curation flags, keyed as the truth is: not-own-identity paths, duplicate path pairs,
    same-person identity pairs, mixed identities."""
    not_own = {p for p, v in zip(paths, result.verdicts) if "not-own-identity" in v.reasons}
    duplicates = {frozenset((paths[i], paths[v.duplicate])) for i, v in enumerate(result.verdicts) if v.duplicate >= 0}
    same = {frozenset((v.identity, other)) for v in result.identities for other in v.same_person_as}
    mixed = {v.identity for v in result.identities if v.mixed}
    return not_own, duplicates, same, mixed


def finding_flags(result) -> tuple[set, set, set, set]:
    """What the findings cover, keyed as the truth is: images that are members of a misfiled or
    duplicate finding, duplicate pairs, same-person folder pairs, mixed folders."""
    images = {m for f in result.findings if f.kind in ("misfiled", "duplicate") for m in f.members}
    duplicates = {frozenset(f.members) for f in result.findings if f.kind == "duplicate"}
    same = {frozenset(f.members) for f in result.findings if f.kind == "same-person"}
    mixed = {f.members[0] for f in result.findings if f.kind == "mixed"}
    return images, duplicates, same, mixed


def is_planted(finding, truth: dict) -> bool:
    members = set(finding.members)
    return {
        "misfiled": bool(members & (truth["moved"] | truth["copies"])),  # a copy found as misfiled, not as a copy
        "duplicate": frozenset(members) in truth["duplicate"],
        "same-person": frozenset(members) in truth["split"],
        "mixed": bool(members & truth["merged"]),
        "looks-like": frozenset(members) in truth["split"],
    }.get(  # a split found through its images
        finding.kind, False
    )


def review_load(result, truth: dict) -> None:
    """The review load before (flagged folders plus flagged images) and now (findings), recall per
    kind from the findings, and where the findings that are not planted errors rank."""
    from collections import Counter

    from fqe_onnx.curation.findings import KINDS

    folders = sum(bool(v.reasons) for v in result.identities)
    images = sum(v.decision != "keep" for v in result.verdicts)
    kinds = Counter(f.kind for f in result.findings)
    planted_count = sum(len(truth[k]) for k in ("moved", "duplicate", "split", "merged"))
    planted = [f for f in result.findings if is_planted(f, truth)]
    print(
        f"\nreview load: {folders + images} rows before ({folders} flagged folders + {images} flagged images), "
        f"{len(result.findings)} findings now ({', '.join(f'{k} {kinds[k]}' for k in KINDS if kinds[k])}), "
        f"for {planted_count} planted errors, {len(planted)} of the findings being one"
    )
    covered = finding_flags(result)
    print(f"{'kind':<10} {'recall from findings':>20} {'planted':>8}")
    for kind, found, key in (
        ("moved", covered[0], "moved"),
        ("duplicate", covered[1], "duplicate"),
        ("split", covered[2], "split"),
        ("merged", covered[3], "merged"),
    ):
        print(f"{kind:<10} {len(found & truth[key]) / len(truth[key]):>20.3f} {len(truth[key]):>8}")
    others = [f for f in result.findings if not is_planted(f, truth)]
    print(
        f"findings that are not planted errors, by rank of {len(result.findings)}: "
        + (", ".join(f"#{f.rank} {f.kind} {' '.join(f.members)}" for f in others) or "none")
    )


def tail_check(store: EmbeddingStore) -> None:
    """The search threshold's tail against every non-mated pair of the unplanted set: how many pairs
    reach the threshold extrapolated to each FMR, and how many that FMR predicts."""
    from fqe_onnx.curation.pipeline import integer_labels
    from fqe_onnx.curation.thresholds import pair_similarities, sample_non_mated, tail_threshold

    unit, labels, valid = store.unit(), integer_labels([r.identity for r in store.records]), store.ok
    a, b = sample_non_mated(labels, valid, 200_000, 0)
    sample = pair_similarities(unit, a, b)
    rows = np.flatnonzero(valid)
    sims = unit[rows] @ unit[rows].T
    upper = np.triu(np.ones(sims.shape, bool), 1) & (labels[rows][:, None] != labels[rows][None, :])
    every = sims[upper]
    print(f"tail check on all {len(every)} non-mated pairs of the unplanted set (threshold from a sample of 200,000):")
    for fmr in (1e-4, 1e-5, 5e-6):
        threshold = tail_threshold(sample, fmr)
        print(
            f"  FMR {fmr:g}: threshold {threshold:.4f}, {int(np.sum(every >= threshold))} pairs reach it, "
            f"{fmr * len(every):.1f} expected"
        )


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, help="npy store of the LFW embeddings (written when missing)")
    parser.add_argument("--no-tail-check", action="store_true", help="skip the check of the tail on all pairs")
    parser.add_argument("--splits", type=int, default=SPLITS, help="identities split in two folders")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        store = original_store(args.cache, scratch)
        planted, truth = plant(store, args.seed, scratch, args.splits)
        tracemalloc.start()
        started = time.perf_counter()
        result = curate(planted, Settings())
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    paths = [r.path for r in planted.records]
    flagged_not_own, duplicate_pairs, same, mixed = flags(result, paths)
    # what the same settings flag on the set before anything was planted: LFW's own cases
    own = flags(curate(store, Settings()), [r.path for r in store.records])
    rows = [("moved", *score(flagged_not_own, truth["moved"] | truth["copies"]))]
    rows[0] = ("moved", rows[0][1], score(flagged_not_own, truth["moved"])[1], rows[0][3], len(truth["moved"]))
    rows += [
        ("duplicate", *score(duplicate_pairs, truth["duplicate"])),
        ("split", *score(same, truth["split"])),
        ("merged", *score(mixed, truth["merged"])),
    ]
    print(describe(summary(result)))
    print(f"\nplanted: seed {args.seed}, {len(planted.records)} images ({len(truth['copies'])} copies)")
    print(
        f"{'kind':<10} {'precision':>9} {'recall':>7} {'flagged':>8} {'planted':>8}  precision without the unplanted set's own flags"
    )
    own_precision = [
        score(flagged_not_own - own[0], truth["moved"] | truth["copies"])[0],
        score(duplicate_pairs - own[1], truth["duplicate"])[0],
        score(same - own[2], truth["split"])[0],
        score(mixed - own[3], truth["merged"])[0],
    ]
    for (kind, precision, recall, found, planted_count), without_own in zip(rows, own_precision):
        print(f"{kind:<10} {precision:>9.3f} {recall:>7.3f} {found:>8} {planted_count:>8}  {without_own:.3f}")
    print(
        f"flags on the unplanted set itself: {len(own[0])} not-own-identity, {len(own[1])} duplicate pairs, "
        f"{len(own[2])} same-person pairs, {len(own[3])} mixed folders"
    )
    touched = truth["touched_identities"]
    untouched = [
        i
        for i, r in enumerate(planted.records)
        if r.path not in truth["moved"] | truth["copies"] | truth["originals"]
        and r.identity not in touched
        and not r.identity.endswith("__second_folder")
    ]
    flagged = [i for i in untouched if result.verdicts[i].decision != "keep"]
    print(f"untouched images flagged: {len(flagged)} of {len(untouched)} ({len(flagged) / len(untouched):.2%})")
    for i in flagged:
        print(f"  {paths[i]}: {result.verdicts[i].decision} {' '.join(result.verdicts[i].reasons)}")
    for item in sorted(flagged_not_own - truth["moved"] - truth["copies"]):
        print(f"  not-own-identity, not planted: {item}")
    for kind, found, truth_set in (
        ("duplicate", duplicate_pairs, truth["duplicate"]),
        ("split", same, truth["split"]),
        ("merged", mixed, truth["merged"]),
    ):
        for item in sorted(map(str, found - truth_set)):
            print(f"  {kind} flagged, not planted: {item}")
        for item in sorted(map(str, truth_set - found)):
            print(f"  {kind} planted, missed: {item}")
    review_load(result, truth)
    if not args.no_tail_check:
        tail_check(store)
    print(
        f"curation step: {seconds:.2f} s ({', '.join(f'{k} {v:.2f} s' for k, v in result.seconds.items())}), "
        f"peak traced memory {peak / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()

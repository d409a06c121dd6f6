"""From embeddings, neighbours and thresholds to a decision and stable reasons per image and per
identity. Pure functions on arrays; the user's files are never touched.

Per image: an error kind, ``low-quality``, ``not-own-identity``, ``looks-like:IDENTITY``,
``duplicate-of:PATH`` and ``too-few-to-check`` (see docs/guides/curation.md). Decisions:
``reject`` for an image that failed, a low-quality image and the later of two near-identical
copies in one identity; ``review`` for a label question (it may be a twin, a sibling or the
wrong folder, which only a person can say); ``keep`` otherwise. Per identity: ``same-person-as``
and ``mixed``, both for review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Optional, Sequence

import numpy as np

from ..evaluation.edc import edc_curve
from ..evaluation.pairs import mated_pairs
from .search import Neighbours, block_similarities, groups, same_person_pairs
from .thresholds import Thresholds, label_sums, pair_similarities

KEEP, REVIEW, REJECT = "keep", "review", "reject"
#: Per-image reason words (error kinds come from fqe_onnx.errors.ERROR_KINDS); docs/guides/curation.md lists them.
REASONS = ("low-quality", "not-own-identity", "looks-like:IDENTITY", "duplicate-of:PATH", "too-few-to-check")
#: Per-identity reason words.
IDENTITY_REASONS = ("same-person-as:IDENTITY", "mixed")
#: A group of a mixed folder has at least this many images that match each other.
MIN_GROUP = 2


@dataclass
class ImageVerdict:
    own_similarity: float = math.nan
    nearest_other: int = -1
    nearest_other_similarity: float = math.nan
    decision: str = KEEP
    reasons: list[str] = field(default_factory=list)
    duplicate: int = -1  # the row it duplicates
    duplicate_similarity: float = math.nan
    look_alike: int = -1  # the image of another identity behind its looks-like
    look_alike_similarity: float = math.nan
    findings: list[str] = field(default_factory=list)  # the finding id of each reason ("" for none)


@dataclass
class IdentityVerdict:
    identity: str
    images: int
    median_Q: Optional[float]
    same_person_as: list[str] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)  # rows of each group, when mixed
    findings: list[str] = field(default_factory=list)  # the finding id of each reason ("" for none)

    @property
    def mixed(self) -> bool:
        return len(self.groups) >= 2

    @property
    def reasons(self) -> list[str]:
        return [f"same-person-as:{name}" for name in self.same_person_as] + (["mixed"] if self.mixed else [])

    @property
    def decision(self) -> str:
        return REVIEW if self.reasons else KEEP


def quality_cut_from_edc(
    Q: np.ndarray, unit: np.ndarray, labels: np.ndarray, valid: np.ndarray, threshold: float, max_fnmr: float
) -> tuple[float, float]:
    """The Q below which images must go for the FNMR of the remaining mated comparisons (at the
    pair threshold) to fall to ``max_fnmr``, from the data's own EDC (evaluate's ``edc_curve``,
    pair quality min(Q_a, Q_b)). Returns (Q cut, FNMR with nothing discarded); the cut is 0 when
    nothing needs discarding, and above 100 when no cut reaches ``max_fnmr``."""
    rows = np.flatnonzero(valid)
    a, b = mated_pairs(list(labels[rows]))
    if len(a) == 0:
        return 0.0, math.nan
    a, b = rows[a], rows[b]
    quality = np.minimum(Q[a], Q[b]).astype(np.float64)
    curve = edc_curve(quality, pair_similarities(unit, a, b), threshold)
    reached = np.flatnonzero(curve.fnmr <= max_fnmr)
    step = int(reached[0])
    fnmr0 = float(curve.fnmr[0])
    if step == 0:
        return 0.0, fnmr0
    if step >= len(curve.discard) - 1:
        return 101.0, fnmr0
    ordered = np.sort(quality)
    return float(ordered[int(round(curve.discard[step] * len(ordered)))]), fnmr0


def _union_find_groups(members: np.ndarray, unit: np.ndarray, threshold: float) -> list[list[int]]:
    """Connected groups of ``members`` where an edge is a similarity >= ``threshold``."""
    parent = list(range(len(members)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for start, sims in block_similarities(unit, members):
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows + start  # each pair once, no self-pairs
        for r, c in zip((rows[keep] + start).tolist(), cols[keep].tolist()):
            ra, rb = find(r), find(c)
            if ra != rb:
                parent[ra] = rb
    found: dict[int, list[int]] = {}
    for i in range(len(members)):
        found.setdefault(find(i), []).append(int(members[i]))
    return sorted(found.values(), key=lambda g: (-len(g), g[0]))


def _best_own(members: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each member's most similar other member (row, similarity); -1 and -inf for a lone member."""
    best = np.full(len(members), -1, dtype=np.int64)
    best_s = np.full(len(members), -np.inf, dtype=np.float32)
    if len(members) < 2:
        return best, best_s
    for start, sims in block_similarities(unit, members):
        sims = sims.copy()
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        top = np.argmax(sims, axis=1)
        best[start : start + len(sims)] = members[top]
        best_s[start : start + len(sims)] = sims[np.arange(len(sims)), top]
    return best, best_s


def _look_alike(
    neighbours: Neighbours,
    row: int,
    thresholds: Thresholds,
    explained: np.ndarray,
    labels: np.ndarray,
    same: set[tuple[int, int]],
) -> int:
    """The most similar image of another identity at or above the search threshold (-1 if none).
    Left out: ``explained`` images, filed in the wrong folder (they match none of their identity)
    or copied into another folder, or every image of their real identity would look like that
    folder, when the question is about that one image, which has its own reason; and images of a
    folder flagged same-person-as with this one, where the folder's reason says it once."""
    for other, similarity in zip(neighbours.index[row].tolist(), neighbours.similarity[row].tolist()):
        if other < 0 or similarity < thresholds.search:
            return -1
        pair = (min(int(labels[row]), int(labels[other])), max(int(labels[row]), int(labels[other])))
        if not explained[other] and pair not in same:
            return int(other)
    return -1


def decide(
    names: Sequence[str],
    identities: Sequence[str],
    error_kinds: Sequence[str],
    Q: np.ndarray,
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    own: np.ndarray,
    neighbours: Neighbours,
    thresholds: Thresholds,
    quality_cut: float,
) -> tuple[list[ImageVerdict], list[IdentityVerdict]]:
    """The verdicts of every image and every identity (``labels``: an int per image, one per
    identity; an image with no identity folder has a label of its own)."""
    n = len(names)
    verdicts = [ImageVerdict() for _ in range(n)]
    identity_of = {int(labels[i]): identities[i] for i in range(n)}
    own_best = np.full(n, -1, dtype=np.int64)
    own_best_s = np.full(n, -np.inf, dtype=np.float32)
    identity_verdicts: list[IdentityVerdict] = []
    for members in groups(labels):
        label = int(labels[members[0]])
        good = members[valid[members]]
        best, best_s = _best_own(good, unit)
        own_best[good], own_best_s[good] = best, best_s
        scores = [float(Q[i]) for i in good]
        verdict = IdentityVerdict(identity_of[label], len(members), median(scores) if scores else None)
        if identity_of[label] and len(good) >= 2 * MIN_GROUP:
            parts = [g for g in _union_find_groups(good, unit, thresholds.group) if len(g) >= MIN_GROUP]
            if len(parts) >= 2:
                verdict.groups = parts
        identity_verdicts.append(verdict)
    by_label = {int(labels[v[0]]): k for k, v in enumerate(groups(labels))}
    sums, counts = label_sums(unit, labels, valid)
    same = set()
    for a, b, _ in same_person_pairs(sums, counts, thresholds.identity):
        same.add((a, b))
        identity_verdicts[by_label[a]].same_person_as.append(identity_of[b])
        identity_verdicts[by_label[b]].same_person_as.append(identity_of[a])
    sizes = np.bincount(labels[valid], minlength=int(labels.max()) + 1)
    # matches none of its identity: unlike the rest of its folder taken together, and no single image
    # of the folder matches it either (in a folder of two people, each image matches its own group)
    suspect = valid & np.isfinite(own) & (own < thresholds.own) & (own_best_s < thresholds.group)
    # an image with a near-identical copy in another folder: its duplicate-of says what is wrong, so
    # it is no look-alike to other images (or every image of the photo's person would get one)
    explained = suspect | (valid & (neighbours.similarity[:, 0] >= thresholds.duplicate))
    for i in range(n):
        v = verdicts[i]
        if error_kinds[i] or not valid[i]:
            v.reasons, v.decision = [error_kinds[i] or "internal"], REJECT
            continue
        v.own_similarity = float(own[i])
        top, top_s = int(neighbours.index[i, 0]), float(neighbours.similarity[i, 0])
        if top >= 0:
            v.nearest_other, v.nearest_other_similarity = top, top_s
        low = Q[i] < quality_cut
        if low:
            v.reasons.append("low-quality")
        elif suspect[i]:
            v.reasons.append("not-own-identity")
        duplicate, dup_s = -1, -np.inf
        if own_best[i] >= 0 and own_best_s[i] >= thresholds.duplicate and names[own_best[i]] < names[i]:
            duplicate, dup_s = int(own_best[i]), float(own_best_s[i])  # the later copy in one identity
        if top >= 0 and top_s >= thresholds.duplicate and top_s > dup_s:
            duplicate, dup_s = top, top_s
        if duplicate >= 0:
            v.duplicate, v.duplicate_similarity = duplicate, dup_s
            v.reasons.append(f"duplicate-of:{names[duplicate]}")
        alike = _look_alike(neighbours, i, thresholds, explained, labels, same)
        if alike >= 0:
            v.look_alike, v.look_alike_similarity = alike, float(unit[i] @ unit[alike])
            v.reasons.append(f"looks-like:{identities[alike]}")
        elif sizes[labels[i]] < 2:
            v.reasons.append("too-few-to-check")
        same_identity_copy = duplicate >= 0 and labels[duplicate] == labels[i]
        # of a photo filed under two names, the copy that matches its folder while the other does not
        # is where it belongs: the question is the other one's
        settled_copy = duplicate >= 0 and not same_identity_copy and suspect[duplicate] and not suspect[i]
        questions = [r for r in v.reasons if r.split(":")[0] in ("not-own-identity", "looks-like", "duplicate-of")]
        if low or same_identity_copy:
            v.decision = REJECT
        elif questions and not (settled_copy and all(r.startswith("duplicate-of:") for r in questions)):
            v.decision = REVIEW
    return verdicts, identity_verdicts

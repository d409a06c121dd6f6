"""Findings: each question a reviewer settles, once, with its evidence, a stable id and a rank.

The verdicts say per image and per folder what is wrong; one question often shows in several
of them (two folders of one person flag both folders, a photo filed under two names flags both
copies). A finding gathers them:

* ``same-person``: two folders whose means pass the folder threshold (both folders' reasons);
* ``looks-like``: the images of two folders that pass the search threshold against each other
  (every ``looks-like`` reason between the two folders, from either side);
* ``duplicate``: two near-identical images (both ``duplicate-of`` reasons; a copy filed in
  another folder brings its ``not-own-identity``, and its ``looks-like`` of the other copy's
  folder, along: one photo, one question);
* ``misfiled``: an image that matches none of its folder (its ``not-own-identity`` and, when it
  has one, its ``looks-like``);
* ``mixed``: a folder of two or more groups.

The id is a hash of the kind and the sorted members (folder names, or image paths), so a rerun
on the same data gives the same ids, which is what lets a reviewer's marks carry over.
Pure functions on the arrays of one curation run.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .decisions import IdentityVerdict, ImageVerdict
from .search import groups, unit_rows
from .thresholds import Thresholds

KINDS = ("same-person", "duplicate", "misfiled", "looks-like", "mixed")
PREFIXES = {"same-person": "sp", "duplicate": "du", "misfiled": "mf", "looks-like": "ll", "mixed": "mx"}
#: A side drawn from at most this many images shows them all.
SMALL = 8
#: From a larger side: the images nearest the other side (when not given), and the most typical.
NEAREST = 3
TYPICAL = 3


@dataclass(frozen=True)
class Side:
    """The images shown for one side of a finding. ``rows``: best first; ``decisive``: those among
    them that carry the evidence (the ones nearest the other side, or the linked images);
    ``similarity``: each row's similarity to the other side (NaN for an image with no embedding);
    ``total``: how many images the side is drawn from; ``toward``: what the similarity is to."""

    title: str
    rows: tuple[int, ...]
    decisive: tuple[int, ...]
    similarity: tuple[float, ...]
    total: int
    toward: str = ""


@dataclass
class Finding:
    """One question for a reviewer. ``similarity`` against ``threshold``: for same-person,
    looks-like and duplicate the similarity passes at or above it; for misfiled (the image to the
    mean of the rest of its folder) and mixed (the most similar pair of images across two groups)
    it passes below it. ``margin``: how far past the threshold, positive either way.
    ``mutual``: whether the two sides are each other's nearest (None where that has no meaning)."""

    id: str
    kind: str
    members: tuple[str, ...]
    similarity: float
    threshold: float
    margin: float
    mutual: Optional[bool]
    detail: str
    sides: list[Side] = field(default_factory=list)
    rank: int = 0
    mark: str = ""

    @property
    def strength(self) -> float:
        """The margin as a share of the room past the threshold (to similarity 1 above it, to -1
        below it), halved when the evidence is one-sided: the rank's key, 0..1."""
        room = 1 - self.threshold if self.passes_above else self.threshold + 1
        share = min(max(self.margin / room, 0.0), 1.0) if room > 0 and math.isfinite(self.margin) else 0.0
        return share if self.mutual is not False else share / 2

    @property
    def passes_above(self) -> bool:
        return self.kind not in ("misfiled", "mixed")


def finding_id(kind: str, members: Sequence[str]) -> str:
    """``PREFIX-`` and 10 hex digits of the SHA-1 of the kind and the sorted members."""
    text = "\n".join([kind, *sorted(members)])
    return f"{PREFIXES[kind]}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}"


def plural(count: int, word: str) -> str:
    """``1 image``, ``2 images``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class _Data:
    """The arrays of one run, and per label its rows."""

    def __init__(
        self, names: Sequence[str], identities: Sequence[str], unit: np.ndarray, labels: np.ndarray, valid: np.ndarray
    ) -> None:
        self.names, self.identities, self.unit, self.labels, self.valid = names, identities, unit, labels, valid
        self.rows = {int(labels[m[0]]): m.tolist() for m in groups(labels)}

    def name(self, label: int) -> str:
        """A folder's name; for an image with no folder, its path."""
        first = self.rows[label][0]
        return self.identities[first] or self.names[first]

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        good = [r for r in rows if self.valid[r]]
        if not good:
            return np.zeros(self.unit.shape[1], np.float32)
        return unit_rows(self.unit[good].sum(axis=0, keepdims=True))[0]

    def side(
        self, title: str, pool: Sequence[int], toward: np.ndarray, label: str, decisive: Sequence[int] = ()
    ) -> Side:
        """Images of ``pool`` for one side: all of a small pool, else the decisive ones (given, or
        the NEAREST nearest ``toward``, a k x D array: similarity is to the nearest of its rows)
        and the TYPICAL most like the pool's mean. ``label``: what ``toward`` is, for the page."""
        pool = list(pool)
        good = [r for r in pool if self.valid[r]]
        sims: dict[int, float] = {}
        if good and len(toward):
            sims = dict(zip(good, (self.unit[good] @ np.atleast_2d(toward).T).max(axis=1).tolist()))
        by_sim = sorted(good, key=lambda r: (-sims[r], r))
        decisive = list(decisive) if decisive else by_sim[:NEAREST]
        if len(pool) <= SMALL:
            rest = [r for r in pool if r not in decisive]
        else:
            decisive = sorted(decisive, key=lambda r: (-sims.get(r, -2.0), r))[:NEAREST]
            centre = self.mean(good)
            typical = sorted(good, key=lambda r: (-float(self.unit[r] @ centre), r))
            rest = [r for r in typical if r not in decisive][:TYPICAL]
            if not decisive and not rest:  # nothing could be embedded: show some images all the same
                rest = pool[:TYPICAL]
        rows = [*decisive, *rest]
        return Side(title, tuple(rows), tuple(decisive), tuple(sims.get(r, math.nan) for r in rows), len(pool), label)


def _nearest_folders(data: _Data, sums: np.ndarray, counts: np.ndarray, labels: Sequence[int]) -> dict[int, int]:
    """For each of ``labels``, the label of the folder whose mean is most like its mean."""
    present = np.flatnonzero(counts > 0)
    centroids = unit_rows(sums[present])
    out = {}
    position = {int(p): k for k, p in enumerate(present.tolist())}
    for label in labels:
        if label not in position:
            continue
        sims = centroids @ centroids[position[label]]
        sims[position[label]] = -np.inf
        out[label] = int(present[int(np.argmax(sims))])
    return out


def _best_match(data: _Data, row: int, verdicts: list[ImageVerdict]) -> int:
    """The image most similar to ``row``, of its folder or another."""
    own = [r for r in data.rows[int(data.labels[row])] if r != row and data.valid[r]]
    best, best_s = verdicts[row].nearest_other, verdicts[row].nearest_other_similarity
    if own:
        sims = data.unit[own] @ data.unit[row]
        k = int(np.argmax(sims))
        if best < 0 or sims[k] > best_s or (sims[k] == best_s and own[k] < best):
            best = own[k]
    return best


def _most_similar(unit: np.ndarray, rows: Sequence[int], others: Sequence[int], block: int = 2048) -> float:
    """The highest similarity between an image of ``rows`` and one of ``others``, in blocks of rows."""
    best = -np.inf
    gallery = unit[list(others)]
    for start in range(0, len(rows), block):
        best = max(best, float((unit[list(rows[start : start + block])] @ gallery.T).max()))
    return best


def collect(
    names: Sequence[str],
    identities: Sequence[str],
    unit: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    verdicts: list[ImageVerdict],
    folders: list[IdentityVerdict],
    thresholds: Thresholds,
    sums: np.ndarray,
    counts: np.ndarray,
) -> list[Finding]:
    """Every finding of one run, ranked (``rank`` 1 first), and each verdict's ``findings`` filled:
    the id behind each of its reasons ("" for a reason that is no question)."""
    data = _Data(names, identities, unit, labels, valid)
    found: dict[str, Finding] = {}

    def add(finding: Finding) -> str:
        found.setdefault(finding.id, finding)
        return finding.id

    def pair_of_images(i: int, j: int) -> Finding:
        a, b = sorted((i, j), key=lambda r: names[r])
        la, lb = int(labels[a]), int(labels[b])
        similarity = float(unit[a] @ unit[b])
        mutual = _best_match(data, a, verdicts) == b and _best_match(data, b, verdicts) == a
        if la == lb:
            sides = [
                data.side(names[a], [a], unit[[b]], names[b], [a]),
                data.side(names[b], [b], unit[[a]], names[a], [b]),
            ]
            where = f"both in {data.name(la)}"
        else:
            sides = [
                data.side(data.name(la), data.rows[la], unit[[b]], names[b], [a]),
                data.side(data.name(lb), data.rows[lb], unit[[a]], names[a], [b]),
            ]
            where = f"in {data.name(la)} and {data.name(lb)}"
        strays = [names[r] for r in (a, b) if "not-own-identity" in verdicts[r].reasons]
        detail = f"one photo twice, {where}"
        if strays:
            detail += f"; {' and '.join(strays)} {'matches' if len(strays) == 1 else 'match'} none of its folder"
        return Finding(
            finding_id("duplicate", (names[a], names[b])),
            "duplicate",
            (names[a], names[b]),
            similarity,
            thresholds.duplicate,
            similarity - thresholds.duplicate,
            mutual,
            detail,
            sides,
        )

    # duplicate pairs first: a copy in another folder answers that image's other questions too
    for i, v in enumerate(verdicts):
        v.findings = [""] * len(v.reasons)
        if v.duplicate >= 0:
            fid = add(pair_of_images(i, v.duplicate))
            # a copy filed in another folder: its doubts about its folder, and its likeness to the
            # folder of its copy, are the duplicate's question
            across = labels[v.duplicate] != labels[i]
            alike_there = v.look_alike >= 0 and labels[v.look_alike] == labels[v.duplicate]
            v.findings = [
                fid
                if r.startswith("duplicate-of:")
                or (across and r == "not-own-identity")
                or (across and alike_there and r.startswith("looks-like:"))
                else ""
                for r in v.reasons
            ]

    # an image that matches none of its folder
    for i, v in enumerate(verdicts):
        if "not-own-identity" not in v.reasons or any(
            v.findings[k] for k, r in enumerate(v.reasons) if r == "not-own-identity"
        ):
            continue
        label = int(labels[i])
        folder = [r for r in data.rows[label] if r != i]
        sides = [
            data.side("the image", [i], data.mean(folder)[None], "the rest of its folder", [i]),
            data.side(f"the rest of {data.name(label)}", folder, unit[[i]], "the image"),
        ]
        alike = v.look_alike
        mutual: Optional[bool] = None
        detail = f"matches none of {data.name(label)}: {v.own_similarity:.3f} to the mean of its other images"
        if alike >= 0:
            other = int(labels[alike])
            sides.append(data.side(f"looks like {data.name(other)}", data.rows[other], unit[[i]], "the image", [alike]))
            mutual = verdicts[alike].nearest_other == i and v.nearest_other == alike
            detail += f"; looks like {data.name(other)} ({v.look_alike_similarity:.3f} to {names[alike]})"
        else:
            mutual = False
            if v.nearest_other >= 0:
                other = int(labels[v.nearest_other])
                sides.append(
                    data.side(
                        f"nearest other: {data.name(other)} (below the search threshold)",
                        data.rows[other],
                        unit[[i]],
                        "the image",
                        [v.nearest_other],
                    )
                )
        fid = add(
            Finding(
                finding_id("misfiled", (names[i],)),
                "misfiled",
                (names[i],),
                v.own_similarity,
                thresholds.own,
                thresholds.own - v.own_similarity,
                mutual,
                detail,
                sides,
            )
        )
        v.findings = [
            fid if r == "not-own-identity" or r.startswith("looks-like:") else f for r, f in zip(v.reasons, v.findings)
        ]

    # look-alikes, one finding per pair of folders, whichever side they were found from
    links: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    for i, v in enumerate(verdicts):
        if v.look_alike >= 0 and not any(f for r, f in zip(v.reasons, v.findings) if r.startswith("looks-like:")):
            a, b = int(labels[i]), int(labels[v.look_alike])
            links.setdefault((min(a, b), max(a, b)), []).append((i, v.look_alike, v.look_alike_similarity))
    for pair, pairs in links.items():
        la, lb = sorted(pair, key=data.name)  # sides in the order of the members
        on = {
            la: sorted({r for p in pairs for r in p[:2] if labels[r] == la}),
            lb: sorted({r for p in pairs for r in p[:2] if labels[r] == lb}),
        }
        best = max(s for _, _, s in pairs)
        mutual = any(verdicts[i].nearest_other == j and verdicts[j].nearest_other == i for i, j, _ in pairs)
        sides = [
            data.side(data.name(la), data.rows[la], unit[on[lb]], data.name(lb), on[la]),
            data.side(data.name(lb), data.rows[lb], unit[on[la]], data.name(la), on[lb]),
        ]
        members = (data.name(la), data.name(lb))
        found_from = {x: len({i for i, _, _ in pairs if labels[i] == x}) for x in (la, lb)}
        detail = "; ".join(
            f"{plural(found_from[x], 'image')} of {data.name(x)} "
            f"{'looks' if found_from[x] == 1 else 'look'} like {data.name(y)}"
            for x, y in ((la, lb), (lb, la))
            if found_from[x]
        )
        detail += f"; the most similar pair {best:.3f}"
        fid = add(
            Finding(
                finding_id("looks-like", members),
                "looks-like",
                tuple(sorted(members)),
                best,
                thresholds.search,
                best - thresholds.search,
                mutual,
                detail,
                sides,
            )
        )
        for i, _, _ in pairs:
            v = verdicts[i]
            v.findings = [fid if r.startswith("looks-like:") else f for r, f in zip(v.reasons, v.findings)]

    # folders (``folders`` come in label order; a folder's name gives its label back)
    folder_labels = sorted(data.rows)
    label_of = {identities[rows[0]]: label for label, rows in data.rows.items() if identities[rows[0]]}
    for f in folders:
        f.findings = [""] * len(f.reasons)
    flagged = [folder_labels[k] for k, f in enumerate(folders) if f.same_person_as]
    nearest = _nearest_folders(data, sums, counts, flagged)
    for la, f in zip(folder_labels, folders):
        for other_name in f.same_person_as:
            if other_name not in label_of or not f.identity:  # an image with no folder: no pair of folders to show
                continue
            lb = label_of[other_name]
            folder_pair = (f.identity, other_name) if f.identity < other_name else (other_name, f.identity)
            similarity = float(data.mean(data.rows[la]) @ data.mean(data.rows[lb]))
            sides = [
                data.side(data.name(x), data.rows[x], data.mean(data.rows[y])[None], f"the mean of {data.name(y)}")
                for x, y in sorted(((la, lb), (lb, la)), key=lambda p: data.name(p[0]))
            ]
            (na, ca), (nb, cb) = sorted(((f.identity, int(counts[la])), (other_name, int(counts[lb]))))
            detail = (
                f"the means of {na} ({plural(ca, 'image')}) and {nb} ({plural(cb, 'image')}) are {similarity:.3f} alike"
            )
            fid = add(
                Finding(
                    finding_id("same-person", folder_pair),
                    "same-person",
                    folder_pair,
                    similarity,
                    thresholds.identity,
                    similarity - thresholds.identity,
                    nearest.get(la) == lb and nearest.get(lb) == la,
                    detail,
                    sides,
                )
            )
            f.findings[f.reasons.index(f"same-person-as:{other_name}")] = fid
        if f.mixed:
            parts = [list(g) for g in f.groups]
            means = [data.mean(g) for g in parts]
            across = max(
                _most_similar(unit, g, [r for h in parts[k + 1 :] for r in h]) for k, g in enumerate(parts[:-1])
            )
            sides = [
                data.side(
                    f"group {k + 1} of {len(parts)}",
                    g,
                    np.array([m for n, m in enumerate(means) if n != k]),
                    "the other groups' means",
                )
                for k, g in enumerate(parts)
            ]
            grouped = {r for g in parts for r in g}
            strays = [r for r in data.rows[la] if r not in grouped]
            if strays:
                sides.append(data.side("in no group", strays, np.array(means), "the groups' means"))
            detail = (
                f"{plural(len(parts), 'group')} of {', '.join(str(len(g)) for g in parts)} images; the most "
                f"similar pair across groups is {across:.3f}"
            )
            fid = add(
                Finding(
                    finding_id("mixed", (f.identity,)),
                    "mixed",
                    (f.identity,),
                    across,
                    thresholds.group,
                    thresholds.group - across,
                    None,
                    detail,
                    sides,
                )
            )
            f.findings[f.reasons.index("mixed")] = fid
    return rank(list(found.values()))


def rank(findings: list[Finding]) -> list[Finding]:
    """Strongest evidence first (``Finding.strength``), ties by id; ``rank`` set 1..N."""
    ordered = sorted(findings, key=lambda f: (-f.strength, f.id))
    for k, finding in enumerate(ordered, start=1):
        finding.rank = k
    return ordered

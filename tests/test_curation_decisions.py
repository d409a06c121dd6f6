"""curation/decisions as functions on hand-made embeddings with known answers: the EDC quality
cut, the groups of a folder, each image's best own match, the look-alike rule, and every reason
and decision of ``decide`` with its boundaries (no model, no command).

People are basis directions; a photo is its person's direction plus half a direction of its own,
so two photos of one person have similarity 1 / 1.25 = 0.8 and photos of two people 0."""

import functools
import math

import numpy as np
import pytest

from fqe_onnx.curation import decisions, search
from fqe_onnx.curation.decisions import (
    IdentityVerdict,
    ImageVerdict,
    _best_own,
    _look_alike,
    _union_find_groups,
    decide,
    quality_cut_from_edc,
)
from fqe_onnx.curation.search import Neighbours, exact_cross_search
from fqe_onnx.curation.thresholds import Thresholds, label_sums, loo_centroid_similarity

DIM = 96


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def e(k):
    return np.eye(DIM)[k]


def thresholds(**changes):
    values = dict(
        pair=0.5,
        group=0.6,
        search=0.7,
        search_pairwise_fmr=1e-6,
        own=0.3,
        identity=0.9,
        duplicate=0.9,
        search_far=1e-3,
        own_fmr=1e-2,
        gallery=10,
        non_mated=1000,
    )
    values.update(changes)
    return Thresholds(**values)


@pytest.fixture
def small_blocks(monkeypatch):
    """The decisions' blocked similarities in blocks of 2 rows (the default is 2048)."""
    monkeypatch.setattr(decisions, "block_similarities", functools.partial(search.block_similarities, block=2))


# ---------------------------------------------------------------------------------------------
# the quality cut from the data's own EDC


def edc_world():
    """Folder 0: two copies of e0 (Q 90, 80) and e1 (Q 10), which matches neither; an invalid
    image (Q 5) that would fail every pair; folder 1: one image; folder 2: two copies of e2 (Q 50,
    55). Mated pairs at threshold 0.5: (90, 80) matches, the two with Q 10 fail, (50, 55) matches."""
    unit_ = np.array([e(0), e(0), e(1), np.zeros(DIM), e(3), e(2), e(2)], dtype=np.float32)
    Q = np.array([90, 80, 10, 5, 70, 50, 55])
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    valid = np.array([True, True, True, False, True, True, True])
    return Q, unit_, labels, valid


def test_the_quality_cut_discards_the_images_that_fail():
    """Pair qualities min(Q_a, Q_b) = 80, 10, 10, 50; FNMR 2/4. Discarding the two pairs of quality
    10 (half) leaves no failure: images below Q 50 (the lowest remaining pair quality) go."""
    assert quality_cut_from_edc(*edc_world(), 0.5, 0.1) == (50.0, 0.5)
    cut, fnmr0 = quality_cut_from_edc(*edc_world(), 0.5, 0.1)
    assert type(cut) is float and type(fnmr0) is float


def test_no_cut_when_the_fnmr_is_already_low_enough():
    """FNMR exactly at the allowed rate needs no cut (<=); the threshold is inclusive (a pair at
    exactly the threshold matches)."""
    assert quality_cut_from_edc(*edc_world(), 0.5, 0.5) == (0.0, 0.5)
    assert quality_cut_from_edc(*edc_world(), 1.0, 0.1) == (50.0, 0.5)  # e0 . e0 = 1.0 still matches


def test_a_cut_that_no_discard_reaches_is_above_100():
    """One mated pair, which fails: only discarding everything reaches the rate."""
    unit_ = np.array([e(0), e(1)], dtype=np.float32)
    assert quality_cut_from_edc(np.array([60, 70]), unit_, np.array([0, 0]), np.ones(2, bool), 0.5, 0.1) == (101.0, 1.0)


def test_the_last_step_before_everything_is_a_real_cut():
    """Two mated pairs, qualities 10 (fails) and 80 (matches): discarding the first is the last step
    of the curve before all, and gives the cut 80."""
    unit_ = np.array([e(0), e(1), e(2), e(2)], dtype=np.float32)
    Q = np.array([10, 90, 80, 85])
    assert quality_cut_from_edc(Q, unit_, np.array([0, 0, 1, 1]), np.ones(4, bool), 0.5, 0.0) == (80.0, 0.5)


def test_no_mated_pairs_no_cut():
    unit_ = np.array([e(0), e(1), e(2)], dtype=np.float32)
    cut, fnmr0 = quality_cut_from_edc(np.array([1, 2, 3]), unit_, np.array([0, 1, 2]), np.ones(3, bool), 0.5, 0.1)
    assert cut == 0.0 and math.isnan(fnmr0)
    valid = np.array([True, False, True])
    cut, fnmr0 = quality_cut_from_edc(np.array([1, 2, 3]), unit_, np.array([0, 0, 1]), valid, 0.5, 0.1)
    assert cut == 0.0 and math.isnan(fnmr0)  # the only pair has an invalid image


# ---------------------------------------------------------------------------------------------
# groups, best own match, look-alike

HALF = np.array([0.5, 0.5, 0.5, 0.5] + [0.0] * (DIM - 4))  # similarity exactly 0.5 with e0 .. e3


def group_vectors():
    """Rows: 0 e0, 1 HALF, 2 e1 (a chain 0 - 1 - 2 at similarity 0.5; 0 and 2 orthogonal), 3 and 4
    e5, 5 e6, 6 and 7 e7."""
    return np.array([e(0), HALF, e(1), e(5), e(5), e(6), e(7), e(7)], dtype=np.float32)


@pytest.mark.parametrize("blocked", [False, True])
def test_groups_are_connected_at_the_threshold(blocked, monkeypatch):
    """Edges at similarity >= threshold, joined transitively; groups largest first, then by
    first member, each in members' order; any block size gives the same."""
    if blocked:
        monkeypatch.setattr(decisions, "block_similarities", functools.partial(search.block_similarities, block=3))
    members = np.array([6, 3, 0, 1, 2, 4, 7, 5])
    assert _union_find_groups(members, group_vectors(), 0.5) == [[0, 1, 2], [3, 4], [6, 7], [5]]
    assert _union_find_groups(members, group_vectors(), 0.5000001) == [[3, 4], [6, 7], [0], [1], [2], [5]]
    assert _union_find_groups(members[[1, 5, 0, 6]], group_vectors(), 0.9) == [[3, 4], [6, 7]]


def test_groups_of_a_long_chain_in_small_blocks(small_blocks):
    """A chain of 7 links at similarity 0.5: one group (in members' order) at 0.49, whatever order
    its members come in; at 0.51 every member alone, ordered by member."""
    vectors = np.array([unit(e(k) + e(k + 1)) for k in range(8)], dtype=np.float32)
    order = np.array([4, 0, 7, 2, 6, 1, 5, 3])
    assert _union_find_groups(order, vectors, 0.49) == [[4, 0, 7, 2, 6, 1, 5, 3]]
    assert _union_find_groups(order, vectors, 0.51) == [[k] for k in range(8)]


@pytest.mark.parametrize("blocked", [False, True])
def test_best_own_is_each_members_most_similar_other(blocked, monkeypatch):
    if blocked:
        monkeypatch.setattr(decisions, "block_similarities", functools.partial(search.block_similarities, block=2))
    vectors = group_vectors()
    members = np.array([0, 1, 2, 5, 3])
    best, best_s = _best_own(members, vectors)
    assert best.dtype == np.int64 and best_s.dtype == np.float32
    assert best.tolist() == [1, 0, 1, 0, 0]  # HALF: e0 and e1 tie at 0.5; e6, e5: all at 0; the first member wins
    assert best_s.tolist() == [0.5, 0.5, 0.5, 0.0, 0.0]
    best, best_s = _best_own(np.array([3, 4]), vectors)
    assert best.tolist() == [4, 3] and best_s.tolist() == [1.0, 1.0]  # never itself


def test_a_lone_member_has_no_best_own():
    best, best_s = _best_own(np.array([2]), group_vectors())
    assert best.tolist() == [-1] and best_s.tolist() == [-np.inf]
    best, best_s = _best_own(np.array([], dtype=np.int64), group_vectors())
    assert best.shape == best_s.shape == (0,)


def look(row_index, row_similarity, explained=(), same=(), search_threshold=0.7, labels=None):
    labels = np.array([0, 1, 2, 3, 1, 2, 3]) if labels is None else labels
    neighbours = Neighbours(np.array([row_index]), np.array([row_similarity], dtype=np.float32))
    mask = np.zeros(len(labels), bool)
    mask[list(explained)] = True
    return _look_alike(neighbours, 0, thresholds(search=search_threshold), mask, labels, set(same))


def test_look_alike_is_the_first_unexplained_neighbour_at_the_search_threshold():
    """Best first: the first neighbour at or above the threshold that is neither explained nor of a
    folder already flagged same-person-as with this one; -1 at the first below or missing."""
    row, sims = [4, 5, 6, -1], [0.9, 0.8, 0.75, -np.inf]
    assert look(row, sims) == 4
    assert look(row, sims, explained=[4]) == 5
    assert look(row, sims, explained=[4, 5]) == 6
    assert look(row, sims, explained=[4, 5], search_threshold=0.75) == 6  # at the threshold counts
    assert look(row, sims, explained=[4, 5], search_threshold=0.76) == -1
    assert look(row, sims, explained=[4, 5, 6]) == -1  # then no neighbour at all
    assert look([4, 5], [0.9, 0.8], explained=[4, 5]) == -1  # every neighbour explained
    assert look(row, sims, same=[(0, 1)]) == 5  # row 0 (label 0) and 4 (label 1): one person's folders
    assert look([1, 2], [0.6, 0.95]) == -1  # sorted input is trusted: the first below ends the search


def test_look_alike_pairs_are_ordered_labels():
    labels = np.array([3, 1, 5])
    assert look([1, 2], [0.9, 0.8], same=[(1, 3)], labels=labels) == 2
    assert look([1, 2], [0.9, 0.8], same=[(3, 1)], labels=labels) == 1  # the set holds (low, high) pairs only
    assert look([2, 1], [0.9, 0.8], same=[(3, 5)], labels=labels) == 1


# ---------------------------------------------------------------------------------------------
# decide


class World:
    """Images added one by one: a name ``folder/file`` (no folder: a loose image), a vector, Q."""

    def __init__(self):
        self.names, self.vectors, self.Q, self.kinds, self.valid = [], [], [], [], []
        self.free = iter(range(40, DIM))

    def photo(self, person, extra=0.5):
        return unit(e(person) + extra * e(next(self.free)))

    def add(self, name, vector, Q=80, kind="", valid=True):
        self.names.append(name)
        self.vectors.append(np.zeros(DIM) if (kind or not valid) else vector)
        self.Q.append(Q)
        self.kinds.append(kind)
        self.valid.append(valid and not kind)
        return len(self.names) - 1

    def folder(self, name, person, count, start=0):
        return [self.add(f"{name}/{k}.png", self.photo(person)) for k in range(start, start + count)]

    def arrays(self):
        identities = [n.split("/")[0] if "/" in n else "" for n in self.names]
        seen = {}
        labels = np.array([seen.setdefault(identity or f"\0{i}", len(seen)) for i, identity in enumerate(identities)])
        return identities, labels, np.array(self.vectors, dtype=np.float32), np.array(self.valid)

    def run(self, cut=0.0, own_values=None, neighbours=None, **changes):
        """decide on the images; ``own_values``, ``neighbours``: instead of those computed from
        the vectors; ``changes``: thresholds other than the defaults."""
        identities, labels, unit_, valid = self.arrays()
        own = own_values
        if own is None:
            sums, counts = label_sums(unit_, labels, valid)
            rows = np.arange(len(labels))
            own = loo_centroid_similarity(unit_, labels, valid, rows, rows, sums, counts)
        if neighbours is None:
            neighbours = exact_cross_search(unit_, labels, valid, k=4)
        self.own, self.neighbours = own, neighbours
        images, folders = decide(
            self.names,
            identities,
            self.kinds,
            np.array(self.Q, dtype=np.float64),
            unit_,
            labels,
            valid,
            own,
            neighbours,
            thresholds(**changes),
            cut,
        )
        self.images, self.folders = images, {f.identity: f for f in folders}
        self.folder_list = folders
        return self

    def __getitem__(self, name):
        return self.images[self.names.index(name)]


def plain(world, folders=("a", "b"), size=3):
    for k, name in enumerate(folders):
        world.folder(name, k, size)
    return world


def test_plain_folders_are_kept_with_their_statistics():
    """Nothing flagged; each image carries its own similarity and its nearest image of another
    folder (here at similarity 0, photos of two people being orthogonal)."""
    world = plain(World()).run()
    assert len(world.images) == 6 and all(v.reasons == [] and v.decision == "keep" for v in world.images)
    v = world["a/0.png"]
    assert v.own_similarity == float(world.own[0]) and v.own_similarity > 0.8
    assert (v.nearest_other, v.nearest_other_similarity) == (int(world.neighbours.index[0, 0]), 0.0)
    assert v.nearest_other >= 3 and v.duplicate == -1 and math.isnan(v.duplicate_similarity)


def test_own_similarity_is_the_given_one():
    """An image's own similarity is the statistic given (leave-one-out, from the caller)."""
    world = plain(World())
    own = np.linspace(0.5, 0.9, 6)
    world.run(own_values=own)
    assert [v.own_similarity for v in world.images] == pytest.approx(own.tolist())


def test_failed_and_invalid_images_are_rejected_with_their_kind():
    """An image that failed carries its error kind; one not valid for another reason 'internal';
    neither gets any other statistic."""
    world = plain(World())
    world.add("a/8.png", None, kind="no-face")
    world.add("b/8.png", world.photo(1), valid=False)
    world.run()
    for name, reason in (("a/8.png", "no-face"), ("b/8.png", "internal")):
        v = world[name]
        assert (v.reasons, v.decision) == ([reason], "reject")
        assert math.isnan(v.own_similarity) and v.nearest_other == -1 and math.isnan(v.nearest_other_similarity)
    assert all(v.decision == "keep" for v in world.images[:6])


def test_low_quality_is_below_the_cut():
    """Q below the cut: low-quality, rejected; Q at the cut is kept."""
    world = plain(World())
    world.Q[0], world.Q[1] = 40, 39.5
    world.run(cut=40)
    assert (world["a/0.png"].reasons, world["a/0.png"].decision) == ([], "keep")
    assert (world["a/1.png"].reasons, world["a/1.png"].decision) == (["low-quality"], "reject")


def misfiled_world():
    """Folders a, b (3 photos each) and c (3); a/9 is a photo of c's person filed under a."""
    world = plain(World(), ("a", "b", "c"))
    world.add("a/9.png", world.photo(2))
    return world


def test_an_image_unlike_its_folder_is_not_own_identity_and_looks_like_the_other():
    """a/9 is unlike the rest of a and like no single image of it: not-own-identity; it looks like
    c (0.8 >= 0.7); c's photos, whose nearest other is a/9, are not flagged (a/9 is explained)."""
    world = misfiled_world().run()
    v = world["a/9.png"]
    assert (v.reasons, v.decision) == (["not-own-identity", "looks-like:c"], "review")
    assert world.neighbours.index[6, 0] == 9 and world.neighbours.similarity[6, 0] == pytest.approx(0.8)
    assert all(world[f"c/{k}.png"].reasons == [] for k in range(3))


def test_not_own_identity_needs_both_statistics_strictly_below():
    """Suspect: own similarity below the own threshold and best own match below the group
    threshold, both strictly; an image without the statistic (NaN) never."""
    own = misfiled_world().run().own.copy()
    assert own[9] == pytest.approx(0.0, abs=1e-6)  # a/9 against the rest of a
    assert "not-own-identity" not in misfiled_world().run(own_values=own, own=float(own[9]))["a/9.png"].reasons
    assert (
        "not-own-identity"
        in misfiled_world().run(own_values=own, own=float(np.nextafter(own[9], 1)))["a/9.png"].reasons
    )
    # its best match in a is 0.0 exactly (orthogonal photos): a group threshold of 0 is not above it
    assert "not-own-identity" not in misfiled_world().run(own_values=own, group=0.0)["a/9.png"].reasons
    assert "not-own-identity" in misfiled_world().run(own_values=own, group=1e-9)["a/9.png"].reasons
    own[9] = np.nan
    assert "not-own-identity" not in misfiled_world().run(own_values=own)["a/9.png"].reasons


def test_a_low_quality_image_is_rejected_whatever_else_it_has():
    """Low quality comes before not-own-identity (only one of the two is said) and makes any other
    question a reject."""
    world = misfiled_world()
    world.Q[9] = 5
    world.run(cut=10)
    assert (world["a/9.png"].reasons, world["a/9.png"].decision) == (["low-quality", "looks-like:c"], "reject")


def copies_world(copy_name="a/9.png", original=0):
    """Folders a, b, c; a/0 is e0 exactly, and ``copy_name`` an exact copy of image ``original``."""
    world = World()
    world.add("a/0.png", e(0))
    world.folder("a", 0, 2, start=1)
    world.folder("b", 1, 3)
    world.folder("c", 2, 3)
    world.add(copy_name, world.vectors[original])
    return world


def test_the_later_copy_in_one_folder_is_rejected():
    """Two near-identical images of one folder: the later by name is a duplicate of the earlier
    (rejected), the earlier is kept; the similarity comes along."""
    world = copies_world().run()
    copy, original = world["a/9.png"], world["a/0.png"]
    assert (copy.reasons, copy.decision) == (["duplicate-of:a/0.png"], "reject")
    assert (copy.duplicate, copy.duplicate_similarity) == (0, pytest.approx(1.0))
    assert (original.reasons, original.decision, original.duplicate) == ([], "keep", -1)


def test_later_means_later_by_name_not_by_row():
    """A copy of a/1 named a/0_copy.png sorts before it: a/1 is the later one."""
    world = copies_world("a/0_copy.png", original=1).run()
    assert (world["a/1.png"].reasons, world["a/1.png"].decision) == (["duplicate-of:a/0_copy.png"], "reject")
    assert world["a/0_copy.png"].reasons == [] and world["a/0_copy.png"].decision == "keep"


def test_the_duplicate_threshold_is_inclusive():
    """e0 and its copy have similarity exactly 1.0: a duplicate at a threshold of 1.0, not above
    (the next float32: similarities are float32)."""
    assert copies_world().run(duplicate=1.0)["a/9.png"].reasons == ["duplicate-of:a/0.png"]
    above = copies_world().run(duplicate=float(np.nextafter(np.float32(1), np.float32(2))))
    assert (above["a/9.png"].reasons, above["a/9.png"].decision) == ([], "keep")


def test_a_photo_copied_into_another_folder():
    """b/9 is a copy of a/0: it matches none of b (not-own-identity), duplicates a/0 and looks like
    a through a/0's folder-mates (a/0 itself, explained by its copy, is passed over). a/0 matches
    its folder: where the photo belongs, kept with its duplicate-of said; the rest of a, whose
    nearest other is b/9, is not flagged (b/9 is explained)."""
    world = copies_world("b/9.png").run()
    moved, original = world["b/9.png"], world["a/0.png"]
    assert (moved.reasons, moved.decision) == (["not-own-identity", "duplicate-of:a/0.png", "looks-like:a"], "review")
    assert (original.reasons, original.decision) == (["duplicate-of:b/9.png"], "keep")
    assert (original.duplicate, original.duplicate_similarity) == (9, pytest.approx(1.0))
    assert [world[f"a/{k}.png"].reasons for k in (1, 2)] == [[], []]
    assert world["a/1.png"].nearest_other == 9


def test_a_settled_copy_with_another_question_is_reviewed():
    """a/0 (e0 + e3) is the settled copy of b/9 but also looks like d (0.63 >= 0.62): review."""
    world = World()
    world.add("a/0.png", unit(e(0) + e(3)))
    world.folder("a", 0, 2, start=1)
    world.folder("b", 1, 3)
    world.folder("d", 3, 3)
    world.add("b/9.png", world.vectors[0])
    world.run(search=0.62)
    assert world["b/9.png"].reasons[:2] == ["not-own-identity", "duplicate-of:a/0.png"]
    assert (world["a/0.png"].reasons, world["a/0.png"].decision) == (["duplicate-of:b/9.png", "looks-like:d"], "review")


def test_a_copy_in_a_folder_of_its_own_is_a_question_for_both():
    """c1/0 copies a/0 and is alone in its folder (no own statistic, so no suspect): neither copy
    is settled, both are reviewed; c1/0 looks like a (not too few to check). (The folder
    threshold is raised: c1's mean, e0, is 0.975 like a's, which would make c1 and a one person's
    folders, whose photos are no look-alikes.)"""
    world = copies_world("c1/0.png").run(identity=0.99)
    assert (world["a/0.png"].reasons, world["a/0.png"].decision) == (["duplicate-of:c1/0.png"], "review")
    assert (world["c1/0.png"].reasons, world["c1/0.png"].decision) == (
        ["duplicate-of:a/0.png", "looks-like:a"],
        "review",
    )


def test_a_copy_in_the_folder_wins_a_tie_with_one_outside():
    """a/9 copies a/0 and so does c1/0 (all three e0): for a/9 both are at 1.0, and the copy in its
    own folder is the one said (a reject); for a/0 the one outside."""
    world = copies_world()
    world.add("c1/0.png", e(0))
    world.run(identity=0.99)
    assert (world["a/9.png"].reasons, world["a/9.png"].decision) == (["duplicate-of:a/0.png"], "reject")
    assert world["a/0.png"].reasons == ["duplicate-of:c1/0.png"] and world["a/0.png"].decision == "review"


def test_a_closer_copy_outside_the_folder_wins():
    """a/9 is near a/0 (0.97) and identical to c1/0: its duplicate is c1/0, not a reject."""
    world = copies_world()
    world.vectors[9] = unit(e(0) + 0.25 * e(39))
    world.add("c1/0.png", world.vectors[9])
    world.run(identity=0.99)
    v = world["a/9.png"]
    assert v.reasons == ["duplicate-of:c1/0.png"] and v.decision == "review" and v.duplicate == 10


def test_an_image_between_two_people_looks_like_the_other():
    """a/9 = e0 + e1 is like both a and b (0.63): it and b's photos look like each other, a
    review (a twin or sibling is for a person to say); a's own photos are not flagged."""
    world = plain(World())
    world.add("a/9.png", unit(e(0) + e(1)))
    world.run(search=0.6)
    assert (world["a/9.png"].reasons, world["a/9.png"].decision) == (["looks-like:b"], "review")
    assert [world[f"b/{k}.png"].reasons for k in range(3)] == [["looks-like:a"]] * 3
    assert all(world[f"b/{k}.png"].decision == "review" for k in range(3))
    assert [world[f"a/{k}.png"].reasons for k in range(3)] == [[], [], []]
    assert world.run(search=0.64)["a/9.png"].reasons == []


def test_too_few_to_check():
    """An image with no other valid image in its folder (a loose image, a folder whose other image
    failed) cannot be checked against its identity: kept, with the reason; unless it looks like
    someone, which is said instead."""
    world = plain(World())
    world.add("x.png", world.photo(7))
    world.add("y.png", world.photo(8))
    world.add("d/0.png", world.photo(9))
    world.add("d/1.png", None, kind="truncated")
    world.add("e/0.png", world.photo(10))
    world.add("e/1.png", world.photo(10))
    world.add("z.png", world.photo(0))  # a loose photo of a's person
    world.run()
    for name in ("x.png", "y.png", "d/0.png"):
        assert (world[name].reasons, world[name].decision) == (["too-few-to-check"], "keep"), name
    assert world["e/0.png"].reasons == [] and world["z.png"].reasons == ["looks-like:a"]


def same_person_world(folders=("s1", "s2")):
    world = plain(World())
    for name in folders:
        world.folder(name, 5, 3)
    return world


def test_two_folders_of_one_person_are_flagged_once():
    """Folder means at 0.923 >= 0.9: same-person-as both ways (a review), and their photos, alike at
    0.8, do not each look like the other folder."""
    world = same_person_world().run()
    assert world.folders["s1"].same_person_as == ["s2"] and world.folders["s2"].same_person_as == ["s1"]
    assert (world.folders["s1"].reasons, world.folders["s1"].decision) == (["same-person-as:s2"], "review")
    assert all(v.reasons == [] and v.decision == "keep" for v in world.images)
    assert world.folders["a"].reasons == [] and world.folders["a"].decision == "keep"
    apart = same_person_world().run(identity=0.93)
    assert apart.folders["s1"].same_person_as == [] and apart.folders["s1"].decision == "keep"
    assert [apart[f"s1/{k}.png"].reasons for k in range(3)] == [["looks-like:s2"]] * 3


def test_three_folders_of_one_person():
    world = same_person_world(("s1", "s2", "s3")).run()
    assert world.folders["s1"].same_person_as == ["s2", "s3"]
    assert world.folders["s2"].same_person_as == ["s1", "s3"]
    assert world.folders["s3"].reasons == ["same-person-as:s1", "same-person-as:s2"]


def test_a_folder_of_two_people_is_mixed():
    """Groups of at least 2 images that match each other (>= the group threshold): two or more
    make a folder mixed; it needs 4 valid images; a lone image is no group."""
    world = plain(World())
    m = world.folder("m", 6, 2) + world.folder("m", 7, 2, start=2)
    three = world.folder("m3", 8, 2) + world.folder("m3", 9, 1, start=2)
    world.add("m3/9.png", None, kind="no-face")
    lone = world.folder("m4", 10, 3) + world.folder("m4", 11, 1, start=3)
    five = world.folder("m5", 12, 2) + world.folder("m5", 13, 2, start=2) + world.folder("m5", 14, 1, start=4)
    world.run()
    assert world.folders["m"].groups == [m[:2], m[2:]] and world.folders["m"].reasons == ["mixed"]
    assert world.folders["m"].decision == "review" and world.folders["m"].mixed
    assert world.folders["m3"].groups == [] and world.folders["m3"].images == 4 and len(three) == 3
    assert world.folders["m4"].groups == [] and not world.folders["m4"].mixed and len(lone) == 4
    assert world.folders["m5"].groups == [five[:2], five[2:4]]
    assert world.run(group=0.81).folders["m"].groups == []  # the photos match at 0.8 only


def test_identity_verdicts_count_images_and_the_median_q():
    """Per folder, in label order: every image counted, the median Q of the valid ones (None when
    none is valid); loose images are identities of their own with an empty name."""
    world = World()
    for k, Q in enumerate((10, 90, 20)):
        world.add(f"q/{k}.png", world.photo(0), Q=Q)
    world.add("q/9.png", None, Q=-1, kind="no-face")
    world.add("loose.png", world.photo(1), Q=33)
    world.add("f/0.png", None, Q=-1, kind="flat")
    world.folder("g", 2, 2)
    world.run()
    assert [(f.identity, f.images, f.median_Q) for f in world.folder_list] == [
        ("q", 4, 20.0),
        ("", 1, 33.0),
        ("f", 1, None),
        ("g", 2, 80.0),
    ]


def test_identity_verdict_reasons_and_decision():
    verdict = IdentityVerdict("x", 3, 50.0)
    assert (verdict.reasons, verdict.decision, verdict.mixed) == ([], "keep", False)
    verdict = IdentityVerdict("x", 3, 50.0, same_person_as=["y", "z"], groups=[[1, 2], [3, 4]])
    assert verdict.reasons == ["same-person-as:y", "same-person-as:z", "mixed"] and verdict.decision == "review"
    assert IdentityVerdict("x", 3, None, groups=[[1, 2]]).reasons == []
    assert IdentityVerdict("x", 3, None, same_person_as=["w"]).decision == "review"


def test_image_verdict_defaults():
    v = ImageVerdict()
    assert math.isnan(v.own_similarity) and v.nearest_other == -1 and math.isnan(v.nearest_other_similarity)
    assert (v.decision, v.reasons, v.duplicate) == ("keep", [], -1) and math.isnan(v.duplicate_similarity)
    assert ImageVerdict().reasons is not v.reasons


def test_not_own_identity_alone_is_a_question():
    """With no look-alike (the search threshold above 0.8), not-own-identity alone is a review."""
    world = misfiled_world().run(search=0.9)
    assert (world["a/9.png"].reasons, world["a/9.png"].decision) == (["not-own-identity"], "review")


def test_a_copy_at_exactly_the_duplicate_threshold_is_explained():
    """b/9 copies a/0 at similarity exactly 1.0, the duplicate threshold: it is a duplicate, and a/0,
    whose nearest other is at the threshold, is explained, so b/9 does not look like a through it
    (at a search threshold of 0.95 nothing else of a is near)."""
    world = copies_world("b/9.png").run(duplicate=1.0, search=0.95)
    moved = world["b/9.png"]
    assert moved.reasons == ["not-own-identity", "duplicate-of:a/0.png"]
    assert (moved.nearest_other, moved.nearest_other_similarity) == (0, 1.0)


def test_the_first_row_can_be_the_copy_that_settles_and_the_look_alike():
    """Row 0 is an image like any other: a misfiled copy in row 0 settles its original (kept), and
    an image between two people in row 0 is what the other folder's photos look like."""
    world = World()
    world.add("b/0_moved.png", e(0))
    world.add("a/0.png", e(0))
    world.folder("a", 0, 2, start=1)
    world.folder("b", 1, 3)
    world.run()
    assert world["a/0.png"].reasons == ["duplicate-of:b/0_moved.png"] and world["a/0.png"].decision == "keep"
    between = World()
    between.add("a/9.png", unit(e(0) + e(1)))
    plain(between).run(search=0.6)
    assert [between[f"b/{k}.png"].reasons for k in range(3)] == [["looks-like:a"]] * 3


def test_one_folder_alone():
    """A single identity: nothing to compare with; each image is kept."""
    world = World()
    world.folder("a", 0, 3)
    world.run()
    assert [v.decision for v in world.images] == ["keep"] * 3 and world.folder_list[0].images == 3

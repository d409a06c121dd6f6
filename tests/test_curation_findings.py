"""Findings on hand-made embeddings: one per question whichever side found it, stable ids, the
sides a reviewer sees (a single image included), the rank; and the decisions file."""

import math
import re

import pytest

from test_curation import Builder, unit

from fqe_onnx.curation.findings import NEAREST, SMALL, TYPICAL, Finding, finding_id, plural, rank
from fqe_onnx.curation.marks import Mark, marks_csv, read_marks
from fqe_onnx.curation.pipeline import Settings, curate
from fqe_onnx.errors import FqeError


def build(order=("big", "one")):
    """40 plain folders of 6, and: an image of p06 very like p07 (look-alikes both ways), p04/01
    copied into p05, a stranger's photo in p02, one person in a folder of 20 and a folder of 1
    (``order``: which of the two comes first), and a folder of two people."""
    b = Builder()
    people = {f"p{i:02d}": b.person() for i in range(40)}
    for name, person in people.items():
        b.folder(name, person, 6)
    b.add("p06/90_between.png", unit(1.4 * people["p06"] + people["p07"]))
    b.add("p05/90_from_p04.png", unit(b.vectors[4 * 6 + 1] + 0.05 * unit(b.rng.normal(size=256))))
    stranger = b.person()
    b.folder("stranger", stranger, 4)
    b.add("p02/90_misfiled.png", b.photo(stranger))
    split = b.person()
    sizes = {"big": 20, "one": 1}
    for name in order:
        b.folder(name, split, sizes[name])
    b.folder("mixed", b.person(), 4)
    b.folder("mixed", b.person(), 4, start=4)
    store = b.store()
    return store, curate(store, Settings())


@pytest.fixture(scope="module")
def world():
    return build()


def by_kind(result, kind):
    return [f for f in result.findings if f.kind == kind]


def verdict(world, path):
    store, result = world
    return result.verdicts[[r.path for r in store.records].index(path)]


def folder(world, name):
    return next(v for v in world[1].identities if v.identity == name)


def test_one_finding_per_pair_of_folders_whichever_comes_first(world):
    (same,) = by_kind(world[1], "same-person")
    assert same.members == ("big", "one") and same.id == finding_id("same-person", ("one", "big"))
    assert folder(world, "big").reasons == ["same-person-as:one"] and folder(world, "big").findings == [same.id]
    assert folder(world, "one").reasons == ["same-person-as:big"] and folder(world, "one").findings == [same.id]
    _, reversed_ = build(order=("one", "big"))
    (again,) = by_kind(reversed_, "same-person")
    assert (again.id, again.members) == (same.id, same.members)


def test_look_alikes_from_both_folders_are_one_finding(world):
    """p06/90_between looks like p07, and p07's photos look like it: one finding for the pair of
    folders, each side's linked images outlined."""
    store, result = world
    (alike,) = by_kind(result, "looks-like")
    assert alike.members == ("p06", "p07") and alike.mutual is True
    linked = [
        (r.path, v)
        for r, v in zip(store.records, result.verdicts)
        if v.reasons and all(x.startswith("looks-like:") for x in v.reasons)
    ]  # looks-like alone
    assert {p.split("/")[0] for p, _ in linked} == {"p06", "p07"} and len(linked) > 2
    assert all(v.findings == [alike.id] for _, v in linked)
    p06, p07 = alike.sides
    assert [store.records[r].path for r in p06.decisive] == ["p06/90_between.png"]
    assert {store.records[r].path for r in p07.decisive} == {p for p, _ in linked if p.startswith("p07/")}
    assert alike.similarity == pytest.approx(max(v.look_alike_similarity for _, v in linked))
    assert alike.margin == pytest.approx(alike.similarity - result.thresholds.search)


def test_a_photo_in_two_folders_is_one_duplicate_finding(world):
    """The copy's not-own-identity and looks-like are the duplicate's question too: no misfiled finding."""
    store, result = world
    (copy,) = [f for f in by_kind(result, "duplicate") if "p05/90_from_p04.png" in f.members]
    assert copy.members == ("p04/01.png", "p05/90_from_p04.png") and copy.mutual is True
    moved = verdict(world, "p05/90_from_p04.png")
    assert moved.reasons == ["not-own-identity", "duplicate-of:p04/01.png", "looks-like:p04"]
    assert moved.findings == [copy.id] * 3
    assert verdict(world, "p04/01.png").findings == [copy.id]
    assert not [f for f in by_kind(result, "misfiled") if "p05/90_from_p04.png" in f.members]
    assert [store.records[r].path for s in copy.sides for r in s.decisive] == ["p04/01.png", "p05/90_from_p04.png"]
    assert copy.margin == pytest.approx(copy.similarity - result.thresholds.duplicate)


def test_a_misfiled_image_shows_itself_its_folder_and_its_look_alike(world):
    store, result = world
    (misfiled,) = by_kind(result, "misfiled")
    assert misfiled.members == ("p02/90_misfiled.png",)
    v = verdict(world, "p02/90_misfiled.png")
    assert v.reasons == ["not-own-identity", "looks-like:stranger"] and v.findings == [misfiled.id] * 2
    image, rest, other = misfiled.sides
    assert [store.records[r].path for r in image.rows] == ["p02/90_misfiled.png"]
    assert rest.title == "the rest of p02" and rest.total == 6 and len(rest.rows) == 6  # small: all of it
    assert other.title == "looks like stranger" and other.total == 4
    assert store.records[other.decisive[0]].path == store.records[v.look_alike].path
    assert misfiled.similarity == pytest.approx(v.own_similarity)
    assert misfiled.margin == pytest.approx(result.thresholds.own - v.own_similarity) and misfiled.margin > 0


def test_a_mixed_folder_is_one_finding_with_a_side_per_group(world):
    store, result = world
    (mixed,) = by_kind(result, "mixed")
    assert mixed.members == ("mixed",) and folder(world, "mixed").findings == [mixed.id]
    assert [{store.records[r].path for r in s.rows} for s in mixed.sides] == [
        {f"mixed/{k:02d}.png" for k in range(4)},
        {f"mixed/{k:02d}.png" for k in range(4, 8)},
    ]
    u = store.unit()
    rows = [
        [i for i, r in enumerate(store.records) if r.path in {f"mixed/{k:02d}.png" for k in ks}]
        for ks in (range(4), range(4, 8))
    ]
    assert mixed.similarity == pytest.approx(float((u[rows[0]] @ u[rows[1]].T).max()), abs=1e-6)
    assert mixed.similarity < result.thresholds.group and mixed.mutual is None


def test_every_question_points_to_a_finding_and_nothing_else_does(world):
    store, result = world
    ids = {f.id for f in result.findings}
    questions = ("not-own-identity", "looks-like", "duplicate-of")
    for v in result.verdicts:
        assert len(v.findings) == len(v.reasons)
        for reason, fid in zip(v.reasons, v.findings):
            assert (fid in ids) if reason.split(":")[0] in questions else fid == "", (reason, fid)
    pointed = {fid for v in result.verdicts + result.identities for fid in v.findings if fid}
    assert pointed == ids  # and no finding without a reason behind it
    assert sorted(f.kind for f in result.findings) == ["duplicate", "looks-like", "misfiled", "mixed", "same-person"]


def test_a_single_image_side_is_shown_and_a_large_one_by_its_nearest_and_typical(world):
    store, result = world
    (same,) = by_kind(result, "same-person")
    big, one = same.sides
    assert (one.title, one.total) == ("one", 1)
    assert [store.records[r].path for r in one.rows] == ["one/00.png"] and one.decisive == one.rows
    assert big.total == 20 and len(big.rows) == NEAREST + TYPICAL and SMALL < 20
    u = store.unit()
    members = [i for i, r in enumerate(store.records) if r.identity == "big"]
    toward = u[[i for i, r in enumerate(store.records) if r.identity == "one"]][0]
    nearest = sorted(members, key=lambda r: -float(u[r] @ toward))[:NEAREST]
    assert list(big.decisive) == nearest and list(big.rows[:NEAREST]) == nearest
    assert big.similarity[0] == pytest.approx(float(u[nearest[0]] @ toward), abs=1e-5)
    centre = u[members].sum(axis=0)
    typical = [r for r in sorted(members, key=lambda r: -float(u[r] @ centre)) if r not in nearest][:TYPICAL]
    assert list(big.rows[NEAREST:]) == typical


def test_ids_are_stable_and_a_rerun_gives_the_same_findings(world):
    assert finding_id("duplicate", ("b.png", "a.png")) == finding_id("duplicate", ("a.png", "b.png"))
    assert finding_id("duplicate", ("a.png", "b.png")) != finding_id("looks-like", ("a.png", "b.png"))
    assert (
        re.fullmatch(r"(sp|du|mf|ll|mx)-[0-9a-f]{10}", finding_id("mixed", ("x",)))
        and finding_id("mixed", ("x",)) == "mx-" + __import__("hashlib").sha1(b"mixed\nx").hexdigest()[:10]
    )
    store, result = world
    again = curate(store, Settings())
    assert [(f.id, f.rank, f.members) for f in again.findings] == [(f.id, f.rank, f.members) for f in result.findings]


def finding(kind="duplicate", similarity=0.97, threshold=0.94, mutual=True, fid="x"):
    above = kind not in ("misfiled", "mixed")
    margin = similarity - threshold if above else threshold - similarity
    return Finding(fid, kind, ("a",), similarity, threshold, margin, mutual, "")


def test_strength_is_the_share_of_the_room_past_the_threshold_halved_when_one_sided():
    assert finding().strength == pytest.approx(0.5)  # 0.03 of the 0.06 up to 1
    assert finding(mutual=False).strength == pytest.approx(0.25)
    assert finding(mutual=None).strength == pytest.approx(0.5)  # no such question (mixed)
    assert finding("misfiled", similarity=-0.2, threshold=0.3).strength == pytest.approx(0.5 / 1.3)
    assert finding("mixed", similarity=0.2, threshold=0.4, mutual=None).strength == pytest.approx(0.2 / 1.4)
    assert finding(similarity=0.93).strength == 0 and finding(threshold=1.0, similarity=1.0).strength == 0
    assert finding(threshold=math.inf, similarity=0.5).strength == 0


def test_rank_puts_the_strongest_first_and_ties_by_id():
    found = [
        finding(similarity=0.95, fid="a"),
        finding(similarity=0.99, fid="b"),
        finding(similarity=0.99, fid="c", mutual=False),
        finding(similarity=0.99, fid="0"),
    ]
    ordered = rank(found)
    assert [f.id for f in ordered] == ["0", "b", "c", "a"] and [f.rank for f in ordered] == [1, 2, 3, 4]


def test_the_world_is_ranked_by_strength(world):
    strengths = [f.strength for f in world[1].findings]
    assert strengths == sorted(strengths, reverse=True) and [f.rank for f in world[1].findings] == list(
        range(1, len(strengths) + 1)
    )


def test_plural():
    assert (plural(1, "image"), plural(0, "image"), plural(2, "group")) == ("1 image", "0 images", "2 groups")


# ---------------------------------------------------------------------------------------------
# the decisions file


def test_the_decisions_file_round_trips(tmp_path):
    marks = [
        Mark("du-0123456789", "duplicate", "a/1.png;b/2.png", "confirmed"),
        Mark("sp-abcdefabcd", "same-person", 'odd, "name";other', "rejected"),
        Mark("mf-9999999999", "misfiled", "c/3.png", "unsure"),
    ]
    path = tmp_path / "decisions.csv"
    path.write_text(marks_csv(marks), encoding="utf-8")
    assert read_marks(path) == {m.finding: m for m in marks}
    assert path.read_text().splitlines()[0] == "finding,kind,members,mark"
    path.write_text("\ufeff" + marks_csv(marks[:1]) + "du-0123456789,duplicate,,rejected\n,,,\n", encoding="utf-8")
    assert read_marks(path) == {"du-0123456789": Mark("du-0123456789", "duplicate", "", "rejected")}  # the later row


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,decision\nx,confirmed\n", "is not a decisions file: its header must have finding,kind,members,mark"),
        ("finding,mark\nx,maybe\n", "line 2: mark 'maybe' for x: expected one of confirmed, rejected, unsure"),
        ("finding,mark\n,confirmed\n", "line 2: no finding id"),
        ("", "is not a decisions file"),
    ],
)
def test_a_bad_decisions_file_is_refused(tmp_path, text, message):
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FqeError, match=re.escape(message)):
        read_marks(path)


def test_a_decisions_file_that_cannot_be_read(tmp_path):
    with pytest.raises(FqeError, match="cannot read the decisions"):
        read_marks(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(FqeError, match="cannot read the decisions"):
        read_marks(tmp_path / "bin.csv")


def test_a_copy_that_still_matches_its_folder_is_one_duplicate_finding():
    """b/9 copies a/0 yet matches b well enough (no not-own-identity): its looks-like of a is the
    duplicate's question all the same, not a finding of its own."""
    from test_curation_decisions import World, e, thresholds, unit as unit_

    from fqe_onnx.curation.findings import collect
    from fqe_onnx.curation.thresholds import label_sums

    world = World()
    a = world.folder("a", 0, 3)
    world.folder("b", 1, 3)
    world.add("b/9.png", unit_(world.vectors[a[0]] + 0.45 * e(1)))
    world.run()
    assert world["b/9.png"].reasons == ["duplicate-of:a/0.png", "looks-like:a"]
    identities, labels, vectors, valid = world.arrays()
    sums, counts = label_sums(vectors, labels, valid)
    found = collect(
        world.names, identities, vectors, labels, valid, world.images, world.folder_list, thresholds(), sums, counts
    )
    (copy,) = found
    assert copy.kind == "duplicate" and copy.members == ("a/0.png", "b/9.png")
    assert world["b/9.png"].findings == [copy.id, copy.id] and world["a/0.png"].findings == [copy.id]

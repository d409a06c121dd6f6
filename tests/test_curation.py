"""fqe-onnx curate: hand-made embeddings with known answers for every reason, the search
threshold's false-alarm rate on random embeddings, the blocked search against a brute-force one,
the embedding store, and the command end to end on a small synthetic folder."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from conftest import random_face, write_image
from tiny_models import custom_graph

from fqe_onnx.cli import main
from fqe_onnx.curation.pipeline import Settings, curate, integer_labels
from fqe_onnx.curation.search import exact_cross_search, faiss_cross_search, ann_recall
from fqe_onnx.curation.store import EmbeddingStore, StoreWriter, read_store
from fqe_onnx.curation.thresholds import pairwise_fmr_for_search, tail_threshold
from fqe_onnx.records import Record

DIM = 256


def unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class Builder:
    """Records and embeddings of a made-up dataset: people are random directions, photos of a person
    are that direction plus noise (mated similarity about 0.7, non-mated about 0 +- 0.06)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.records, self.vectors = [], []

    def person(self):
        return unit(self.rng.normal(size=DIM))

    def photo(self, person, noise=0.65):
        return unit(person + noise * unit(self.rng.normal(size=DIM)))

    def add(self, path, vector, Q=80, error_kind=""):
        identity = path.split("/")[0] if "/" in path else ""
        q = None if error_kind else 1.0
        self.records.append(
            Record(
                path,
                identity,
                q,
                None if error_kind else Q,
                "as-is",
                "png",
                error_kind,
                "made up" if error_kind else "",
            )
        )
        self.vectors.append(np.full(DIM, np.nan) if vector is None else vector)

    def folder(self, name, person, count, start=0):
        for k in range(start, start + count):
            self.add(f"{name}/{k:02d}.png", self.photo(person))

    def store(self):
        return EmbeddingStore(self.records, np.array(self.vectors, dtype=np.float32))


@pytest.fixture(scope="module")
def known():
    """40 plain folders of 6, and one planted case of every reason."""
    b = Builder()
    people = {f"p{i:02d}": b.person() for i in range(40)}
    for name, person in people.items():
        b.folder(name, person, 6)
    b.add("p00/90_broken.png", None, error_kind="no-face")
    b.add("p01/90_blurred.png", b.photo(people["p01"]), Q=3)
    stranger = b.person()
    b.folder("stranger", stranger, 4)
    b.add("p02/90_misfiled.png", b.photo(stranger))  # a stranger's photo in p02's folder
    b.add("p03/90_copy.png", unit(b.vectors[3 * 6] + 0.05 * unit(b.rng.normal(size=DIM))))  # p03/00 again
    b.add(
        "p05/90_from_p04.png", unit(b.vectors[4 * 6 + 1] + 0.05 * unit(b.rng.normal(size=DIM)))
    )  # p04/01 filed under p05
    b.add("p06/90_between.png", unit(1.4 * people["p06"] + people["p07"]))  # p06, very like p07 too
    b.add("loner/00.png", b.person())  # a folder of one
    split = b.person()
    b.folder("split_a", split, 4)
    b.folder("split_b", split, 4)
    b.folder("mixed", b.person(), 4)
    b.folder("mixed", b.person(), 4, start=4)
    store = b.store()
    return store, curate(store, Settings(min_Q=10))


def row(known, path):
    store, result = known
    index = [r.path for r in store.records].index(path)
    return result.verdicts[index]


def identity(known, name):
    return next(v for v in known[1].identities if v.identity == name)


def test_every_reason_on_hand_made_embeddings(known):
    assert (row(known, "p00/90_broken.png").reasons, row(known, "p00/90_broken.png").decision) == (
        ["no-face"],
        "reject",
    )
    assert (row(known, "p01/90_blurred.png").reasons, row(known, "p01/90_blurred.png").decision) == (
        ["low-quality"],
        "reject",
    )
    misfiled = row(known, "p02/90_misfiled.png")
    assert misfiled.reasons == ["not-own-identity", "looks-like:stranger"] and misfiled.decision == "review"
    copy = row(known, "p03/90_copy.png")
    assert copy.reasons == ["duplicate-of:p03/00.png"] and copy.decision == "reject"  # the later copy in one folder
    assert row(known, "p03/00.png").reasons == [] and row(known, "p03/00.png").decision == "keep"
    moved_copy = row(known, "p05/90_from_p04.png")
    assert moved_copy.reasons == ["not-own-identity", "duplicate-of:p04/01.png", "looks-like:p04"]
    assert moved_copy.decision == "review"
    original = row(known, "p04/01.png")  # matches its own folder: where the photo belongs
    assert original.reasons == ["duplicate-of:p05/90_from_p04.png"] and original.decision == "keep"
    between = row(known, "p06/90_between.png")
    assert between.reasons == ["looks-like:p07"] and between.decision == "review"  # a twin? never a reject
    assert row(known, "loner/00.png").reasons == ["too-few-to-check"] and row(known, "loner/00.png").decision == "keep"
    assert identity(known, "split_a").same_person_as == ["split_b"] and identity(known, "split_b").reasons == [
        "same-person-as:split_a"
    ]
    mixed = identity(known, "mixed")
    assert mixed.reasons == ["mixed"] and sorted(map(sorted, mixed.groups)) == sorted(
        map(
            sorted,
            [
                [i for i, r in enumerate(known[0].records) if r.path in {f"mixed/{k:02d}.png" for k in ks}]
                for ks in (range(4), range(4, 8))
            ],
        )
    )


def test_nothing_else_is_flagged(known):
    store, result = known
    planted = {
        "p00/90_broken.png",
        "p01/90_blurred.png",
        "p02/90_misfiled.png",
        "p03/90_copy.png",
        "p04/01.png",
        "p05/90_from_p04.png",
        "p06/90_between.png",
        "loner/00.png",
    }
    paths = [r.path for r in store.records]
    flagged = {r.path for r, v in zip(store.records, result.verdicts) if v.reasons} - planted
    # p06/90_between is very like p07: so are some of p07's photos like it, and only those
    like_between = {
        r.path
        for r, v in zip(store.records, result.verdicts)
        if r.identity == "p07"
        and paths[v.nearest_other] == "p06/90_between.png"
        and v.nearest_other_similarity >= result.thresholds.search
    }
    assert like_between and flagged == like_between
    assert {tuple(row(known, p).reasons) for p in like_between} == {("looks-like:p06",)}
    assert {v.identity for v in result.identities if v.reasons} == {"split_a", "split_b", "mixed"}


def test_the_own_similarity_is_leave_one_out(known):
    store, result = known
    u = store.unit()
    members = [i for i, r in enumerate(store.records) if r.identity == "p10"]
    rest = u[members[1:]].sum(axis=0)
    assert result.verdicts[members[0]].own_similarity == pytest.approx(
        float(u[members[0]] @ rest / np.linalg.norm(rest)), abs=1e-5
    )


def test_the_edc_implied_quality_cut(known):
    store, _ = known
    # give the worst-matching image of each plain folder a low Q: a cut can then lower the FNMR
    records = [
        r
        if r.Q is None
        else Record(r.path, r.identity, r.q, 20 if r.path.endswith("/05.png") else 90, r.mode, r.format)
        for r in store.records
    ]
    vectors = np.array(store.embeddings)
    rng = np.random.default_rng(3)
    for i, r in enumerate(records):
        if r.path.endswith("/05.png"):
            vectors[i] = unit(vectors[i] + 3 * unit(rng.normal(size=DIM)))  # far from its folder: fails to match
    result = curate(EmbeddingStore(records, vectors.astype(np.float32)), Settings(max_fnmr=0.05))
    assert result.quality_cut == 90 and result.fnmr_before > 0.05
    assert all("low-quality" in v.reasons for r, v in zip(records, result.verdicts) if r.Q == 20)


def test_tail_threshold_follows_a_normal_tail_and_errs_high_on_a_lighter_one():
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 0.05, 200_000)
    for fmr, z in ((1e-5, 4.265), (1e-7, 5.199)):
        assert tail_threshold(normal, fmr) == pytest.approx(0.05 * z, abs=0.01)
    uniform = rng.uniform(-1, 1, 200_000)  # nothing above 1
    assert tail_threshold(uniform, 1e-5) > 1
    assert tail_threshold(normal, 1e-2) == pytest.approx(0.05 * 2.326, abs=0.003)  # empirical down to 1e-3


def test_the_per_image_false_alarm_rate_holds_on_random_embeddings():
    """500 people, 8 photos each, in random directions: no image has a real look-alike, so every
    looks-like is a false alarm. Over 4,000 images the count stays within the stated rate (Poisson
    noise allowed), at two rates."""
    rng = np.random.default_rng(7)
    n = 4000
    people = unit(rng.normal(size=(n // 8, DIM)))
    vectors = unit(np.repeat(people, 8, axis=0) + 0.6 * unit(rng.normal(size=(n, DIM)))).astype(np.float32)
    records = [Record(f"id{i // 8}/{i}.png", f"id{i // 8}", 1.0, 80) for i in range(n)]
    store = EmbeddingStore(records, vectors)
    for far in (0.01, 0.1):
        result = curate(store, Settings(search_far=far, own_fmr=0.01))
        expected = far * n
        assert result.expected_false_alarms == pytest.approx(expected)
        assert result.looks_like_count <= expected + 3 * np.sqrt(expected), far
        assert result.looks_like_count >= expected / 5, far  # and not far stricter than stated
    assert pairwise_fmr_for_search(0.01, 3999) == pytest.approx(0.01 / 3999, rel=0.01)


def test_blocked_search_equals_brute_force():
    rng = np.random.default_rng(1)
    vectors = unit(rng.normal(size=(700, 32))).astype(np.float32)
    labels = rng.integers(0, 90, size=700)
    valid = rng.random(700) > 0.05
    found = exact_cross_search(vectors, labels, valid, k=3, block=128)
    sims = vectors @ vectors.T
    sims[labels[:, None] == labels[None, :]] = -np.inf
    sims[:, ~valid] = -np.inf
    expected = np.argsort(-sims, axis=1)[:, :3]
    assert np.array_equal(found.index[valid], expected[valid])
    assert (found.index[~valid] == -1).all()
    approximate = faiss_cross_search(vectors, labels, valid, k=3, probes=64)  # every list probed: exact
    assert ann_recall(found, approximate) == 1.0


def test_integer_labels_give_loose_images_their_own():
    assert integer_labels(["a", "", "a", "", "b"]).tolist() == [0, 1, 0, 2, 3]


@pytest.mark.parametrize("name", ["e.npy", "e.parquet"])
def test_the_store_round_trips(tmp_path, name):
    records = [
        Record("a/1.png", "a", 1.5, 70, "as-is", "png"),
        Record("a/2.png", "a", None, None, "", "", "no-face", "x"),
        Record(
            "b/1.png",
            "b",
            2.0,
            90,
            "aligned",
            "jpeg",
            face=0,
            box=(35.7, 17.5, 104.7, 128.0),
            face_score=0.99,
            eye_distance=42.12,
        ),
    ]  # an aligned face carries its geometry, which must come back too
    vectors = [np.arange(4, dtype=np.float32), None, np.ones(4, np.float32)]
    with StoreWriter(tmp_path / name, 3) as writer:
        for record, vector in zip(records, vectors):
            writer.add(record, vector)
    store = read_store(tmp_path / name)
    assert store.records == records
    assert np.array_equal(store.embeddings[0], vectors[0]) and np.isnan(store.embeddings[1]).all()
    assert store.ok.tolist() == [True, False, True]


def projection_model(path, dim=64, seed=0):
    """AveragePool 14x14 -> 3x8x8 -> Flatten -> MatMul(W): a random projection of the image's layout,
    with zero-sum columns so a uniform brightness change moves nothing."""
    w = np.random.default_rng(seed).normal(size=(192, dim)).astype(np.float32)
    w -= w.mean(axis=0, keepdims=True)
    return custom_graph(
        path,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        [
            helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[14, 14], strides=[14, 14]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
        ],
        [numpy_helper.from_array(w, "W")],
    )


def photo(person, k):
    base = random_face(1000 + person).astype(np.float64)
    other = random_face(50_000 + 100 * person + k).astype(np.float64)
    return np.clip(0.65 * base + 0.35 * other, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate")
    faces = root / "faces"
    for person in range(24):
        for k in range(5):
            write_image(faces / f"id{person:02d}" / f"{k}.png", photo(person, k))
    write_image(faces / "id03" / "9_copy.png", np.clip(photo(3, 0).astype(int) + 2, 0, 255).astype(np.uint8))
    write_image(faces / "id05" / "9_misfiled.png", photo(17, 9))
    write_image(faces / "loner" / "0.png", photo(99, 0))
    (faces / "id07" / "9_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    return root, projection_model(root / "m.onnx")


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_curate_end_to_end(folder):
    root, model = folder
    out = root / "out"
    common = [
        "-m",
        str(model),
        "--align",
        "never",
        "--calibration",
        "x0=1,w=0.5",
        "--embedding-dim",
        "64",
        "--no-progress",
    ]
    result = CliRunner().invoke(main, ["curate", str(root / "faces"), "-o", str(out), *common])
    assert result.exit_code == 0, result.output
    rows = {r["path"]: r for r in read_csv(out / "curation.csv")}
    assert len(rows) == 24 * 5 + 4
    assert list(read_csv(out / "curation.csv")[0])[:4] == ["path", "identity", "q", "Q"]
    assert (rows["id07/9_broken.png"]["decision"], rows["id07/9_broken.png"]["reasons"]) == ("reject", "truncated")
    assert rows["id03/9_copy.png"]["reasons"] == "duplicate-of:id03/0.png"
    assert rows["id05/9_misfiled.png"]["reasons"].startswith("not-own-identity")
    assert rows["loner/0.png"]["reasons"] == "too-few-to-check"
    flagged = {p for p, r in rows.items() if r["reasons"]}
    assert flagged == {"id07/9_broken.png", "id03/9_copy.png", "id05/9_misfiled.png", "loner/0.png"}
    identities = read_csv(out / "identities.csv")
    assert len(identities) == 25 and {r["decision"] for r in identities} == {"keep"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["decisions"] == {"keep": 121, "reject": 2, "review": 1}
    assert "expected by chance at --search-far 0.001" in result.stderr
    assert (out / "embeddings.npy").exists() and (out / "review.html").exists()
    again = CliRunner().invoke(
        main,
        [
            "curate",
            str(root / "faces"),
            "-o",
            str(root / "again"),
            "--embeddings",
            str(out / "embeddings.npy"),
            "--no-progress",
        ],
    )
    assert again.exit_code == 0, again.output
    assert (root / "again" / "curation.csv").read_text() == (out / "curation.csv").read_text()


@pytest.mark.parametrize("name", ["e.npy", "e.parquet"])
def test_score_embeddings_out_feeds_curate(folder, name, tmp_path):
    root, model = folder
    common = ["-m", str(model), "--align", "never", "--calibration", "x0=1,w=0.5", "--embedding-dim", "64"]
    scored = CliRunner().invoke(
        main,
        [
            "score",
            str(root / "faces"),
            "-o",
            str(tmp_path / "s.csv"),
            "--embeddings-out",
            str(tmp_path / name),
            "--no-progress",
            *common,
        ],
    )
    assert scored.exit_code == 1, scored.output  # the broken file
    store = read_store(tmp_path / name)
    assert [r.path for r in store.records] == [r["path"] for r in read_csv(tmp_path / "s.csv")]
    assert store.embeddings.shape == (124, 64) and int(store.ok.sum()) == 123
    result = CliRunner().invoke(
        main,
        [
            "curate",
            str(root / "faces"),
            "-o",
            str(tmp_path / "c"),
            "--embeddings",
            str(tmp_path / name),
            "--no-page",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert {r["path"] for r in read_csv(tmp_path / "c" / "curation.csv") if r["reasons"]} == {
        "id07/9_broken.png",
        "id03/9_copy.png",
        "id05/9_misfiled.png",
        "loner/0.png",
    }


def test_curate_refuses_a_store_that_is_not_one(tmp_path):
    (tmp_path / "faces").mkdir()
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    result = CliRunner().invoke(
        main, ["curate", str(tmp_path / "faces"), "-o", str(tmp_path / "o"), "--embeddings", str(tmp_path / "x.npy")]
    )
    assert result.exit_code == 2 and "cannot read the embeddings" in result.stderr


def test_review_page_renders_in_headless_chromium(folder, tmp_path):
    import cv2

    from browser import chromium_page

    root, model = folder
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "curate",
            str(root / "faces"),
            "-o",
            str(out),
            "-m",
            str(model),
            "--align",
            "never",
            "--calibration",
            "x0=1,w=0.5",
            "--embedding-dim",
            "64",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    html = (out / "review.html").read_text()
    # the marking's data and script are inline: nothing is fetched
    assert html.count("<script") == 2 and "<script src" not in html and "https://" not in html and "http://" not in html
    for text in (
        "Findings to review (2)",
        "misfiled",
        "duplicate",
        "truncated",
        "the rest of id05",
        "Rejected without a question (1 image)",
        "by chance",
    ):
        assert text in html, text
    with chromium_page({"width": 1200, "height": 900}) as (page, log):
        page.goto((out / "review.html").as_uri())
        page.wait_for_load_state("load")
        images = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        cases = page.evaluate("document.querySelectorAll('.finding').length")
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot), full_page=True)
    assert log.unexpected() == []
    assert (
        cases == 2 and images >= 9 and loaded == images
    )  # the copy and its original; the image, its folder, its nearest other
    image = cv2.imread(str(shot))
    assert image.shape[0] > 300 and float(image.std()) > 20


def test_engine_ray_gives_the_same_curation(folder, tmp_path):
    import ray

    root, model = folder
    common = [
        "-m",
        str(model),
        "--align",
        "never",
        "--calibration",
        "x0=1,w=0.5",
        "--embedding-dim",
        "64",
        "--no-progress",
        "--no-page",
    ]
    local = CliRunner().invoke(main, ["curate", str(root / "faces"), "-o", str(tmp_path / "local"), *common])
    assert local.exit_code == 0, local.output
    started_here = not ray.is_initialized()
    try:
        on_ray = CliRunner().invoke(
            main, ["curate", str(root / "faces"), "-o", str(tmp_path / "ray"), "--engine", "ray", *common]
        )
    finally:
        if started_here:
            ray.shutdown()
    assert on_ray.exit_code == 0, on_ray.output
    assert "124 images: 0 already" in on_ray.stderr
    assert (tmp_path / "ray" / "curation.csv").read_text() == (tmp_path / "local" / "curation.csv").read_text()

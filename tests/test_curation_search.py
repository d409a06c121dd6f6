"""curation/search as functions on small hand-made arrays: the blocked exact search and the faiss
path against a brute-force search, padding, invalid rows, the recall measure, the groups and
blocks helpers, and the same-person pairs of folder means (no model, no command)."""

import faiss
import numpy as np
import pytest

from fqe_onnx.curation import search
from fqe_onnx.curation.search import (
    ann_recall,
    block_similarities,
    cross_search,
    exact_cross_search,
    faiss_cross_search,
    faiss_index,
    groups,
    same_person_pairs,
    unit_rows,
    Neighbours,
)
from fqe_onnx.errors import FqeError

# One OpenMP thread: the answers do not depend on it, and faiss's thread pool does not survive the
# fork of a test run in a child process (mutmut runs each mutant so: its children spin forever).
faiss.omp_set_num_threads(1)


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def random_set(n=60, dim=8, labels=12, seed=0, invalid=0.1):
    rng = np.random.default_rng(seed)
    vectors = unit(rng.normal(size=(n, dim))).astype(np.float32)
    return vectors, rng.integers(0, labels, size=n), rng.random(n) >= invalid


def brute_force(vectors, labels, valid, k, queries=None):
    """Every pair in float64, one query at a time: the k best valid rows of another label, best
    first, padded with (-1, -inf); an invalid query gets nothing."""
    rows = range(len(vectors)) if queries is None else queries
    index, similarity = [], []
    for q in rows:
        found = (
            []
            if not valid[q]
            else sorted(
                (
                    (float(vectors[q].astype(np.float64) @ vectors[g].astype(np.float64)), g)
                    for g in range(len(vectors))
                    if valid[g] and labels[g] != labels[q]
                ),
                reverse=True,
            )[:k]
        )
        found += [(-np.inf, -1)] * (k - len(found))
        similarity.append([s for s, _ in found])
        index.append([g for _, g in found])
    return np.array(index, dtype=np.int64), np.array(similarity)


def assert_same(found, expected_index, expected_similarity):
    assert found.index.dtype == np.int64 and found.similarity.dtype == np.float32
    assert found.index.tolist() == expected_index.tolist()
    assert np.array_equal(np.isinf(found.similarity), np.isinf(expected_similarity))
    finite = np.isfinite(expected_similarity)
    assert np.allclose(found.similarity[finite], expected_similarity[finite], atol=1e-6)
    assert (found.similarity[~finite] == -np.inf).all()


@pytest.mark.parametrize("block", [1, 3, 7, 64, 2048])
def test_blocked_exact_search_equals_brute_force_for_any_block(block):
    """Every block size, the last block short, gives the brute-force answer: the k best valid
    images of another label, best first; invalid queries get -1 / -inf."""
    vectors, labels, valid = random_set()
    found = exact_cross_search(vectors, labels, valid, k=4, block=block)
    assert_same(found, *brute_force(vectors, labels, valid, 4))


def test_fewer_candidates_than_k_are_padded():
    """With fewer valid images of other labels than k, the rest of the row is -1 and -inf (never
    an image of the query's own label), whatever the block size."""
    vectors = unit(np.random.default_rng(2).normal(size=(7, 4))).astype(np.float32)
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    valid = np.array([True, True, True, True, False, True, True])
    for block in (2, 3, 100):
        found = exact_cross_search(vectors, labels, valid, k=5, block=block)
        assert_same(found, *brute_force(vectors, labels, valid, 5))
    assert found.index[0].tolist()[3:] == [-1, -1] and found.index[4].tolist() == [-1] * 5  # 4: invalid


def test_the_default_k_is_eight():
    vectors, labels, valid = random_set()
    found = exact_cross_search(vectors, labels, valid)
    assert found.index.shape == found.similarity.shape == (60, search.K_OTHER) == (60, 8)
    assert_same(found, *brute_force(vectors, labels, valid, 8))


def test_queries_are_rows_and_progress_counts_them():
    """``queries`` picks the rows asked about (answers in that order); progress is told each
    block's number of queries."""
    vectors, labels, valid = random_set(seed=3)
    queries = np.array([5, 0, 59, 17, 17, 30, 2])
    told = []
    found = exact_cross_search(vectors, labels, valid, k=3, block=3, queries=queries, progress=told.append)
    assert_same(found, *brute_force(vectors, labels, valid, 3, queries=queries.tolist()))
    assert told == [3, 3, 1]


def test_an_exact_tie_keeps_both_and_sorts_best_first():
    """Two gallery images at one similarity both come back; rows are sorted best first."""
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0.6, 0, 0.8], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    labels = np.array([0, 1, 2, 3, 4])
    found = exact_cross_search(vectors, labels, np.ones(5, bool), k=4, block=2)
    assert sorted(found.index[0, :2].tolist()) == [1, 2]
    assert found.similarity[0].tolist() == pytest.approx([0.6, 0.6, 0.0, 0.0])
    assert (np.diff(found.similarity, axis=1) <= 0).all()


def test_faiss_with_every_list_probed_equals_the_exact_search():
    """An IVF index probed in all its lists is exact: the same neighbours as the blocked search,
    for every block size; rows fewer than k are padded with -1 / -inf (faiss's own -FLT_MAX
    filler does not leak out)."""
    vectors, labels, valid = random_set(n=120, labels=10, seed=4)
    index = faiss_index(vectors, valid, lists=3)
    expected = brute_force(vectors, labels, valid, 4)
    for block in (7, 2048):
        found = faiss_cross_search(vectors, labels, valid, k=4, probes=3, fetch=128, index=index, block=block)
        assert_same(found, *expected)
    assert index.nprobe == 3


def test_faiss_pads_when_the_index_has_fewer_rows_than_fetch():
    vectors = unit(np.random.default_rng(5).normal(size=(6, 4))).astype(np.float32)
    labels = np.array([1, 0, 0, 2, 2, 3])
    valid = np.array([True, True, True, True, True, False])
    found = faiss_cross_search(vectors, labels, valid, k=5, probes=1, fetch=64)
    assert_same(found, *brute_force(vectors, labels, valid, 5))


def test_faiss_fetch_smaller_than_k_leaves_the_rest_empty():
    """Each query asks faiss for ``fetch`` images: with fetch < k, only the first fetch columns can
    be filled, the rest stay -1 / -inf."""
    vectors = unit(np.random.default_rng(6).normal(size=(30, 4))).astype(np.float32)
    labels = np.arange(30)  # every image its own label: nothing of the query's own label but itself
    valid = np.ones(30, bool)
    found = faiss_cross_search(vectors, labels, valid, k=4, probes=1, fetch=3, queries=np.array([4, 9]))
    index, similarity = brute_force(vectors, labels, valid, 2, queries=[4, 9])  # fetch 3: itself and 2 others
    assert found.index[:, :2].tolist() == index.tolist()
    assert np.allclose(found.similarity[:, :2], similarity, atol=1e-6)
    assert (found.index[:, 2:] == -1).all() and (found.similarity[:, 2:] == -np.inf).all()


def test_faiss_counts_progress_and_builds_its_own_index():
    vectors, labels, valid = random_set(n=50, seed=7)
    told = []
    found = faiss_cross_search(vectors, labels, valid, k=2, probes=1, fetch=64, block=20, progress=told.append)
    assert told == [20, 20, 10]
    assert_same(found, *brute_force(vectors, labels, valid, 2))  # 50 valid rows: one list


def test_faiss_index_lists_and_ids():
    """About sqrt(N) lists, at most N / 39 (faiss's training minimum), at least 1; ``lists`` given
    is used up to that bound; the ids are the gallery's row numbers, every valid row once."""
    rng = np.random.default_rng(8)
    vectors = unit(rng.normal(size=(2100, 4))).astype(np.float32)
    valid = np.ones(2100, bool)
    assert faiss_index(vectors, valid).nlist == 45  # sqrt(2100) = 45.8; 2100 // 39 = 53
    assert faiss_index(vectors[:400], valid[:400]).nlist == 10  # sqrt 20, but 400 // 39 = 10
    assert faiss_index(vectors[:390], valid[:390]).nlist == 10  # 390 // 39 = 10 (// 40 would be 9)
    assert faiss_index(vectors[:400], valid[:400], lists=3).nlist == 3
    assert faiss_index(vectors[:400], valid[:400], lists=50).nlist == 10
    assert faiss_index(vectors[:20], valid[:20]).nlist == 1
    some = np.zeros(400, bool)
    some[[0, 7, 8, 399]] = True
    index = faiss_index(vectors[:400], some)
    assert index.ntotal == 4
    _, ids = index.search(vectors[[0, 7, 8, 399]], 4)
    assert sorted(ids[0].tolist()) == [0, 7, 8, 399] and ids[:, 0].tolist() == [0, 7, 8, 399]


def test_faiss_index_trains_on_a_seeded_sample_of_64_per_list():
    """One list: its centroid is the direction of the mean of the training images, which are a
    seeded sample of 64 of the valid rows when there are more, else all of them."""
    rng = np.random.default_rng(9)
    vectors = unit(rng.normal(size=(100, 6))).astype(np.float32)
    valid = np.ones(100, bool)
    valid[3] = False
    gallery = np.flatnonzero(valid)
    for seed in (0, 1):
        index = faiss_index(vectors, valid, lists=1, seed=seed)  # held: the quantizer lives in it
        centroid = index.quantizer.reconstruct(0)
        sample = np.sort(np.random.default_rng(seed).choice(gallery, 64, replace=False))
        assert np.allclose(centroid, unit(vectors[sample].astype(np.float64).mean(axis=0)), atol=1e-5)
    index = faiss_index(vectors[:60], valid[:60], lists=1)
    small = index.quantizer.reconstruct(0)
    assert np.allclose(small, unit(vectors[:60][valid[:60]].astype(np.float64).mean(axis=0)), atol=1e-5)


def test_cross_search_dispatches_by_engine():
    vectors, labels, valid = random_set(n=40, seed=10)
    told = []
    exact = cross_search(vectors, labels, valid, "exact", k=3, progress=told.append)
    assert_same(exact, *brute_force(vectors, labels, valid, 3))
    assert told == [40]
    approximate = cross_search(vectors, labels, valid, "faiss", k=3, progress=told.append)  # 40 rows: one list, exact
    assert_same(approximate, *brute_force(vectors, labels, valid, 3))
    assert told == [40, 40]
    assert cross_search(vectors, labels, valid).index.shape == (40, 8)
    with pytest.raises(FqeError, match=r"^unknown search index 'annoy': one of exact, faiss$"):
        cross_search(vectors, labels, valid, "annoy")


def test_ann_recall_counts_first_hits_and_ties():
    """Share of the queries with an exact answer whose first approximate answer is the same image
    or within 1e-6 of its similarity; queries without an exact answer are left out."""
    exact = Neighbours(
        np.array([[1], [2], [3], [-1], [5], [0]]), np.array([[0.9], [0.8], [0.7], [-np.inf], [0.5], [0.4]], np.float32)
    )
    approximate = Neighbours(
        np.array([[1], [7], [8], [4], [6], [0]]),
        np.array([[0.9], [0.8 + 5e-7], [0.6], [0.3], [0.5 - 2e-6], [0.4]], np.float32),
    )
    assert ann_recall(exact, approximate) == 0.6  # 0 and 5 the same image, 1 a tie; 2 and 4 missed; 3 not counted
    none = Neighbours(np.full((2, 1), -1), np.full((2, 1), -np.inf, np.float32))
    assert np.isnan(ann_recall(none, none))


def test_groups_are_row_indices_per_label_in_label_order():
    parts = list(groups(np.array([2, 0, 2, 1, 0, 5])))
    assert [p.tolist() for p in parts] == [[1, 4], [3], [0, 2], [5]]
    assert [p.tolist() for p in groups([3, 3, 3])] == [[0, 1, 2]]
    many = np.random.default_rng(16).integers(0, 3, size=500)
    assert [p.tolist() for p in groups(many)] == [
        np.flatnonzero(many == k).tolist() for k in range(3)
    ]  # rows ascending


def test_block_similarities_cover_every_row_once():
    vectors = unit(np.random.default_rng(11).normal(size=(9, 3))).astype(np.float32)
    members = np.array([8, 1, 4, 0, 6])
    blocks = list(block_similarities(vectors, members, block=2))
    assert [start for start, _ in blocks] == [0, 2, 4]
    assert [s.shape for _, s in blocks] == [(2, 5), (2, 5), (1, 5)]
    assert np.allclose(np.vstack([s for _, s in blocks]), vectors[members] @ vectors[members].T)
    whole = list(block_similarities(vectors, members))
    assert len(whole) == 1 and whole[0][0] == 0 and whole[0][1].shape == (5, 5)


def test_unit_rows_leave_zero_rows_zero():
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0], [0.3, 0.4]]))
    assert rows.dtype == np.float32
    assert rows.tolist() == [
        [pytest.approx(0.6), pytest.approx(0.8)],
        [0.0, 0.0],
        [0.0, -1.0],
        [pytest.approx(0.6), pytest.approx(0.8)],
    ]


def test_same_person_pairs_compare_folder_means():
    """Pairs of labels (a < b) whose means reach the threshold (>=), with that similarity, in
    order; labels with no valid image are skipped (their numbers kept for the others)."""
    sums = np.array([[2.0, 0, 0], [0, 0, 0], [0.6, 0.8, 0], [0, 3.0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    counts = np.array([2, 0, 1, 3, 1, 1])
    at = float(np.float32(0.6))  # exactly the float32 similarity of the 0.6 pairs
    pairs = same_person_pairs(sums, counts, at)
    assert [(a, b) for a, b, _ in pairs] == [(0, 2), (0, 5), (2, 3), (2, 5)]
    assert [s for _, _, s in pairs] == pytest.approx([0.6, 1.0, 0.8, 0.6])
    assert all(isinstance(s, float) for _, _, s in pairs)
    assert [(a, b) for a, b, _ in same_person_pairs(sums, counts, 0.61)] == [(0, 5), (2, 3)]
    assert same_person_pairs(sums, counts, 1.01) == []
    everything = same_person_pairs(sums, counts, -1.0)
    assert len(everything) == 10 and all(1 not in (a, b) for a, b, _ in everything)


def test_same_person_pairs_need_two_folders_and_look_at_the_four_nearest():
    """One folder: no pairs; two alike: their pair. Each folder is compared with its 4 most similar
    folders only, so a pair is found when either is among the other's 4 nearest: a hub (0) with 4
    close satellites (1-4, similarities 0.98 and more) and a lone folder 5 at 0.83 to the hub and
    0.827, 0.825, 0.823, 0.821 to the satellites: 5 is paired with the hub and the first three
    satellites (its 4 nearest), not the fourth, though all are above the threshold."""
    assert same_person_pairs(np.ones((2, 3)), np.array([4, 0]), 0.0) == []
    two = same_person_pairs(np.array([[1.0, 0], [1.0, 0.1]]), np.array([1, 1]), 0.9)
    assert [(a, b) for a, b, _ in two] == [(0, 1)]
    sums = np.zeros((6, 7))
    sums[0, 0] = 1
    for k, c in enumerate((0.1, 0.12, 0.14, 0.16), start=1):
        sums[k, 0], sums[k, k] = 1, c
    sums[5, 0], sums[5, 5] = 1, 0.67
    found = {(a, b) for a, b, _ in same_person_pairs(sums, np.ones(6, int), 0.5)}
    cluster = {(a, b) for a in range(5) for b in range(a + 1, 5)}
    assert found == cluster | {(0, 5), (1, 5), (2, 5), (3, 5)}
    brute = {(a, b) for a in range(6) for b in range(a + 1, 6) if unit(sums[a]) @ unit(sums[b]) >= 0.5}
    assert brute == found | {(4, 5)}


def test_k_of_one_and_k_beyond_the_gallery():
    """k = 1 (the single best, whatever the block), and k larger than the whole valid gallery (the
    rest is -1 / -inf, never a placeholder)."""
    vectors, labels, valid = random_set(n=40, seed=13)
    for block in (1, 4, 100):
        assert_same(
            exact_cross_search(vectors, labels, valid, k=1, block=block), *brute_force(vectors, labels, valid, 1)
        )
    few = np.zeros(40, bool)
    few[[0, 5, 9, 30]] = True
    for block in (3, 100):
        assert_same(exact_cross_search(vectors, labels, few, k=6, block=block), *brute_force(vectors, labels, few, 6))
    nothing = exact_cross_search(vectors, labels, np.zeros(40, bool), k=2)
    assert (nothing.index == -1).all() and (nothing.similarity == -np.inf).all()


def test_faiss_misses_a_neighbour_behind_fetch_images_of_the_own_identity():
    """The documented approximation: by default each query fetches its 64 nearest; a query whose
    identity has 64 images closer than any other's finds nothing among them (itself and 63 more),
    one with 63 does; the default probes are 16."""
    rng = np.random.default_rng(14)
    for own, found in ((64, False), (63, True)):
        vectors = np.vstack([unit(np.eye(8)[0] + 0.05 * rng.normal(size=(own, 8))), unit(np.eye(8)[0] + np.eye(8)[1])])
        labels = np.array([0] * own + [1])
        valid = np.ones(own + 1, bool)
        index = faiss_index(vectors.astype(np.float32), valid, lists=1)
        result = faiss_cross_search(vectors.astype(np.float32), labels, valid, k=1, index=index, queries=np.array([0]))
        assert (result.index[0, 0] == own) == found
        assert index.nprobe == 16


def test_faiss_index_default_seed_and_a_gallery_just_over_64():
    """Without a seed the sample is seed 0's; 65 valid images with one list are more than 64: a
    sample of 64 is trained on, not all 65."""
    rng = np.random.default_rng(15)
    vectors = unit(rng.normal(size=(65, 6))).astype(np.float32)
    valid = np.ones(65, bool)
    index = faiss_index(vectors, valid, lists=1)
    sample = np.sort(np.random.default_rng(0).choice(np.arange(65), 64, replace=False))
    assert np.allclose(index.quantizer.reconstruct(0), unit(vectors[sample].astype(np.float64).mean(axis=0)), atol=1e-5)
    assert not np.allclose(index.quantizer.reconstruct(0), unit(vectors.astype(np.float64).mean(axis=0)), atol=1e-5)


def test_faiss_needs_the_curate_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    with pytest.raises(FqeError, match=r"^--index faiss needs faiss: pip install faiss-cpu \(the curate extra\)$"):
        search.import_faiss()

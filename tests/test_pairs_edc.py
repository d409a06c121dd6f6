"""Evaluation pairs and the EDC at their edges: huge identities in bounded memory, FMR thresholds
that are not whole counts, a similarity exactly at the threshold, embeddings with no direction."""

import tracemalloc
from itertools import combinations

import numpy as np
import pytest

from fqe_onnx.evaluation.edc import edc_curve, threshold_at_fmr
from fqe_onnx.evaluation.pairs import (
    Pairs,
    comparison_pairs,
    cosine_similarities,
    mated_pairs,
    non_mated_pairs,
    pair_at,
)


def peak_mib(function, *args, **kwargs):
    tracemalloc.start()
    try:
        result = function(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("m", [2, 3, 7, 50])
def test_pair_at_is_the_combinations_order(m):
    expected = list(combinations(range(m), 2))
    i, j = pair_at(np.arange(len(expected)), m)
    assert list(zip(i.tolist(), j.tolist())) == expected


def test_pair_at_is_exact_for_a_huge_identity():
    m = 20_000
    total = m * (m - 1) // 2
    i, j = pair_at(np.array([0, 1, m - 2, m - 1, total // 2, total - 2, total - 1]), m)
    assert list(zip(i.tolist(), j.tolist()))[:4] == [(0, 1), (0, 2), (0, m - 1), (1, 2)]
    assert (i[-2], j[-2]) == (m - 3, m - 1) and (i[-1], j[-1]) == (m - 2, m - 1)
    start = i[4] * m - i[4] * (i[4] + 1) // 2
    assert start + j[4] - i[4] - 1 == total // 2 and i[4] < j[4] < m


def test_small_identities_keep_every_pair_and_a_capped_one_a_sample():
    identities = ["a"] * 4 + ["b"] * 2 + ["c"] * 40
    a, b = mated_pairs(identities, cap=100, seed=3)
    pairs = list(zip(a.tolist(), b.tolist()))
    assert pairs[:7] == list(combinations(range(4), 2)) + [(4, 5)]
    sampled = pairs[7:]
    assert len(sampled) == len(set(sampled)) == 100
    assert all(6 <= x < y < 46 for x, y in sampled) and sampled == sorted(sampled)
    assert mated_pairs(identities, cap=100, seed=3)[0].tolist() == a.tolist()  # seeded
    assert mated_pairs(identities, cap=100, seed=4)[0].tolist() != a.tolist()


def test_twenty_thousand_images_of_one_identity_in_bounded_memory():
    identities = ["one"] * 20_000 + ["two"] * 3
    (a, b), peak = peak_mib(mated_pairs, identities, cap=500)
    assert len(a) == 503 and peak < 20, f"mated pairs peaked at {peak:.0f} MiB"
    assert np.all(a < b) and len(set(zip(a.tolist(), b.tolist()))) == 503
    (na, nb), peak = peak_mib(non_mated_pairs, identities, count=200_000)
    assert len(na) == 60_000 and peak < 40, f"non-mated pairs peaked at {peak:.0f} MiB"  # all 3 x 20,000
    assert np.all(np.asarray(identities)[na] != np.asarray(identities)[nb])
    pairs, peak = peak_mib(comparison_pairs, identities, 500, 200_000)
    assert len(pairs) == 60_503 and peak < 60


def test_few_cross_pairs_among_many_are_sampled_exactly_and_distinct():
    identities = ["big"] * 3000 + [f"x{i}" for i in range(100)]  # 3e5 + 4950 cross pairs of 4.8e6
    a, b = non_mated_pairs(identities, count=50_000, seed=1)
    labels = np.asarray(identities)
    assert len(a) == 50_000 and np.all(a < b) and np.all(labels[a] != labels[b])
    keys = a * len(identities) + b
    assert len(np.unique(keys)) == 50_000 and np.all(np.diff(keys) > 0)
    share_big = np.mean(labels[a] == "big")
    assert share_big == pytest.approx(300_000 / 304_950, abs=0.01)  # uniform over the cross pairs


def test_all_cross_pairs_when_there_are_fewer_than_asked():
    identities = ["a", "b", "a", "c"]
    a, b = non_mated_pairs(identities, count=100)
    assert list(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_the_fmr_threshold_never_allows_more_false_matches_than_the_fmr():
    scores = np.random.default_rng(0).permutation(np.linspace(-1, 1, 15_500))  # distinct
    threshold = threshold_at_fmr(scores, 1e-3)  # 15.5 false matches allowed: at most 15
    false_matches = int(np.sum(scores >= threshold))
    assert false_matches == 15
    assert false_matches / len(scores) <= 1e-3
    assert np.sort(scores)[-16] < threshold <= np.sort(scores)[-15]


def test_a_mated_similarity_exactly_at_the_threshold_is_a_match():
    curve = edc_curve(np.array([1.0, 2.0]), np.array([np.nextafter(0.5, -1), 0.5]), 0.5)
    assert curve.fnmr_at(0.0) == pytest.approx(0.5)  # only the one below is a false non-match
    assert curve.fnmr_at(0.5) == 0.0  # the one left is exactly at it


def test_a_nan_similarity_is_not_a_match():
    curve = edc_curve(np.array([1.0, 2.0]), np.array([np.nan, 0.9]), 0.5)
    assert curve.fnmr_at(0.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad", [np.zeros(4), np.array([1.0, np.nan, 0, 0]), np.array([np.inf, 0, 0, 0])], ids=["zero", "nan", "inf"]
)
def test_an_embedding_with_no_direction_is_a_failed_image(bad):
    good = np.array([1.0, 0.0, 0.0, 0.0])
    pairs = Pairs(np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([True, True, False]))
    with np.errstate(all="raise"):  # no RuntimeWarning either
        similarity = cosine_similarities([good, bad, good * 2], pairs)
    assert similarity.tolist() == [-np.inf, 1.0, -np.inf]
    curve = edc_curve(np.array([0.0, 1.0]), similarity[:2], 0.5)
    assert curve.fnmr_at(0.0) == pytest.approx(0.5)  # the failed mated comparison is a false non-match


def test_the_threshold_is_computed_in_float64_whatever_the_input():
    scores = np.linspace(-1, 1, 20_000).astype(np.float32)
    threshold = threshold_at_fmr(scores, 1e-3)
    top = np.sort(scores.astype(np.float64))[::-1][20]
    assert threshold == np.nextafter(top, np.inf)  # one float64 step above, not one float32 step


def test_exactly_min_false_matches_is_enough():
    from fqe_onnx.evaluation.edc import MIN_FALSE_MATCHES, fmr_supported

    scores = np.linspace(-1, 1, 10_000)
    assert MIN_FALSE_MATCHES == 10 and fmr_supported(10_000, 1e-3) and not fmr_supported(9_999, 1e-3)
    assert np.sum(scores >= threshold_at_fmr(scores, 1e-3)) == 10
    with pytest.raises(Exception) as error:
        threshold_at_fmr(scores[:-1], 1e-3)
    assert str(error.value) == (
        "9999 non-mated comparisons cannot set a threshold at FMR 0.001: at least 10000 are needed"
    )


def test_edc_curve_shape_ties_and_refusals():
    curve = edc_curve(np.array([1.0, 2.0, 2.0, 3.0]), np.array([0.1, 0.9, 0.1, 0.9]), 0.5)
    assert curve.discard.tolist() == [0.0, 0.25, 0.75, 1.0]  # the two tied qualities go together
    assert curve.fnmr.tolist() == [0.5, 1 / 3, 0.0, 0.0] and curve.comparisons == 4
    single = edc_curve(np.array([1.0]), np.array([0.9]), 0.5)
    assert single.fnmr.tolist() == [0.0, 0.0] and single.comparisons == 1
    with pytest.raises(Exception) as error:
        edc_curve(np.array([1.0, 2.0]), np.array([0.5]), 0.5)
    assert str(error.value) == "need matching, non-empty mated comparisons; got 2 qualities and 1 similarities"
    with pytest.raises(Exception) as error:
        edc_curve(np.array([]), np.array([]), 0.5)
    assert str(error.value) == "need matching, non-empty mated comparisons; got 0 qualities and 0 similarities"
    with pytest.raises(Exception) as error:
        edc_curve(np.array([np.nan]), np.array([0.5]), 0.5)
    assert str(error.value) == "pair qualities must not be NaN (failed images take -inf)"


def test_a_curve_without_errors_has_no_normalised_area():
    from fqe_onnx.evaluation.edc import edc_summary

    summary = edc_summary(edc_curve(np.array([1.0, 2.0]), np.array([0.9, 0.8]), 0.5))
    assert summary["pauc"]["0.2"]["normalised"] is None and summary["fnmr"]["0"] == 0.0


DENSE = [f"p{i // 2}" for i in range(600)]  # 300 people, two images each: nearly every pair is non-mated


def test_dense_non_mated_pairs_are_a_seeded_sample_of_distinct_cross_pairs():
    a, b = non_mated_pairs(DENSE, count=5000, seed=3)
    labels = np.asarray(DENSE)
    keys = a * len(DENSE) + b
    assert len(a) == 5000 and np.all(a < b) and np.all(labels[a] != labels[b]) and np.all(np.diff(keys) > 0)
    assert a.dtype == b.dtype == np.int64 and a.min() >= 0 and b.max() < 600
    assert abs(np.mean(a) - 200) < 15 and abs(np.mean(b) - 400) < 15  # uniform: E[min] = n/3, E[max] = 2n/3
    again = non_mated_pairs(DENSE, count=5000, seed=3)
    assert np.array_equal(again[0], a) and np.array_equal(again[1], b)
    assert not np.array_equal(non_mated_pairs(DENSE, count=5000, seed=4)[0], a)
    default = non_mated_pairs(DENSE, count=5000)
    assert np.array_equal(default[0], non_mated_pairs(DENSE, count=5000, seed=0)[0])


@pytest.mark.parametrize(
    "identities, count, by_rank",
    [
        (DENSE, 5000, False),  # most pairs non-mated: random draws
        (["a", "a", "a", "b"], 2, False),  # exactly half the pairs are non-mated: still random draws
        (["a", "a", "a", "a", "b"], 2, True),  # fewer than half: drawn by rank
        (["a", "b", "a", "c"], 5, True),  # exactly as many as asked: all of them, by rank
        (["a", "b", "a", "c"], 4, False),
        (["big"] * 3000 + [f"x{i}" for i in range(100)], 1000, True),
    ],
)
def test_which_sampler_draws_the_non_mated_pairs(identities, count, by_rank, monkeypatch):
    from fqe_onnx.evaluation import pairs as module

    used = []
    real = module.cross_pairs
    monkeypatch.setattr(module, "cross_pairs", lambda *args: used.append(1) or real(*args))
    a, b = non_mated_pairs(identities, count=count)
    assert bool(used) == by_rank and len(a) == count
    labels = np.asarray(identities)
    assert np.all(labels[a] != labels[b]) and len(set(zip(a.tolist(), b.tolist()))) == count


def test_pair_at_at_row_boundaries_of_huge_identities():
    for m in (20_000, 1_000_003, 30_000_001):
        rows = np.unique(np.linspace(0, m - 2, 2000).astype(np.int64))
        starts = rows * m - rows * (rows + 1) // 2
        for ranks, expect_i, expect_j in (
            (starts, rows, rows + 1),
            (starts[1:] - 1, rows[1:] - 1, np.full(len(rows) - 1, m - 1)),
        ):
            i, j = pair_at(ranks, m)
            assert np.array_equal(i, expect_i) and np.array_equal(j, expect_j), m


def test_defaults_and_seeds_pass_through_comparison_pairs():
    identities = ["a"] * 6 + ["b"] * 5 + ["c"]
    pairs = comparison_pairs(identities, cap=4, non_mated=10, seed=5)
    ma, mb = mated_pairs(identities, cap=4, seed=5)
    na, nb = non_mated_pairs(identities, count=10, seed=5)
    assert pairs.a.tolist() == ma.tolist() + na.tolist() and pairs.b.tolist() == mb.tolist() + nb.tolist()
    assert pairs.mated.tolist() == [True] * len(ma) + [False] * len(na)
    assert comparison_pairs(identities).a.tolist() == comparison_pairs(identities, seed=0).a.tolist()
    assert mated_pairs(identities, cap=4)[0].tolist() == mated_pairs(identities, cap=4, seed=0)[0].tolist()
    with pytest.raises(Exception) as error:
        comparison_pairs(["a", "b", "c"])
    assert str(error.value) == "no identity has two images: there are no mated comparisons to evaluate"


def test_similarities_are_computed_in_float64_and_all_failed_is_fine():
    rng = np.random.default_rng(0)
    e = [rng.normal(size=8).astype(np.float32) for _ in range(2)]
    pairs = Pairs(np.array([0]), np.array([1]), np.array([True]))
    x, y = (v.astype(np.float64) for v in e)
    assert cosine_similarities(e, pairs)[0] == pytest.approx(x @ y / np.linalg.norm(x) / np.linalg.norm(y), abs=1e-15)
    assert cosine_similarities([None, None], pairs).tolist() == [-np.inf]


def test_every_image_can_be_drawn_by_the_dense_sampler():
    a, b = non_mated_pairs(DENSE, count=20_000, seed=3)
    counts = np.bincount(np.concatenate([a, b]), minlength=600)
    assert counts.min() > 0 and counts[0] > 0.7 * counts.mean() and counts[599] > 0.7 * counts.mean()


@pytest.mark.parametrize("m", [300_000_000, 3_000_000_000])
def test_pair_at_corrects_float_rounding_of_more_than_one_row(m):
    """Near the end of a very large m the float estimate of the row is off by up to two: every rank
    at, just before and just after a row's start still gives the pair of that rank."""

    def start(row):
        return row * m - row * (row + 1) // 2

    rows = np.unique(np.concatenate([np.arange(0, m - 1, m // 20_000), np.arange(m - 2_000, m - 1)])).astype(np.int64)
    total = m * (m - 1) // 2
    ranks = np.concatenate([start(rows), start(rows) - 1, start(rows) + 1])
    ranks = ranks[(ranks >= 0) & (ranks < total)]
    i, j = pair_at(ranks, m)
    assert ((0 <= i) & (i < j) & (j < m)).all()
    assert ((start(i) <= ranks) & (ranks < start(i + 1))).all() and (start(i) + j - i - 1 == ranks).all()

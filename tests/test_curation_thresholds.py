"""curation/thresholds as functions on small hand-made arrays: chunked pair similarities, the
non-mated sample (every pair when few, identity-uniform when many), the tail threshold and its
normal extrapolation, the per-search pairwise FMR, the leave-one-out similarity to an identity's
mean, and fix_thresholds' wiring against a brute-force reference (no model, no command)."""

import math
from collections import Counter

import numpy as np
import pytest

from fqe_onnx.curation.thresholds import (
    PAIR_FMR,
    GROUP_FMR,
    Thresholds,
    fix_thresholds,
    label_sums,
    loo_centroid_similarity,
    pair_similarities,
    pairwise_fmr_for_search,
    sample_non_mated,
    tail_threshold,
)
from fqe_onnx.errors import FqeError
from fqe_onnx.evaluation.pairs import non_mated_pairs


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_pair_similarities_in_chunks_are_the_row_products():
    rng = np.random.default_rng(0)
    vectors = unit(rng.normal(size=(6, 5))).astype(np.float32)
    a, b = np.array([0, 1, 2, 5, 4]), np.array([3, 3, 0, 5, 1])
    expected = [float(vectors[i].astype(np.float64) @ vectors[j]) for i, j in zip(a, b)]
    for chunk in (1, 2, 4, 65536):
        got = pair_similarities(vectors, a, b, chunk=chunk)
        assert got.dtype == np.float64 and got.tolist() == pytest.approx(expected, abs=1e-6)
    assert pair_similarities(vectors, a[:0], b[:0]).shape == (0,)


def test_sample_non_mated_needs_two_embedded_identities():
    labels = np.array([0, 0, 1, 1])
    with pytest.raises(FqeError, match="^curation needs images of at least two identities that could be embedded$"):
        sample_non_mated(labels, np.array([True, True, False, False]), 10)
    with pytest.raises(FqeError):
        sample_non_mated(labels, np.zeros(4, bool), 10)


def cross_pairs_of(labels, valid):
    return {
        (i, j)
        for i in range(len(labels))
        for j in range(i + 1, len(labels))
        if valid[i] and valid[j] and labels[i] != labels[j]
    }


def test_a_small_set_gives_every_cross_pair_once():
    """When there are no more cross-identity pairs of valid images than asked for (here exactly as
    many, 8), each comes once; invalid images never."""
    labels = np.array([5, 5, 9, 9, 2, 2])
    valid = np.array([True, True, True, True, True, False])
    expected = cross_pairs_of(labels, valid)
    assert len(expected) == 8
    for count in (8, 100):
        a, b = sample_non_mated(labels, valid, count)
        assert len(a) == 8 and {(int(x), int(y)) for x, y in zip(a, b)} == expected


def test_the_small_set_is_taken_exactly_up_to_its_size():
    """100 images in 10 identities have 4,500 cross pairs: asked for 4,500, each comes once; asked
    for 4,499, they are drawn (with repeats, as the large-set sampler does)."""
    labels = np.repeat(np.arange(10), 10)
    valid = np.ones(100, bool)
    assert len(cross_pairs_of(labels, valid)) == 4500
    a, b = sample_non_mated(labels, valid, 4500)
    assert len({(int(x), int(y)) for x, y in zip(a, b)}) == 4500
    a, b = sample_non_mated(labels, valid, 4499)
    assert len(a) == 4499 and len({(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist())}) < 4499


def test_the_sample_seed_defaults_to_zero():
    labels = np.repeat(np.arange(10), 10)
    default = sample_non_mated(labels, np.ones(100, bool), 300)
    zero = sample_non_mated(labels, np.ones(100, bool), 300, seed=0)
    assert np.array_equal(default[0], zero[0]) and np.array_equal(default[1], zero[1])


def test_a_large_set_is_sampled_identity_uniformly():
    """More pairs than asked for: ``count`` pairs, a drawn over all valid images, b's identity
    uniform among the other identities (not weighted by their size), then b uniform in it; never
    an invalid image or a pair of one identity; seeded."""
    labels = np.concatenate([np.full(400, 7), np.repeat([3, 11, 20, 4], 20), [3, 7, 20]])
    valid = np.arange(len(labels)) < 480
    count = 8000
    a, b = sample_non_mated(labels, valid, count, seed=1)
    assert len(a) == len(b) == count
    assert valid[a].all() and valid[b].all() and (labels[a] != labels[b]).all()
    assert np.mean(labels[a] == 7) == pytest.approx(400 / 480, abs=0.02)  # a: uniform over images
    small = labels[a] != 7
    share_b = Counter(labels[b][small].tolist())
    assert share_b[7] / small.sum() == pytest.approx(1 / 4, abs=0.04)  # from a small identity: each other 1/4
    for identity in (3, 11, 20, 4):  # (and a small one is a's own a quarter of the time)
        assert share_b[identity] / small.sum() == pytest.approx(3 / 16, abs=0.04)
    in_big = b[labels[b] == 7]
    assert np.mean(in_big < 200) == pytest.approx(0.5, abs=0.1) and in_big.min() < 10 and in_big.max() >= 390
    again = sample_non_mated(labels, valid, count, seed=1)
    other = sample_non_mated(labels, valid, count, seed=2)
    assert np.array_equal(again[0], a) and np.array_equal(again[1], b) and not np.array_equal(other[0], a)


def test_a_large_set_reaches_every_image_of_every_identity():
    """Every valid image turns up on both sides, the last identity in label order included (2,600
    cross pairs, 2,500 drawn)."""
    labels = np.repeat([0, 1, 2], [30, 20, 40])
    valid = np.ones(90, bool)
    a, b = sample_non_mated(labels, valid, 2500, seed=3)
    assert len(a) == 2500 and set(a.tolist()) == set(range(90)) and set(b.tolist()) == set(range(90))
    assert (labels[a] != labels[b]).all()


def test_tail_threshold_needs_200_comparisons():
    with pytest.raises(
        FqeError,
        match=r"^199 non-mated comparisons are too few to fix a threshold: at least 200 are "
        r"needed \(more images, or more identities\)$",
    ):
        tail_threshold(np.zeros(199), 0.1)
    with pytest.raises(FqeError, match="^0 non-mated comparisons are too few"):
        tail_threshold(np.zeros(0), 0.1)
    assert tail_threshold(np.zeros(200), 0.1) == np.nextafter(0.0, 1)


def test_tail_threshold_is_empirical_down_to_the_supported_share():
    """Down to 1e-3 (or 10 / N for a smaller sample) it is the smallest threshold that at most
    floor(fmr N) comparisons reach."""
    values = np.random.default_rng(0).permutation(np.arange(1000) / 1000)  # 0.000 .. 0.999
    assert tail_threshold(values, 0.05) == np.nextafter(0.949, 1)  # 50 above
    assert tail_threshold(values, 0.01) == np.nextafter(0.989, 1)  # 10 / N = 0.01: still empirical
    big = np.random.default_rng(1).permutation(np.arange(20000) / 20000)
    assert tail_threshold(big, 1e-3) == np.nextafter(19979 / 20000, 1)  # 20 above
    result = tail_threshold(big, 0.5)
    assert isinstance(result, float) and result == np.nextafter(9999 / 20000, 1)


def test_tail_threshold_extrapolates_a_normal_tail_through_two_hand_made_thresholds():
    """10,000 comparisons whose thresholds at 1e-2 and 1e-3 are just above 0.2 and 0.3: the normal
    tail through them at 1e-6 is 0.3 + 0.1 / (z(0.999) - z(0.99)) x (z(1 - 1e-6) - z(0.999)) =
    0.3 + 0.1 / 0.763884 x 1.663192 = 0.517729."""
    values = np.zeros(10000)
    values[:10], values[10], values[11:100], values[100] = 0.9, 0.3, 0.25, 0.2
    values = np.random.default_rng(2).permutation(values)
    assert tail_threshold(values, 1e-6) == pytest.approx(0.517729, abs=2e-6)
    assert tail_threshold(values, 5e-4) == pytest.approx(0.3 + 0.1 / 0.763884 * (3.290527 - 3.090232), abs=2e-6)


def test_a_smaller_sample_extrapolates_from_its_own_supported_shares():
    """1,000 comparisons support 1e-2 (10 of them) at least: the tail goes through the thresholds
    at 1e-1 and 1e-2, here just above 0.2 and 0.5."""
    values = np.zeros(1000)
    values[:11], values[11:100], values[100] = 0.5, 0.4, 0.2
    values = np.random.default_rng(3).permutation(values)
    # z(0.99) = 2.326348, z(0.9) = 1.281552, z(1 - 1e-4) = 3.719016
    expected = 0.5 + 0.3 / (2.326348 - 1.281552) * (3.719016 - 2.326348)
    assert tail_threshold(values, 1e-4) == pytest.approx(expected, abs=2e-6)


def test_a_flat_tail_still_rises_a_little():
    """All comparisons equal: the spread is floored at 1e-6 / (z(0.999) - z(0.99)), so at 1e-7 the
    threshold is 0.2 + 1e-6 x (5.199338 - 3.090232) / 0.763884 = 0.2 + 2.7611e-6."""
    assert tail_threshold(np.full(10000, 0.2), 1e-7) == pytest.approx(0.2 + 2.7611e-6, abs=1e-9)


def test_tail_threshold_follows_a_normal_sample():
    """Comparisons at the quantiles of N(0, 0.05): the extrapolated 1e-7 threshold is 0.05 z(1 - 1e-7)."""
    from statistics import NormalDist

    n = 100_000
    values = np.array([NormalDist(0, 0.05).inv_cdf((i + 0.5) / n) for i in range(n)])
    assert tail_threshold(values, 1e-7) == pytest.approx(0.05 * 5.199338, abs=0.003)


def test_the_pairwise_fmr_of_a_search():
    """p with 1 - (1 - p)^G = far, computed without cancellation; a gallery of 0 counts as 1."""
    assert pairwise_fmr_for_search(0.75, 2) == pytest.approx(0.5, abs=1e-15)
    assert pairwise_fmr_for_search(0.5, 1) == pytest.approx(0.5, abs=1e-15)
    assert pairwise_fmr_for_search(0.5, 0) == pytest.approx(0.5, abs=1e-15)
    assert pairwise_fmr_for_search(0.1, 3) == pytest.approx(1 - 0.9 ** (1 / 3), rel=1e-12)
    assert pairwise_fmr_for_search(1e-10, 10_000) == pytest.approx(1e-14, rel=1e-6)
    for far in (0.0, 1.0, -0.5, 2.0):
        with pytest.raises(FqeError, match=f"^the search false-alarm rate must be between 0 and 1, got {far}$"):
            pairwise_fmr_for_search(far, 10)


def test_label_sums_add_the_valid_images_per_label():
    vectors = np.array([[1, 0], [0, 1], [1, 0], [0.6, 0.8], [0, 1], [1, 0]], dtype=np.float32)
    labels = np.array([0, 0, 0, 3, 1, 4])
    valid = np.array([True, True, True, True, False, False])
    sums, counts = label_sums(vectors, labels, valid)
    assert sums.dtype == np.float64 and sums.shape == (5, 2)
    assert sums.tolist() == [[2, 1], [0, 0], [0, 0], [pytest.approx(0.6), pytest.approx(0.8)], [0, 0]]
    assert counts.tolist() == [3, 0, 0, 1, 0]  # one count per label, the last one's too
    empty_sums, empty_counts = label_sums(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), np.zeros(0, bool))
    assert empty_sums.shape == (0, 2) and empty_counts.tolist() == []


E0, E1, E2 = np.eye(3)
LOO_VECTORS = np.array([E0, E1, unit(E0 + E1), E2, E0, E1, E0, E1, -E1], dtype=np.float32)
LOO_LABELS = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3])
LOO_VALID = np.array([True, True, True, True, True, False, True, True, True])


def loo(rows, against, chunk=65536):
    sums, counts = label_sums(LOO_VECTORS, LOO_LABELS, LOO_VALID)
    return loo_centroid_similarity(
        LOO_VECTORS, LOO_LABELS, LOO_VALID, np.array(rows), np.array(against), sums, counts, chunk=chunk
    )


def test_leave_one_out_similarity_to_the_own_identity():
    """cos(image, mean of the rest of its identity): e0 against e1 + (e0 + e1)/sqrt2 is
    cos 67.5 deg; NaN for an image alone, an invalid one, one whose only other image is invalid,
    and one whose rest sums to zero (e1 and -e1)."""
    rows = list(range(9))
    expected = [
        math.cos(math.radians(67.5)),
        math.cos(math.radians(67.5)),
        1.0,
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        -math.sqrt(0.5),
        -math.sqrt(0.5),
    ]
    for chunk in (1, 2, 4, 65536):
        got = loo(rows, rows, chunk)
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        assert got[~np.isnan(got)].tolist() == pytest.approx([e for e in expected if not math.isnan(e)], abs=1e-6)


def test_a_rest_that_nearly_cancels_has_no_direction():
    """e0 with e1 and -(e1 + 1e-10 e2): the rest of e0's identity sums to a vector of norm 1e-10,
    rounding, not a direction: NaN (below 1e-9), though two images are left."""
    vectors = np.array([E0, E1, -(E1 + 1e-10 * E2)], dtype=np.float32)
    labels, valid = np.zeros(3, np.int64), np.ones(3, bool)
    sums, counts = label_sums(vectors, labels, valid)
    rest = sums[0] - vectors[0]
    assert 0 < np.linalg.norm(rest) < 1e-9
    got = loo_centroid_similarity(vectors, labels, valid, np.array([0]), np.array([0]), sums, counts)
    assert np.isnan(got[0])


def test_leave_one_out_similarity_against_another_identity():
    """rows[i] against the mean of against[i]'s identity without against[i]: an invalid against[i]
    takes nothing out; nothing left gives NaN; an invalid row gives NaN."""
    got = loo([3, 2, 0, 5, 7], [0, 5, 4, 0, 1])
    assert got[0] == pytest.approx(0.0, abs=1e-7)
    assert got[1] == pytest.approx(math.sqrt(0.5), abs=1e-6)  # (e0 + e1)/sqrt2 against e0 (5 is invalid)
    assert np.isnan(got[2]) and np.isnan(got[3])
    assert got[4] == pytest.approx(float(E1 @ unit(E0 + unit(E0 + E1))), abs=1e-6)


def test_thresholds_as_dict_has_every_field():
    t = Thresholds(
        pair=0.1,
        group=0.2,
        search=0.3,
        search_pairwise_fmr=1e-7,
        own=0.4,
        identity=0.5,
        duplicate=0.9,
        search_far=1e-3,
        own_fmr=1e-2,
        gallery=99,
        non_mated=1234,
    )
    assert t.as_dict() == {
        "pair": 0.1,
        "group": 0.2,
        "search": 0.3,
        "search_pairwise_fmr": 1e-7,
        "own": 0.4,
        "identity": 0.5,
        "duplicate": 0.9,
        "search_far": 1e-3,
        "own_fmr": 1e-2,
        "gallery": 99,
        "non_mated": 1234,
    }


def made_up(folders=24, size=5, dim=32, seed=0, split=True, extras=False):
    """``folders`` people of ``size`` photos; the last two folders hold one person; image 0 is a
    photo of the person of folder 1 (filed wrong); two images are invalid."""
    rng = np.random.default_rng(seed)
    people = unit(rng.normal(size=(folders, dim)))
    if split:
        people[-1] = people[-2]
    labels = np.repeat(np.arange(folders), size)
    vectors = unit(people[labels] + 0.7 * unit(rng.normal(size=(len(labels), dim))))
    vectors[0] = unit(people[1] + 0.7 * unit(rng.normal(size=dim)))
    valid = np.ones(len(labels), bool)
    valid[[7, 33]] = False
    if extras:  # a folder of one image and a folder whose only two images failed
        labels = np.concatenate([labels, [folders, folders + 1, folders + 1]])
        vectors = np.vstack([vectors, unit(rng.normal(size=(3, dim)))])
        valid = np.concatenate([valid, [True, False, False]])
    vectors[~valid] = 0
    return vectors.astype(np.float32), labels, valid


def own_of(vectors, labels, valid):
    sums, counts = label_sums(vectors, labels, valid)
    rows = np.arange(len(labels))
    return sums, counts, loo_centroid_similarity(vectors, labels, valid, rows, rows, sums, counts)


def reference(vectors, labels, valid, own, far, own_fmr, duplicate, count, seed):
    """fix_thresholds from its definition, by brute force around the tested pieces."""
    u = vectors.astype(np.float64)
    a, b = sample_non_mated(labels, valid, count, seed)

    def mean_of(label, leave_out=None):
        rows = [i for i in range(len(labels)) if valid[i] and labels[i] == label and i != leave_out]
        return None if not rows else u[rows].sum(axis=0)

    own_null = []
    for x, y in zip(a, b):
        rest = mean_of(labels[y], leave_out=y)
        if rest is not None and np.linalg.norm(rest) > 1e-9:
            own_null.append(u[x] @ rest / np.linalg.norm(rest))
    own_t = tail_threshold(np.array(own_null), own_fmr)
    present = sorted({int(labels[i]) for i in range(len(labels)) if valid[i]})
    centroid = {label: unit(mean_of(label)) for label in present}
    ia, ib = non_mated_pairs(list(range(len(present))), count, seed)
    folder_sims = np.array([centroid[present[i]] @ centroid[present[j]] for i, j in zip(ia, ib)])
    try:
        identity = min(1.0, tail_threshold(folder_sims, 1 - (1 - far) ** (1 / (len(present) - 1))))
    except FqeError:
        identity = math.inf
    same = {(x, y) for x in present for y in present if x < y and centroid[x] @ centroid[y] >= identity}
    suspect = {i for i in range(len(labels)) if np.isfinite(own[i]) and own[i] < own_t}
    keep = [
        x not in suspect and y not in suspect and (min(labels[x], labels[y]), max(labels[x], labels[y])) not in same
        for x, y in zip(a, b)
    ]
    if sum(keep) < len(keep) / 2:
        keep = [True] * len(keep)
    sims = np.array([u[x] @ u[y] for x, y, k in zip(a, b, keep) if k])
    gallery = int(valid.sum()) - 1
    p = 1 - (1 - far) ** (1 / gallery)
    search = min(1.0, tail_threshold(sims, p))
    return (
        dict(
            pair=tail_threshold(sims, 1e-3),
            group=tail_threshold(sims, 1e-4),
            search=search,
            search_pairwise_fmr=p,
            own=own_t,
            identity=identity,
            duplicate=max(duplicate, search),
            search_far=far,
            own_fmr=own_fmr,
            gallery=gallery,
            non_mated=len(sims),
        ),
        same,
        suspect,
    )


def assert_matches(thresholds, expected):
    got = thresholds.as_dict()
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("count,seed,far,own_fmr", [(2000, 0, 1e-3, 1e-2), (250, 3, 1e-2, 3e-2)])
def test_fix_thresholds_matches_its_definition(count, seed, far, own_fmr):
    """The own threshold from images against other identities' leave-one-out means; the folder
    threshold from folder means at far over the other folders; the pairs that a suspect image or
    two folders of one person explain leave the sample; the pair, group and search thresholds from
    what is left (the sample's seed and size reach every step). A folder of one image counts among
    the folders; one whose images all failed does not."""
    vectors, labels, valid = made_up(extras=True)
    sums, counts, own = own_of(vectors, labels, valid)
    got = fix_thresholds(vectors, labels, valid, sums, counts, own, far, own_fmr, 0.94, count=count, seed=seed)
    expected, same, suspect = reference(vectors, labels, valid, own, far, own_fmr, 0.94, count, seed)
    assert (22, 23) in same and 0 in suspect  # the planted split folder and misfiled image are found
    assert expected["non_mated"] < count  # and their pairs left out
    assert_matches(got, expected)
    assert got.pair < got.group < got.search <= 1.0 and got.duplicate == 0.94


def test_fix_thresholds_uses_its_defaults():
    """Without count and seed: NON_MATED comparisons (more than there are: all of them) and seed 0."""
    vectors, labels, valid = made_up(split=False)
    sums, counts, own = own_of(vectors, labels, valid)
    got = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94)
    expected, _, _ = reference(vectors, labels, valid, own, 1e-3, 1e-2, 0.94, 200_000, 0)
    assert_matches(got, expected)
    assert got.gallery == 117 and expected["non_mated"] > 6000


def test_too_few_folders_never_call_two_folders_one_person():
    """Folder means need 200 pairs of folders: 20 folders (190 pairs) give an infinite folder
    threshold (same-person-as is not tested), 21 folders (210) a finite one."""
    for folders, finite in ((20, False), (21, True)):
        vectors, labels, valid = made_up(folders=folders, split=False)
        sums, counts, own = own_of(vectors, labels, valid)
        t = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94, count=2000)
        assert math.isfinite(t.identity) == finite


def test_thresholds_are_capped_at_one():
    """In 3 dimensions the tail is wide: the extrapolated folder and search thresholds would pass
    1; they are 1.0, and the duplicate threshold is at least the search threshold."""
    vectors, labels, valid = made_up(dim=3, split=False)
    sums, counts, own = own_of(vectors, labels, valid)
    t = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-6, 1e-2, 0.94, count=2000)
    assert t.identity == 1.0 and t.search == 1.0 and t.duplicate == 1.0


def test_the_duplicate_threshold_is_the_larger_of_given_and_search():
    vectors, labels, valid = made_up(split=False)
    sums, counts, own = own_of(vectors, labels, valid)
    low = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.0, count=2000)
    high = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 2.0, count=2000)
    assert 0 < low.search < 1 and low.duplicate == low.search and high.duplicate == 2.0
    assert low.gallery == 117 and low.search_far == 1e-3 and low.own_fmr == 1e-2


def two_folders(suspects, first=None):
    """Two folders of 20 (400 cross pairs, all sampled): the first ``suspects`` images of the
    first folder have an own similarity of -5 (below any threshold), the others 0.99 (or
    ``first`` for the first image); the second folder's are NaN or -inf (no statistic: never
    suspects)."""
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 20)
    vectors = unit(rng.normal(size=(40, 16))).astype(np.float32)
    valid = np.ones(40, bool)
    sums, counts, _ = own_of(vectors, labels, valid)
    own = np.full(40, np.nan)
    own[:20] = 0.99
    own[:suspects] = -5.0
    own[20:25] = -np.inf
    if first is not None:
        own[0] = first
    return fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94, count=1000)


def test_a_suspect_is_strictly_below_the_own_threshold():
    """An image whose own similarity is exactly the own threshold stays in the sample (its 20
    pairs); just below, it leaves."""
    at = two_folders(0).own
    assert 0 < at < 0.99
    assert two_folders(0, first=at).non_mated == 400
    assert two_folders(0, first=float(np.nextafter(at, -1))).non_mated == 380


def test_suspect_images_leave_the_sample_unless_most_would():
    """Pairs with a suspect image leave the sample while at least half of it stays: 9 suspects of
    20 keep 11 x 20 = 220 of the 400 pairs, 10 keep exactly half (200), 11 would keep 180, fewer
    than half: then every pair stays (there is nothing to set apart)."""
    assert two_folders(0).non_mated == 400
    assert two_folders(9).non_mated == 220
    assert two_folders(10).non_mated == 200
    assert two_folders(11).non_mated == 400
    assert math.isinf(two_folders(0).identity)  # two folders: too few to compare folders


def test_pair_and_group_thresholds_are_at_their_fmrs():
    assert (PAIR_FMR, GROUP_FMR) == (1e-3, 1e-4)


def test_the_default_sample_is_seed_zeros():
    """700 images in 70 folders have more cross pairs than NON_MATED: the default sample is drawn,
    with seed 0 (seed 1 draws another, and so other thresholds)."""
    vectors, labels, valid = made_up(folders=70, size=10, dim=8, split=False)
    sums, counts, own = own_of(vectors, labels, valid)
    default = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94)
    zero = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94, count=200_000, seed=0)
    one = fix_thresholds(vectors, labels, valid, sums, counts, own, 1e-3, 1e-2, 0.94, count=200_000, seed=1)
    assert default == zero and default.pair != one.pair

"""EDC, pairs, the utility calibration and evaluate, on synthetic data with known answers."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx.cli import main
from fqe_onnx.contract import Calibration
from fqe_onnx.errors import FqeError
from fqe_onnx.evaluation.edc import edc_curve, edc_summary, theoretical_best_area, threshold_at_fmr
from fqe_onnx.evaluation.pairs import comparison_pairs, cosine_similarities, mated_pairs, non_mated_pairs
from fqe_onnx.evaluation.utility import fit_utility, reliability


def test_hand_computed_fnmr_and_pauc_on_ten_pairs():
    # ten mated comparisons, threshold 0.5: errors (similarity < 0.5) at qualities 1, 2 and 6
    quality = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], dtype=float)
    similarity = np.array([0.1, 0.4, 0.9, 0.8, 0.7, 0.2, 0.9, 0.6, 0.95, 0.99])
    curve = edc_curve(quality, similarity, 0.5)
    assert curve.fnmr_at(0.0) == pytest.approx(3 / 10)
    assert curve.fnmr_at(0.1) == pytest.approx(2 / 9)  # quality 1 discarded
    assert curve.fnmr_at(0.15) == pytest.approx(2 / 9)  # steps hold until the next discard
    assert curve.fnmr_at(0.2) == pytest.approx(1 / 8)
    assert curve.fnmr_at(0.3) == pytest.approx(1 / 7)
    assert curve.fnmr_at(0.6) == pytest.approx(0 / 4)
    # pAUC to 0.2: 0.1 * 3/10 + 0.1 * 2/9; to 0.3 adds 0.1 * 1/8
    assert curve.pauc(0.2) == pytest.approx(0.03 + 0.02222222)
    assert curve.pauc(0.3) == pytest.approx(0.03 + 0.02222222 + 0.0125)
    summary = edc_summary(curve)
    assert summary["fnmr"]["0.05"] == pytest.approx(0.3)
    assert summary["pauc"]["0.2"]["normalised"] == pytest.approx((0.03 + 0.02222222) / (0.3 * 0.2))
    # theoretical best: integral of max(0, 0.3 - x) to 0.2 = 0.3*0.2 - 0.02 = 0.04
    assert summary["pauc"]["0.2"]["minus_best"] == pytest.approx(curve.pauc(0.2) - 0.04)
    assert theoretical_best_area(0.1, 0.3) == pytest.approx(0.005)  # reaches 0 at 0.1


def test_tied_qualities_are_discarded_together():
    quality = np.array([1, 1, 1, 2, 3], dtype=float)
    similarity = np.array([0.0, 0.9, 0.9, 0.0, 0.9])
    curve = edc_curve(quality, similarity, 0.5)
    assert list(curve.discard[:3]) == [0.0, 0.6, 0.8]  # no step at 0.2 or 0.4: the three 1s go at once
    assert curve.fnmr_at(0.2) == pytest.approx(2 / 5) and curve.fnmr_at(0.6) == pytest.approx(1 / 2)


def test_failures_are_discarded_first():
    quality = np.array([-np.inf, 0.5, 0.7, 0.9])
    similarity = np.array([-np.inf, 0.9, 0.9, 0.9])  # the failed comparison is a non-match
    curve = edc_curve(quality, similarity, 0.5)
    assert curve.fnmr_at(0.0) == pytest.approx(0.25) and curve.fnmr_at(0.25) == 0.0


def test_quality_equal_to_similarity_gives_the_ideal_curve_and_random_a_flat_one():
    rng = np.random.default_rng(0)
    similarity = rng.normal(0.6, 0.15, 20000)
    threshold = 0.4
    ideal = edc_summary(edc_curve(similarity, similarity, threshold))
    fnmr0 = ideal["fnmr"]["0"]
    assert 0.05 < fnmr0 < 0.15
    assert ideal["fnmr"]["0.2"] == 0.0  # every error discarded once the discard exceeds FNMR(0)
    # discarding exactly the errors first: (e0 - x) / (1 - x), just above the linear 'theoretical best'
    assert ideal["fnmr"]["0.05"] == pytest.approx((fnmr0 - 0.05) / 0.95, abs=1e-4)
    assert 0 < ideal["pauc"]["0.2"]["minus_best"] < 0.001
    flat = edc_summary(edc_curve(rng.random(20000), similarity, threshold))
    assert flat["pauc"]["0.2"]["normalised"] == pytest.approx(1.0, abs=0.06)
    assert abs(flat["fnmr"]["0.3"] - fnmr0) < 0.02


def test_threshold_at_fmr_and_its_data_requirement():
    rng = np.random.default_rng(1)
    non_mated = rng.normal(0, 0.1, 100_000)
    threshold = threshold_at_fmr(non_mated, 1e-3)
    assert np.mean(non_mated >= threshold) == pytest.approx(1e-3, abs=1e-5)
    assert np.mean(non_mated >= threshold) <= 1e-3
    with pytest.raises(FqeError, match="cannot set a threshold at FMR 0.0001: at least 100000 are needed"):
        threshold_at_fmr(non_mated[:5000], 1e-4)


def test_pairs_cap_sample_and_failures():
    identities = ["a"] * 40 + ["b"] * 3 + ["c"] * 1
    a, b = mated_pairs(identities, cap=100)
    assert len(a) == 100 + 3  # 780 pairs of a capped at 100, all 3 of b, none of c
    assert all(identities[i] == identities[j] for i, j in zip(a, b))
    na, nb = non_mated_pairs(identities, count=50, seed=3)
    assert len(set(zip(na.tolist(), nb.tolist()))) == 50
    assert all(identities[i] != identities[j] and i < j for i, j in zip(na, nb))
    assert non_mated_pairs(identities, count=50, seed=3)[0].tolist() == na.tolist()  # seeded
    small = non_mated_pairs(["x", "x", "y"], count=1000)  # fewer exist than asked: all of them
    assert sorted(zip(*small)) == [(0, 2), (1, 2)]
    pairs = comparison_pairs(["x", "x", "y", "y"], non_mated=10)
    embeddings = [np.array([1.0, 0]), None, np.array([0, 2.0]), np.array([1.0, 1.0])]
    sims = cosine_similarities(embeddings, pairs)
    for i, j, s in zip(pairs.a, pairs.b, sims):
        if embeddings[i] is None or embeddings[j] is None:
            assert s == -np.inf
        else:
            assert s == pytest.approx(
                embeddings[i] @ embeddings[j] / np.linalg.norm(embeddings[i]) / np.linalg.norm(embeddings[j])
            )


@pytest.mark.parametrize(
    "identities, message",
    [
        (["a", "a", "a"], "at least 2 identities"),
        (["a", "b", "c"], "no identity has two images"),
    ],
)
def test_too_few_identities_or_pairs(identities, message):
    with pytest.raises(FqeError, match=message):
        comparison_pairs(identities)


def test_utility_fit_recovers_known_parameters():
    rng = np.random.default_rng(7)
    q = rng.uniform(1.5, 5.0, 4000)
    trials = rng.integers(1, 12, 4000).astype(float)
    truth = Calibration(x0=3.2, w=0.35)
    p = 1 / (1 + np.exp(-(q - truth.x0) / truth.w))
    successes = rng.binomial(trials.astype(int), p).astype(float)
    fitted = fit_utility(q, successes, trials)
    assert fitted.x0 == pytest.approx(3.2, abs=0.03) and fitted.w == pytest.approx(0.35, rel=0.06)
    rows, ece = reliability(q, successes, trials, fitted)
    assert ece < 0.02 and sum(r.comparisons for r in rows) == trials.sum()
    with pytest.raises(FqeError, match="no failures"):
        fit_utility(q, trials, trials)
    with pytest.raises(FqeError, match="higher q does not mean a likelier match"):
        fit_utility(q, trials - successes, trials)


def make_identities(root, people=6, per_person=4):
    for person in range(people):
        for k in range(per_person):
            write_image(root / f"id{person}" / f"{k}.png", random_face(100 * person + k, (112, 112)))


def test_evaluate_cli_outputs(tmp_path, model_path):
    make_identities(tmp_path / "faces")
    scores = CliRunner().invoke(
        main,
        [
            "score",
            str(tmp_path / "faces"),
            "-m",
            str(model_path),
            "-o",
            str(tmp_path / "scores.csv"),
            "--align",
            "never",
        ],
    )
    assert scores.exit_code == 0, scores.output
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            str(tmp_path / "faces"),
            "-m",
            str(model_path),
            "--align",
            "never",
            "--quality-csv",
            str(tmp_path / "scores.csv"),
            "-o",
            str(tmp_path / "ev"),
            "--pairs-out",
            str(tmp_path / "pairs.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["images"] == 24 and summary["identities"] == 6
    assert summary["comparisons"] == {
        "mated": 36,
        "non_mated": 240,
        "mated_cap_per_identity": 500,
        "non_mated_requested": 200000,
        "seed": 0,
    }
    fmr = summary["fmr"]
    assert fmr["0.001"]["supported"] is False and "needs at least 10000" in fmr["0.001"]["reason"]
    assert "not evaluated" in result.stdout
    with open(tmp_path / "pairs.csv") as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) == 276 and sum(p["mated"] == "1" for p in pairs) == 36
    assert list(pairs[0]) == ["path_a", "path_b", "mated", "similarity", "quality_a", "quality_b"]
    assert (tmp_path / "ev" / "curves.csv").read_text().startswith("source,fmr,discarded,fnmr")


def test_evaluate_with_a_supported_fmr_evaluates_every_source(tmp_path, model_path):
    make_identities(tmp_path / "faces", people=30, per_person=6)  # 15,660 non-mated pairs: FMR 1e-3 holds
    (tmp_path / "faces" / "id0" / "broken.png").write_bytes(b"nope")
    result = CliRunner().invoke(
        main,
        ["evaluate", str(tmp_path / "faces"), "-m", str(model_path), "--align", "never", "-o", str(tmp_path / "ev")],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["failed_images"]["count"] == 1 and summary["failed_images"]["by_kind"] == {"not-an-image": 1}
    sources = summary["fmr"]["0.001"]["sources"]
    assert set(sources) == {"q", "random (seed 0)", "laplacian variance"}
    for source in sources.values():
        assert set(source["fnmr"]) == {"0", "0.05", "0.1", "0.2", "0.3"}
        assert set(source["pauc"]["0.2"]) == {"raw", "minus_best", "normalised"}
    assert (tmp_path / "ev" / "edc.png").is_file()  # matplotlib is in the test extra


def test_utility_calibrate_cli_on_a_model_that_cannot_fail(tmp_path, model_path):
    make_identities(tmp_path / "faces", people=30, per_person=6)
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(tmp_path / "faces"),
            "-m",
            str(model_path),
            "--align",
            "never",
            "--method",
            "utility",
            "-o",
            str(tmp_path / "u.onnx"),
        ],
    )
    # the tiny model's embeddings are all alike: every mated comparison passes, nothing to fit
    assert result.exit_code == 2 and "no failures" in result.stderr and not (tmp_path / "u.onnx").exists()

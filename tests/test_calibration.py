import math

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx.calibration import fit_calibration, score_histogram
from fqe_onnx.cli import main
from fqe_onnx.errors import FqeError
from fqe_onnx.modelfile import load_model_proto, proto_contract
from fqe_onnx.quality import norm_to_score, sigmoid


def test_fit_maps_the_chosen_quantiles_to_the_chosen_scores():
    q = np.random.default_rng(0).normal(20, 3, size=1001)
    cal = fit_calibration(q)
    q5, q95 = np.quantile(q, [0.05, 0.95])
    assert 100 * sigmoid((q5 - cal.x0) / cal.w) == pytest.approx(10)
    assert 100 * sigmoid((q95 - cal.x0) / cal.w) == pytest.approx(90)
    assert cal.x0 == pytest.approx(np.median(q), abs=0.3)  # symmetric rule: the midpoint scores 50
    cal2 = fit_calibration(q, (0.1, 0.5), (20, 50))
    assert 100 * sigmoid((np.quantile(q, 0.5) - cal2.x0) / cal2.w) == pytest.approx(50)


@pytest.mark.parametrize(
    "q, quantiles, scores, message",
    [
        ([1.0, 1.0, 1.0], (0.05, 0.95), (10, 90), "do not spread"),
        ([1.0], (0.05, 0.95), (10, 90), "at least 2"),
        ([1.0, 2.0], (0.5, 0.5), (10, 90), "quantiles must satisfy"),
        ([1.0, 2.0], (0.1, 0.9), (0, 90), "scores must satisfy"),
    ],
)
def test_fit_refuses_degenerate_input(q, quantiles, scores, message):
    with pytest.raises(FqeError, match=message):
        fit_calibration(q, quantiles, scores)


def test_histogram():
    assert (
        score_histogram([0, 9, 10, 99, 100])
        == "0-9: 2  10-19: 1  20-29: 0  30-39: 0  40-49: 0  50-59: 0  60-69: 0  70-79: 0  80-89: 0  90-100: 2"
    )


def test_calibrate_cli_writes_a_spreading_calibration(tmp_path, model_path):
    for i in range(40):
        write_image(tmp_path / "ref" / f"p{i % 4}" / f"{i}.png", random_face(i, (120, 120)))
    (tmp_path / "ref" / "broken.png").write_bytes(b"x")
    out = tmp_path / "calibrated.onnx"
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(tmp_path / "ref"),
            "-m",
            str(model_path),
            "-o",
            str(out),
            "--geometry",
            "aligned112",
            "--device",
            "cpu",
            "--align",
            "never",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reference: 40 images scored, 1 errors" in result.stdout
    assert "Q before:" in result.stdout and "Q after:" in result.stdout
    contract, present = proto_contract(load_model_proto(out))
    assert present and contract.preprocess.geometry.resize == (112, 112)  # the geometry used travels too
    assert "framing:  --align never: geometry 40" in result.stdout and "(not-an-image 1)" in result.stdout
    scored = CliRunner().invoke(main, ["score", str(tmp_path / "ref"), "-m", str(out), "--align", "never"])
    rows = [line.split(",") for line in scored.stdout.splitlines()[1:] if line.split(",")[2]]
    q = np.array([float(r[2]) for r in rows])
    Q = np.array([int(r[3]) for r in rows])
    assert len(Q) == 40
    assert np.percentile(Q, 5) == pytest.approx(10, abs=3) and np.percentile(Q, 95) == pytest.approx(90, abs=3)
    assert all(norm_to_score(v, contract.calibration) == s for v, s in zip(q, Q))
    assert "scores collapsed" not in scored.stderr
    assert not math.isclose(contract.calibration.w, 1.0)

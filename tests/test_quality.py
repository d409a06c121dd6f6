import math

import numpy as np
import pytest

from reference import seed_score

from fqe_onnx.contract import Calibration
from fqe_onnx.quality import collapse_share, embedding_norms, norm_to_score, round_half_away, sigmoid

SEED = Calibration()
OFIQ = Calibration(x0=23, w=2.6)


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.5, 1),
        (1.5, 2),
        (2.5, 3),
        (-0.5, -1),
        (-2.5, -3),
        (0.49999999999999994, 0),
        (2.4999, 2),
        (99.5, 100),
        (0.0, 0),
        (-0.0, 0),
        (7.0, 7),
    ],
)
def test_round_half_away_from_zero(x, expected):
    assert round_half_away(x) == expected


def test_python_round_would_be_wrong_here():
    # round(100 * sigmoid(q)) with q chosen so the value is exactly .5: 100*sigmoid(q) = 62.5 -> 63
    q = math.log(62.5 / 37.5)
    assert abs(100 * sigmoid(q) - 62.5) < 1e-12
    cal = Calibration(h=1, a=62.5, s=0)  # h * (a + s * ...) = 62.5 exactly
    assert norm_to_score(0.0, cal) == 63 and round(62.5) == 62


@pytest.mark.parametrize("q, expected", [(0.0, 50), (1e4, 100), (-1e4, 0), (1.0, 73), (3.0, 95), (-1.0, 27)])
def test_seed_mapping(q, expected):
    assert norm_to_score(q, SEED) == expected == seed_score(q)


def test_sigmoid_is_stable_at_extremes():
    assert sigmoid(1e308) == 1.0 and sigmoid(-1e308) == 0.0
    assert sigmoid(math.inf) == 1.0 and sigmoid(-math.inf) == 0.0
    assert norm_to_score(1e308, Calibration(x0=-1e308, w=1e-300)) == 100


def test_ofiq_mapping_spreads_magface_norms():
    scores = [norm_to_score(q, OFIQ) for q in (15, 20, 23, 26, 30)]
    assert scores == [seed_score(q, x0=23, w=2.6) for q in (15, 20, 23, 26, 30)]
    assert scores[2] == 50 and scores == sorted(scores) and scores[0] < 10 and scores[-1] > 90


def test_clipping_to_0_100():
    assert norm_to_score(10.0, Calibration(h=200)) == 100
    assert norm_to_score(-10.0, Calibration(a=-1)) == 0


@pytest.mark.parametrize("q", [math.nan, math.inf, -math.inf])
def test_non_finite_q_is_an_error(q):
    with pytest.raises(ValueError, match="finite"):
        norm_to_score(q, SEED)


def test_embedding_norms_in_float64():
    v = np.array([[3, 4], [1e-30, 0]], dtype=np.float32)
    assert embedding_norms(v).dtype == np.float64
    assert embedding_norms(v)[0] == 5.0
    assert embedding_norms(np.array([[1e30] * 4], dtype=np.float32))[0] == pytest.approx(2e30, rel=1e-7)


def test_collapse_share():
    assert collapse_share([100] * 19 + [50]) == (0.95, 100)
    assert collapse_share([]) == (0.0, 0)

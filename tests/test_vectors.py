"""The committed conformance vectors of the default model: the Python path and the bundle both meet them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fqe_onnx import Scorer
from fqe_onnx.bundle.api import BundleSession, make_bundle
from fqe_onnx.bundle import vectors
from fqe_onnx.bundle.assemble import STATUS_CODES
from fqe_onnx.bundle.vectors import TOLERANCES, expected_row, meets
from fqe_onnx.cli import main
from fqe_onnx.decode import Limits, read_image
from fqe_onnx.zoo import sha256_of

VECTORS = Path(__file__).parent / "vectors" / "faceplugin-mobilefacenet"
EXPECTED = json.loads((VECTORS / "expected.json").read_text())


def test_the_set_covers_every_status_and_is_small():
    assert {row["status"] for row in EXPECTED["images"]} == {"as-is", "aligned", "no-face", "flat", "too-small"}
    assert sum(p.stat().st_size for p in VECTORS.iterdir()) < 500_000


def test_vectors_are_of_the_cached_default_model(default_model):
    assert EXPECTED["model"]["sha256"] == sha256_of(Path(default_model))


@pytest.mark.parametrize("row", EXPECTED["images"], ids=[r["file"] for r in EXPECTED["images"]])
def test_python_path_meets_the_vectors(default_model, row):
    image = read_image(VECTORS / row["file"], Limits(min_side=1, refuse_flat=False))
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        got = expected_row(row["file"][:-4], image, scorer)
    assert meets(row, got) == []


@pytest.fixture(scope="module")
def bundle_session(default_model):
    return BundleSession(make_bundle(default_model))


@pytest.mark.parametrize("row", EXPECTED["images"], ids=[r["file"] for r in EXPECTED["images"]])
def test_bundle_meets_the_vectors(bundle_session, row):
    image = cv2.imread(str(VECTORS / row["file"]), cv2.IMREAD_COLOR)
    out = bundle_session.run(image)
    got = {
        "status": STATUS_CODES[int(out["status"])],
        "q": float(out["q"]),
        "Q": int(out["Q"]),
        "box": out["box"],
        "points": out["points"],
        "face_score": float(out["face_score"]),
    }
    assert meets(row, got) == []


def test_meets_catches_a_miss():
    row = next(r for r in EXPECTED["images"] if r["status"] == "aligned")
    good = {k: row[k] for k in ("status", "q", "Q", "box", "points", "face_score")}
    assert meets(row, good) == []
    assert meets(row, {**good, "q": row["q"] * 1.01}) and meets(row, {**good, "status": "no-face"})
    assert meets(row, {**good, "points": (np.asarray(row["points"]) + 0.5).tolist()})


def _decoded(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


ALIGNED = next(r for r in EXPECTED["images"] if r["status"] == "aligned")
AS_IS = next(r for r in EXPECTED["images"] if r["status"] == "as-is")
FIELDS = ("status", "q", "Q", "box", "points", "face_score")
COORDINATES = [("box", (i,)) for i in range(4)] + [("points", (p, a)) for p in range(5) for a in range(2)]


def limit_of(status: str, key: str) -> float:
    """The tolerance as the module has it now (read at run time: its values may change)."""
    return vectors.TOLERANCES[status][{"box": "box_px", "points": "points_px"}.get(key, key)]


def moved(row: dict, key: str, where: tuple, by: float) -> dict:
    """The row's own values, with one coordinate of ``key`` moved by ``by``."""
    got = {k: row[k] for k in FIELDS}
    values = np.array(row[key], np.float64)
    values[where] += by
    got[key] = values.tolist()
    return got


@pytest.mark.parametrize("key, where", COORDINATES, ids=[f"{k}{list(w)}" for k, w in COORDINATES])
def test_each_coordinate_of_the_box_and_points_is_held_to_the_tolerance_on_its_own(key, where):
    limit = limit_of("aligned", key)
    assert limit > 0
    for sign in (1, -1):
        assert meets(ALIGNED, moved(ALIGNED, key, where, sign * 0.99 * limit)) == []  # just inside
        misses = meets(ALIGNED, moved(ALIGNED, key, where, sign * (1.01 * limit)))  # just past: one point alone
        assert len(misses) == 1 and misses[0].startswith(key + "".join(f"[{i}]" for i in where) + " "), misses


@pytest.mark.parametrize("key", ["box", "points"])
def test_every_coordinate_just_inside_at_once_still_meets(key):
    """Held coordinate by coordinate: not a sum of the gaps, nor a point's distance."""
    values = np.array(ALIGNED[key], np.float64)
    signs = np.where(np.arange(values.size).reshape(values.shape) % 2 == 0, 1.0, -1.0)
    got = {**{k: ALIGNED[k] for k in FIELDS}, key: (values + signs * 0.99 * limit_of("aligned", key)).tolist()}
    assert meets(ALIGNED, got) == []


@pytest.mark.parametrize("row", [ALIGNED, AS_IS], ids=["aligned", "as-is"])
def test_q_big_q_and_the_face_score_are_held_to_their_tolerance(row):
    tolerance = vectors.TOLERANCES[row["status"]]
    good = {k: row[k] for k in FIELDS}
    q_limit = tolerance["q_relative"] * row["q"]
    for sign in (1, -1):
        assert meets(row, {**good, "q": row["q"] + sign * 0.99 * q_limit}) == []
        assert meets(row, {**good, "q": row["q"] + sign * 1.01 * q_limit})[0].startswith("q ")
        assert meets(row, {**good, "Q": row["Q"] + sign * tolerance["Q"]}) == []
        assert meets(row, {**good, "Q": row["Q"] + sign * (tolerance["Q"] + 1)})[0].startswith("Q ")
        if "face_score" in tolerance:
            limit = tolerance["face_score"]
            assert meets(row, {**good, "face_score": row["face_score"] + sign * 0.99 * limit}) == []
            past = meets(row, {**good, "face_score": row["face_score"] + sign * 1.01 * limit})
            assert past[0].startswith("face_score "), past


@pytest.mark.parametrize(
    "key, value",
    [
        ("box", None),
        ("points", None),
        ("face_score", None),
        ("q", float("nan")),
        ("Q", float("nan")),
        ("box", [float("nan")] * 4),
        ("points", ALIGNED["points"][:4]),
        ("points", ALIGNED["points"][:1]),
        ("points", [ALIGNED["points"][0]] * 5),
        ("points", [p + [0.0] for p in ALIGNED["points"]]),
        ("box", ALIGNED["box"][:3]),
        ("points", [ALIGNED["points"][0][0]] * 10),
    ],
    ids=[
        "no-box",
        "no-points",
        "no-face-score",
        "q-nan",
        "Q-nan",
        "box-nan",
        "four-points",
        "one-point",
        "one-point-five-times",
        "three-coordinates",
        "three-box-values",
        "flat-points",
    ],
)
def test_a_missing_nan_or_misshapen_value_never_meets(key, value):
    misses = meets(ALIGNED, {**{k: ALIGNED[k] for k in FIELDS}, key: value})
    assert len(misses) == 1 and misses[0].startswith(key), misses


def test_vectors_command_writes_the_same_set(default_model, tmp_path):
    """The images are made in integer arithmetic (bundle/vector_images.py), so every CPU writes the
    same pixels: compared decoded, exactly (PNG bytes could differ with the encoder's build). The
    expected values are the Python path's on this machine: they meet the committed ones within the
    tolerances, which is what the tolerances are for (q, box and points move with a CPU's float
    rounding: OpenCV's warp and ONNX Runtime's kernels)."""
    result = CliRunner().invoke(main, ["vectors", str(default_model), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "expected.json").read_text())
    assert [r["file"] for r in written["images"]] == [r["file"] for r in EXPECTED["images"]]
    for row in written["images"]:
        fresh, committed = _decoded(tmp_path / row["file"]), _decoded(VECTORS / row["file"])
        assert fresh.shape == committed.shape and fresh.dtype == committed.dtype == np.uint8
        np.testing.assert_array_equal(fresh, committed)
    for committed, fresh in zip(EXPECTED["images"], written["images"]):
        assert meets(committed, fresh) == [], committed["file"]
    assert written["tolerances"] == EXPECTED["tolerances"]


def _dispatched_features() -> tuple[str, str]:
    """The SIMD levels this CPU has above SSE4.2, as OPENCV_CPU_DISABLE and NPY_DISABLE_CPU_FEATURES
    name them (empty on a CPU with none)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    opencv = [
        token.lstrip("*")
        for token in cv2.getCPUFeaturesLine().split()
        if token.startswith("*") and not token.endswith("?") and not token.startswith("*SSE")
    ]
    return ",".join(opencv), " ".join(f for f in __cpu_dispatch__ if __cpu_features__.get(f))


def test_the_images_do_not_depend_on_the_simd_level(tmp_path):
    """The same pixels with OpenCV's and NumPy's dispatched SIMD (AVX, AVX2, FMA3, AVX-512...) turned
    off: the code paths an older or newer CPU would take give the committed images."""
    import os
    import subprocess
    import sys

    opencv, numpy_features = _dispatched_features()
    script = (
        "import sys, numpy as np\n"
        "from fqe_onnx.align.template import ARCFACE_TEMPLATE_112\n"
        "from fqe_onnx.demo import ASTRONAUT_POINTS, astronaut_bgr\n"
        "from fqe_onnx.bundle.vector_images import vector_images\n"
        "np.savez(sys.argv[1], **vector_images(astronaut_bgr(), ASTRONAUT_POINTS, ARCFACE_TEMPLATE_112, (112, 112)))\n"
    )
    env = {**os.environ, "OPENCV_CPU_DISABLE": opencv, "NPY_DISABLE_CPU_FEATURES": numpy_features}
    out = tmp_path / "images.npz"
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    images = np.load(out)
    assert sorted(images.files) == sorted(r["file"][:-4] for r in EXPECTED["images"])
    for name in images.files:
        np.testing.assert_array_equal(images[name], _decoded(VECTORS / f"{name}.png"), err_msg=name)


@pytest.mark.parametrize(
    "row", [r for r in EXPECTED["images"] if r["status"] in ("as-is", "geometry")], ids=lambda r: r["file"]
)
def test_an_exact_q_vector_keeps_its_q_within_the_tolerance_of_a_rounding_edge(default_model, row):
    """Q must be equal where q is within 1e-5: that is fair only if no q in that band rounds to
    another Q under the model's calibration, which holds for every committed vector."""
    from fqe_onnx.quality import norm_to_score

    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        calibration = scorer.contract.calibration
    band = TOLERANCES[row["status"]]["q_relative"] * row["q"]
    assert {norm_to_score(row["q"] - band, calibration), norm_to_score(row["q"] + band, calibration)} == {row["Q"]}

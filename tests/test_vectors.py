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
from fqe_onnx.bundle.assemble import STATUS_CODES
from fqe_onnx.bundle.vectors import expected_row, meets
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
    got = {"status": STATUS_CODES[int(out["status"])], "q": float(out["q"]), "Q": int(out["Q"]),
           "box": out["box"], "points": out["points"], "face_score": float(out["face_score"])}
    assert meets(row, got) == []


def test_meets_catches_a_miss():
    row = next(r for r in EXPECTED["images"] if r["status"] == "aligned")
    good = {k: row[k] for k in ("status", "q", "Q", "box", "points", "face_score")}
    assert meets(row, good) == []
    assert meets(row, {**good, "q": row["q"] * 1.01}) and meets(row, {**good, "status": "no-face"})
    assert meets(row, {**good, "points": (np.asarray(row["points"]) + 0.5).tolist()})


def test_vectors_command_writes_the_same_set(default_model, tmp_path):
    result = CliRunner().invoke(main, ["vectors", str(default_model), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "expected.json").read_text())
    assert [r["file"] for r in written["images"]] == [r["file"] for r in EXPECTED["images"]]
    for row in written["images"]:
        assert (tmp_path / row["file"]).read_bytes() == (VECTORS / row["file"]).read_bytes()

"""The measures where they appear: score --measures (CSV, JSONL, Parquet, --resume), Scorer and run(),
serve ?measures=1; on scikit-image's astronaut with the real detector and landmark models."""

import csv
import io
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_image
from frames import astronaut
from serving import Server
from test_hostile import encoded
from tiny_models import fixed_matrix, pooled_linear

from fqe_onnx.cli import main
from fqe_onnx.measure_catalog import MEASURE_COLUMNS, MEASURES
from fqe_onnx.records import COLUMNS, columns
from fqe_onnx.scorer import Scorer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return pooled_linear(tmp_path_factory.mktemp("measures") / "tiny.onnx", weights=fixed_matrix(3, 512, seed=1))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut alone, two astronauts side by side, the astronaut turned 20 degrees, and noise."""
    root = tmp_path_factory.mktemp("photos")
    face = astronaut()
    write_image(root / "one.png", face)
    write_image(root / "two.png", np.hstack([face, face]))
    turned = cv2.warpAffine(
        face, cv2.getRotationMatrix2D((256, 200), 20, 1.0), (512, 512), borderMode=cv2.BORDER_REFLECT
    )
    write_image(root / "turned.png", turned)
    write_image(root / "noise.png", np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    return root


def rows_of(text: str) -> dict[str, dict]:
    return {r["path"]: r for r in csv.DictReader(io.StringIO(text))}


def test_score_measures_adds_the_columns_to_every_aligned_row(photos, tiny):
    result = CliRunner().invoke(main, ["score", str(photos), "-m", str(tiny), "--measures", "--no-progress"])
    assert result.exit_code == 1, result.output  # noise.png has no face
    header = result.stdout.splitlines()[0].split(",")
    assert header == list(COLUMNS + MEASURE_COLUMNS)
    rows = rows_of(result.stdout)
    for name in ("one.png", "two.png", "turned.png"):
        for measure in MEASURES:
            value = int(rows[name][measure])
            assert 0 <= value <= 100 and rows[name][f"{measure}_raw"] != ""
    assert int(rows["one.png"]["single_face_present"]) == 100
    assert int(rows["two.png"]["single_face_present"]) <= 10  # two faces of one size
    roll = float(rows["turned.png"]["head_pose_roll_raw"]) - float(rows["one.png"]["head_pose_roll_raw"])
    assert roll == pytest.approx(20, abs=3)
    assert rows["noise.png"]["error_kind"] == "no-face"
    assert all(rows["noise.png"][c] == "" for c in MEASURE_COLUMNS)


def test_without_measures_the_columns_are_absent_and_nothing_is_measured(photos, tiny, monkeypatch):
    import fqe_onnx.measures.compute as compute

    def refuse(*args, **kwargs):
        raise AssertionError("measured without being asked")

    monkeypatch.setattr(compute, "measure_face", refuse)
    result = CliRunner().invoke(main, ["score", str(photos / "one.png"), "-m", str(tiny), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split(",") == list(COLUMNS)
    with Scorer(tiny, threads=0) as scorer:
        (record,) = scorer.score_paths([photos / "one.png"])
    assert record.ok and record.measures is None


def test_jsonl_parquet_and_resume_carry_the_measures(photos, tiny, tmp_path):
    runner = CliRunner()
    jsonl = runner.invoke(
        main, ["score", str(photos / "one.png"), "-m", str(tiny), "--measures", "--format", "jsonl", "--no-progress"]
    )
    (row,) = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert list(row) == list(columns(True)) and isinstance(row["head_pose_yaw"], int)
    import pyarrow.parquet as pq  # the ray extra, which scripts/test.sh installs

    out = tmp_path / "rows.parquet"
    done = runner.invoke(
        main,
        [
            "score",
            str(photos / "one.png"),
            "-m",
            str(tiny),
            "--measures",
            "--format",
            "parquet",
            "-o",
            str(out),
            "--no-progress",
        ],
    )
    assert done.exit_code == 0, done.output
    table = pq.read_table(out)
    assert table.column("sharpness").to_pylist()[0] == row["sharpness"]
    assert table.column("sharpness_raw").to_pylist()[0] == row["sharpness_raw"]
    assert table.schema.field("head_size").type == "int32"
    csv_out = tmp_path / "rows.csv"
    first = runner.invoke(
        main, ["score", str(photos), "-m", str(tiny), "--measures", "-o", str(csv_out), "--no-progress"]
    )
    again = runner.invoke(
        main, ["score", str(photos), "-m", str(tiny), "--measures", "-o", str(csv_out), "--resume", "--no-progress"]
    )
    assert first.exit_code == again.exit_code == 1 and "4 inputs were already in the output" in again.stderr
    refused = runner.invoke(
        main, ["score", str(photos), "-m", str(tiny), "-o", str(csv_out), "--resume", "--no-progress"]
    )
    assert refused.exit_code == 2 and "measures" in refused.stderr


def test_measures_with_the_ray_engine_are_refused(photos, tiny, tmp_path):
    result = CliRunner().invoke(
        main, ["score", str(photos), "-m", str(tiny), "--measures", "--engine", "ray", "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2 and "--measures runs with the local engine" in result.stderr


def test_run_gives_the_measure_columns(photos, tiny):
    from fqe_onnx import run  # pandas: the test extra

    frame = run(photos / "one.png", model=tiny, measures=True)
    assert list(frame.columns) == list(columns(True))
    assert str(frame["head_pose_roll"].dtype) == "Int64" and frame["measures_below_floor"].iloc[0] is not None
    assert list(run(photos / "one.png", model=tiny).columns) == list(COLUMNS)


def test_every_face_of_a_group_photo_gets_its_measures(photos, tiny):
    with Scorer(tiny, threads=0, faces="all", measures=True) as scorer:
        records = list(scorer.score_paths([photos / "two.png"]))
    assert len(records) == 2
    lefts = sorted(r.measures["leftward_crop_raw"] for r in records)
    assert lefts[1] > lefts[0] + 5  # eye distances from the left edge: the second face is a photo further right
    assert {r.measures["single_face_present"] for r in records} == {0}


def test_serve_gives_the_measures_when_asked(tiny):
    photo = encoded(astronaut(), ".png")
    service = Server("-m", str(tiny), "--threads", "2")
    try:
        files = [
            ("images", ("a.png", photo, "application/octet-stream")),
            ("images", ("bad.png", b"not an image", "application/octet-stream")),
        ]
        plain = service.client.post("/v1/score", files=files).json()["rows"]
        measured = service.client.post("/v1/score?measures=1", files=files).json()["rows"]
        bad = service.client.post("/v1/score?measures=yes", files=files)
    finally:
        assert service.stop() == 0, service.output()
    assert not set(MEASURE_COLUMNS) & set(plain[0])
    assert 0 <= measured[0]["head_pose_yaw"] <= 100 and measured[0]["q"] == plain[0]["q"]
    assert all(measured[1][c] is None for c in MEASURE_COLUMNS) and measured[1]["error_kind"]
    assert bad.status_code == 400 and "measures must be 0 or 1" in bad.json()["detail"]


def test_a_face_whose_measures_fail_keeps_its_score_with_empty_cells(photos, tiny, monkeypatch, caplog):
    import fqe_onnx.measures.compute as compute

    def broken(*args, **kwargs):
        raise ValueError("a bug in a measure")

    monkeypatch.setattr(compute, "measure_face", broken)
    with Scorer(tiny, threads=0, measures=True) as scorer:
        (record,) = scorer.score_paths([photos / "one.png"])
    assert record.ok and record.Q is not None and record.measures is None
    assert all(v is None for k, v in record.as_dict(True).items() if k in MEASURE_COLUMNS)
    assert "the measures of a face failed" in caplog.text and "a bug in a measure" in caplog.text

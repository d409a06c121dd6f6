import csv
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import random_face, write_image
from reference import pooled_linear_q, seed_preprocess, seed_score

from fqe_onnx.cli import main


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def parse_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "path",
        "identity",
        "q",
        "Q",
        "mode",
        "format",
        "error_kind",
        "error",
        "face",
        "box",
        "face_score",
        "eye_distance",
    ]
    return rows[1:]


def test_score_csv_to_stdout(dataset, model_path, weights):
    result = invoke("score", dataset, "--align", "never", "--model", model_path, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    rows = parse_csv(result.stdout)
    assert [r[0] for r in rows] == ["loose.png", "person_a/1.png", "person_a/2.png", "person_b/x.PNG"]
    assert [r[1] for r in rows] == ["", "person_a", "person_a", "person_b"]
    for seed, row in zip([3, 0, 1, 2], rows):
        q = float(row[2])
        assert q == pytest.approx(pooled_linear_q(seed_preprocess(random_face(seed)), weights), rel=1e-5)
        assert int(row[3]) == seed_score(q) and row[4:] == ["geometry", "png", "", "", "", "", "", ""]
    assert "4 images, 0 errors" in result.stderr and "CPUExecutionProvider" in result.stderr
    assert "images/s" in result.stderr


def test_score_jsonl_to_file_keeps_full_precision(dataset, model_path, tmp_path):
    out = tmp_path / "out.jsonl"
    result = invoke(
        "score", dataset, "--align", "never", "-m", model_path, "--format", "jsonl", "-o", out, "--no-progress"
    )
    assert result.exit_code == 0 and result.stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [list(r) for r in records] == [
        [
            "path",
            "identity",
            "q",
            "Q",
            "mode",
            "format",
            "error_kind",
            "error",
            "face",
            "box",
            "face_score",
            "eye_distance",
        ]
    ] * 4
    csv_rows = parse_csv(invoke("score", dataset, "--align", "never", "-m", model_path).stdout)
    assert [repr(r["q"]) for r in records] == [row[2] for row in csv_rows]  # same float, every digit


def test_a_broken_image_is_a_row_and_exit_1(dataset, model_path):
    (dataset / "person_a" / "bad.jpg").write_bytes(b"garbage")
    result = invoke("score", dataset, "--align", "never", "-m", model_path)
    assert result.exit_code == 1
    rows = {r[0]: r for r in parse_csv(result.stdout)}
    assert len(rows) == 5
    assert rows["person_a/bad.jpg"][2:8] == [
        "",
        "",
        "",
        "",
        "not-an-image",  # no mode: never decoded
        "not an image: the bytes start with no known image signature",
    ]
    assert "5 images, 1 errors" in result.stderr and "errors: not-an-image 1" in result.stderr


def test_overrides_from_the_command_line(tmp_path, model_path, weights):
    image = random_face(9, (192, 192))
    path = write_image(tmp_path / "one.png", image)
    result = invoke(
        "score",
        path,
        "--align",
        "never",
        "-m",
        model_path,
        "--geometry",
        "ofiq",
        "--channel-order",
        "RGB",
        "--mean",
        "127",
        "--scale",
        "128",
        "--calibration",
        "x0=0.5,w=0.25",
    )
    assert result.exit_code == 0, result.stderr
    (row,) = parse_csv(result.stdout)
    crop = image[33:145, 40:152, ::-1].transpose(2, 0, 1)
    q = pooled_linear_q((crop.astype("float64") - 127) / 128, weights)
    assert float(row[2]) == pytest.approx(q, rel=1e-5)
    assert int(row[3]) == seed_score(float(row[2]), x0=0.5, w=0.25)


def test_from_list(dataset, model_path, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("person_b/x.PNG\nperson_a/1.png\nmissing.png\n")
    result = invoke("score", dataset, "--align", "never", "-m", model_path, "--from-list", listing)
    assert result.exit_code == 1
    rows = parse_csv(result.stdout)
    assert [r[0] for r in rows] == ["person_b/x.PNG", "person_a/1.png", "missing.png"]
    assert rows[2][6] == "unreadable" and rows[2][7].startswith("cannot read file")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "{missing}"], "model file not found"),
        (["--device", "gpu"], "unknown device 'gpu'"),
        (["--crop", "1,2,3"], "has 3 values; expected 2 or 4"),
        (["--calibration", "x0"], "'x0' is not key=number"),
        (["--geometry", "round"], "'round' is not one of"),
        (["--resize", "100,100"], "does not fit inside the resized image 100x100"),
    ],
)
def test_usage_and_model_errors_exit_2(dataset, model_path, tmp_path, args, message):
    args = [a.format(missing=tmp_path / "missing.onnx") for a in args]
    if "--model" not in args:
        args += ["--model", str(model_path)]
    result = invoke("score", dataset, "--align", "never", *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_score_needs_root_or_list(model_path):
    result = invoke("score", "-m", model_path)
    assert result.exit_code == 2 and "give ROOT, or --from-list FILE" in result.stderr


def test_collapse_warning(tmp_path, weights):
    from tiny_models import pooled_linear

    big = pooled_linear(tmp_path / "big.onnx", weights=weights * 100)  # norms ~ 100: seed sigmoid says 100
    for i in range(25):
        write_image(tmp_path / "many" / f"{i}.png", random_face(i, (64, 64)))
    result = invoke("score", tmp_path / "many", "--align", "never", "-m", big)
    assert result.exit_code == 0
    assert "scores collapsed: 100% of 25 images got Q=100" in result.stderr
    assert "fqe-onnx calibrate" in result.stderr and "--align auto" in result.stderr


def test_inspect_without_and_with_contract(model_path, tmp_path):
    result = invoke("inspect", model_path)
    assert result.exit_code == 0
    assert "image  tensor(float)  ['N', 3, 112, 112]" in result.stdout
    assert "embedding  tensor(float)  ['N', 512]" in result.stdout
    assert "opset: ai.onnx 13" in result.stdout
    assert "batch: dynamic" in result.stdout
    assert "contract: none: seed defaults" in result.stdout
    assert "check: ok" in result.stdout
    assert "CPUExecutionProvider" in result.stdout

    out = tmp_path / "c.onnx"
    result = invoke(
        "contract",
        model_path,
        "-o",
        out,
        "--geometry",
        "ofiq",
        "--channel-order",
        "RGB",
        "--calibration",
        "x0=23,w=2.6",
        "--source",
        "tests",
        "--license",
        "MIT",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(invoke("inspect", out, "--json").stdout)
    assert report["has_contract"] is True
    assert report["contract"]["calibration"] == {"h": 100.0, "a": 0.0, "s": 1.0, "x0": 23.0, "w": 2.6}
    assert report["contract"]["preprocess"]["channel_order"] == "RGB"
    assert report["contract"]["preprocess"]["geometry"]["crop"] == {"size": [112, 112], "top_left": [33, 40]}
    assert report["contract"]["source"] == "tests" and report["contract"]["license"] == "MIT"
    assert report["contract"]["schema_version"] == 1


def test_contract_refuses_one_the_model_cannot_take(model_path, tmp_path):
    result = invoke("contract", model_path, "-o", tmp_path / "x.onnx", "--channel-order", "GRAY")
    assert result.exit_code == 2 and "has 3 channels" in result.stderr


def test_contract_optimize_refuses_edits_that_change_the_embeddings(model_path, tmp_path, monkeypatch):
    from fqe_onnx.modelprep import graph

    def off_by_a_percent(model):
        from onnx import numpy_helper

        weights = model.graph.initializer[0]
        weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * 1.01, weights.name))
        return {"weights scaled": 1}

    out = tmp_path / "x.onnx"
    result = invoke("contract", model_path, "-o", out, "--optimize")
    assert result.exit_code == 0 and "check: embeddings equal the unedited model's: max |diff| 0" in result.stderr
    out.unlink()
    monkeypatch.setattr(graph, "optimize", off_by_a_percent)
    result = invoke("contract", model_path, "-o", out, "--optimize")
    assert result.exit_code == 2 and "the speed edits changed the embeddings by up to" in result.stderr
    assert not out.exists()


def test_scoring_never_imports_torch(dataset, model_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from fqe_onnx.cli import main\n"
        f"r = CliRunner().invoke(main, ['score', {str(dataset)!r}, '-m', {str(model_path)!r}, '--align', 'never'])\n"
        "assert r.exit_code == 0, r.output\n"
        "import fqe_onnx.scorer, fqe_onnx.inspection, fqe_onnx.contract\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_python_dash_m_and_version():
    out = subprocess.run([sys.executable, "-m", "fqe_onnx", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("fqe-onnx, version ")


def test_run_returns_a_dataframe(dataset, model_path):
    from fqe_onnx import run

    (dataset / "bad.png").write_bytes(b"x")
    df = run(image_root=dataset, model=model_path, device="cpu", align="never")
    assert list(df.columns) == [
        "path",
        "identity",
        "q",
        "Q",
        "mode",
        "format",
        "error_kind",
        "error",
        "face",
        "box",
        "face_score",
        "eye_distance",
    ]
    assert len(df) == 5 and (df["error"] != "").sum() == 1 and set(df["error_kind"]) == {"", "not-an-image"}
    assert df.loc[df["path"] == "bad.png", "Q"].isna().all()
    ok = df[df["error"] == ""]
    assert all(q > 0 for q in ok["q"]) and str(df["Q"].dtype) == "Int64"


def test_unwritable_output_is_a_usage_error(dataset, model_path, tmp_path):
    result = invoke("score", dataset, "--align", "never", "-m", model_path, "-o", tmp_path / "no" / "such" / "dir.csv")
    assert result.exit_code == 2 and "cannot write" in result.stderr and "No such file or directory" in result.stderr


def test_empty_folder_says_so(tmp_path, model_path):
    (tmp_path / "empty").mkdir()
    result = invoke("score", tmp_path / "empty", "--align", "never", "-m", model_path)
    assert result.exit_code == 2 and result.stdout == ""
    assert "no images under" in result.stderr and "it holds no files at all" in result.stderr

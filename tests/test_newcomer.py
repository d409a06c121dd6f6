"""What a newcomer met: a mistyped model name, a photo passed as --model, Parquet without pyarrow."""

import sys

import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx import Scorer
from fqe_onnx.cli import main
from fqe_onnx.errors import ModelError


@pytest.mark.parametrize(
    "command",
    [
        ["score", "{root}", "--model"],
        ["inspect"],
        ["evaluate", "{root}", "--model"],
        ["align", "{root}", "--out", "{root}/out", "--model"],
    ],
)
def test_a_mistyped_zoo_name_names_the_closest_and_the_listing(tmp_path, command):
    write_image(tmp_path / "a" / "x.png", random_face(0))
    args = [a.format(root=tmp_path) for a in command] + ["faceplugin-mobilefacenett"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: no zoo model or file named faceplugin-mobilefacenett; the closest zoo name is "
        "faceplugin-mobilefacenet; `fqe-onnx models list` shows the zoo\n"
    )


def test_an_unknown_name_with_no_close_zoo_name_still_names_the_listing():
    with pytest.raises(ModelError, match=r"^no zoo model or file named zzz; `fqe-onnx models list` shows the zoo$"):
        Scorer("zzz")


@pytest.mark.parametrize("command", [["score", "{image}", "--model"], ["inspect"]])
def test_a_photo_given_as_the_model_is_said_in_one_line(tmp_path, command):
    image = write_image(tmp_path / "face.jpg", random_face(1))
    args = [a.format(image=image) for a in command] + [str(image)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "INVALID_PROTOBUF" not in result.stderr
    assert f"{image}: not an ONNX model file (it is a JPEG image)" in result.stderr


def test_a_file_that_is_not_onnx_at_all_is_said_in_one_line(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(ModelError) as caught:
        Scorer(junk, device="cpu")
    assert "\n" not in str(caught.value) and "not an ONNX model file" in str(caught.value)
    result = CliRunner().invoke(main, ["contract", str(junk), "-o", str(tmp_path / "c.onnx")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "not an ONNX model file" in result.stderr


def test_parquet_without_pyarrow_stops_before_reading_any_image_and_leaves_no_file(
    dataset, model_path, tmp_path, monkeypatch
):
    import fqe_onnx.decode

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    read = []
    monkeypatch.setattr(fqe_onnx.decode, "read_bytes", lambda *a, **k: read.append(a) or b"")
    out = tmp_path / "out" / "scores.parquet"
    out.parent.mkdir()
    result = CliRunner().invoke(
        main, ["score", str(dataset), "-m", str(model_path), "--format", "parquet", "-o", str(out)]
    )
    assert result.exit_code == 2 and read == []
    assert result.stderr == "Error: Parquet output needs pyarrow: pip install pyarrow (the parquet extra)\n"
    assert list(out.parent.iterdir()) == []  # neither the file nor its .fqe-run.json side file

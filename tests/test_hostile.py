"""Nothing hangs, nothing crashes the batch, nothing is lost: hostile files, hostile models, signals, resume."""

import csv
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from conftest import random_face, write_image
from tiny_models import custom_graph, fixed_matrix, pooled_linear

from fqe_onnx import ERROR_KINDS, Scorer
from fqe_onnx.cli import main
from fqe_onnx.contract import KEY_CALIBRATION, KEY_PREPROCESS, KEY_SCHEMA
from fqe_onnx.decode import read_bytes
from fqe_onnx.errors import FqeError, ImageError
from fqe_onnx.sources import find_images

FQE = [sys.executable, "-m", "fqe_onnx"]


def rows_of(text):
    return {r["path"]: r for r in csv.DictReader(io.StringIO(text))}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int) -> bytes:
    """A tiny PNG whose header declares side x side RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".jpg", random_face(1, (64, 64)))
    data = bytearray(data.tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def encoded(image, ext, *params):
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


@pytest.fixture
def corpus(tmp_path):
    """Every hostile case, with the error kind each must produce ('' = scored)."""
    root = tmp_path / "corpus"
    root.mkdir()
    expected = {}

    def put(name, data, kind):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        expected[name] = kind

    put("good.png", encoded(random_face(0), ".png"), "")
    put("good.jpg", encoded(random_face(1), ".jpg"), "")
    rng = np.random.default_rng(0)
    trailer = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes() + b"\xff\xda\x00\x08junk"
    put("motion_photo.jpg", encoded(random_face(2), ".jpg") + trailer, "")  # bytes after EOI, with FF DA in them
    put("progressive.jpg", encoded(random_face(3), ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1), "")
    put("actually_bmp.png", encoded(random_face(4), ".bmp"), "")
    put("actually_webp.jpg", encoded(random_face(5), ".webp"), "")
    put("bomb_20k.png", png_bomb(20000), "too-large")
    put("bomb_60k.png", png_bomb(60000), "too-large")
    put("bomb_sof.jpg", jpeg_declaring(30000, 30000), "too-large")
    jpeg = encoded(random_face(6), ".jpg")
    put("cut.jpg", jpeg[: len(jpeg) * 2 // 3], "truncated")
    png = encoded(random_face(7), ".png")
    put("cut.png", png[: len(png) - 30], "truncated")
    put("empty.jpg", b"", "empty-file")
    put("text.jpg", b"hello, I am not a picture", "not-an-image")
    put("gif.png", b"GIF89a" + b"\x00" * 40, "not-an-image")
    put("one_pixel.png", encoded(np.zeros((1, 1, 3), np.uint8), ".png"), "too-small")
    put("ten_pixels.png", encoded(random_face(8, (10, 10)), ".png"), "too-small")
    put("black.png", encoded(np.zeros((64, 64, 3), np.uint8), ".png"), "flat")
    put("white.jpg", encoded(np.full((64, 64, 3), 255, np.uint8), ".jpg"), "flat")
    os.mkfifo(root / "fifo.jpg")
    expected["fifo.jpg"] = "not-a-file"
    os.symlink("/dev/zero", root / "zero.jpg")
    expected["zero.jpg"] = "not-a-file"
    os.symlink(root / "nowhere.png", root / "dangling.png")
    expected["dangling.png"] = "unreadable"
    # a symlinked folder (followed) and a link loop (walked once)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "linked.png").write_bytes(encoded(random_face(9), ".png"))
    os.symlink(outside, root / "linked_folder")
    expected["linked_folder/linked.png"] = ""
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "loop")
    (root / "sub" / "inner.png").write_bytes(encoded(random_face(10), ".png"))
    expected["sub/inner.png"] = ""
    # names that must print differently: a Latin-1 byte, and a literal backslash-x-e-9
    (root / os.fsdecode(b"caf\xe9.png")).write_bytes(encoded(random_face(11), ".png"))
    (root / "caf\\xe9.png").write_bytes(encoded(random_face(12), ".png"))
    expected["caf\\xe9.png"] = ""
    expected["caf\\\\xe9.png"] = ""
    return root, expected


def test_hostile_corpus_one_row_each_right_kinds_no_hang(corpus, model_path):
    root, expected = corpus
    done = subprocess.run(
        FQE
        + [
            "score",
            str(root),
            "-m",
            str(model_path),
            "--align",
            "never",
            "--no-progress",
            "--threads",
            "4",
            "--batch-size",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    rows = rows_of(done.stdout)
    assert len(lines) - 1 == len(rows) == len(expected)  # one row per input, no path twice
    assert {path: row["error_kind"] for path, row in rows.items()} == expected
    for path, row in rows.items():
        if expected[path]:
            assert row["q"] == "" and row["error"], path
        else:
            assert float(row["q"]) > 0 and row["error"] == "", path
    assert rows["actually_bmp.png"]["format"] == "bmp" and rows["actually_webp.jpg"]["format"] == "webp"
    assert rows["good.jpg"]["format"] == "jpeg" and rows["bomb_60k.png"]["format"] == "png"
    assert "60000x60000" in rows["bomb_60k.png"]["error"] and "--max-pixels" in rows["bomb_60k.png"]["error"]
    summary = done.stderr.strip().splitlines()[-1]
    assert f"{len(expected)} images, {sum(map(bool, expected.values()))} errors" in summary


def test_every_error_kind_is_reachable():
    """Each kind in ERROR_KINDS has a producing case in this suite (corpus above, test_framing, below;
    ``corrupt``: test_decode_edges)."""
    covered = {
        "",
        "too-large",
        "truncated",
        "empty-file",
        "not-an-image",
        "too-small",
        "flat",
        "not-a-file",
        "unreadable",
        "no-face",
        "bad-array",
        "bad-output",
        "model-error",
        "name-clash",
        "internal",
        "corrupt",
    }
    assert set(ERROR_KINDS) <= covered


def test_a_file_over_the_byte_limit_is_refused_after_reading_at_most_the_limit(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(b"\xff\xd8" + b"\x00" * 5000)
    with pytest.raises(ImageError) as info:
        read_bytes(path, max_bytes=1000)
    assert info.value.kind == "too-large"


def test_max_pixels_option(tmp_path, model_path):
    write_image(tmp_path / "in" / "a.png", random_face(0, (100, 100)))
    result = CliRunner().invoke(
        main, ["score", str(tmp_path / "in"), "-m", str(model_path), "--align", "never", "--max-pixels", "5000"]
    )
    assert result.exit_code == 1 and rows_of(result.stdout)["a.png"]["error_kind"] == "too-large"


def test_unreadable_folders_are_error_rows(tmp_path, monkeypatch):
    for name in ("a/1.png", "locked/2.png", "z/3.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":  # root reads anything: simulate a folder it may not list
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    sources = find_images(tmp_path)
    assert [s.name for s in sources] == ["a/1.png", "locked/", "z/3.png"]
    assert sources[1].error.kind == "unreadable" and "Permission denied" in str(sources[1].error)


def test_a_nul_byte_in_a_listed_path_is_one_error_row(tmp_path, model_path):
    write_image(tmp_path / "ok.png", random_face(0))
    listing = tmp_path / "list.txt"
    listing.write_text("ok.png\nbad\x00name.png\n")
    result = CliRunner().invoke(
        main, ["score", str(tmp_path), "--from-list", str(listing), "-m", str(model_path), "--align", "never"]
    )
    rows = rows_of(result.stdout)
    assert result.exit_code == 1 and rows["ok.png"]["error"] == ""
    assert rows["bad\\x00name.png"]["error_kind"] == "unreadable"  # a NUL is written \x00
    assert rows["bad\\x00name.png"]["error"] == "cannot read file: embedded null byte"  # on every Python
    output = tmp_path / "scores.csv"
    args = ["score", str(tmp_path), "--from-list", str(listing), "-m", str(model_path), "--align", "never"]
    for _ in range(2):  # the second run resumes: the NUL row reads back as the same name, and is done
        CliRunner().invoke(main, [*args, "-o", str(output), "--resume"])
    assert [row["path"] for row in csv.DictReader(output.open(encoding="utf-8"))] == ["ok.png", "bad\\x00name.png"]


def test_an_unexpected_failure_while_preparing_is_that_images_row(model_path, monkeypatch):
    with Scorer(model_path, device="cpu", align="never", threads=2, batch_size=4) as scorer:
        real = scorer.framer.tensor
        calls = []

        def flaky(image, mode):
            calls.append(1)
            if len(calls) == 2:
                raise ValueError("boom")
            return real(image, mode)

        monkeypatch.setattr(scorer.framer, "tensor", flaky)
        records = list(scorer.score_arrays([random_face(i) for i in range(4)]))
    assert [r.error_kind for r in records].count("internal") == 1
    assert sum(r.ok for r in records) == 3
    assert next(r for r in records if not r.ok).error == "ValueError: boom"


# -- hostile models --------------------------------------------------------------------------------


def reshape_model(path, target):
    """Dynamic batch declared, but the graph reshapes the embedding to ``target`` (a common export bug)."""
    weights = fixed_matrix(3, 512)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "W"], ["e"]),
        helper.make_node("Reshape", ["e", "shape"], ["y"]),
    ]
    inits = [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(np.array(target, np.int64), "shape")]
    return custom_graph(
        path,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 512])],
        nodes,
        inits,
    )


def test_a_model_that_fails_on_batches_still_scores_every_image(tmp_path, caplog):
    model = reshape_model(tmp_path / "reshape.onnx", [1, 512])
    images = [random_face(i) for i in range(5)]
    with Scorer(model, device="cpu", align="never", batch_size=5) as scorer:
        records = list(scorer.score_arrays(images))
    with Scorer(model, device="cpu", align="never", batch_size=1) as scorer:
        singles = list(scorer.score_arrays(images))
    assert all(r.ok for r in records) and [r.q for r in records] == [r.q for r in singles]
    assert "fails on batches but not on single images" in caplog.text
    inspected = CliRunner().invoke(main, ["inspect", str(model)])
    assert "check: failed: batch of 3: failed:" in inspected.stdout and "batch of 1: ok" in inspected.stdout


def test_a_model_that_fails_on_every_image_stops_with_exit_2(tmp_path):
    model = reshape_model(tmp_path / "broken.onnx", [2, 256])  # any batch gives the wrong output shape
    write_image(tmp_path / "in" / "a.png", random_face(0))
    write_image(tmp_path / "in" / "b.png", random_face(1))
    result = CliRunner().invoke(
        main, ["score", str(tmp_path / "in"), "-m", str(model), "--align", "never", "--device", "cpu"]
    )
    assert result.exit_code == 2 and "the model fails on every image" in result.stderr


def test_one_image_that_breaks_the_runtime_gets_a_model_error_row(model_path, monkeypatch):
    with Scorer(model_path, device="cpu", align="never", batch_size=3, threads=0) as scorer:
        real_run = scorer.model.run

        images = [random_face(i) for i in range(3)]
        poison = scorer.framer.tensor(images[1], "geometry")

        def run(batch):
            if any(np.array_equal(row, poison) for row in batch):  # this one image breaks the 'runtime'
                raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION")
            return real_run(batch)

        monkeypatch.setattr(scorer.model, "run", run)
        list(scorer.score_arrays(images[:1]))  # the model has worked once
        records = list(scorer.score_arrays(images))
        assert not scorer._one_at_a_time  # one poisoned image is not a broken batch axis
    assert [r.error_kind for r in records] == ["", "model-error", ""]
    assert "RUNTIME_EXCEPTION" in records[1].error


@pytest.mark.parametrize(
    "metadata, field",
    [
        ({KEY_PREPROCESS: '{"geometry": null}'}, "preprocess geometry must be a JSON object"),
        ({KEY_PREPROCESS: '{"geometry": [1, 2]}'}, "preprocess geometry must be a JSON object"),
        ({KEY_PREPROCESS: '{"geometry": {"crop": null}}'}, "preprocess geometry crop must be a JSON object"),
        ({KEY_PREPROCESS: '{"geometry": {"crop": [112, 112]}}'}, "preprocess geometry crop must be a JSON object"),
        ({KEY_CALIBRATION: '{"x0": Infinity}'}, "calibration x0 must be a finite number"),
        ({KEY_PREPROCESS: '{"mean": [NaN]}'}, "mean must hold finite numbers"),
        ({KEY_PREPROCESS: '{"template": [[1, 2]]}'}, "template must list 5"),
    ],
)
def test_malformed_contracts_exit_2_naming_the_field(tmp_path, metadata, field):
    model = pooled_linear(tmp_path / "m.onnx", weights=fixed_matrix(3, 512), metadata={KEY_SCHEMA: "1", **metadata})
    write_image(tmp_path / "in" / "a.png", random_face(0))
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "-m", str(model)])
    assert result.exit_code == 2 and field in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["h=inf", "w=nan", "x0=-inf", "w=0"])
def test_non_finite_calibration_options_exit_2(tmp_path, model_path, value):
    write_image(tmp_path / "in" / "a.png", random_face(0))
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "-m", str(model_path), "--calibration", value])
    assert result.exit_code == 2 and "calibration" in result.stderr


def test_contract_refuses_before_writing_and_writes_atomically(tmp_path, model_path):
    out = tmp_path / "out.onnx"
    refused = CliRunner().invoke(main, ["contract", str(model_path), "-o", str(out), "--channel-order", "GRAY"])
    assert refused.exit_code == 2 and not out.exists() and list(tmp_path.glob(".out.onnx*")) == []
    broken = reshape_model(tmp_path / "broken.onnx", [2, 256])
    refused = CliRunner().invoke(main, ["contract", str(broken), "-o", str(out)])
    assert refused.exit_code == 2 and "fails on a batch of 1" in refused.stderr and not out.exists()
    written = CliRunner().invoke(main, ["contract", str(model_path), "-o", str(out), "--geometry", "ofiq"])
    assert written.exit_code == 0 and out.is_file() and "check: batch of 3: ok" in written.stderr


# -- the Python API's edges ------------------------------------------------------------------------


def test_fewer_names_than_images_is_a_clear_error(model_path):
    with Scorer(model_path, device="cpu", align="never") as scorer:
        with pytest.raises(FqeError, match="image 2 has no name"):
            list(scorer.score_arrays([random_face(i) for i in range(3)], names=["a", "b"]))


def test_close_stops_scoring_in_other_threads_and_afterwards(model_path):
    import threading

    scorer = Scorer(model_path, device="cpu", align="never", batch_size=1, threads=2)
    started, errors = threading.Event(), []

    def endless():
        i = 0
        while True:
            started.set()
            yield random_face(i % 3, (64, 64))
            i += 1

    def consume():
        try:
            for _ in scorer.score_arrays(endless()):
                pass
        except FqeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    started.wait(10)
    time.sleep(0.05)
    scorer.close()
    thread.join(10)
    assert not thread.is_alive() and errors and "closed" in str(errors[0])
    with pytest.raises(FqeError, match="closed"):
        scorer.score_array(random_face(0))


# -- exit codes and signals ------------------------------------------------------------------------


def test_an_internal_error_exits_3_with_the_traceback_only_under_debug(dataset, model_path, monkeypatch):
    from fqe_onnx import output

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(output, "write_records", broken)
    quiet = CliRunner().invoke(main, ["score", str(dataset), "-m", str(model_path), "--align", "never"])
    assert quiet.exit_code == 3 and "internal error" in quiet.stderr and "ZeroDivisionError: a bug" in quiet.stderr
    assert "Traceback" not in quiet.stderr and "--debug" in quiet.stderr
    loud = CliRunner().invoke(main, ["--debug", "score", str(dataset), "-m", str(model_path), "--align", "never"])
    assert loud.exit_code == 3 and "Traceback" in loud.stderr


def test_ctrl_c_flushes_prints_the_summary_and_exits_130(dataset, model_path, tmp_path, monkeypatch):
    from fqe_onnx import output

    real = output.RecordWriter.write
    written = []

    def write(self, record):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(record)
        real(self, record)

    monkeypatch.setattr(output.RecordWriter, "write", write)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main, ["score", str(dataset), "-m", str(model_path), "--align", "never", "-o", str(out)]
    )
    assert result.exit_code == 130
    assert "interrupted (SIGINT): 2 images" in result.stderr and "2 of 4 inputs not scored yet" in result.stderr
    assert len(rows_of(out.read_text())) == 2


def make_faces(root: Path, n: int) -> None:
    from fqe_onnx.demo import astronaut_bgr

    base = astronaut_bgr()
    for i in range(n):
        write_image(root / f"p{i % 5}" / f"{i:03d}.jpg", np.roll(base, 3 * i, axis=1))


def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path):
    """Real model, real process, real SIGTERM halfway; --resume finishes the job row for row."""
    root = tmp_path / "faces"
    make_faces(root, 90)
    args = FQE + ["score", str(root), "--device", "cpu", "--no-progress", "--batch-size", "1", "--threads", "0"]
    clean = tmp_path / "clean.csv"
    subprocess.run(args + ["-o", str(clean)], check=True, capture_output=True, timeout=300)
    out = tmp_path / "out.csv"
    process = subprocess.Popen(args + ["-o", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 21):
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr and "rerun with --resume" in stderr
    partial = out.read_text().count("\n") - 1
    assert 20 <= partial < 90
    resumed = subprocess.run(args + ["-o", str(out), "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{90 - partial} images" in resumed.stderr and f"{partial} inputs were already in the output" in resumed.stderr
    )
    assert out.read_text() == clean.read_text()  # row for row, byte for byte


def test_resume_drops_a_torn_line_and_refuses_other_settings(dataset, model_path, tmp_path):
    out = tmp_path / "out.csv"
    base = ["score", str(dataset), "-m", str(model_path), "--align", "never", "-o", str(out)]
    assert CliRunner().invoke(main, base).exit_code == 0
    full = out.read_text()
    out.write_text(full[: full.index("\n", full.index("\n") + 1) + 25])  # header, one row, a torn row
    resumed = CliRunner().invoke(main, base + ["--resume"])
    assert resumed.exit_code == 0 and "dropped a torn last line" in resumed.stderr
    assert out.read_text() == full
    again = CliRunner().invoke(main, base + ["--resume"])  # nothing left to do
    assert again.exit_code == 0 and "4 inputs were already in the output" in again.stderr and out.read_text() == full
    other = CliRunner().invoke(main, base + ["--resume", "--calibration", "x0=1"])
    assert other.exit_code == 2 and "made with other settings (contract differ)" in other.stderr
    side = json.loads((tmp_path / "out.csv.fqe-run.json").read_text())
    assert side["settings"]["align"] == "never" and len(side["sha256"]) == 64
    (tmp_path / "out.csv.fqe-run.json").unlink()
    missing = CliRunner().invoke(main, base + ["--resume"])
    assert missing.exit_code == 2 and "side file" in missing.stderr
    assert CliRunner().invoke(main, ["score", str(dataset), "-m", str(model_path), "--resume"]).exit_code == 2


def test_a_broken_pipe_ends_quietly(dataset, model_path):
    process = subprocess.Popen(
        FQE + ["score", str(dataset), "-m", str(model_path), "--align", "never", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader goes away before the first row
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 141 and b"Traceback" not in stderr and b"BrokenPipe" not in stderr


# -- the zoo under concurrency ---------------------------------------------------------------------


def test_concurrent_first_pulls_all_succeed(tmp_path):
    from fqe_onnx import zoo

    raw = zoo.raw_file(zoo.FR_FEATURE)
    env = dict(os.environ, FQE_ONNX_HOME=str(tmp_path / "home"))
    processes = [
        subprocess.Popen(
            FQE + ["models", "pull", zoo.DEFAULT_MODEL, "--from-file", str(raw)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=180) + (p.returncode,) for p in processes]
    assert all(code == 0 for _, _, code in results), results
    paths = {out.strip() for out, _, _ in results}
    assert len(paths) == 1 and Path(paths.pop()).read_bytes() == zoo.pull(zoo.DEFAULT_MODEL).read_bytes()
    assert [p.name for p in (tmp_path / "home").rglob("*") if p.name.endswith(".part")] == []
    # --from-file pointed at the cached raw file itself is fine
    again = subprocess.run(
        FQE
        + [
            "models",
            "pull",
            zoo.DEFAULT_MODEL,
            "--force",
            "--from-file",
            str(tmp_path / "home" / "raw" / "fr_feature.onnx"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr


def test_align_never_writes_one_crop_over_another(tmp_path):
    from fqe_onnx.demo import astronaut_bgr

    write_image(tmp_path / "in" / "x.jpg", astronaut_bgr())
    write_image(tmp_path / "in" / "x.png", astronaut_bgr()[:, ::-1])
    result = CliRunner().invoke(main, ["align", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    outputs = [row["output"] for row in rows_of(result.stdout).values()]
    assert len(set(outputs)) == 2 and all(Path(o).is_file() for o in outputs)

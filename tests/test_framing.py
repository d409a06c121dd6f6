"""Right by default: each image framed the way its model needs, per image, with stable error kinds."""

import csv
import io
import shutil
import warnings

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face, write_image
from reference import seed_preprocess
from tiny_models import fixed_matrix, pooled_linear

from fqe_onnx import ERROR_KINDS, Scorer, run
from fqe_onnx.cli import main
from fqe_onnx.diagnostics import score_warning
from fqe_onnx.errors import FqeError
from fqe_onnx.session import EmbeddingModel


@pytest.fixture(scope="module")
def astronaut():
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


def rows_of(result):
    return {r["path"]: r for r in csv.DictReader(io.StringIO(result.stdout))}


def test_aligned_crop_file_and_full_photo_agree_under_auto(tmp_path, astronaut, default_model):
    from fqe_onnx.demo import demo_face

    write_image(tmp_path / "photo.png", astronaut)
    write_image(tmp_path / "crop.png", demo_face())  # 112x112, aligned once from hand-kept points
    with Scorer(default_model, device="cpu") as scorer:  # align="auto" is the default
        photo, crop = scorer.score_paths([tmp_path / "photo.png", tmp_path / "crop.png"])
    assert (photo.mode, crop.mode) == ("aligned", "as-is")
    assert abs(photo.q - crop.q) / crop.q < 0.02, (photo.q, crop.q)


def test_a_files_score_does_not_depend_on_its_folder(tmp_path, astronaut, default_model):
    from fqe_onnx.demo import demo_face

    alone, crowd = tmp_path / "alone", tmp_path / "crowd"
    write_image(alone / "astro.jpg", astronaut)
    write_image(alone / "face.png", demo_face())
    for target in ("astro.jpg", "face.png"):
        (crowd / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(alone / target, crowd / target)
    # neighbours of every kind: other 112x112 crops, photos with no face, broken files
    for i in range(6):
        write_image(crowd / f"crop{i}.png", random_face(i, (112, 112)))
        write_image(crowd / f"noface{i}.png", random_face(10 + i, (200, 160)))
    (crowd / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    results = []
    for root, batch_size in ((alone, 32), (crowd, 5), (crowd, 32)):
        result = CliRunner().invoke(
            main, ["score", str(root), "-m", str(default_model), "--device", "cpu", "--batch-size", str(batch_size)]
        )
        rows = rows_of(result)
        results.append(
            {name: (rows[name]["mode"], rows[name]["Q"], float(rows[name]["q"])) for name in ("astro.jpg", "face.png")}
        )
    first = results[0]
    assert first["astro.jpg"][0] == "aligned" and first["face.png"][0] == "as-is"
    for other in results[1:]:
        for name in first:
            assert other[name][:2] == first[name][:2]
            assert other[name][2] == pytest.approx(first[name][2], rel=1e-6)


def test_never_is_the_seed_pipeline_bit_for_bit(tmp_path, dataset, model_path):
    model = EmbeddingModel(model_path, device="cpu")
    images = [cv2.imread(str(p)) for p in sorted(dataset.rglob("*.png"))]
    with Scorer(model_path, device="cpu", align="never", threads=0) as scorer:
        tensors = [scorer.framer.tensor(image, "geometry") for image in images]
        records = list(scorer.score_arrays(images))
    for image, tensor in zip(images, tensors):
        assert tensor.dtype == np.float32 and np.array_equal(tensor, seed_preprocess(image))
    expected = model.norms(np.stack([seed_preprocess(image) for image in images]))
    assert [r.q for r in records] == expected.tolist()  # the same bits, not just close
    assert {r.mode for r in records} == {"geometry"}


def test_always_aligns_even_model_sized_images(astronaut, default_model):
    from fqe_onnx.demo import demo_face

    with Scorer(default_model, device="cpu", align="always") as scorer:
        crop, photo = scorer.score_arrays([demo_face(), astronaut])
    with Scorer(default_model, device="cpu", align="auto") as scorer:
        auto_crop, auto_photo = scorer.score_arrays([demo_face(), astronaut])
    assert crop.mode == photo.mode == auto_photo.mode == "aligned" and auto_crop.mode == "as-is"
    assert photo.q == auto_photo.q  # a photo is aligned the same way under both
    assert crop.q != auto_crop.q  # the crop was detected and warped again: a second resampling


def test_align_values_are_checked(model_path):
    with pytest.raises(FqeError, match="align must be one of auto, always, never, got 'sometimes'"):
        Scorer(model_path, align="sometimes")
    with Scorer(model_path, align=False) as scorer:  # the old boolean flag still reads right
        assert scorer.align == "never"


# -- error kinds -----------------------------------------------------------------------------------


def test_every_error_kind_comes_from_its_case(tmp_path, astronaut):
    root = tmp_path / "kinds"
    write_image(root / "face.png", astronaut)
    write_image(root / "wall.png", random_face(99, (240, 320)))
    (root / "empty.png").write_bytes(b"")
    ok, jpeg = cv2.imencode(".jpg", astronaut)
    (root / "cut.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
    (root / "text.png").write_bytes(b"this is not an image at all")
    (root / "folder.jpg").mkdir()  # a folder with an image's name: the file cannot be read
    listing = tmp_path / "list.txt"
    listing.write_text(
        "\n".join(["face.png", "wall.png", "empty.png", "cut.jpg", "text.png", "folder.jpg", "gone.png"])
    )
    result = CliRunner().invoke(main, ["score", str(root), "--from-list", str(listing), "--device", "cpu"])
    assert result.exit_code == 1
    kinds = {path: row["error_kind"] for path, row in rows_of(result).items()}
    assert kinds == {
        "face.png": "",
        "wall.png": "no-face",
        "empty.png": "empty-file",
        "cut.jpg": "truncated",
        "text.png": "not-an-image",
        "folder.jpg": "unreadable",
        "gone.png": "unreadable",
    }

    weights = fixed_matrix(3, 512)
    weights[0, 0] = np.nan
    nan_model = pooled_linear(tmp_path / "nan.onnx", weights=weights)
    with Scorer(nan_model, device="cpu", align="never") as scorer:
        bad_output, bad_array = scorer.score_arrays([random_face(0), np.zeros((4, 4), np.float64)])
    assert (bad_output.error_kind, bad_array.error_kind) == ("bad-output", "bad-array")
    produced = set(kinds.values()) - {""} | {"bad-output", "bad-array"}
    assert produced <= set(ERROR_KINDS)  # test_hostile.py covers the rest of the kinds


# -- warnings when scores are useless --------------------------------------------------------------


@pytest.mark.parametrize(
    "scores, fires",
    [
        ([100] * 19 + [3], True),  # 95% identical
        ([0, 1, 2, 3, 4, 5] * 4, True),  # all within 5 of the bottom, not identical
        ([2] * 10 + [97] * 9 + [50], True),  # 95% at the two ends together
        ([2] * 10 + [97] * 8 + [50, 60], False),  # 90%
        (list(range(0, 100, 4)), False),  # spread
        ([100] * 19, False),  # too few to judge
    ],
)
def test_score_warning(scores, fires):
    assert (score_warning(scores) is not None) == fires


def test_run_and_calibrate_warn_when_scores_collapse(tmp_path, weights):
    big = pooled_linear(tmp_path / "big.onnx", weights=weights * 100)  # norms ~ 100: the seed sigmoid says 100
    for i in range(25):
        write_image(tmp_path / "many" / f"{i}.png", random_face(i, (64, 64)))
    with pytest.warns(UserWarning, match="scores collapsed: 100% of 25 images got Q=100"):
        run(tmp_path / "many", model=big, device="cpu", align="never")
    with Scorer(big, device="cpu", align="never") as scorer:
        q = np.array([r.q for r in scorer.score_folder(tmp_path / "many")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = run(
            tmp_path / "many",
            model=big,
            device="cpu",
            align="never",
            calibration={"x0": float(np.median(q)), "w": float(q.std())},
        )
    assert frame["Q"].std() > 5  # spread: no warning raised above
    # calibrate on a reference set where most images fail: the 'after' scores of the few left are
    # fitted to spread, but the framing line shows what happened
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            str(tmp_path / "many"),
            "-m",
            str(big),
            "-o",
            str(tmp_path / "c.onnx"),
            "--align",
            "never",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "framing:  --align never: geometry 25" in result.stdout


def test_calibrate_shows_its_framing_and_warns_on_misframed_references(tmp_path, astronaut, default_model):
    variants = [astronaut, astronaut[:, ::-1], cv2.GaussianBlur(astronaut, (0, 0), 1.5), np.roll(astronaut, 20, axis=1)]
    for i, image in enumerate(variants):
        write_image(tmp_path / "ref" / f"{i}.png", np.ascontiguousarray(image))
    args = ["calibrate", str(tmp_path / "ref"), "-m", str(default_model), "--device", "cpu"]
    never = CliRunner().invoke(main, args + ["-o", str(tmp_path / "never.onnx"), "--align", "never"])
    assert never.exit_code == 0, never.output
    assert "framing:  --align never: geometry 4" in never.stdout
    assert "do not look aligned to the model's face template" in never.stderr
    auto = CliRunner().invoke(main, args + ["-o", str(tmp_path / "auto.onnx")])
    assert auto.exit_code == 0, auto.output
    assert "framing:  --align auto: aligned 4" in auto.stdout and "warning" not in auto.stderr


def test_a_match_probability_calibration_says_why_scores_sit_at_the_top():
    from fqe_onnx.diagnostics import score_warning

    message = score_warning([99] * 19 + [97], "utility")
    assert "nearly every face is expected to match" in message and "faceplugin-mobilefacenet-quantile" in message
    assert "not framed" in score_warning([0] * 20, "utility")  # at the bottom: the usual causes


def test_a_chunk_aligned_together_scores_as_each_image_alone(astronaut, default_model):
    noise = np.random.default_rng(0).integers(0, 256, (200, 260, 3), dtype=np.uint8)
    photos = [
        astronaut,
        noise,
        cv2.resize(astronaut, (300, 300)),
        np.roll(astronaut, (40, -60), axis=(0, 1)),
        cv2.resize(astronaut, (112, 112)),
    ]
    with Scorer(default_model, device="cpu", batch_size=5, threads=0) as scorer:
        together = list(scorer.score_arrays(photos))
    with Scorer(default_model, device="cpu", batch_size=1, threads=0) as scorer:
        alone = list(scorer.score_arrays(photos))
    assert [r.mode for r in together] == ["aligned", "aligned", "aligned", "aligned", "as-is"]
    assert [r.error_kind for r in together] == ["", "no-face", "", "", ""] == [r.error_kind for r in alone]
    for a, b in zip(together, alone):
        assert (a.q is None and b.q is None) or a.q == pytest.approx(b.q, rel=1e-5)


def test_a_failing_batched_alignment_is_retried_image_by_image(astronaut, default_model, monkeypatch):
    photos = [astronaut, cv2.resize(astronaut, (300, 300)), np.roll(astronaut, (40, -60), axis=(0, 1))]
    with Scorer(default_model, device="cpu", batch_size=3, threads=0) as scorer:
        expected = [r.q for r in scorer.score_arrays(photos)]
        real = scorer.framer.aligned_faces

        def fails_on_the_small_photo(images, all_faces=False):
            if any(image.shape[0] == 300 for image in images):
                raise RuntimeError("detector broke")
            return real(images, all_faces)

        monkeypatch.setattr(scorer.framer, "aligned_faces", fails_on_the_small_photo)
        records = list(scorer.score_arrays(photos))
    assert [r.error_kind for r in records] == ["", "internal", ""]
    assert records[1].error == "RuntimeError: detector broke" and records[1].mode == "aligned"
    assert records[0].q == pytest.approx(expected[0], rel=1e-6) and records[2].q == pytest.approx(expected[2], rel=1e-6)

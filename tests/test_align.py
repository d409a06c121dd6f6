import csv
import io

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_image

from fqe_onnx.align import ARCFACE_TEMPLATE_112, align_face, similarity_transform
from fqe_onnx.detection import Detection, landmark_crop, nms, select_main_face

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]


def similarity(angle_deg, scale, shift):
    a = np.deg2rad(angle_deg)
    rotation = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return rotation, np.asarray(shift, dtype=float)


def test_exact_correspondences_recover_the_transform():
    rotation, shift = similarity(23, 2.7, (40, -12))
    src = ARCFACE_TEMPLATE_112 @ rotation.T + shift
    matrix = similarity_transform(src, ARCFACE_TEMPLATE_112)
    back = src @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(back, ARCFACE_TEMPLATE_112, atol=1e-9)
    np.testing.assert_allclose(matrix[:, :2] @ rotation, np.eye(2), atol=1e-12)


def test_similarity_never_shears_or_reflects():
    rng = np.random.default_rng(0)
    src = ARCFACE_TEMPLATE_112 + rng.normal(0, 3, size=(5, 2))
    m = similarity_transform(src, ARCFACE_TEMPLATE_112)[:, :2]
    assert m[0, 0] == pytest.approx(m[1, 1]) and m[0, 1] == pytest.approx(-m[1, 0])
    assert np.linalg.det(m) > 0


@pytest.mark.parametrize("angle, scale, shift", [(0, 1, (0, 0)), (17, 3.1, (150, 90)), (-35, 0.8, (60, 140)), (90, 6.0, (700, 30))])
def test_synthetic_face_comes_back_onto_the_template_within_a_pixel(angle, scale, shift):
    rotation, offset = similarity(angle, scale, shift)
    points = ARCFACE_TEMPLATE_112 @ rotation.T + offset
    size = int(np.ceil(points.max() + 60 * scale))
    image = np.full((size, size, 3), 40, np.uint8)
    for (x, y), colour in zip(points, COLOURS):  # a distinct colour disc on each 'feature'
        cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), int(3 * scale * 16), colour, -1, cv2.LINE_AA, shift=4)
    crop = align_face(image, points)
    assert crop.shape == (112, 112, 3)
    for target, colour in zip(ARCFACE_TEMPLATE_112, COLOURS):
        mask = np.all(np.abs(crop.astype(int) - colour) < 60, axis=2)
        ys, xs = np.nonzero(mask)
        assert len(xs) > 5
        centroid = np.array([xs.mean(), ys.mean()])
        assert np.linalg.norm(centroid - target) < 1.0, (colour, centroid, target)


def test_nms_and_main_face_selection():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    assert nms(boxes, np.array([0.9, 0.95, 0.8]), 0.4) == [1, 2]
    small_centre = Detection((90, 90, 110, 110), 0.99)
    big_corner = Detection((0, 0, 60, 60), 0.9)
    assert select_main_face([small_centre, big_corner], 200, 200) == 1
    twin_left, twin_centre = Detection((0, 70, 60, 130), 0.9), Detection((70, 70, 130, 130), 0.9)
    assert select_main_face([twin_left, twin_centre], 200, 200) == 1
    assert select_main_face([], 10, 10) is None


def test_landmark_crop_is_square_and_inside_the_image():
    assert landmark_crop((10, 20, 50, 80), 200, 200) == (0, 20, 60, 80)  # side 60, moved right of 0
    assert landmark_crop((150, 150, 190, 199), 200, 200) == (146, 150, 195, 199)  # side 49
    left, top, right, bottom = landmark_crop((0, 0, 30, 500), 100, 100)  # taller than the image: clipped
    assert (left, top, right, bottom) == (0, 0, 100, 100)


# -- on the real models (fetched by npm with the default model) ------------------------------------

#: Hand-measured on the 512x512 astronaut photo, by eye on an 8x zoom: pupils, nose tip, mouth corners.
HAND_MEASURED = np.array([[203.0, 101.0], [247.5, 104.0], [223.0, 127.0], [204.0, 140.0], [242.5, 142.0]])


@pytest.fixture(scope="module")
def aligner():
    from fqe_onnx.aligner import FaceAligner

    return FaceAligner(device="cpu")


@pytest.fixture(scope="module")
def astronaut():
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


def test_astronaut_one_face_points_on_the_features(aligner, astronaut):
    faces = aligner.faces(astronaut, all_faces=True)
    assert len(faces) == 1 and faces[0].detection.score > 0.99
    distances = np.linalg.norm(faces[0].points - HAND_MEASURED, axis=1)
    assert distances.max() < 4.0, distances


def test_aligned_crop_embeds_like_the_demo_face(aligner, astronaut):
    from fqe_onnx.demo import demo_face
    from fqe_onnx.session import EmbeddingModel
    from fqe_onnx.preprocess import prepare
    from fqe_onnx.zoo import resolve_model

    model = EmbeddingModel(resolve_model(None), device="cpu")
    crop = aligner.faces(astronaut)[0].crop
    a, b = model.run(np.stack([prepare(im, model.contract.preprocess) for im in (crop, demo_face())]))
    cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cosine > 0.98, cosine  # measured 0.999+: same face, points a fraction of a pixel apart


def test_all_faces_in_a_group_photo(aligner, astronaut):
    pair = np.hstack([astronaut, astronaut[:, ::-1]])
    faces = aligner.faces(pair, all_faces=True)
    assert len(faces) == 2
    centres = sorted((f.detection.box[0] + f.detection.box[2]) / 2 for f in faces)
    assert centres[0] < 512 < centres[1]


def test_align_cli_rows_crops_and_no_face(tmp_path, astronaut):
    from fqe_onnx.cli import main

    write_image(tmp_path / "in" / "people" / "astro.jpg", astronaut)
    write_image(tmp_path / "in" / "wall.png", np.full((240, 320, 3), 200, np.uint8))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8nope")
    write_image(tmp_path / "in" / "pre" / "ready.png", cv2.resize(astronaut[60:180, 165:285], (112, 112)))
    result = CliRunner().invoke(main, ["align", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--pass-aligned"])
    assert result.exit_code == 1  # two inputs failed, their rows are there, the rest went on
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"people/astro.jpg", "wall.png", "broken.jpg", "pre/ready.png"}
    assert rows["wall.png"]["error"].startswith("no face found")
    assert rows["broken.jpg"]["error"].startswith("truncated JPEG")
    assert rows["pre/ready.png"]["mode"] == "passthrough"
    astro = rows["people/astro.jpg"]
    assert astro["mode"] == "aligned" and float(astro["score"]) > 0.99 and astro["error"] == ""
    points = np.array([[float(astro[f"{n}_{a}"]) for a in "xy"] for n in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")])
    assert np.linalg.norm(points - HAND_MEASURED, axis=1).max() < 4.0
    crop = cv2.imread(str(tmp_path / "out" / "people" / "astro.png"))
    assert crop.shape == (112, 112, 3)


def test_score_align_marks_the_mode_and_keeps_going(tmp_path, astronaut):
    from fqe_onnx.cli import main

    write_image(tmp_path / "in" / "astro.png", astronaut)
    write_image(tmp_path / "in" / "wall.png", np.full((240, 320, 3), 200, np.uint8))
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--align", "--device", "cpu"])
    assert result.exit_code == 1
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(next(iter(rows.values()))) == ["path", "identity", "q", "Q", "error", "mode"]
    assert rows["astro.png"]["mode"] == "aligned" and float(rows["astro.png"]["q"]) > 3.0
    assert rows["wall.png"]["error"].startswith("no face found")
    clash = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--align", "--crop", "100,100"])
    assert clash.exit_code == 2 and "crop does not apply with alignment" in clash.stderr
    unaligned = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--device", "cpu"])
    assert "do not look aligned" in unaligned.stderr
    assert "mode" not in unaligned.stdout.splitlines()[0]

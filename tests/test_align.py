import csv
import io

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx.align.detection import Detection, landmark_crop, nms, select_main_face
from fqe_onnx.align.template import (
    ARCFACE_TEMPLATE_112,
    OFIQ_REFERENCE_616,
    align_face,
    geometry_template,
    model_template,
    resize_points,
    similarity_transform,
    warp_to_template,
)
from fqe_onnx.contract import GEOMETRIES, SEED_CONTRACT, with_overrides

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


@pytest.mark.parametrize(
    "angle, scale, shift", [(0, 1, (0, 0)), (17, 3.1, (150, 90)), (-35, 0.8, (60, 140)), (90, 6.0, (700, 30))]
)
def test_synthetic_face_comes_back_onto_the_template_within_a_pixel(angle, scale, shift):
    rotation, offset = similarity(angle, scale, shift)
    points = ARCFACE_TEMPLATE_112 @ rotation.T + offset
    size = int(np.ceil(points.max() + 60 * scale))
    image = np.full((size, size, 3), 40, np.uint8)
    for (x, y), colour in zip(points, COLOURS):  # a distinct colour disc on each 'feature'
        cv2.circle(
            image, (int(round(x * 16)), int(round(y * 16))), int(3 * scale * 16), colour, -1, cv2.LINE_AA, shift=4
        )
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
    from fqe_onnx.align.aligner import FaceAligner

    return FaceAligner(device="cpu")


@pytest.fixture(scope="module")
def astronaut():
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


def test_astronaut_one_face_points_on_the_features(aligner, astronaut):
    faces = aligner.faces(astronaut, all_faces=True)
    assert len(faces) == 1 and faces[0].face.detection.score > 0.99
    distances = np.linalg.norm(faces[0].face.points - HAND_MEASURED, axis=1)
    assert distances.max() < 4.0, distances


def test_aligned_crop_embeds_like_the_demo_face(aligner, astronaut):
    from fqe_onnx.demo import demo_face
    from fqe_onnx.session import EmbeddingModel
    from fqe_onnx.preprocess import prepare_crop
    from fqe_onnx.zoo import resolve_model

    model = EmbeddingModel(resolve_model(None), device="cpu")
    crop = aligner.faces(astronaut)[0].crop
    a, b = model.run(np.stack([prepare_crop(im, model.contract.preprocess) for im in (crop, demo_face())]))
    cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cosine > 0.98, cosine  # measured 0.999+: same face, points a fraction of a pixel apart


def test_all_faces_in_a_group_photo(aligner, astronaut):
    pair = np.hstack([astronaut, astronaut[:, ::-1]])
    faces = aligner.faces(pair, all_faces=True)
    assert len(faces) == 2
    centres = sorted((f.face.detection.box[0] + f.face.detection.box[2]) / 2 for f in faces)
    assert centres[0] < 512 < centres[1]


def varied_photos(astronaut):
    """Faces at several sizes and positions, a two-face photo, and one without a face."""
    small = cv2.resize(astronaut, (300, 300))
    shifted = np.roll(astronaut, (40, -60), axis=(0, 1))
    return [astronaut, np.full((200, 260, 3), 90, np.uint8), small, np.hstack([astronaut, astronaut[:, ::-1]]), shifted]


def test_the_batched_models_have_a_dynamic_batch_and_match_the_originals():
    from fqe_onnx.modelprep.graph import check_batch_equivalence
    from fqe_onnx.session import create_session
    from fqe_onnx.zoo import FR_DETECT, FR_LANDMARK, aligner_models, raw_file

    for prepared, pinned, shape in zip(aligner_models(), (FR_DETECT, FR_LANDMARK), ((3, 240, 320), (1, 64, 64))):
        session, _ = create_session(prepared, "cpu")
        assert isinstance(session.get_inputs()[0].shape[0], str)
        assert check_batch_equivalence(raw_file(pinned), prepared, shape, n=4) <= 1e-5


def test_a_batch_of_photos_is_located_as_one_at_a_time(aligner, astronaut):
    photos = varied_photos(astronaut)
    batched = aligner.locate_batch(photos, all_faces=True)
    for photo, found in zip(photos, batched):
        try:
            alone = aligner.locate(photo, all_faces=True)
        except Exception as exc:
            assert type(found) is type(exc) and str(found) == str(exc) and found.kind == "no-face"
            continue
        assert [f.face_index for f in found] == [f.face_index for f in alone]
        for a, b in zip(found, alone):
            np.testing.assert_allclose(a.detection.box, b.detection.box, atol=1e-3)
            np.testing.assert_allclose(a.points, b.points, atol=1e-3)
    assert [len(f) if isinstance(f, list) else 0 for f in batched] == [1, 0, 1, 2, 1]


def test_an_aligner_on_models_fixed_at_batch_1_runs_them_one_image_at_a_time(astronaut, aligner):
    from fqe_onnx.align.aligner import FaceAligner
    from fqe_onnx.zoo import FR_DETECT, FR_LANDMARK, raw_file

    fixed = FaceAligner(detector_model=raw_file(FR_DETECT), landmark_model=raw_file(FR_LANDMARK))
    photos = varied_photos(astronaut)
    for a, b in zip(fixed.faces_batch(photos), aligner.faces_batch(photos)):
        if isinstance(a, Exception):
            assert isinstance(b, Exception)
        else:
            np.testing.assert_allclose(a[0].face.points, b[0].face.points, atol=1e-3)


def test_align_cli_rows_crops_and_no_face(tmp_path, astronaut):
    from fqe_onnx.cli import main

    write_image(tmp_path / "in" / "people" / "astro.jpg", astronaut)
    write_image(tmp_path / "in" / "wall.png", random_face(99, (240, 320)))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8nope")
    write_image(tmp_path / "in" / "pre" / "ready.png", cv2.resize(astronaut[60:180, 165:285], (112, 112)))
    result = CliRunner().invoke(main, ["align", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1  # two inputs failed, their rows are there, the rest went on
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert set(rows) == {"people/astro.jpg", "wall.png", "broken.jpg", "pre/ready.png"}
    assert rows["wall.png"]["error_kind"] == "no-face" and rows["wall.png"]["error"].startswith("no face found")
    assert rows["broken.jpg"]["error_kind"] == "not-an-image"  # a JPEG start, then no marker: corrupt
    assert rows["pre/ready.png"]["mode"] == "as-is"  # already the model's input size: copied as it is
    astro = rows["people/astro.jpg"]
    assert astro["mode"] == "aligned" and float(astro["score"]) > 0.99 and astro["error"] == ""
    points = np.array(
        [
            [float(astro[f"{n}_{a}"]) for a in "xy"]
            for n in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
        ]
    )
    assert np.linalg.norm(points - HAND_MEASURED, axis=1).max() < 4.0
    crop = cv2.imread(str(tmp_path / "out" / "people" / "astro.png"))
    assert crop.shape == (112, 112, 3)
    always = CliRunner().invoke(
        main, ["align", str(tmp_path / "in"), "--out", str(tmp_path / "out2"), "--align", "always"]
    )
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(always.stdout))}
    assert rows["pre/ready.png"]["mode"] == "aligned"


def test_align_cli_follows_the_models_template(tmp_path, astronaut, aligner):
    """Crops for a model whose contract asks for the seed framing put the face where that model wants it."""
    from fqe_onnx.cli import main
    from tiny_models import fixed_matrix, pooled_linear

    seed_model = pooled_linear(tmp_path / "seed.onnx", weights=fixed_matrix(3, 512))  # no contract: seed framing
    write_image(tmp_path / "in" / "astro.png", astronaut)
    result = CliRunner().invoke(
        main, ["align", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(seed_model)]
    )
    assert result.exit_code == 0, result.output
    crop = cv2.imread(str(tmp_path / "out" / "astro.png"))
    wanted = geometry_template(GEOMETRIES["seed"])
    (located,) = aligner.locate(astronaut)
    np.testing.assert_array_equal(crop, warp_to_template(astronaut, located.points, wanted, (112, 112)))
    (face,) = aligner.locate(crop)  # found again in the crop: nearer the seed's template than ArcFace's
    eyes_y = face.points[:2, 1].mean()
    assert abs(eyes_y - wanted[:2, 1].mean()) < abs(eyes_y - ARCFACE_TEMPLATE_112[:2, 1].mean())


def test_score_marks_the_mode_and_keeps_going(tmp_path, astronaut):
    from fqe_onnx.cli import main

    write_image(tmp_path / "in" / "astro.png", astronaut)
    write_image(tmp_path / "in" / "wall.png", random_face(99, (240, 320)))
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--device", "cpu"])  # no options: auto
    assert result.exit_code == 1
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(next(iter(rows.values()))) == [
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
    assert rows["astro.png"]["mode"] == "aligned" and float(rows["astro.png"]["q"]) > 3.0
    assert rows["wall.png"]["error_kind"] == "no-face" and rows["wall.png"]["error"].startswith("no face found")
    assert rows["wall.png"]["mode"] == "aligned" and rows["wall.png"]["q"] == ""
    assert "mode: aligned 2" in result.stderr and "errors: no-face 1" in result.stderr
    never = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--device", "cpu", "--align", "never"])
    assert "do not look aligned" in never.stderr
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(never.stdout))}
    assert rows["wall.png"]["mode"] == "geometry" and rows["wall.png"]["error"] == ""


# -- templates -------------------------------------------------------------------------------------


def test_aligned112_template_is_arcface():
    np.testing.assert_allclose(geometry_template(GEOMETRIES["aligned112"]), ARCFACE_TEMPLATE_112, atol=1e-12)
    # the same template at another crop size scales with half-pixel centres
    scaled = geometry_template(with_overrides(SEED_CONTRACT, resize=(224, 224), crop=(224, 224)).preprocess.geometry)
    np.testing.assert_allclose(scaled, (ARCFACE_TEMPLATE_112 + 0.5) * 2 - 0.5)


def test_ofiq_points_through_the_ofiq_geometry_land_on_arcface():
    ofiq = geometry_template(GEOMETRIES["ofiq"])
    # by hand: x' = (x + 0.5) * 192 / 616 - 0.5 - left 40, y' likewise minus top 33
    left_eye = ((251 + 0.5) * 192 / 616 - 0.5 - 40, (272 + 0.5) * 192 / 616 - 0.5 - 33)
    np.testing.assert_allclose(ofiq[0], left_eye)
    distances = np.linalg.norm(ofiq - ARCFACE_TEMPLATE_112, axis=1)
    assert distances.max() < 1.0, distances  # OFIQ's crop was built to match ArcFace's template
    assert distances.max() < 0.55


def test_ofiq_points_through_the_seed_geometry_sit_7_px_higher():
    seed, ofiq = geometry_template(GEOMETRIES["seed"]), geometry_template(GEOMETRIES["ofiq"])
    # the seed's crop window starts 7 rows lower (top 40 instead of 33), so every point lands 7 px higher
    np.testing.assert_allclose(seed - ofiq, [[0, -7]] * 5, atol=1e-12)
    offsets = seed - ARCFACE_TEMPLATE_112
    assert np.all(np.abs(offsets[:, 0]) < 1.0) and np.all((offsets[:, 1] < -6.2) & (offsets[:, 1] > -7.8))


def test_resize_points_uses_pixel_centres():
    np.testing.assert_allclose(
        resize_points(np.array([[0.0, 0.0], [615.0, 615.0]]), (616, 616), (192, 192)),
        [[0.5 * 192 / 616 - 0.5] * 2, [615.5 * 192 / 616 - 0.5] * 2],
    )
    assert OFIQ_REFERENCE_616.shape == (5, 2)


def test_a_contract_template_wins_over_the_geometry():
    template = ARCFACE_TEMPLATE_112 + [1.0, 2.0]
    pre = with_overrides(SEED_CONTRACT, geometry="aligned112", template=template.ravel().tolist()).preprocess
    np.testing.assert_allclose(model_template(pre), template)
    np.testing.assert_allclose(model_template(SEED_CONTRACT.preprocess), geometry_template(GEOMETRIES["seed"]))


def test_warp_to_a_non_square_template_lands_the_points():
    rotation, offset = similarity(10, 2.0, (80, 60))
    points = ARCFACE_TEMPLATE_112 @ rotation.T + offset
    image = np.full((400, 400, 3), 40, np.uint8)
    for (x, y), colour in zip(points, COLOURS):
        cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), 6 * 16, colour, -1, cv2.LINE_AA, shift=4)
    template = ARCFACE_TEMPLATE_112 * 1.1 + [4.0, 12.0]  # a template a similarity can reach exactly
    crop = warp_to_template(image, points, template, (140, 120))
    assert crop.shape == (140, 120, 3)
    for target, colour in zip(template, COLOURS):
        ys, xs = np.nonzero(np.all(np.abs(crop.astype(int) - colour) < 60, axis=2))
        assert np.linalg.norm([xs.mean(), ys.mean()] - target) < 1.5

"""The whole bundle on the real default model against the Python path (Scorer), and its command."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from frames import SEAM_PHOTOS, astronaut, large_frame, seam_photo

from fqe_onnx import Scorer
from fqe_onnx.bundle.api import BundleSession, make_bundle
from fqe_onnx.bundle.assemble import KEY_BUNDLE, STATUS_CODES
from fqe_onnx.bundle.check import python_status
from fqe_onnx.cli import main
from fqe_onnx.contract import ALL_KEYS
from fqe_onnx.demo import demo_face


def _images() -> dict[str, np.ndarray]:
    photo = astronaut()
    face = demo_face()
    return {
        "photo": cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA),  # face under twice the crop's size
        "frame": cv2.resize(photo[0:260, 120:380], (250, 250), interpolation=cv2.INTER_AREA),
        "crop112": face,
        "blurred-crop": cv2.GaussianBlur(face, (0, 0), 2.5),
        "no-face": np.random.default_rng(0).integers(0, 256, (200, 240, 3), dtype=np.uint8),
        "flat": np.full((120, 90, 3), 200, np.uint8),
        "tiny": face[:12, :12].copy(),
    }


@pytest.fixture(scope="module")
def sessions(default_model):
    return {pixels: BundleSession(make_bundle(default_model, pixels=pixels)) for pixels in ("bgr", "rgb", "rgba")}


@pytest.mark.parametrize("pixels", ["bgr", "rgb", "rgba"])
def test_bundle_meets_the_python_path(default_model, sessions, pixels):
    expected_status = {
        "photo": "aligned",
        "frame": "aligned",
        "crop112": "as-is",
        "blurred-crop": "as-is",
        "no-face": "no-face",
        "flat": "flat",
        "tiny": "too-small",
    }
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        for name, image in _images().items():
            record = scorer.score_array(image)
            out = sessions[pixels].run(image)
            status = STATUS_CODES[int(out["status"])]
            assert status == python_status(record) == expected_status[name], name
            if record.q is None:
                assert np.isnan(out["q"]) and int(out["Q"]) == -1
                continue
            tolerance = 1e-5 if status == "as-is" else 1e-3
            assert abs(float(out["q"]) - record.q) <= tolerance * record.q, (name, float(out["q"]), record.q)
            assert abs(int(out["Q"]) - record.Q) <= (0 if status == "as-is" else 1), name


def test_box_and_points_match_the_aligner(default_model, sessions):
    from fqe_onnx.align.aligner import FaceAligner

    image = _images()["frame"]
    (face,) = FaceAligner().locate(image)
    out = sessions["bgr"].run(image)
    np.testing.assert_allclose(out["box"], face.detection.box, atol=1e-3)
    np.testing.assert_allclose(out["points"], face.points, atol=0.05)
    assert abs(float(out["face_score"]) - face.detection.score) < 1e-5


def test_metadata_keeps_the_contract_and_describes_the_io(default_model):
    bundle = make_bundle(default_model, align="always", embedding=True)
    metadata = {p.key: p.value for p in bundle.metadata_props}
    assert set(ALL_KEYS) <= set(metadata)
    info = json.loads(metadata[KEY_BUNDLE])
    assert info["align"] == "always" and info["status_codes"] == list(STATUS_CODES)
    assert info["outputs"][-1] == "embedding"
    assert {o.domain for o in bundle.opset_import} <= {"", "ai.onnx"}
    session = BundleSession(bundle)
    out = session.run(demo_face())
    assert STATUS_CODES[int(out["status"])] == "aligned" and out["embedding"].shape == (512,)
    assert abs(float(np.linalg.norm(out["embedding"].astype(np.float64))) - float(out["q"])) < 1e-5


def _nodes(graph):
    """Every node of a graph and of its subgraphs (the branches of If, the body of Loop)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for sub in [attribute.g] if attribute.HasField("g") else list(attribute.graphs):
                yield from _nodes(sub)


def test_no_matmul_reads_a_transpose_so_older_onnxruntime_loads_it(default_model):
    """ONNX Runtime up to 1.23 (the newest for Python 3.10) fuses Transpose -> MatMul into a
    FusedMatMul that has no float64 kernel, and refuses to load the session. The bundle's float64
    products (the pre-shrink) are built with their operands already in place, and stay so."""
    bundle = make_bundle(default_model, align="always", embedding=True)
    nodes = list(_nodes(bundle.graph))
    made_by = {output: node.op_type for node in nodes for output in node.output}
    matmuls = [node for node in nodes if node.op_type == "MatMul"]
    assert len(matmuls) >= 3  # the pre-shrink's three products are in the graph
    assert [(node.name, i) for node in matmuls for i in node.input if made_by.get(i) == "Transpose"] == []


def test_align_never_applies_the_geometry(default_model):
    session = BundleSession(make_bundle(default_model, align="never"))
    image = _images()["frame"]
    with Scorer(default_model, align="never", threads=1, batch_size=1) as scorer:
        record = scorer.score_array(image)
    out = session.run(image)
    assert STATUS_CODES[int(out["status"])] == record.mode == "geometry"
    assert abs(float(out["q"]) - record.q) <= 1e-5 * record.q and int(out["Q"]) == record.Q


def test_bundle_command_writes_and_checks(default_model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name, image in _images().items():
        cv2.imwrite(str(images / f"{name}.png"), image)
    out = tmp_path / "b.onnx"
    result = CliRunner().invoke(main, ["bundle", str(default_model), "-o", str(out), "--check", str(images)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1_000_000
    assert "status agreement: 1.0000 (7 of 7)" in result.stdout
    assert "disagreeing images: 0" in result.stdout
    result = CliRunner().invoke(main, ["bundle"])
    assert result.exit_code == 2 and "--check" in result.stderr


@pytest.mark.parametrize("pixels", ["bgr", "rgba"])
def test_large_photo_goes_through_the_pre_shrink(default_model, sessions, pixels):
    photo = cv2.resize(astronaut(), (1400, 1400), interpolation=cv2.INTER_CUBIC)  # face about 5x the crop
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        record = scorer.score_array(photo)
    out = sessions[pixels].run(photo)
    assert STATUS_CODES[int(out["status"])] == record.mode == "aligned"
    assert abs(float(out["q"]) - record.q) <= 1e-3 * record.q and abs(int(out["Q"]) - record.Q) <= 1


def test_no_face_has_no_box_or_points(sessions):
    out = sessions["bgr"].run(_images()["no-face"])
    assert STATUS_CODES[int(out["status"])] == "no-face"
    assert np.isnan(out["box"]).all() and np.isnan(out["points"]).all() and np.isnan(out["face_score"])


@pytest.mark.parametrize("pixels", ["bgr", "rgba"])
def test_crop_output_is_what_the_python_path_warps(sessions, pixels):
    """The crop comes out BGR whatever the input layout (its channels are picked on the crop alone)."""
    from fqe_onnx.align.aligner import FaceAligner

    image = _images()["frame"]
    (aligned,) = FaceAligner().faces(image)
    crop = sessions[pixels].run(image)["crop"]
    assert crop.dtype == np.uint8 and crop.shape == (112, 112, 3)
    assert np.abs(crop.astype(int) - aligned.crop.astype(int)).max() <= 1


def test_check_report_names_the_disagreeing_images():
    from fqe_onnx.bundle.check import Comparison, format_comparison

    result = Comparison(
        names=["a.png", "b.png", "c.png"],
        python_status=["aligned", "no-face", "as-is"],
        bundle_status=["aligned", "aligned", "as-is"],
        python_q=[2.0, None, 3.0],
        bundle_q=[2.002, 1.5, 3.0],
    )
    text = format_comparison(result)
    assert "status agreement: 0.6667 (2 of 3)" in text
    assert "median 0.0005, p99 0.00099, max 0.001" in text
    assert "disagreeing images: 1\n  b.png: python no-face, bundle aligned\n" in text


@pytest.mark.parametrize(
    "height, width, background, face, pixels",
    [
        (1080, 1920, "plain", True, "bgr"),
        (1080, 1920, "textured", True, "rgba"),
        (2000, 3000, "textured", True, "bgr"),
        (4000, 6000, "plain", True, "rgba"),
        (2000, 3000, "textured", False, "bgr"),
        (1080, 1920, "textured", False, "rgb"),
    ],
)
def test_small_face_in_a_large_frame_is_found_by_the_tiles(
    default_model, sessions, height, width, background, face, pixels
):
    from fqe_onnx.align.aligner import FaceAligner

    image = large_frame(height, width, background, face)
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        record = scorer.score_array(image)
    out = sessions[pixels].run(image)
    status = STATUS_CODES[int(out["status"])]
    assert status == python_status(record) == ("aligned" if face else "no-face")
    if not face:
        assert np.isnan(out["q"]) and int(out["Q"]) == -1 and np.isnan(out["box"]).all()
        return
    if background == "plain":  # seen whole, the face is missed: only a tile finds it (and its second look)
        assert FaceAligner(tiling=False).detector.detect(image) == []
    assert 30 < record.box[2] - record.box[0] < 40
    np.testing.assert_allclose(out["box"], record.box, atol=0.051)  # the record's box is rounded to 0.1 px
    (located,) = FaceAligner().locate(image)  # the main face at full precision
    np.testing.assert_allclose(out["box"], located.detection.box, atol=1e-3)
    np.testing.assert_allclose(out["points"], located.points, atol=0.05)
    assert abs(float(out["face_score"]) - located.detection.score) < 1e-5
    assert abs(float(out["q"]) - record.q) <= 1e-3 * record.q and abs(int(out["Q"]) - record.Q) <= 1


@pytest.mark.parametrize(
    "photo",
    [p for p in SEAM_PHOTOS if p[:2] == (886, 1280)] + [SEAM_PHOTOS[8]],
    ids=lambda p: f"{p[1]}x{p[0]}-{p[2][0]}{p[2][1]}",
)
def test_a_face_cut_by_a_tile_side_is_the_python_paths(default_model, sessions, photo):
    """Group photos where a tile's side cuts a face (tests/test_cut_faces.py; the rule before gave the
    1280x886 x=800 and 1920x1080 y=480 ones a row for the piece): the bundle's main face is the
    Python path's, and it is one of the faces placed."""
    from fqe_onnx.align.aligner import FaceAligner
    from fqe_onnx.align.detection import box_iou

    image, placed = seam_photo(*photo)
    located = FaceAligner().locate(image)  # the main face, after every rule
    out = sessions["bgr"].run(image)
    assert STATUS_CODES[int(out["status"])] == "aligned"
    np.testing.assert_allclose(out["box"], located[0].detection.box, atol=1e-3)
    np.testing.assert_allclose(out["points"], located[0].points, atol=0.05)
    assert max(box_iou(out["box"].astype(np.float64), np.array(placed))) > 0.6
    with Scorer(default_model, threads=1, batch_size=1) as scorer:
        record = scorer.score_array(image)
    assert abs(float(out["q"]) - record.q) <= 1e-3 * record.q and abs(int(out["Q"]) - record.Q) <= 1

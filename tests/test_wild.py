"""Photos from the wild: every decodable format found, files left out counted, every face scored
(``--faces all``), geometry on every aligned row, and small faces in large frames (tiled detection)."""

import csv
import io
import json
import struct

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx.align.detection import DETECTOR_SIZE, MIN_FACE_PX, TILE_EDGE_PX, TILE_OVERLAP, View, tile_rects
from fqe_onnx.cli import main
from fqe_onnx.decode import decode_image, tiff_size
from fqe_onnx.errors import FqeError, ImageError
from fqe_onnx.records import COLUMNS, GEOMETRY_COLUMNS
from fqe_onnx.sources import IMAGE_EXTENSIONS, discover, parse_extensions


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


# -- discovery ---------------------------------------------------------------------------------------

FORMATS = {
    "a.jpg": "jpeg",
    "b.JPEG": "jpeg",
    "c.png": "png",
    "d.bmp": "bmp",
    "e.WebP": "webp",
    "f.tif": "tiff",
    "g.TIFF": "tiff",
    "h.jfif": "jpeg",
}


def test_every_decodable_format_is_found_and_scored(tmp_path, model_path):
    root = tmp_path / "in"
    root.mkdir()
    for i, (name, _) in enumerate(FORMATS.items()):
        suffix = {"jpeg": ".jpg", "jfif": ".jpg"}.get(name.split(".")[1].lower(), "." + name.split(".")[1].lower())
        ok, data = cv2.imencode(suffix, random_face(i))
        (root / name).write_bytes(data.tobytes())
    result = invoke("score", root, "--align", "never", "-m", model_path, "--no-progress")
    assert result.exit_code == 0, result.stderr
    rows = {r["path"]: r for r in rows_of(result.stdout)}
    assert {p: r["format"] for p, r in rows.items()} == FORMATS
    assert all(float(r["q"]) > 0 for r in rows.values())
    assert f"{len(FORMATS)} images, 0 errors" in result.stderr and "left out" not in result.stderr


def test_files_left_out_are_counted_by_extension_with_the_reason(tmp_path, model_path):
    root = tmp_path / "in"
    write_image(root / "p" / "1.png", random_face(0))
    for name in ["x.HEIC", "y.heic", "z.gif", "notes.txt", "README"]:
        (root / "p" / name).write_bytes(b"not scored")
    result = invoke("score", root, "--align", "never", "-m", model_path, "--no-progress")
    assert result.exit_code == 0 and len(rows_of(result.stdout)) == 1
    assert (
        "files left out: 2 .heic: not decodable here; 1 (no extension): not an image extension (--ext +EXT adds "
        "one); 1 .gif: not an image format we score; 1 .txt: not an image extension"
    ) in result.stderr
    found = discover(root)
    assert found.skipped_summary()[".heic"] == {"count": 2, "reason": "not decodable here"}


def test_ext_narrows_and_widens(tmp_path, model_path):
    root = tmp_path / "in"
    write_image(root / "1.png", random_face(0))
    write_image(root / "2.jpg", random_face(1))
    (root / "3.dat").write_bytes(cv2.imencode(".png", random_face(2))[1].tobytes())
    narrow = invoke("score", root, "--align", "never", "-m", model_path, "--ext", "PNG", "--no-progress")
    assert [r["path"] for r in rows_of(narrow.stdout)] == ["1.png"]
    assert "1 .dat: not an image extension" in narrow.stderr and "1 .jpg: left out by --ext" in narrow.stderr
    wide = invoke("score", root, "--align", "never", "-m", model_path, "--ext", "+dat", "--no-progress")
    assert [(r["path"], r["format"]) for r in rows_of(wide.stdout)] == [
        ("1.png", "png"),
        ("2.jpg", "jpeg"),
        ("3.dat", "png"),
    ]
    bad = invoke("score", root, "--align", "never", "-m", model_path, "--ext", "png,+dat")
    assert bad.exit_code == 2 and "--ext" in bad.stderr


def test_parse_extensions():
    assert parse_extensions("jpg, .PNG") == (".jpg", ".png")
    assert parse_extensions("+heic") == IMAGE_EXTENSIONS + (".heic",)
    with pytest.raises(FqeError):
        parse_extensions(" , ")


def test_a_root_without_images_is_exit_2_saying_what_it_holds(tmp_path, model_path):
    root = tmp_path / "in"
    root.mkdir()
    for name in ["a.heic", "b.heic", "c.gif"]:
        (root / name).write_bytes(b"x")
    result = invoke("score", root, "-m", model_path)
    assert result.exit_code == 2 and result.stdout == ""
    assert "no images under" in result.stderr and "found instead: 2 .heic: not decodable here; 1 .gif" in result.stderr


def test_evaluate_summary_counts_the_files_left_out(tmp_path, model_path):
    for person in range(3):
        for k in range(3):
            write_image(tmp_path / "in" / f"id{person}" / f"{k}.png", random_face(10 * person + k, (112, 112)))
    (tmp_path / "in" / "id0" / "clip.heic").write_bytes(b"x")
    result = invoke("evaluate", tmp_path / "in", "-m", model_path, "--align", "never", "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["files_left_out"] == {".heic": {"count": 1, "reason": "not decodable here"}}


# -- TIFF ---------------------------------------------------------------------------------------------


def test_tiff_size_from_the_header_and_its_limits():
    data = cv2.imencode(".tif", random_face(0, (40, 70)))[1].tobytes()
    assert tiff_size(data) == (70, 40)
    big_endian = (
        b"MM\x00*"
        + struct.pack(">I", 8)
        + struct.pack(">H", 2)
        + struct.pack(">HHII", 256, 4, 1, 60000)
        + struct.pack(">HHIHH", 257, 3, 1, 60000, 0)
        + b"\x00" * 4
    )
    with pytest.raises(ImageError) as bomb:
        decode_image(big_endian)
    assert bomb.value.kind == "too-large" and "60000x60000" in str(bomb.value)
    with pytest.raises(ImageError) as cut:
        decode_image(data[:6])
    assert cut.value.kind == "truncated"


# -- geometry and --faces all on the real models ---------------------------------------------------


@pytest.fixture(scope="module")
def astronaut():
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


@pytest.fixture(scope="module")
def astronaut_box(astronaut):
    from fqe_onnx.align.aligner import FaceAligner

    (found,) = FaceAligner(device="cpu").detector.detect(astronaut)
    return np.array(found.box)


#: Three astronauts of decreasing size in one frame: (scale, x, y) of each 300x260 head crop.
GROUP = [(1.0, 40, 60), (0.75, 420, 100), (0.55, 760, 140)]
HEAD = (slice(0, 300), slice(100, 360))  # rows, cols of the head in the 512x512 photo


def group_photo(astronaut):
    frame = np.full((480, 1000, 3), 120, np.uint8)
    head = astronaut[HEAD]
    for scale, x, y in GROUP:
        small = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    return frame


def expected_boxes(astronaut_box):
    offset = np.array([HEAD[1].start, HEAD[0].start] * 2)
    return [(astronaut_box - offset) * scale + [x, y, x, y] for scale, x, y in GROUP]


def iou(a, b):
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731  (a one-line helper)
    return inter / (area(a) + area(b) - inter)


def test_faces_all_scores_each_face_of_a_group_photo(tmp_path, default_model, astronaut, astronaut_box):
    write_image(tmp_path / "in" / "group.png", group_photo(astronaut))
    write_image(tmp_path / "in" / "wall.png", random_face(99, (240, 320)))
    write_image(tmp_path / "in" / "crop.png", cv2.resize(astronaut[60:180, 165:285], (112, 112)))
    result = invoke("score", tmp_path / "in", "--faces", "all", "--device", "cpu", "--no-progress")
    assert result.exit_code == 1, result.stderr
    rows = rows_of(result.stdout)
    group = [r for r in rows if r["path"] == "group.png"]
    assert [r["face"] for r in group] == ["0", "1", "2"] and all(r["mode"] == "aligned" and r["q"] for r in group)
    boxes = [np.array([float(v) for v in r["box"].split()]) for r in group]
    for wanted in expected_boxes(astronaut_box):  # every face's box is where that face is
        assert max(iou(wanted, box) for box in boxes) > 0.7
    widths = sorted((b[2] - b[0], float(r["eye_distance"])) for b, r in zip(boxes, group))
    assert widths[0][1] < widths[1][1] < widths[2][1]  # the eye distance grows with the face
    assert all(0.3 < eyes / width < 0.7 for width, eyes in widths)
    assert all(0.65 <= float(r["face_score"]) <= 1 for r in group)
    (wall,) = [r for r in rows if r["path"] == "wall.png"]
    assert wall["error_kind"] == "no-face" and wall["face"] == "" and wall["box"] == ""
    (crop,) = [r for r in rows if r["path"] == "crop.png"]
    assert crop["mode"] == "as-is" and all(crop[c] == "" for c in GEOMETRY_COLUMNS)
    assert "3 images (5 rows: one per face)" in result.stderr
    main_rows = rows_of(invoke("score", tmp_path / "in", "--device", "cpu", "--no-progress").stdout)
    (main_face,) = [r for r in main_rows if r["path"] == "group.png"]  # main: the biggest face
    assert iou([float(v) for v in main_face["box"].split()], expected_boxes(astronaut_box)[0]) > 0.7
    assert float(main_face["q"]) == pytest.approx(float(next(r["q"] for r in group if r["face"] == main_face["face"])))


def test_faces_all_resume_parquet_run_and_report(tmp_path, default_model, astronaut):
    for i in range(3):
        write_image(tmp_path / "in" / f"g{i}.png", np.roll(group_photo(astronaut), 7 * i, axis=1))
    full = tmp_path / "full.csv"
    args = ("score", tmp_path / "in", "--faces", "all", "--device", "cpu", "--no-progress")
    assert invoke(*args, "-o", full).exit_code == 0
    lines = full.read_text().splitlines(keepends=True)
    assert len(lines) == 1 + 9
    part = tmp_path / "part.csv"
    for name in ("part.csv", "part.csv.fqe-run.json"):
        (tmp_path / name).write_bytes((tmp_path / name.replace("part", "full")).read_bytes())
    part.write_text("".join(lines[:6]))  # killed after the second face of the second image
    resumed = invoke(*args, "-o", part, "--resume")
    assert resumed.exit_code == 0 and part.read_text() == full.read_text()

    import pyarrow.parquet as pq  # the ray extra, installed by scripts/test.sh

    out = tmp_path / "faces.parquet"
    assert invoke(*args, "--format", "parquet", "-o", out).exit_code == 0
    table = pq.read_table(out)
    assert table.column("face_index").to_pylist() == [0, 1, 2] * 3
    assert table.column("face_box").to_pylist()[0] == [float(v) for v in rows_of(full.read_text())[0]["box"].split()]

    from fqe_onnx import run

    frame = run(tmp_path / "in", device="cpu", faces="all")
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 9 and list(frame["face"]) == [0, 1, 2] * 3

    page = tmp_path / "report.html"
    assert invoke("report", full, "--images", tmp_path / "in", "-o", page).exit_code == 0
    assert "9 rows (one per face)" in page.read_text() and "· face 2" in page.read_text()


def test_ray_actor_gives_one_row_per_face(tmp_path, default_model, astronaut):
    from fqe_onnx.ray import ScoreImages

    path = write_image(tmp_path / "group.png", group_photo(astronaut))
    actor = ScoreImages(str(tmp_path), device="cpu", faces="all")
    table = actor({"source_path": np.array([str(path)]), "path": np.array(["group.png"]), "identity": np.array([""])})
    assert table.column("face_index").to_pylist() == [0, 1, 2]
    assert all(d > 0 for d in table.column("eye_distance").to_pylist())


# -- small faces in large frames ---------------------------------------------------------------------


def test_frames_near_the_detector_size_get_no_tiles():
    assert tile_rects(250, 250) == [View(0, 0, 250, 250)]
    assert tile_rects(480, 640) == [View(0, 0, 640, 480)]
    assert len(tile_rects(1080, 1920)) > 1


@pytest.mark.parametrize("height, width", [(1080, 1920), (2000, 3000), (4000, 6000), (3000, 500)])
def test_tiles_cover_the_frame_and_hold_every_small_face_whole(height, width):
    rects = tile_rects(height, width)
    assert rects[0] == View(0, 0, width, height) and rects == tile_rects(height, width)
    tiles = rects[1:]
    assert all(0 <= x and 0 <= y and x + w <= width and y + h <= height for x, y, w, h, _ in tiles)
    finest = [t for t in tiles if t.max_face == min(t.max_face for t in tiles)]
    face = int(finest[0].max_face / TILE_OVERLAP)  # the narrowest face the next coarser view finds
    rng = np.random.default_rng(0)
    for _ in range(200):  # any narrower face lies wholly inside one finest tile, clear of its edges
        fx, fy = rng.integers(0, width - face), rng.integers(0, height - face)
        assert any(
            (x == 0 or fx > x + TILE_EDGE_PX * w / DETECTOR_SIZE[0])
            and (y == 0 or fy > y + TILE_EDGE_PX * h / DETECTOR_SIZE[1])
            and (x + w == width or fx + face < x + w - TILE_EDGE_PX * w / DETECTOR_SIZE[0])
            and (y + h == height or fy + face < y + h - TILE_EDGE_PX * h / DETECTOR_SIZE[1])
            for x, y, w, h, _ in finest
        )
    assert face >= MIN_FACE_PX * finest[0].w / DETECTOR_SIZE[0]  # the finest level itself finds faces that wide


def test_a_small_face_in_a_large_frame_is_found_where_it_is(default_model, astronaut, astronaut_box):
    from fqe_onnx import Scorer

    width = 34  # face box about 34 px wide in a 6000x4000 frame (24 MP)
    scale = width / (astronaut_box[2] - astronaut_box[0])
    head = cv2.resize(astronaut[HEAD], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = cv2.resize(random_face(5, (40, 60)), (6000, 4000), interpolation=cv2.INTER_CUBIC)
    x, y = 4321, 2345
    frame[y : y + head.shape[0], x : x + head.shape[1]] = head
    with Scorer(default_model, device="cpu", threads=0) as scorer:
        record = scorer.score_array(frame)
        faceless = scorer.score_array(cv2.resize(random_face(6, (40, 60)), (6000, 4000)))
    offset = np.array([HEAD[1].start, HEAD[0].start] * 2)
    assert record.ok and record.mode == "aligned", record.error
    assert iou(record.box, (astronaut_box - offset) * scale + [x, y, x, y]) > 0.6
    assert 10 < record.eye_distance < 25
    assert faceless.error_kind == "no-face"


# -- what already worked, kept: each case's q against the upright photo's --------------------------


def exif_jpeg(bgr, orientation):
    """A JPEG of ``bgr`` with an EXIF Orientation tag (APP1 right after SOI)."""
    data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    tiff = b"MM\x00*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00" * 4
    payload = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def pillow_bytes(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def scorer(default_model):
    from fqe_onnx import Scorer

    with Scorer(default_model, device="cpu", threads=0) as built:
        yield built


def q_of(scorer, data):
    record = scorer.score_array(decode_image(data)[0])
    assert record.ok and record.mode == "aligned", record.error
    return record.q


#: How each orientation stores the upright photo (the tag says how to turn it back).
STORED = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_COUNTERCLOCKWISE, 8: cv2.ROTATE_90_CLOCKWISE}


@pytest.mark.parametrize("orientation", sorted(STORED))
def test_exif_orientation_scores_like_the_upright_photo(scorer, astronaut, orientation):
    upright = q_of(scorer, cv2.imencode(".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    stored = exif_jpeg(cv2.rotate(astronaut, STORED[orientation]), orientation)
    assert decode_image(stored)[0].shape == astronaut.shape
    assert q_of(scorer, stored) == pytest.approx(upright, rel=0.02)


def test_jpeg_and_png_flavours_score_as_their_pixels(scorer, astronaut):
    from PIL import Image

    png = q_of(scorer, cv2.imencode(".png", astronaut)[1].tobytes())
    baseline = q_of(scorer, cv2.imencode(".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    progressive = cv2.imencode(".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert q_of(scorer, progressive[1].tobytes()) == pytest.approx(baseline, rel=1e-6)
    assert q_of(scorer, cv2.imencode(".png", astronaut.astype(np.uint16) * 257)[1].tobytes()) == pytest.approx(
        png, rel=1e-9
    )
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert q_of(scorer, cv2.imencode(".png", rgba)[1].tobytes()) == pytest.approx(png, rel=1e-9)
    rgb = Image.fromarray(cv2.cvtColor(astronaut, cv2.COLOR_BGR2RGB))
    cmyk = pillow_bytes(rgb.convert("CMYK"), "JPEG", quality=95)
    assert q_of(scorer, cmyk) == pytest.approx(png, rel=0.02)
    palette = rgb.quantize(256)
    as_rgb = cv2.cvtColor(np.asarray(palette.convert("RGB")), cv2.COLOR_RGB2BGR)
    assert q_of(scorer, pillow_bytes(palette, "PNG")) == pytest.approx(scorer.score_array(as_rgb).q, rel=1e-9)


@pytest.mark.parametrize("angle", [15, 30, 45, -45])
def test_in_plane_roll_up_to_45_degrees_is_aligned_away(scorer, astronaut, angle):
    upright = scorer.score_array(astronaut).q
    turned = cv2.warpAffine(
        astronaut, cv2.getRotationMatrix2D((224, 120), angle, 1.0), (512, 512), borderMode=cv2.BORDER_REFLECT
    )
    record = scorer.score_array(turned)
    assert record.ok and record.q == pytest.approx(upright, rel=0.03)


def test_the_second_look_window_holds_the_face_at_the_detectors_aspect():
    from fqe_onnx.align.detection import SECOND_LOOK_SHARE, second_look_window

    x, y, w, h, _ = second_look_window((1000.0, 800.0, 1040.0, 850.0), 6000, 4000)
    assert w == round(40 / SECOND_LOOK_SHARE) and h == round(w * DETECTOR_SIZE[1] / DETECTOR_SIZE[0])
    assert x < 1000 and x + w > 1040 and y < 800 and y + h > 850
    x, y, w, h, _ = second_look_window((5990.0, 3980.0, 6000.0, 4000.0), 6000, 4000)  # moved inside at a corner
    assert x + w == 6000 and y + h == 4000
    assert second_look_window((0.0, 0.0, 300.0, 300.0), 500, 400) == View(0, 0, 500, 400)  # clipped to the image

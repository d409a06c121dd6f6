"""A face that a tile's side cuts is one face: the piece the tile saw is never a row of its own
in ``score --faces all``,
``align --all-faces`` and the bundle."""

import csv
import io

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_image
from frames import SEAM_PHOTOS, seam_photo

from fqe_onnx.align.detection import DETECTOR_SIZE, box_iou
from fqe_onnx.cli import main

#: The real group photo's boxes (issue 32): a whole face (104x134, detector score 0.9998) and the
#: left half of it that a tile saw (48x106, 0.77).
WHOLE = np.array([400.0, 300.0, 504.0, 434.0])
HALF = np.array([402.0, 318.0, 450.0, 424.0])


def test_the_photos_hold_a_face_on_every_seam_that_the_whole_image_also_sees():
    assert len(SEAM_PHOTOS) == 4 + 6
    for height, width, (axis, _, _, max_face), _ in SEAM_PHOTOS:
        whole = max(width / DETECTOR_SIZE[0], height / DETECTOR_SIZE[1])
        face_width = 2.5 * max_face if axis == "x" else max_face
        assert face_width / whole >= 13  # detector pixels: the whole image finds it (MIN_FACE_PX 12)


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def seam_folder(tmp_path_factory):
    """The seam photos as PNG files, and the face boxes placed in each."""
    root = tmp_path_factory.mktemp("seams")
    placed = {}
    for height, width, seam, first in SEAM_PHOTOS:
        name = f"{width}x{height}-{seam[0]}{seam[1]}.png"
        frame, placed[name] = seam_photo(height, width, seam, first)
        write_image(root / name, frame)
    return root, placed


def _one_row_per_face(rows, placed, box_of):
    for name, boxes in placed.items():
        found = [box_of(r) for r in rows if r["path"] == name]
        assert len(found) == len(boxes), (name, found, boxes)  # the piece of the cut face is no row
        for box in boxes:  # and each face placed is a row, with its box
            assert max(box_iou(box, np.array(found))) > 0.6, (name, found, box)


def test_score_faces_all_gives_one_row_per_face_placed(seam_folder):
    root, placed = seam_folder
    result = CliRunner().invoke(main, ["score", str(root), "--faces", "all", "--device", "cpu", "--no-progress"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result.stdout)
    assert all(r["mode"] == "aligned" and r["q"] for r in rows)
    _one_row_per_face(rows, placed, lambda r: [float(v) for v in r["box"].split()])


def test_align_all_faces_writes_one_crop_per_face_placed(seam_folder, tmp_path):
    root, placed = seam_folder
    table = tmp_path / "faces.csv"
    result = CliRunner().invoke(main, ["align", str(root), "-o", str(tmp_path / "crops"), "--all-faces", "--table",
                                       str(table), "--device", "cpu"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    rows = rows_of(table.read_text())
    assert all(r["mode"] == "aligned" for r in rows)
    _one_row_per_face(rows, placed, lambda r: [float(r[c]) for c in ("x1", "y1", "x2", "y2")])
    assert len(list((tmp_path / "crops").rglob("*.png"))) == sum(len(b) for b in placed.values())

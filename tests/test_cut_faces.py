"""A face that a tile's side cuts is one face: the piece the tile saw is never a row of its own
(``fqe_onnx.align.detection.same_face`` and ``found_again``), in ``score --faces all``,
``align --all-faces`` and the bundle."""

import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_image
from frames import SEAM_PHOTOS, seam_photo

from fqe_onnx.align.detection import (
    DETECTOR_SIZE,
    NMS_IOU,
    SAME_FACE_AREA,
    SAME_FACE_INSIDE,
    SECOND_LOOK_CENTRE,
    SECOND_LOOK_IOU,
    box_iou,
    found_again,
    merge_views,
    nms,
    same_face,
)
from fqe_onnx.cli import main

#: The real group photo's boxes (issue 32): a whole face (104x134, detector score 0.9998) and the
#: left half of it that a tile saw (48x106, 0.77).
WHOLE = np.array([400.0, 300.0, 504.0, 434.0])
HALF = np.array([402.0, 318.0, 450.0, 424.0])


# -- the rules on boxes --------------------------------------------------------------------------------


def test_a_half_face_inside_the_whole_face_passes_nms_but_not_same_face():
    boxes = np.stack([WHOLE, HALF])
    assert box_iou(WHOLE, HALF[None])[0] < NMS_IOU and nms(boxes, np.array([0.9998, 0.77]), NMS_IOU) == [0, 1]
    assert same_face(boxes).tolist() == [False, True]
    merged = merge_views([(boxes, np.array([0.9998, 0.77], np.float32), False)])
    assert [tuple(d.box) for d, _ in merged] == [tuple(WHOLE)]
    kept = merge_views([(boxes, np.array([0.9998, 0.77], np.float32), False)], keep_pieces=True)
    assert len(kept) == 2  # the rule before: both rows


def test_the_less_confident_box_goes_whichever_is_larger():
    # the half face more confident than the whole: the whole face goes (the half lies mostly inside it)
    assert same_face(np.stack([HALF, WHOLE])).tolist() == [False, True]
    # a box shifted over the face (IoU 0.36, under NMS_IOU), larger and less confident, measured in a
    # crowd: the better box lies 0.56 inside it
    better, shifted = np.array([2935.0, 983, 3048, 1121]), np.array([2960.0, 936, 3086, 1083])
    assert box_iou(better, shifted[None])[0] < NMS_IOU
    assert same_face(np.stack([better, shifted])).tolist() == [False, True]
    quarter = np.array([402.0, 318.0, 450.0, 370.0])  # a piece of the piece
    assert same_face(np.stack([WHOLE, HALF, quarter])).tolist() == [False, True, True]


def test_intersection_over_the_smaller_area_at_the_limits():
    big = np.array([0.0, 0.0, 100.0, 100.0])
    side = 100 * SAME_FACE_INSIDE
    at_limit = np.array([100 - side, 0.0, 200 - side, 100.0])  # exactly SAME_FACE_INSIDE of it inside big
    assert same_face(np.stack([big, at_limit])).tolist() == [False, True]
    assert same_face(np.stack([big, at_limit + [0.5, 0, 0.5, 0]])).tolist() == [False, False]
    wider = np.array([100 - side, 0.0, 300 - side, 100.0])  # the same overlap, over big's area (the smaller)
    assert same_face(np.stack([wider, big])).tolist() == [False, True]
    # a face in a false box of the whole image (a texture), far bigger than the face: not a piece of it
    edge = 100 * np.sqrt(SAME_FACE_AREA)
    small = np.array([10.0, 10.0, 10 + edge, 10 + edge])  # exactly SAME_FACE_AREA of big's area
    assert same_face(np.stack([big, small])).tolist() == [False, True]
    assert same_face(np.stack([big, small - [0, 0, 0.5, 0.5]])).tolist() == [False, False]


def test_faces_side_by_side_are_kept():
    # two heads touching in a group photo: a fifth of each box overlaps the other
    left, right = np.array([0.0, 0.0, 100.0, 130.0]), np.array([80.0, 10.0, 180.0, 140.0])
    assert same_face(np.stack([left, right])).tolist() == [False, False]
    # measured in a packed group photo (benchmarks/cut_faces.py): two people's boxes overlapping by
    # 0.47 of the smaller one, both kept
    behind, front = np.array([0.0, 0.0, 100.0, 120.0]), np.array([53.0, 5.0, 153.0, 125.0])
    assert same_face(np.stack([front, behind])).tolist() == [False, False]
    assert same_face(np.zeros((0, 4))).tolist() == []


def test_the_second_look_finds_that_face_not_a_bigger_one_around_it():
    around = WHOLE[None]
    assert box_iou(HALF, around)[0] >= SECOND_LOOK_IOU  # what the rule before took for the half face
    assert not found_again(HALF, around)
    assert found_again(HALF, around, centre=np.inf)  # the rule before
    assert found_again(WHOLE, (WHOLE + [3, -4, 5, 2])[None])
    # measured: a small face in a crowd found again with a taller box, its centre 0.2 of the width off
    assert found_again(np.array([1320.0, 375, 1361, 423]), np.array([[1324.0, 364, 1373, 438]]))
    texture = np.array([[420.0, 330, 440, 350]])  # centred, but far smaller (IoU under SECOND_LOOK_IOU)
    assert not found_again(WHOLE, texture) and not found_again(WHOLE, np.zeros((0, 4)))


def test_the_second_look_centre_at_its_limit():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    shift = SECOND_LOOK_CENTRE * 10  # the found box's centre exactly this far off: still that face
    assert found_again(box, (box + [shift, 0, shift, 0])[None]) and found_again(
        box, (box + [0, -shift, 0, -shift])[None]
    )
    assert not found_again(box, (box + [shift + 1e-9, 0, shift + 1e-9, 0])[None])


# -- photos with a face on every tile seam -------------------------------------------------------------


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
    result = CliRunner().invoke(
        main, ["score", str(root), "--faces", "all", "--device", "cpu", "--no-progress"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result.stdout)
    assert all(r["mode"] == "aligned" and r["q"] for r in rows)
    _one_row_per_face(rows, placed, lambda r: [float(v) for v in r["box"].split()])


def test_align_all_faces_writes_one_crop_per_face_placed(seam_folder, tmp_path):
    root, placed = seam_folder
    table = tmp_path / "faces.csv"
    result = CliRunner().invoke(
        main,
        ["align", str(root), "-o", str(tmp_path / "crops"), "--all-faces", "--table", str(table), "--device", "cpu"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    rows = rows_of(table.read_text())
    assert all(r["mode"] == "aligned" for r in rows)
    _one_row_per_face(rows, placed, lambda r: [float(r[c]) for c in ("x1", "y1", "x2", "y2")])
    assert len(list((tmp_path / "crops").rglob("*.png"))) == sum(len(b) for b in placed.values())

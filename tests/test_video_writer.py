"""The outputs of fqe-onnx video written from hand-made tracks, without a model: tracks.csv,
faces.csv, the shots and the JSON lines, each checked cell by cell. Fast."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import fqe_onnx
from fqe_onnx.errors import FqeError
from fqe_onnx.video import writer
from fqe_onnx.video.pipeline import FaceRow, FinishedTrack
from fqe_onnx.video.shots import Shot
from fqe_onnx.video.source import VideoSourceError
from fqe_onnx.video.writer import FACE_COLUMNS, LOW_QUALITY, TRACK_COLUMNS, VideoOutput, folder_name


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def crop(value: int) -> np.ndarray:
    image = np.zeros((8, 6, 3), np.uint8)
    image[:, :, 0] = value
    image[2, 3] = (0, 255, 7)  # a pixel a PNG keeps exactly
    return image


def shot(frame: int, Q: int, q: float, image=None) -> Shot:
    return Shot(frame, frame / 25, q, Q, (10.0, 20.5, 74.25, 100.0), 0.875, 31.5, crop(Q), image)


def track(source: str = "door.mp4", number: int = 7, shots=None, low_quality: bool = False) -> FinishedTrack:
    shots = [shot(12, 80, 2.5), shot(30, 75, 2.25)] if shots is None else shots
    return FinishedTrack(
        source,
        number,
        3,
        41,
        3 / 25,
        41 / 25 + 0.0004,
        36,
        5,
        [] if low_quality else shots,
        shots[0] if shots else None,
        low_quality,
    )


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "run"


def test_the_headers_are_written_and_flushed_before_any_row(out):
    output = VideoOutput(out)
    assert rows(out / "tracks.csv") == [list(TRACK_COLUMNS)] and rows(out / "faces.csv") == [list(FACE_COLUMNS)]
    assert (out / "shots").is_dir() and (output.tracks, output.shots, output.errors) == (0, 0, 0)
    output.close()
    output.close()  # twice is harmless


def test_a_track_row_its_crops_and_its_json_line(out):
    stdout = io.StringIO()
    with VideoOutput(out, stdout) as output:
        row = output.track(track())
    expected = {
        "source": "door.mp4",
        "track": 7,
        "first_frame": 3,
        "last_frame": 41,
        "first_time": 0.12,
        "last_time": 1.64,  # rounded to the millisecond
        "frames": 36,
        "scored": 5,
        "best_frame": 12,
        "best_time": 0.48,
        "q": 2.5,
        "Q": 80,
        "box": [10.0, 20.5, 74.25, 100.0],
        "face_score": 0.875,
        "eye_distance": 31.5,
        "crop": "shots/door.mp4/track00007-1-frame0000012.png",
        "flag": "",
        "error_kind": "",
        "error": "",
    }
    assert row == expected and list(row) == list(TRACK_COLUMNS)
    assert json.loads(stdout.getvalue()) == expected and stdout.getvalue().count("\n") == 1
    (header, cells) = rows(out / "tracks.csv")
    assert cells == [
        "door.mp4",
        "7",
        "3",
        "41",
        "0.12",
        "1.64",
        "36",
        "5",
        "12",
        "0.48",
        "2.5",
        "80",
        "10.0 20.5 74.25 100.0",
        "0.875",
        "31.5",
        "shots/door.mp4/track00007-1-frame0000012.png",
        "",
        "",
        "",
    ]
    pngs = sorted((out / "shots" / "door.mp4").iterdir())
    assert [p.name for p in pngs] == ["track00007-1-frame0000012.png", "track00007-2-frame0000030.png"]
    assert np.array_equal(cv2.imread(str(pngs[0])), crop(80)) and np.array_equal(cv2.imread(str(pngs[1])), crop(75))
    assert output.tracks == 1 and output.shots == 2


def test_whole_frames_are_written_beside_the_crops_as_jpeg(out):
    frame = np.full((40, 60, 3), 90, np.uint8)
    with VideoOutput(out) as output:
        output.track(track(shots=[shot(12, 80, 2.5, frame)]))
    folder = out / "shots" / "door.mp4"
    assert sorted(p.name for p in folder.iterdir()) == [
        "track00007-1-frame0000012.jpg",
        "track00007-1-frame0000012.png",
    ]
    data = (folder / "track00007-1-frame0000012.jpg").read_bytes()
    assert (
        data[:2] == b"\xff\xd8" and np.abs(cv2.imread(str(folder / "track00007-1-frame0000012.jpg")) - 90.0).max() <= 2
    )


def test_whole_frames_are_jpeg_of_quality_92(out):
    frame = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    with VideoOutput(out) as output:
        output.track(track(shots=[shot(12, 80, 2.5, frame)]))
    written = (out / "shots" / "door.mp4" / "track00007-1-frame0000012.jpg").read_bytes()
    assert written == cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def test_writing_crops_and_frames_says_nothing_on_stderr(out, capfd):
    with VideoOutput(out) as output:
        output.track(track(shots=[shot(12, 80, 2.5, np.zeros((40, 60, 3), np.uint8))]))
    assert capfd.readouterr().err == ""  # OpenCV warns of an encoder parameter it does not know


def test_a_low_quality_track_is_flagged_with_its_best_values_and_no_crop(out):
    with VideoOutput(out) as output:
        row = output.track(track(low_quality=True))
    assert row["flag"] == LOW_QUALITY == "below-min-Q" and row["crop"] == "" and row["Q"] == 80
    assert list((out / "shots").iterdir()) == [] and output.shots == 0


def test_a_track_never_scored_has_empty_best_cells(out):
    with VideoOutput(out) as output:
        row = output.track(track(shots=[]))
    assert all(row[c] is None for c in ("best_frame", "best_time", "q", "Q", "box", "face_score", "eye_distance"))
    assert rows(out / "tracks.csv")[1][8:15] == [""] * 7 and row["crop"] == ""


def test_a_source_error_is_one_row_with_its_kind(out):
    stdout = io.StringIO()
    with VideoOutput(out, stdout) as output:
        row = output.error("cam.mp4", VideoSourceError("cam.mp4: no such file or folder", "not-found"))
    assert row == {c: None for c in TRACK_COLUMNS} | {
        "source": "cam.mp4",
        "crop": "",
        "flag": "",
        "error_kind": "not-found",
        "error": "cam.mp4: no such file or folder",
    }
    assert rows(out / "tracks.csv")[1] == ["cam.mp4"] + [""] * 16 + ["not-found", "cam.mp4: no such file or folder"]
    assert json.loads(stdout.getvalue()) == row and output.errors == 1 and output.tracks == 0


def test_face_rows_are_written_and_flushed_at_least_every_second(out, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(writer.time, "monotonic", lambda: clock[0])
    output = VideoOutput(out)
    output.face(FaceRow("door.mp4", 12, 0.4804, 7, (10.0, 20.5, 74.25, 100.0), 2.5, 80))
    assert rows(out / "faces.csv") == [list(FACE_COLUMNS)]  # buffered
    clock[0] += 1.0
    output.face(FaceRow("door.mp4", 13, 0.52, 7, (11.0, 20.0, 75.0, 100.0)))
    assert rows(out / "faces.csv")[1:] == [
        ["door.mp4", "12", "0.48", "7", "10.0 20.5 74.25 100.0", "2.5", "80"],
        ["door.mp4", "13", "0.52", "7", "11.0 20.0 75.0 100.0", "", ""],
    ]
    output.face(FaceRow("door.mp4", 14, 0.56, 7, (11.0, 20.0, 75.0, 100.0)))
    clock[0] += 0.5
    output.face(FaceRow("door.mp4", 15, 0.6, 7, (11.0, 20.0, 75.0, 100.0)))
    assert len(rows(out / "faces.csv")) == 3  # half a second since the flush: still buffered
    output.track(track())  # a track's end flushes both files
    assert len(rows(out / "faces.csv")) == 5
    output.close()


def test_each_source_gets_its_own_shots_folder_even_when_their_names_clean_up_alike(out):
    with VideoOutput(out) as output:
        first = output.track(track("a/b.mp4", 1))
        second = output.track(track("a_b.mp4", 2))
        third = output.track(track("a:b.mp4", 3))
        again = output.track(track("a/b.mp4", 4))
    folders = [Path(r["crop"]).parent.name for r in (first, second, third, again)]
    assert folders == ["a_b.mp4", "a_b.mp4-2", "a_b.mp4-3", "a_b.mp4"]


@pytest.mark.parametrize(
    "source,name",
    [
        ("/videos/door cam.mp4", "videos_door_cam.mp4"),
        ("rtsp://admin:***@127.0.0.1:8554/live", "rtsp_admin_127.0.0.1_8554_live"),
        ("__.clip.mp4._", "clip.mp4"),
        ("///", "source"),
        ("é", "source"),
        ("x" * 150 + ".mp4", "x" * 96 + ".mp4"),
        ("Cams/Door.MP4", "Cams_Door.MP4"),
        ("Xbox-1.mkv", "Xbox-1.mkv"),
    ],
)
def test_a_sources_folder_name_is_letters_digits_dots_dashes_and_underscores(source, name):
    assert folder_name(source) == name


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FqeError, match=f"^cannot write into {blocker / 'run'}: Not a directory$"):
        VideoOutput(blocker / "run")


def test_a_second_run_into_the_same_folder_starts_its_files_afresh(out):
    with VideoOutput(out) as output:
        output.track(track())
    with VideoOutput(out) as output:
        output.error("cam.mp4", VideoSourceError("cam.mp4: gone", "disconnected"))
    assert [r[0] for r in rows(out / "tracks.csv")] == ["source", "cam.mp4"]


def test_lines_end_with_a_newline_alone_and_names_stay_as_written(out):
    stdout = io.StringIO()
    with VideoOutput(out, stdout) as output:
        output.face(FaceRow("café.mp4", 1, 0.04, 0, (1.0, 2.0, 3.0, 4.0)))
        output.track(track("café.mp4"))
    for name in ("tracks.csv", "faces.csv"):
        data = (out / name).read_bytes()
        assert b"\r" not in data and data.count(b"\n") == 2 and "café.mp4".encode() in data
    assert '"source": "café.mp4"' in stdout.getvalue()  # the JSON line in UTF-8, not \u escapes


#: café.mp4, escaped: the command line stays ASCII
WRITE_A_NAME_BEYOND_ASCII = r"""
import sys
from pathlib import Path
from fqe_onnx.video.pipeline import FaceRow
from fqe_onnx.video.source import VideoSourceError
from fqe_onnx.video.writer import VideoOutput
with VideoOutput(Path(sys.argv[1])) as output:
    output.face(FaceRow("caf\u00e9.mp4", 1, 0.04, 0, (1.0, 2.0, 3.0, 4.0)))
    output.error("caf\u00e9.mp4", VideoSourceError("gone", "disconnected"))
"""


def test_the_csv_files_are_utf_8_whatever_the_locale(out):
    """Under an ASCII locale (C, without Python's UTF-8 mode) a name beyond ASCII is written, in UTF-8."""
    ascii_locale = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    run = subprocess.run(
        [sys.executable, "-c", WRITE_A_NAME_BEYOND_ASCII, str(out)],
        env=ascii_locale,
        cwd=Path(fqe_onnx.__file__).resolve().parents[1],  # the package this test imports (mutmut's copy under it)
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    for name in ("tracks.csv", "faces.csv"):
        assert "café.mp4".encode() in (out / name).read_bytes()


def test_the_counts_of_tracks_shots_and_errors(out):
    with VideoOutput(out) as output:
        output.track(track(number=1))
        output.track(track(number=2, shots=[shot(5, 70, 2.0)]))
        output.error("a.mp4", VideoSourceError("a.mp4: gone", "not-found"))
        output.error("b.mp4", VideoSourceError("b.mp4: gone", "not-found"))
    assert (output.tracks, output.shots, output.errors) == (2, 3, 2)


def test_a_closed_output_takes_no_more_rows(out):
    output = VideoOutput(out)
    output.close()
    with pytest.raises(ValueError):
        output.face(FaceRow("door.mp4", 1, 0.04, 0, (1.0, 2.0, 3.0, 4.0)))

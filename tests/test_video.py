"""fqe-onnx video on small made-up videos with the real default model: outputs, best shot, bad files, no face."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fqe_onnx.cli import main
from fqe_onnx.video import FinishedTrack, VideoSettings, VideoSourceError, track_faces
from fqe_onnx.video.writer import FACE_COLUMNS, TRACK_COLUMNS
from video_clips import HEIGHT, WIDTH, backdrop, passing, write_video

SHARP = (24, 36)


@pytest.fixture(scope="module")
def scorer():
    from fqe_onnx.scorer import Scorer

    with Scorer(threads=0) as built:
        yield built


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A face crossing the frame left to right, sharp on frames 24-36 only."""
    return write_video(tmp_path_factory.mktemp("clips") / "pass.mp4", passing(sharp=SHARP))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run(*args: str):
    return CliRunner().invoke(main, ["video", *args], catch_exceptions=False)


def test_every_output_file_and_the_json_lines(clip, tmp_path):
    out = tmp_path / "out"
    result = run(str(clip), "-o", str(out), "--best", "2", "--frames", "--no-progress")
    assert result.exit_code == 0, result.stderr
    with open(out / "tracks.csv", newline="") as handle:
        assert next(csv.reader(handle)) == list(TRACK_COLUMNS)
    with open(out / "faces.csv", newline="") as handle:
        assert next(csv.reader(handle)) == list(FACE_COLUMNS)
    (track,) = read_csv(out / "tracks.csv")
    faces = read_csv(out / "faces.csv")
    assert track["source"] == str(clip) and track["error_kind"] == "" and track["flag"] == ""
    assert {f["track"] for f in faces} == {track["track"]}
    frames = [int(f["frame"]) for f in faces]
    assert frames == sorted(frames) and len(frames) == int(track["frames"])
    assert frames[0] == int(track["first_frame"]) and frames[-1] == int(track["last_frame"])
    assert float(track["last_time"]) == pytest.approx(int(track["last_frame"]) / 25, abs=1e-3)
    scored = [f for f in faces if f["Q"]]
    assert len(scored) == int(track["scored"]) and 0 < len(scored) < len(faces)
    assert all(f["q"] == "" for f in faces if not f["Q"])
    # the best shot: the highest Q of the scored frames, on a sharp frame
    assert int(track["Q"]) == max(int(f["Q"]) for f in scored)
    assert SHARP[0] <= int(track["best_frame"]) <= SHARP[1]
    best_row = next(f for f in scored if f["frame"] == track["best_frame"])
    assert float(best_row["q"]) == float(track["q"]) and best_row["Q"] == track["Q"]
    assert int(track["Q"]) > max(int(f["Q"]) for f in scored if not SHARP[0] <= int(f["frame"]) <= SHARP[1])
    assert len(track["box"].split()) == 4 and float(track["eye_distance"]) > 10 and float(track["face_score"]) > 0.5
    # shots: two crops the model saw (PNG, its input size) and their whole frames (JPEG)
    crop = cv2.imread(str(out / track["crop"]))
    assert crop.shape == (112, 112, 3)
    pngs, jpgs = sorted((out / "shots").rglob("*.png")), sorted((out / "shots").rglob("*.jpg"))
    assert len(pngs) == 2 and len(jpgs) == 2
    assert (out / track["crop"]) in pngs
    assert cv2.imread(str(jpgs[0])).shape == (HEIGHT, WIDTH, 3)
    # stdout: the same row as one JSON object
    (line,) = result.stdout.splitlines()
    row = json.loads(line)
    assert list(row) == list(TRACK_COLUMNS)
    assert {
        k: "" if v is None else (" ".join(repr(x) for x in v) if k == "box" else str(v)) for k, v in row.items()
    } == track
    assert "frames decoded" in result.stderr and "real-time factor" in result.stderr and "1 tracks" in result.stderr


def test_the_python_api_yields_tracks_with_their_shots_as_arrays(clip, scorer):
    rows = []
    tracks = list(track_faces(str(clip), scorer, VideoSettings(best=3), on_face=rows.append))
    (track,) = tracks
    assert isinstance(track, FinishedTrack) and 1 <= len(track.shots) <= 3
    assert [s.Q for s in track.shots] == sorted((s.Q for s in track.shots), reverse=True)
    assert track.best is track.shots[0] and track.best.crop.shape == (112, 112, 3) and track.best.crop.dtype == np.uint8
    scored = [r for r in rows if r.Q is not None]
    assert track.best.Q == max(r.Q for r in scored) and len(scored) == track.scored


def test_a_face_rescored_only_when_a_better_shot_is_likely(clip, scorer):
    """Scoring every frame would score all ~47 frames with the face; the schedule scores a few."""
    rows = []
    list(track_faces(str(clip), scorer, on_face=rows.append))
    scored = [r.frame for r in rows if r.Q is not None]
    assert 2 <= len(scored) <= len(rows) // 3
    assert any(SHARP[0] <= f <= SHARP[0] + 3 for f in scored)  # it sharpened: scored as soon as it did


def test_a_video_with_no_face_gives_no_track_and_exit_0(tmp_path):
    video = write_video(tmp_path / "empty.mp4", [backdrop(3)] * 30)
    out = tmp_path / "out"
    result = run(str(video), "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert read_csv(out / "tracks.csv") == [] and read_csv(out / "faces.csv") == []
    assert result.stdout == "" and list((out / "shots").iterdir()) == []
    assert "30 frames decoded" in result.stderr and "0 tracks" in result.stderr


def test_broken_sources_are_one_error_row_each_and_the_others_go_on(clip, tmp_path):
    frames = passing()
    good = clip
    whole_mp4 = write_video(tmp_path / "whole.mp4", frames).read_bytes()
    cut_mp4 = tmp_path / "cut.mp4"
    cut_mp4.write_bytes(whole_mp4[: len(whole_mp4) // 2])
    whole_avi = write_video(tmp_path / "whole.avi", frames, "MJPG").read_bytes()
    cut_avi = tmp_path / "cut.avi"
    cut_avi.write_bytes(whole_avi[: int(len(whole_avi) * 0.6)])
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(whole_mp4[:32] + bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8)))
    not_video = tmp_path / "notes.mkv"
    not_video.write_text("not a video at all\n")
    missing = tmp_path / "missing.mp4"
    out = tmp_path / "out"
    started = time.monotonic()
    result = run(
        str(cut_mp4),
        str(cut_avi),
        str(corrupt),
        str(not_video),
        str(missing),
        str(good),
        "-o",
        str(out),
        "--no-progress",
    )
    assert time.monotonic() - started < 120
    assert result.exit_code == 1, result.stderr
    rows = read_csv(out / "tracks.csv")
    kinds = {r["source"]: r["error_kind"] for r in rows if r["error_kind"]}
    assert kinds == {
        str(cut_mp4): "truncated",
        str(cut_avi): "truncated",
        str(corrupt): "corrupt",
        str(not_video): "unopenable",
        str(missing): "not-found",
    }
    assert all(r["error"].startswith(r["source"] + ":") for r in rows if r["error_kind"])
    assert str(good) in [r["source"] for r in rows if not r["error_kind"]]  # the good video's track
    assert len(result.stdout.splitlines()) == len(rows)  # error rows are JSON lines too


def test_the_frames_before_a_cut_are_processed(tmp_path):
    """A recording cut short after the face passed: its track, then the error row."""
    whole = write_video(tmp_path / "long.avi", passing(frames=60) + [backdrop()] * 60, "MJPG").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[: int(len(whole) * 0.8)])
    result = run(str(cut), "-o", str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 1
    rows = read_csv(tmp_path / "out" / "tracks.csv")
    assert [r["error_kind"] for r in rows] == ["", "truncated"]


def test_a_folder_gives_its_videos_sorted(clip, tmp_path):
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.mp4").write_bytes(clip.read_bytes())
    (folder / "sub" / "a.MP4").write_bytes(clip.read_bytes())
    (folder / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    result = run(str(folder), "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert [r["source"] for r in read_csv(out / "tracks.csv")] == [str(folder / "b.mp4"), str(folder / "sub" / "a.MP4")]
    assert len({p.parent for p in (out / "shots").rglob("*.png")}) == 2  # one shots folder per source


def test_min_Q_flags_a_track_and_writes_no_crop(tmp_path):
    video = write_video(tmp_path / "blurred.mp4", passing(sharp=(-1, -1), blur=2.5))
    out = tmp_path / "out"
    result = run(str(video), "-o", str(out), "--min-Q", "60", "--no-progress")
    assert result.exit_code == 0, result.stderr
    (track,) = read_csv(out / "tracks.csv")
    assert track["flag"] == "below-min-Q" and track["crop"] == "" and int(track["Q"]) < 60
    assert list((out / "shots").rglob("*.png")) == []


def test_bad_options_are_usage_errors(clip, tmp_path):
    result = run(str(clip), "-o", str(tmp_path / "out"), "--best", "0")
    assert result.exit_code == 2
    result = run("ftp://127.0.0.1/x.mp4", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "unsupported URL scheme" in result.stderr


def test_a_source_over_the_pixel_limit_is_an_error_row(clip, tmp_path):
    result = run(str(clip), "-o", str(tmp_path / "out"), "--max-pixels", "1000", "--no-progress")
    assert result.exit_code == 1
    (row,) = read_csv(tmp_path / "out" / "tracks.csv")
    assert row["error_kind"] == "too-large"


def test_a_missing_source_through_the_api_raises_its_kind(scorer, tmp_path):
    with pytest.raises(VideoSourceError) as error:
        list(track_faces(str(tmp_path / "nothing.mp4"), scorer))
    assert error.value.kind == "not-found"


def test_the_docs_page_examples_run_as_written(tmp_path, monkeypatch):
    """docs/guides/video.md: the clip it makes, the command on it, and the Python API block."""
    import re
    import subprocess
    import sys

    page = (Path(__file__).resolve().parents[1] / "docs" / "guides" / "video.md").read_text()
    maker = re.search(r"python - <<'EOF'\n(.*?)\nEOF\n", page, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    subprocess.run([sys.executable, "-c", maker], check=True, timeout=120)
    result = run("clip.mp4", "-o", "faces", "--no-progress")
    assert result.exit_code == 0, result.stderr
    (track,) = read_csv(tmp_path / "faces" / "tracks.csv")
    assert 24 <= int(track["best_frame"]) <= 36 and int(track["Q"]) >= 90
    (api,) = re.findall(r"^```python\n(.*?)^```$", page, flags=re.S | re.M)
    namespace: dict = {"__name__": "docs"}
    exec(compile(api, "docs/guides/video.md", "exec"), namespace)
    assert namespace["best"].crop.shape == (112, 112, 3)


def test_leaving_the_iteration_early_stops_the_reader(scorer, tmp_path):
    from fqe_onnx.video import FaceVideo

    twice = write_video(tmp_path / "twice.mp4", passing(frames=55, speed=10) * 2)
    run = FaceVideo(str(twice), scorer)
    iterator = iter(run)
    first = next(iterator)  # the first pass's track, given when its face has left
    assert first.last_frame < 55
    iterator.close()  # the caller is done: no error, and the reader stops
    assert run.reader._closed.is_set()


def test_stop_ends_the_run_and_gives_the_open_track(clip, scorer):
    from fqe_onnx.video import FaceVideo

    run = FaceVideo(str(clip), scorer)
    run.on_frame = lambda: run.stats.processed == 25 and run.stop()
    (track,) = list(run)
    assert track.last_frame == 24 and run.stats.processed == 25 and run.reader._closed.is_set()

"""The video schedule: which views the detector looks at on each frame, and which faces get scored."""

from __future__ import annotations

import cv2
import numpy as np

from fqe_onnx.video.schedule import Schedule, ScheduleSettings, ScoreHistory, sharpness
from video_clips import head


def test_the_whole_frame_every_n_frames_and_one_tile_in_turn_less_often():
    schedule = Schedule(1080, 1920, ScheduleSettings(detect_every=2, tile_every=3))
    assert len(schedule.tiles) == 6
    seen = [schedule.views({}) for _ in range(36)]
    detected = [k for k, (views, _, _) in enumerate(seen) if views]
    assert detected == list(range(0, 36, 2))
    assert all(views[0] == schedule.whole for views, _, _ in seen if views)
    tiled = [(k, views[1]) for k, (views, _, _) in enumerate(seen) if len(views) == 2]
    assert [k for k, _ in tiled] == [0, 6, 12, 18, 24, 30]
    assert [tile for _, tile in tiled] == schedule.tiles  # each tile once per sweep, in turn


def test_a_small_followed_face_gets_a_window_and_a_big_one_does_not():
    schedule = Schedule(1080, 1920)
    small = np.array([500.0, 500, 550, 560])  # 50 px: under the whole-frame pass's 72 px
    big = np.array([900.0, 300, 1100, 520])
    views, windows, looked = schedule.views({1: small, 2: big})
    assert looked == {1, 2} and len(windows) == 1
    (window,) = windows
    assert window.x <= 500 and window.x + window.w >= 550 and window.w == 200  # the face a quarter of it


def test_a_small_frame_has_no_tiles():
    schedule = Schedule(240, 320)
    assert schedule.tiles == [] and schedule.views({})[0] == [schedule.whole]


def history(width=100.0, sharp=50.0, time=0.0, seen_width=None, seen_sharp=None) -> ScoreHistory:
    h = ScoreHistory()
    h.add(width, sharp, time)
    h.see(seen_width or width, seen_sharp or sharp)
    return h


def test_which_faces_are_scored():
    schedule = Schedule(720, 1280, ScheduleSettings(rescore_every=1.0, peak_every=0.2, max_scores=10))
    candidates = [
        ("new", 100.0, 50.0, ScoreHistory()),
        ("same", 100.0, 50.0, history(time=0.95)),
        ("wider", 120.0, 50.0, history(time=0.95)),
        ("sharper", 100.0, 60.0, history(time=0.95)),
        ("due", 100.0, 10.0, history(time=0.0)),
        ("at peak", 100.0, 50.0, history(time=0.7)),
        ("past its peak", 100.0, 20.0, history(time=0.7, seen_sharp=50.0)),
    ]
    chosen = schedule.to_score(candidates, time=1.0)
    assert set(chosen) == {"new", "wider", "sharper", "due", "at peak"}
    assert chosen[0] == "new"  # the most promising first


def test_at_most_max_scores_a_frame_the_most_promising_first():
    schedule = Schedule(720, 1280, ScheduleSettings(max_scores=2))
    candidates = [
        ("a bit sharper", 100.0, 60.0, history(time=0.9)),
        ("much sharper", 100.0, 150.0, history(time=0.9)),
        ("new", 80.0, 10.0, ScoreHistory()),
    ]
    assert schedule.to_score(candidates, time=1.0) == ["new", "much sharper"]


def test_sharpness_falls_with_blur_whatever_the_face_size():
    face = head()
    for scale in (0.5, 1.0, 2.0):
        image = cv2.resize(face, None, fx=scale, fy=scale)
        box = np.array([0, 0, image.shape[1], image.shape[0]], dtype=float)
        values = [sharpness(cv2.GaussianBlur(image, (0, 0), s * scale) if s else image, box) for s in (0, 1, 2, 3)]
        assert values == sorted(values, reverse=True) and values[0] > 2 * values[-1]
    assert sharpness(face, np.array([-50.0, -50, -10, -10])) == 0.0  # a box outside the frame


def test_what_a_source_argument_names():
    import pytest

    from fqe_onnx.errors import FqeError
    from fqe_onnx.video.source import parse_source

    assert (parse_source("0").kind, parse_source("0").target) == ("camera", 0)
    assert (parse_source("/dev/video2").kind, parse_source("/dev/video2").target) == ("camera", 2)
    assert parse_source("clip.mp4").kind == "file" and not parse_source("clip.mp4").live
    secret = parse_source("rtsp://admin:hunter2@127.0.0.1:8554/live")
    assert secret.live and secret.target == "rtsp://admin:hunter2@127.0.0.1:8554/live"
    assert secret.name == "rtsp://admin:***@127.0.0.1:8554/live"  # never written into outputs
    assert parse_source("HTTPS://127.0.0.1/a.mjpg").kind == "url"
    with pytest.raises(FqeError, match="unsupported URL scheme 'ftp'"):
        parse_source("ftp://127.0.0.1/x.mp4")

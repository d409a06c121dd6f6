"""The video schedule: which views the detector looks at on each frame, and which faces get scored."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fqe_onnx.align.detection import second_look_window
from fqe_onnx.video.schedule import Schedule, ScheduleSettings, ScoreHistory, sharpness
from video_clips import head


def test_the_whole_frame_every_n_frames_and_one_tile_in_turn_less_often():
    schedule = Schedule(1080, 1920, ScheduleSettings(detect_every=2, tile_every=3))
    assert len(schedule.tiles) == 6
    seen = [schedule.views({}) for _ in range(36)]
    detected = [k for k, (views, _) in enumerate(seen) if views]
    assert detected == list(range(0, 36, 2))
    assert all(views[0] == schedule.whole for views, _ in seen if views)
    tiled = [(k, views[1]) for k, (views, _) in enumerate(seen) if len(views) == 2]
    assert [k for k, _ in tiled] == [0, 6, 12, 18, 24, 30]
    assert [tile for _, tile in tiled] == schedule.tiles  # each tile once per sweep, in turn


def test_a_small_followed_face_gets_a_window_and_a_big_one_does_not():
    schedule = Schedule(1080, 1920)
    small = np.array([500.0, 500, 550, 560])  # 50 px: under the whole-frame pass's 72 px
    big = np.array([900.0, 300, 1100, 520])
    views, windows = schedule.views({1: small, 2: big})
    assert views == [schedule.whole, schedule.tiles[0]] and len(windows) == 1
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


def test_the_whole_frame_on_the_first_frame_then_every_detect_every():
    schedule = Schedule(240, 320, ScheduleSettings(detect_every=3))
    assert [k for k in range(10) if schedule.views({})[0]] == [0, 3, 6, 9]


def test_the_window_threshold_is_the_whole_frame_passs_smallest_face_with_a_margin():
    """At 1920x1080 the detector's 320x240 input shrinks the frame 6 times (the width decides):
    its smallest face, 12 detector pixels, is 72 frame pixels; with the margin 1.3, 93.6."""
    schedule = Schedule(1080, 1920)
    assert schedule.small_face == pytest.approx(1.3 * 12 * 6)
    wide = np.array([0.0, 100, schedule.small_face, 400])  # exactly at the threshold: no window
    narrow = np.array([500.0, 100, 500 + schedule.small_face - 0.5, 400])  # tall: only the width counts
    assert schedule.views({1: wide, 2: narrow})[1] == [second_look_window(tuple(narrow), 1920, 1080)]
    assert schedule.views({1: np.array([500.0, 500, 600, 600])})[1] == []  # 100 px: big enough
    tall = Schedule(1920, 1080)  # portrait: the height decides (1920 / 240 = 8)
    assert tall.small_face == pytest.approx(1.3 * 12 * 8)


@pytest.mark.parametrize("name", ["detect_every", "tile_every", "max_scores"])
def test_counts_below_1_are_refused_and_1_is_accepted(name):
    with pytest.raises(ValueError, match=f"^{name} must be at least 1, got 0$"):
        ScheduleSettings(**{name: 0})
    assert getattr(ScheduleSettings(**{name: 1}), name) == 1


@pytest.mark.parametrize(
    "settings", [dict(rescore_every=0.0), dict(peak_every=0.0), dict(grow=0.99), dict(sharpen=0.99)]
)
def test_times_at_or_below_0_and_ratios_below_1_are_refused(settings):
    with pytest.raises(ValueError, match="^rescore_every and peak_every must be above 0, grow and sharpen at least 1$"):
        ScheduleSettings(**settings)


def test_the_smallest_times_and_ratios_are_accepted():
    settings = ScheduleSettings(rescore_every=0.001, peak_every=0.001, grow=1.0, sharpen=1.0)
    assert (settings.grow, settings.sharpen) == (1.0, 1.0)


def test_scored_at_exactly_grow_times_wider_sharpen_times_sharper_or_peak_every_after():
    settings = ScheduleSettings(rescore_every=1.0, peak_every=0.25, grow=1.25, sharpen=1.25, max_scores=9)
    schedule = Schedule(720, 1280, settings)
    candidates = [
        ("wider by grow", 125.0, 50.0, history(100.0, 50.0, time=0.9)),
        ("sharper by sharpen", 100.0, 62.5, history(100.0, 50.0, time=0.9)),
        ("not quite wider", 124.0, 50.0, history(100.0, 50.0, time=0.9)),
        # near its peak (its width and sharpness times the ratios reach the widest and sharpest seen)
        ("at peak, peak_every after", 100.0, 40.0, history(100.0, 50.0, time=0.75, seen_width=125.0, seen_sharp=50.0)),
        ("at peak, too soon", 100.0, 40.0, history(100.0, 50.0, time=0.8, seen_width=125.0, seen_sharp=50.0)),
        ("past its peak", 99.0, 40.0, history(100.0, 50.0, time=0.75, seen_width=125.0, seen_sharp=50.0)),
        ("less sharp than its peak", 100.0, 39.0, history(100.0, 50.0, time=0.75, seen_sharp=50.0)),
    ]
    assert set(schedule.to_score(candidates, time=1.0)) == {
        "wider by grow",
        "sharper by sharpen",
        "at peak, peak_every after",
    }


def test_a_flat_face_sharpening_by_the_ratio_is_scored_even_below_1():
    """Sharpness (a variance) below 1 is a very flat face; its gain is still a ratio."""
    schedule = Schedule(720, 1280, ScheduleSettings(sharpen=1.15))
    assert schedule.to_score([("flat", 100.0, 0.5, history(100.0, 0.3, time=0.9))], time=1.0) == ["flat"]


def test_sharpness_of_one_pixel_stripes_is_the_variance_of_a_laplacian_of_510():
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[:, 0::2] = 255  # a box of exactly 32 x 32 px: not resized; Laplacian -510, +510 in turn
    assert sharpness(frame, np.array([4.0, 4, 36, 36])) == pytest.approx(510.0**2)


def test_sharpness_of_one_face_is_about_the_same_whatever_its_size():
    """Shrunk to 32 px by area, the face at 1 to 4 times its size reads within 10 % (sampled
    bilinearly it would read up to 19 % sharper)."""
    face = head()
    values = []
    for scale in (1.0, 1.5, 2.0, 3.0, 4.0):
        image = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        values.append(sharpness(image, np.array([0.0, 0, image.shape[1], image.shape[0]])))
    assert values == pytest.approx([values[0]] * 5, rel=0.1)


def test_sharpness_is_measured_on_the_grey_levels():
    face = head()
    box = np.array([0.0, 0, face.shape[1], face.shape[0]])
    grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    assert sharpness(face, box) == pytest.approx(sharpness(grey, box), rel=0.01) and sharpness(grey, box) > 0


def test_sharpness_reads_the_boxs_first_row_and_column_at_the_frames_edge():
    frame = np.full((60, 60, 3), 128, np.uint8)
    frame[:, 0] = 255  # the only detail: the frame's first column
    assert sharpness(frame, np.array([-10.0, 0, 32, 32])) > 0
    assert sharpness(frame, np.array([1.0, 0, 33, 32])) == 0  # a box that leaves it out
    turned = np.ascontiguousarray(frame.transpose(1, 0, 2))  # the first row
    assert sharpness(turned, np.array([0.0, -10, 32, 32])) > 0


def test_a_box_one_pixel_thin_has_no_sharpness_and_two_pixels_do():
    frame = np.zeros((60, 60, 3), np.uint8)
    frame[::2] = 255
    frame[:, ::2] = 255 - frame[:, ::2]  # a one-pixel checkerboard
    assert (
        sharpness(frame, np.array([10.0, 10, 11, 50])) == 0.0 and sharpness(frame, np.array([10.0, 10, 50, 11])) == 0.0
    )
    assert sharpness(frame, np.array([10.0, 10, 12, 50])) > 0 and sharpness(frame, np.array([10.0, 10, 50, 12])) > 0

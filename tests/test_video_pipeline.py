"""FaceVideo's own bookkeeping, on stand-ins and without a model: the views and windows it gives
the detector, the faces it scores, the rows, tracks, shots and counts it reports.

The stand-ins: frames are black with bright squares for faces; the detector finds a square in a view
that holds it whole when the square is at least MIN_FACE_PX detector pixels wide (as the real one
finds faces from about that size); the aligner crops the square at the model's input size; the
scorer's q is the crop's brightness and its embedding the crop's mean colour (squares of different
colours are different people). A square darker than ``FAIL_BELOW`` cannot be scored, as a face
whose landmarks fail. The real models run in test_video.py.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Iterator, NamedTuple, Optional

import cv2
import numpy as np
import pytest

from fqe_onnx.align.aligner import AlignedFace, LocatedFace
from fqe_onnx.align.detection import DETECTOR_SIZE, MIN_FACE_PX, NMS_IOU, Detection, View, tile_rects
from fqe_onnx.errors import FqeError
from fqe_onnx.video import pipeline
from fqe_onnx.video.pipeline import DEFAULT_FPS, FaceRow, FaceVideo, VideoSettings, track_faces
from fqe_onnx.video.schedule import ScheduleSettings
from fqe_onnx.video.source import Frame, VideoSourceError

#: A box's stand-in detections sit this far off the pixel grid, so the rows' rounding to 0.1 px shows.
OFF_GRID = 0.36
FAIL_BELOW = 100
TEMPLATE = np.array([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0], [35.0, 80.0], [65.0, 80.0]])
INPUT_HW = (96, 80)
RED, BLUE, DIM = (0, 0, 220), (220, 0, 0), (0, 0, 80)


class Square(NamedTuple):
    x: int
    y: int
    side: int
    colour: tuple[int, int, int] = RED


def frame(width: int, height: int, *squares: Square) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    for s in squares:
        image[s.y : s.y + s.side, s.x : s.x + s.side] = s.colour
    return image


#: the frames and frame rate of each stand-in source, by name
CLIPS: dict[str, tuple[list[np.ndarray], float]] = {}


class StandInReader:
    """FrameReader's interface over CLIPS; it stops when the run's stop event is set, as the real one."""

    def __init__(self, spec, settings, stop: threading.Event) -> None:
        self.images, self.fps = CLIPS[spec.name]
        self.stop = stop
        self.decoded = self.dropped = self.reconnects = 0
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        for index, image in enumerate(self.images):
            if self.stop.is_set():
                return
            self.decoded += 1
            yield Frame(index, index / (self.fps or DEFAULT_FPS), image)

    def close(self) -> None:
        self.closed = True


class SquareDetector:
    """Finds the squares; records each call's views (None when given none) and second_look."""

    nms_iou = NMS_IOU

    def __init__(self) -> None:
        self.calls: list[tuple[Optional[list[View]], bool]] = []

    def detect_batch(self, images, views=None, second_look=True):
        (image,) = images
        self.calls.append((None if views is None else list(views[0]), second_look))
        looked = tile_rects(*image.shape[:2]) if views is None else views[0]
        _, _, stats, _ = cv2.connectedComponentsWithStats((image.max(axis=2) > 40).astype(np.uint8))
        found = []
        for x, y, w, h, _ in stats[1:]:
            for v in looked:
                scale = max(v.w / DETECTOR_SIZE[0], v.h / DETECTOR_SIZE[1])
                whole = v.x <= x and v.y <= y and x + w <= v.x + v.w and y + h <= v.y + v.h
                if whole and w / scale >= MIN_FACE_PX and w <= v.max_face:
                    box = (x + OFF_GRID, y + OFF_GRID, x + w + OFF_GRID, y + h + OFF_GRID)
                    found.append(Detection(box, 0.9))
                    break
        return [found]


class SquareAligner:
    def __init__(self) -> None:
        self.detector = SquareDetector()
        self.calls: list[tuple[object, tuple[int, int]]] = []

    def faces_at(self, image, detections, template=None, size_hw=(112, 112)):
        self.calls.append((template, size_hw))
        faces = []
        for i, d in enumerate(detections):
            x1, y1, x2, y2 = (int(v) for v in d.box)
            crop = cv2.resize(image[y1:y2, x1:x2], (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)
            w = x2 - x1
            points = np.array([[x1 + 0.3 * w, y1 + 0.4 * w], [x1 + 0.7 * w, y1 + 0.4 * w]] + [[x1 + 0.5 * w, y1]] * 3)
            faces.append(AlignedFace(LocatedFace(i, d, points), crop))
        return faces


class SquareScorer:
    def __init__(self, max_pixels: int = 10**8) -> None:
        self.framer = SimpleNamespace(aligner=SquareAligner(), template=TEMPLATE, size_hw=INPUT_HW)
        self.limits = SimpleNamespace(max_pixels=max_pixels)
        self.scored = 0

    def embed_items(self, items):
        for _, _, load in items:
            crop, _ = load()
            self.scored += 1
            level = float(crop.max(axis=2).mean())
            if level < FAIL_BELOW:
                yield SimpleNamespace(record=SimpleNamespace(ok=False, q=None, Q=None), embedding=None)
            else:
                q = level / 25
                record = SimpleNamespace(ok=True, q=q, Q=round(q * 10))
                yield SimpleNamespace(record=record, embedding=crop.reshape(-1, 3).mean(axis=0).astype(np.float32))


@pytest.fixture(autouse=True)
def stand_in_reader(monkeypatch):
    monkeypatch.setattr(pipeline, "FrameReader", StandInReader)
    CLIPS.clear()


def clip(name: str, images: list[np.ndarray], fps: float = 25.0) -> str:
    CLIPS[name] = (images, fps)
    return name


def run(source: str, scorer: SquareScorer, settings: Optional[VideoSettings] = None):
    rows: list[FaceRow] = []
    video = FaceVideo(source, scorer, settings or VideoSettings(), on_face=rows.append)
    return list(video), rows, video


def standing(frames: int, *squares: Square, width: int = 640, height: int = 480) -> list[np.ndarray]:
    return [frame(width, height, *squares)] * frames


def test_settings_refuse_no_shot_and_no_wait_and_say_the_value():
    with pytest.raises(FqeError, match="^best must be at least 1, got 0$"):
        VideoSettings(best=0)
    for wait in (0, -1):
        with pytest.raises(FqeError, match=f"^max_missing must be above 0 seconds, got {wait}$"):
            VideoSettings(max_missing=wait)
    assert VideoSettings(max_missing=0.5).max_missing == 0.5


def test_rows_tracks_and_counts_of_one_face():
    scorer = SquareScorer()
    source = clip("one", standing(20, Square(100, 200, 80)))
    started = time.perf_counter()
    tracks, rows, video = run(source, scorer, VideoSettings(best=2))
    wall = time.perf_counter() - started
    (track,) = tracks
    assert track.source == "one" and (track.first_frame, track.last_frame) == (0, 18)
    assert track.first_time == 0 and track.last_time == pytest.approx(18 / 25)
    assert [r.frame for r in rows] == list(range(0, 20, 2)) and track.frames == 10
    assert {r.track for r in rows} == {track.track} and {r.source for r in rows} == {"one"}
    assert all(r.box == (100.4, 200.4, 180.4, 280.4) for r in rows)  # the detector's box, to 0.1 px
    scored = [r for r in rows if r.Q is not None]
    assert len(scored) == track.scored == scorer.scored and 2 <= track.scored < track.frames
    assert all(r.q == pytest.approx(220 / 25) and r.Q == 88 for r in scored)
    assert [s.frame for s in track.shots] == [scored[0].frame, scored[1].frame]  # equal Q: the earliest first
    assert track.best is track.shots[0] and track.best.box == (100.4, 200.4, 180.4, 280.4)
    assert track.best.crop.shape == (*INPUT_HW, 3) and track.best.image is None and not track.low_quality
    # the faces were aligned onto the model's template at its input size
    assert all(template is TEMPLATE and size == INPUT_HW for template, size in scorer.framer.aligner.calls)
    s = video.stats
    assert (s.decoded, s.processed, s.dropped, s.tracks, s.scored) == (20, 20, 0, 1, scorer.scored)
    assert s.media_seconds == pytest.approx(19 / 25) and s.fps == 25.0
    assert 0 <= s.seconds <= wall


def test_whole_frames_are_kept_only_when_asked():
    images = standing(10, Square(100, 200, 80))
    (plain,), _, _ = run(clip("plain", images), SquareScorer())
    (kept,), _, _ = run(clip("kept", images), SquareScorer(), VideoSettings(frames=True))
    assert plain.best.image is None and kept.best.image is images[kept.best.frame]


def test_every_track_is_counted():
    images = [frame(640, 480, Square(50, 50, 80), Square(400, 300, 80, BLUE))] * 10
    tracks, _, video = run(clip("two", images), SquareScorer())
    assert len(tracks) == 2 and video.stats.tracks == 2


def test_min_Q_at_the_tracks_best_Q_keeps_its_shots():
    images = standing(10, Square(100, 200, 80))
    (at,), _, _ = run(clip("at", images), SquareScorer(), VideoSettings(min_Q=88))
    (above,), _, _ = run(clip("above", images), SquareScorer(), VideoSettings(min_Q=88.5))
    assert not at.low_quality and at.shots and at.best.Q == 88
    assert above.low_quality and above.shots == [] and above.best.Q == 88


def test_a_face_that_cannot_be_scored_is_followed_without_q():
    tracks, rows, video = run(clip("dim", standing(12, Square(100, 200, 80, DIM))), SquareScorer())
    (track,) = tracks
    assert track.frames == 6 and track.scored == 0 and track.best is None and track.low_quality
    assert rows and all(r.q is None and r.Q is None for r in rows)
    assert video.stats.scored > 0  # tried, and counted as tried


def test_another_face_in_the_same_place_is_another_track():
    """The face seen is scored (rescore_every tiny), and its embedding tells the tracker it is not
    the face the track had: a clear match by motion alone is checked on its appearance."""
    images = standing(10, Square(100, 200, 80)) + standing(10, Square(100, 200, 80, BLUE))
    settings = VideoSettings(schedule=ScheduleSettings(rescore_every=0.001))
    tracks, _, _ = run(clip("swap", images), SquareScorer(), settings)
    assert [(t.first_frame, t.last_frame) for t in tracks] == [(0, 8), (10, 18)]


@pytest.mark.parametrize(
    ("fps", "max_missing", "gap", "tracks"),
    [
        (10, 1.0, 6, 1),  # 3 detection frames missed of the 5 that 1 s is at 10 frames/s
        (10, 1.0, 20, 2),  # 10 missed
        (0, 1.0, 20, 1),  # a rate the source does not say: DEFAULT_FPS, 12 missed allowed
        (10, 0.2, 2, 1),  # 0.2 s is one detection frame: one missed is allowed
        (10, 0.2, 4, 2),  # two are not
        (10, 0.01, 2, 1),  # at least one, however short the setting
    ],
)
def test_a_hidden_face_keeps_its_track_for_max_missing_seconds_at_the_sources_rate(fps, max_missing, gap, tracks):
    face = Square(100, 200, 80)
    images = standing(10, face) + standing(gap) + standing(10, face)
    found, _, _ = run(clip("gap", images, fps), SquareScorer(), VideoSettings(max_missing=max_missing))
    assert len(found) == tracks


def test_the_detector_looks_on_every_detect_every_frame_in_the_schedules_views():
    scorer = SquareScorer()
    images = standing(10, width=1280, height=720)
    run(clip("views", images), scorer, VideoSettings(schedule=ScheduleSettings(detect_every=3, tile_every=2)))
    calls = scorer.framer.aligner.detector.calls
    whole, *tiles = tile_rects(720, 1280)
    # frames 0, 3, 6, 9: the whole frame each time, and one tile in turn on every other one
    assert calls == [([whole, tiles[0]], True), ([whole], True), ([whole, tiles[1]], True), ([whole], True)]


def test_a_small_face_found_by_a_tile_is_followed_in_a_window_beside_a_big_one():
    """At 1280x720 the whole-frame pass finds faces from 48 px, a tile from 30 px: a 36 px face is
    found when a tile holding it comes round, then looked for in a window around it on every
    detection frame (no second look: the window is that look), with the big face found as ever."""
    big, small = Square(100, 100, 120), Square(800, 400, 36, BLUE)
    scorer = SquareScorer()
    tracks, rows, _ = run(clip("small", standing(24, big, small, width=1280, height=720)), scorer)
    calls = scorer.framer.aligner.detector.calls
    first_small = min(r.frame for r in rows if r.box[0] > 700)
    assert len(tracks) == 2 and sorted(t.first_frame for t in tracks) == [0, first_small]
    small_track = next(t for t in tracks if t.first_frame == first_small)
    # followed on every detection frame from then on, in a window from the next one
    assert small_track.frames == len(range(first_small, 24, 2)) and small_track.last_frame == 22
    assert len([views for views, look in calls if look is True]) == 12
    big_track = next(t for t in tracks if t.first_frame == 0)
    assert big_track.frames == 12  # found on every detection frame, windows or not
    in_windows = [views for views, look in calls if look is False]
    assert len(in_windows) == len(range(first_small + 2, 24, 2)) and all(len(views) == 1 for views in in_windows)
    (window,) = {views[0] for views in in_windows}
    assert window.x <= small.x and small.x + small.side <= window.x + window.w < 1280
    assert window.y <= small.y and small.y + small.side <= window.y + window.h < 720
    assert len({(r.track, r.frame) for r in rows}) == len(rows)  # one row per face and frame
    assert len(calls) == 12 + len(in_windows)


def test_a_face_seen_too_briefly_to_be_confirmed_gives_no_track_and_no_row():
    face = Square(100, 200, 80)
    images = standing(4, face) + standing(10)  # seen on 2 detection frames; a track needs 3
    tracks, rows, video = run(clip("brief", images), SquareScorer())
    assert tracks == [] and rows == [] and video.stats.tracks == 0
    tracks, rows, _ = run(clip("enough", standing(6, face) + standing(10)), SquareScorer())
    assert len(tracks) == 1 and [r.frame for r in rows] == [0, 2, 4]


def test_a_growing_face_is_scored_again_each_time_it_is_wider_by_grow():
    """grow 1.3 and nothing else rescores (sharpen, peak and rescore out of reach): the frames
    scored are those where the face is 1.3 times as wide as when it was last scored."""
    sides = [40 + 2 * k for k in range(40)]  # detection frames are the even ones
    images = [frame(640, 480, Square(60, 300, side)) for side in sides]
    settings = ScheduleSettings(grow=1.3, sharpen=1000, peak_every=1000, rescore_every=1000)
    _, rows, _ = run(clip("grow", images), SquareScorer(), VideoSettings(schedule=settings))
    expected, last = [], 0.0
    for index in range(0, 40, 2):
        if not expected or sides[index] >= 1.3 * last:
            expected.append(index)
            last = sides[index]
    assert [r.frame for r in rows if r.Q is not None] == expected and len(expected) >= 3


def test_a_source_at_the_pixel_limit_runs_and_one_pixel_more_is_an_error():
    images = standing(4, Square(100, 200, 80))
    assert len(run(clip("at", images), SquareScorer(max_pixels=640 * 480))[0]) == 0  # too short to confirm
    with pytest.raises(VideoSourceError) as raised:
        run(clip("over", images), SquareScorer(max_pixels=640 * 480 - 1))
    assert raised.value.kind == "too-large"
    assert str(raised.value) == "over: frames of 640x480 are over the pixel limit (307199; --max-pixels)"


def test_the_stop_event_given_to_track_faces_ends_the_run_with_the_open_track():
    stop = threading.Event()

    def seen(row: FaceRow) -> None:
        if row.frame >= 8:
            stop.set()

    source = clip("stop", standing(100, Square(100, 200, 80)))
    (track,) = list(track_faces(source, SquareScorer(), on_face=seen, stop=stop))
    assert track.last_frame == 8

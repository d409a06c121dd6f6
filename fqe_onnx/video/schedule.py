"""When to look for faces and when to score them: the bounded work of one frame.

Looking (the detector, 320x240 input whatever the frame's size):

- the whole frame, shrunk to the detector's input, every ``detect_every`` frames (default 2): it
  finds faces from about 12 detector pixels wide (72 px in a 1920x1080 frame);
- one tile of the finer grid that finds smaller faces (``fqe_onnx.align.detection.tile_rects``),
  every ``tile_every`` detection frames (default 2), in turn, so the grid is swept every
  ``detect_every`` x ``tile_every`` x tiles frames (24 frames, about a second, at 1920x1080);
- a window around each followed face too small for the whole-frame pass (the face a quarter of
  the window's width), on every detection frame, so a small face, once found, is followed like a big one.

Scoring (alignment and the quality model, the costly part): a face is scored when its track is new,
when the tracker needs its embedding to tell faces apart, and otherwise only when a better shot is
likely: the face is ``grow`` times wider or ``sharpen`` times sharper (variance of the Laplacian of
the face's box at 32x32) than on any frame scored so far; or it is as sharp and as wide as it has
ever been seen (within those same ratios) and ``peak_every`` seconds have passed since its last
score (near its peak, Q varies from frame to frame with pose and the landmarks: a few more samples
find the best); or ``rescore_every`` seconds have passed. Of those, at most ``max_scores`` a frame
are scored, the most promising first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..align.detection import DETECTOR_SIZE, MIN_FACE_PX, View, second_look_window, tile_rects

#: A followed face narrower than this many times the whole-frame pass's smallest face gets a window.
WINDOW_MARGIN = 1.3
#: The side (pixels) a face's box is shrunk to before its sharpness is measured.
SHARPNESS_SIDE = 32


@dataclass(frozen=True)
class ScheduleSettings:
    """The schedule's knobs, with their defaults (see the module docstring)."""

    detect_every: int = 2
    tile_every: int = 2
    rescore_every: float = 1.0
    peak_every: float = 0.25
    grow: float = 1.15
    sharpen: float = 1.15
    max_scores: int = 2

    def __post_init__(self) -> None:
        for name in ("detect_every", "tile_every", "max_scores"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.rescore_every <= 0 or self.peak_every <= 0 or self.grow < 1 or self.sharpen < 1:
            raise ValueError("rescore_every and peak_every must be above 0, grow and sharpen at least 1")


def sharpness(frame: np.ndarray, box: np.ndarray) -> float:
    """Variance of the Laplacian of a face's box, grey, shrunk to SHARPNESS_SIDE square: a cheap
    measure that falls with blur, comparable between frames of one face whatever its size."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return 0.0
    patch = cv2.resize(frame[y1:y2, x1:x2], (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@dataclass
class ScoreHistory:
    """What a track's scored frames were like (the widest face and the sharpest, when last scored),
    and the widest and sharpest it was seen on any frame."""

    width: float = 0.0
    sharpness: float = 0.0
    time: Optional[float] = None
    seen_width: float = 0.0
    seen_sharpness: float = 0.0

    def see(self, width: float, sharp: float) -> None:
        self.seen_width = max(self.seen_width, width)
        self.seen_sharpness = max(self.seen_sharpness, sharp)

    def add(self, width: float, sharp: float, time: float) -> None:
        self.see(width, sharp)
        self.width = max(self.width, width)
        self.sharpness = max(self.sharpness, sharp)
        self.time = time


class Schedule:
    """The views to look at on each frame and the faces to score, for frames of ``height`` x ``width``."""

    def __init__(self, height: int, width: int, settings: ScheduleSettings = ScheduleSettings()) -> None:
        self.settings = settings
        self.height, self.width = height, width
        views = tile_rects(height, width)
        self.whole, self.tiles = views[0], views[1:]
        #: faces narrower than this (frame pixels) are too small for the whole-frame pass
        self.small_face = WINDOW_MARGIN * MIN_FACE_PX * max(width / DETECTOR_SIZE[0], height / DETECTOR_SIZE[1])
        self._tile_turn = 0
        self._frames = 0  # frames processed (a live source's dropped frames are not counted)
        self._detections = 0

    def views(self, predicted: dict[int, np.ndarray]) -> tuple[list[View], list[View]]:
        """For the next frame processed: (whole-frame and tile views, windows around small followed
        faces), given each live track's predicted box; two empty lists on a frame the detector
        skips. The whole-frame view sees every followed face, so a detection frame looks at all."""
        self._frames += 1
        if (self._frames - 1) % self.settings.detect_every:
            return [], []
        self._detections += 1
        views = [self.whole]
        if self.tiles and (self._detections - 1) % self.settings.tile_every == 0:
            views.append(self.tiles[self._tile_turn % len(self.tiles)])
            self._tile_turn += 1
        windows = [
            second_look_window(tuple(box), self.width, self.height)
            for box in predicted.values()
            if box[2] - box[0] < self.small_face
        ]
        return views, windows

    def to_score(self, candidates: list[tuple[int, float, float, ScoreHistory]], time: float) -> list[int]:
        """Which of the frame's followed faces to score: ``candidates`` are (key, face width,
        sharpness, history); returns the keys of at most ``max_scores``, most promising first."""
        s = self.settings
        wanted = []
        for key, width, sharp, history in candidates:
            if history.time is None:
                gain = np.inf
            else:
                gain = max(width / max(history.width, 1e-9) / s.grow, sharp / max(history.sharpness, 1e-9) / s.sharpen)
                at_peak = width * s.grow >= history.seen_width and sharp * s.sharpen >= history.seen_sharpness
                since = time - history.time
                if gain < 1 and since < s.rescore_every and not (at_peak and since >= s.peak_every):
                    continue
            wanted.append((-gain, key))
        return [key for _, key in sorted(wanted)[: s.max_scores]]

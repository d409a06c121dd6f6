"""The Python API: finished face tracks, with their best shots as arrays, from one video source.

    from fqe_onnx.scorer import Scorer
    from fqe_onnx.video import VideoSettings, track_faces

    with Scorer(threads=0) as scorer:
        for track in track_faces("door.mp4", scorer):
            print(track.track, track.best.Q, track.best.crop.shape)

Per frame: the detector looks where the schedule says (``schedule.py``), the tracker matches what
it found (``tracker.py``), and the faces the schedule picks are landmarked, warped onto the model's
template and scored by the same ``FaceAligner`` and ``Scorer`` that ``fqe-onnx score`` uses (an
aligned crop at the model's input size is scored as it is, exactly as ``score`` scores the crop it
aligns). A track's best shots are the highest Q among its scored frames, ties broken by q.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from ..align.aligner import face_geometry
from ..align.detection import Detection, nms
from ..errors import FqeError
from .schedule import Schedule, ScheduleSettings, ScoreHistory, sharpness
from .shots import BestShots, Shot
from .source import FrameReader, ReaderSettings, SourceSpec, VideoSourceError, parse_source
from .tracker import Detected, Track, Tracker

#: Frames per second assumed when a source does not say (a live stream's rate is often unknown).
DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class VideoSettings:
    """Everything but the model: shots kept per track (``best``), the Q below which a track is
    flagged and keeps no shot (``min_Q``), whether the whole frame of each shot is kept
    (``frames``), how long a face may stay hidden (``max_missing`` seconds), the schedule and the reader."""

    best: int = 1
    min_Q: float = 0.0
    frames: bool = False
    max_missing: float = 1.2
    schedule: ScheduleSettings = ScheduleSettings()
    reader: ReaderSettings = ReaderSettings()

    def __post_init__(self) -> None:
        if self.best < 1:
            raise FqeError(f"best must be at least 1, got {self.best}")
        if self.max_missing <= 0:
            raise FqeError(f"max_missing must be above 0 seconds, got {self.max_missing}")


@dataclass(frozen=True)
class FaceRow:
    """One track's face on one frame (a row of faces.csv): q and Q only where it was scored."""

    source: str
    frame: int
    time: float
    track: int
    box: tuple[float, float, float, float]
    q: Optional[float] = None
    Q: Optional[int] = None


@dataclass
class FinishedTrack:
    """A face followed from ``first_frame`` to ``last_frame``: located on ``frames`` frames, scored on
    ``scored``, its best shots best first (none when ``low_quality``: the best Q stayed below min_Q)."""

    source: str
    track: int
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    frames: int
    scored: int
    shots: list[Shot]
    best_shot: Optional[Shot]  # kept even when the shots are dropped for low quality
    low_quality: bool = False

    @property
    def best(self) -> Optional[Shot]:
        return self.best_shot


@dataclass
class RunStats:
    """What one source gave: frames decoded, dropped and processed, faces scored, seconds of work."""

    decoded: int = 0
    dropped: int = 0
    processed: int = 0
    scored: int = 0
    tracks: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    media_seconds: float = 0.0  # the time of the last frame processed, from the source's start
    fps: float = 0.0


@dataclass
class _State:
    """The pipeline's bookkeeping of one track."""

    first_frame: int
    first_time: float
    last_frame: int
    last_time: float
    shots: BestShots
    history: ScoreHistory = field(default_factory=ScoreHistory)
    frames: int = 0
    scored: int = 0
    rows: list[FaceRow] = field(default_factory=list)  # held while the track is tentative


class FaceVideo:
    """Follows the faces of one source and yields each track as it ends (``__iter__``). ``on_face``
    gets every confirmed track's FaceRow, in frame order per track. ``stop()`` (any thread) ends
    the iteration after the frame in progress, yielding every open track first; a source error is
    raised (VideoSourceError) after the open tracks were yielded. ``stats`` is kept up to date."""

    def __init__(
        self,
        source: Union[str, SourceSpec],
        scorer: Any,
        settings: VideoSettings = VideoSettings(),
        on_face: Optional[Callable[[FaceRow], None]] = None,
        stop: Optional[threading.Event] = None,
    ) -> None:
        self.spec = source if isinstance(source, SourceSpec) else parse_source(str(source))
        self.scorer = scorer
        self.settings = settings
        self.on_face = on_face
        self.stop_event = stop or threading.Event()
        self.stats = RunStats()
        self.aligner = scorer.framer.aligner
        self.reader = FrameReader(self.spec, settings.reader, self.stop_event)
        self._tracker: Optional[Tracker] = None
        self._schedule: Optional[Schedule] = None
        self._states: dict[int, _State] = {}
        #: called after every frame (the CLI's progress line)
        self.on_frame: Optional[Callable[[], None]] = None

    @property
    def open_tracks(self) -> int:
        """Faces followed now (tentative ones included)."""
        return len(self._tracker.tracks) if self._tracker is not None else 0

    def stop(self) -> None:
        self.stop_event.set()

    def __iter__(self) -> Iterator[FinishedTrack]:
        started = time.perf_counter()
        try:
            for frame in self.reader.frames():
                if self._tracker is None:
                    self._start(frame.image)
                yield from self._frame(frame.index, frame.time, frame.image)
                self.stats.processed += 1
                self.stats.media_seconds = frame.time
                self._sync(started)
                if self.on_frame is not None:
                    self.on_frame()
        except GeneratorExit:  # the caller stopped iterating: nothing more can be given
            self.reader.close()
            raise
        except BaseException:  # the source failed (or an interrupt): its open tracks first, then the error
            yield from self._close(started)
            raise
        yield from self._close(started)

    def _close(self, started: float) -> Iterator[FinishedTrack]:
        """Stop the reader and end every open track."""
        self.reader.close()
        self._sync(started)
        if self._tracker is not None:
            for track in self._tracker.finish():
                yield self._finished(track)

    def _sync(self, started: float) -> None:
        self.stats.decoded, self.stats.dropped = self.reader.decoded, self.reader.dropped
        self.stats.reconnects, self.stats.fps = self.reader.reconnects, self.reader.fps
        self.stats.seconds = time.perf_counter() - started

    def _start(self, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        if height * width > self.scorer.limits.max_pixels:
            raise VideoSourceError(
                f"{self.spec.name}: frames of {width}x{height} are over the pixel limit "
                f"({self.scorer.limits.max_pixels}; --max-pixels)",
                "too-large",
            )
        fps = self.reader.fps or DEFAULT_FPS
        # the tracker counts detection frames missed; the settings say seconds
        max_missing = max(1, round(self.settings.max_missing * fps / self.settings.schedule.detect_every))
        self._tracker = Tracker(width, height, max_missing=max_missing)
        self._schedule = Schedule(height, width, self.settings.schedule)

    # -- one frame --------------------------------------------------------------------------------

    def _detect(self, image: np.ndarray, index: int) -> Optional[list[Detection]]:
        """The frame's faces, or None on a frame the schedule gives the detector off."""
        assert self._tracker is not None and self._schedule is not None
        predicted = {t.id: t.predict(index) for t in self._tracker.tracks.values()}
        views, windows = self._schedule.views(predicted)
        if not views:
            return None
        detector = self.aligner.detector
        found = detector.detect_batch([image], [views])[0]
        if windows:
            found += detector.detect_batch([image], [windows], second_look=False)[0]
            boxes = np.array([d.box for d in found]).reshape(-1, 4)
            found = [found[i] for i in nms(boxes, np.array([d.score for d in found]), detector.nms_iou)]
        return found

    def _frame(self, index: int, when: float, image: np.ndarray) -> Iterator[FinishedTrack]:
        assert self._tracker is not None and self._schedule is not None
        found = self._detect(image, index)
        if found is None:  # not a detection frame: the tracks coast
            return
        detections = [Detected(np.array(d.box, dtype=np.float64), d.score) for d in found]
        plan = self._tracker.plan(detections, index)
        sharp = {i: sharpness(image, d.box) for i, d in enumerate(detections)}
        candidates = [
            (i, float(detections[i].box[2] - detections[i].box[0]), sharp[i], self._states[t].history)
            for i, t in plan.clear.items()
        ]
        for _, width, value, history in candidates:
            history.see(width, value)
        chosen = sorted(set(plan.unclear) | set(self._schedule.to_score(candidates, when)))
        results = self._score(image, [found[i] for i in chosen])
        for i, result in zip(chosen, results):
            if result is not None:
                detections[i].embedding = result[0]
        update = self._tracker.update(detections, index, plan)
        scored = dict(zip(chosen, results))
        for i, track_id in update.matched.items():
            self._see(track_id, index, when, image, detections[i], scored.get(i), sharp[i])
        finished = [self._finished(track) for track in update.ended]
        for dropped in [t for t in self._states if t not in self._tracker.tracks]:
            del self._states[dropped]  # tentative tracks the tracker let go
        yield from finished

    def _score(self, image: np.ndarray, found: list[Detection]) -> list[Optional[tuple[np.ndarray, Any, Any]]]:
        """(embedding, record, aligned face) for each face, or None where scoring failed: the
        aligner's landmarks and warp, then the scorer on the aligned crops (scored as they are)."""
        if not found:
            return []
        framer = self.scorer.framer
        aligned = self.aligner.faces_at(image, found, framer.template, framer.size_hw)
        items = [(str(k), "", (lambda crop=a.crop: (crop, ""))) for k, a in enumerate(aligned)]
        results: list[Optional[tuple[np.ndarray, Any, Any]]] = []
        for face, scored in zip(aligned, self.scorer.embed_items(items)):
            ok = scored.record.ok and scored.embedding is not None
            results.append(
                (np.asarray(scored.embedding, dtype=np.float64).ravel(), scored.record, face) if ok else None
            )
        self.stats.scored += len(found)
        return results

    def _see(
        self,
        track_id: int,
        index: int,
        when: float,
        image: np.ndarray,
        detected: Detected,
        result: Optional[tuple[np.ndarray, Any, Any]],
        sharp: float,
    ) -> None:
        assert self._tracker is not None
        state = self._states.get(track_id)
        if state is None:
            state = self._states[track_id] = _State(index, when, index, when, BestShots(self.settings.best))
        state.last_frame, state.last_time = index, when
        state.frames += 1
        x1, y1, x2, y2 = (round(float(v), 1) for v in detected.box)
        box = (x1, y1, x2, y2)
        q = Q = None
        if result is not None:
            _, record, face = result
            q, Q = record.q, record.Q
            state.scored += 1
            state.history.add(float(detected.box[2] - detected.box[0]), sharp, when)
            if state.shots.wants(Q, q, index):
                geometry = face_geometry(face.face)
                state.shots.offer(
                    Shot(
                        index,
                        when,
                        q,
                        Q,
                        geometry["box"],
                        geometry["face_score"],
                        geometry["eye_distance"],
                        face.crop,
                        image if self.settings.frames else None,
                    )
                )
        row = FaceRow(self.spec.name, index, when, track_id, box, q, Q)
        if self._tracker.tracks[track_id].confirmed:  # a tentative track's rows wait until it is
            if self.on_face is not None:
                for held in state.rows:
                    self.on_face(held)
                self.on_face(row)
            state.rows.clear()
        else:
            state.rows.append(row)

    def _finished(self, track: Track) -> FinishedTrack:
        """A confirmed track that ended: every matched face got a state in ``_see``, and its held
        rows were passed on there when the tracker confirmed it (before ``_see`` of that frame)."""
        state = self._states.pop(track.id)
        best = state.shots.best
        low = best is None or best.Q < self.settings.min_Q
        self.stats.tracks += 1
        return FinishedTrack(
            self.spec.name,
            track.id,
            state.first_frame,
            state.last_frame,
            state.first_time,
            state.last_time,
            state.frames,
            state.scored,
            [] if low else list(state.shots.shots),
            best,
            low,
        )


def track_faces(
    source: Union[str, SourceSpec],
    scorer: Any,
    settings: VideoSettings = VideoSettings(),
    on_face: Optional[Callable[[FaceRow], None]] = None,
    stop: Optional[threading.Event] = None,
) -> Iterator[FinishedTrack]:
    """Finished tracks of one source as they end (see ``FaceVideo``); raises VideoSourceError when
    the source fails, after the tracks it gave were yielded."""
    return iter(FaceVideo(source, scorer, settings, on_face, stop))

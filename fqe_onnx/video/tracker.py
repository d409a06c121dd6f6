"""Following faces from frame to frame: motion first, the model's embedding where motion is not enough.

A small tracker of our own (the docs page says why no library fitted). Each track keeps its last
box, a velocity (a light alpha-beta filter on the box centre and size) and an appearance: the sum
of its scored faces' embeddings (their norm is q, so sharp faces weigh more) as a unit vector. A
frame's detections are matched in two steps:

1. ``plan``: each detection is gated against each live track's predicted box (centre distance in
   units of the face's size, and size ratio). A detection that one track alone claims, and that
   claims only that track, which was seen on the previous detection frame, and lies close to its
   prediction, is a clear match. Every other detection (two tracks claim it, it claims two tracks,
   its track was missing, it or its track's last move was unexpected, or no track claims it) needs
   its embedding: the caller scores it (which a new face needs anyway). A clear match whose face
   was scored anyway (for a better shot) is checked on its embedding too.
2. ``update``: clear matches are kept; the rest are matched greedily by a cost that adds the motion
   distance and the embedding's cosine distance to the track's appearance, refusing pairs whose
   similarity is below ``min_similarity``. A detection left over starts a tentative track, which
   is confirmed after ``min_hits`` detections and dropped if it misses first.

A track that is not seen coasts on its velocity for up to ``max_missing`` detection frames (about a
second: a face hidden by another) and then ends; one whose predicted box has left the frame ends
after ``edge_missing`` frames if it was on its way out (one coming in waits as long as a hidden
face). All boxes are (x1, y1, x2, y2) in frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

#: Detection frames a confirmed track may miss before it ends (25 at 25 fps: about a second).
MAX_MISSING = 30
#: Detection frames a track whose predicted box is mostly outside the frame may miss.
EDGE_MISSING = 3
#: Detections a new track needs before it is confirmed (a tentative track that misses is dropped).
MIN_HITS = 3
#: Centre distance (in face widths) within which a detection may belong to a track seen last frame;
#: it grows by GATE_GROWTH per missed frame, up to GATE_MAX.
GATE = 0.6
GATE_GROWTH = 0.1
GATE_MAX = 3.0
#: A match by motion alone must also be this close to the prediction (centre distance in face widths
#: plus the log of the size ratio): a face that moved unexpectedly (another one that stepped out
#: where the followed face was, and walks off another way) has its embedding checked.
SURPRISE = 0.35
#: A track whose face jumps off its velocity by more than this (face widths per frame) is suspect:
#: its next detection has its embedding checked (another face may have taken its place).
VELOCITY_JUMP = 0.15
#: The largest size change (ratio of box widths) between a track's prediction and its detection.
SIZE_RATIO = 1.6
#: Below this cosine similarity to a track's appearance a detection within the track's motion gate
#: is not that track's face. Low on purpose: a blurred face of the same person can fall to about 0.15
#: (faces of different people in LFW: mean 0.01, 99th percentile 0.23, with the default model).
MIN_SIMILARITY = 0.1
#: A face back after hiding longer than its motion can tell is matched on its appearance alone, from
#: this similarity up (above what two different people reach).
REID_SIMILARITY = 0.4
#: Added to the cost of matching a tentative track, so that a confirmed track that was hidden wins
#: a face it is as likely to own over a track started while it was hidden.
TENTATIVE_PENALTY = 0.5
#: Weight of the embedding's cosine distance against the motion distance in the matching cost.
APPEARANCE_WEIGHT = 2.0
#: How much of the velocity estimate a new measurement replaces (alpha-beta filter).
VELOCITY_GAIN = 0.5


def box_centre_size(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre (2,), size (2,)) of an (x1, y1, x2, y2) box."""
    box = np.asarray(box, dtype=np.float64)
    return (box[:2] + box[2:]) / 2, box[2:] - box[:2]


def centre_size_box(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.concatenate([centre - size / 2, centre + size / 2])


def unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def visible_share(box: np.ndarray, width: int, height: int) -> float:
    """The share of a box's area inside the frame."""
    x1, y1, x2, y2 = box
    area = max(x2 - x1, 1e-9) * max(y2 - y1, 1e-9)
    inside = max(min(x2, width) - max(x1, 0), 0) * max(min(y2, height) - max(y1, 0), 0)
    return float(inside / area)


@dataclass
class Detected:
    """One face found in a frame: box, detector score, and its unit embedding once scored."""

    box: np.ndarray
    score: float
    embedding: Optional[np.ndarray] = None


@dataclass
class Track:
    """One face followed over frames."""

    id: int
    box: np.ndarray  # the last box seen
    frame: int  # the frame it was last seen on
    first_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # centre x, y and size w, h per frame
    hits: int = 1
    missing: int = 0  # detection frames since it was last seen
    confirmed: bool = False
    suspect: bool = False  # its last move jumped off its velocity: check the next face's embedding
    appearance: Optional[np.ndarray] = None  # the sum of the scored faces' embeddings, as a unit vector
    appearance_sum: Optional[np.ndarray] = None

    def predict(self, frame: int) -> np.ndarray:
        """The box expected on ``frame`` (constant velocity from the last sighting)."""
        centre, size = box_centre_size(self.box)
        steps = frame - self.frame
        return centre_size_box(centre + self.velocity[:2] * steps, np.maximum(size + self.velocity[2:] * steps, 1.0))

    def gate(self) -> float:
        return min(GATE + GATE_GROWTH * self.missing, GATE_MAX)

    def see(self, box: np.ndarray, frame: int) -> None:
        centre, size = box_centre_size(box)
        old_centre, old_size = box_centre_size(self.box)
        steps = max(frame - self.frame, 1)
        measured = np.concatenate([centre - old_centre, size - old_size]) / steps
        if self.hits == 1:
            self.velocity = measured
        else:
            jump = float(np.linalg.norm(measured[:2] - self.velocity[:2])) / max(float(size[0]), 1.0)
            self.suspect = self.hits > 2 and jump > VELOCITY_JUMP
            self.velocity = self.velocity + VELOCITY_GAIN * (measured - self.velocity)
        self.box = np.asarray(box, dtype=np.float64)
        self.frame = frame
        self.hits += 1
        self.missing = 0

    def learn(self, embedding: np.ndarray) -> None:
        """Add a scored face's embedding to the track's appearance. The raw embeddings are summed:
        their norm is the face's quality q, so sharp faces weigh more than blurred ones."""
        vector = np.asarray(embedding, dtype=np.float64).ravel()
        self.appearance_sum = vector.copy() if self.appearance_sum is None else self.appearance_sum + vector
        self.appearance = unit(self.appearance_sum)

    def similarity(self, embedding: Optional[np.ndarray]) -> Optional[float]:
        if embedding is None or self.appearance is None:
            return None
        return float(np.dot(self.appearance, unit(embedding)))


@dataclass(frozen=True)
class Plan:
    """A frame's first matching step: clear (detection, track id) pairs and the detections that
    need an embedding before they can be matched."""

    clear: dict[int, int]  # detection index -> track id
    unclear: list[int]


@dataclass(frozen=True)
class Update:
    """What a frame's detections became: detection index -> track id (every detection that belongs
    to a track, new ones included), and the tracks that ended on this frame."""

    matched: dict[int, int]
    ended: list[Track]
    new: list[int]  # track ids started on this frame


class Tracker:
    """Tracks faces over the frames of one source (``width`` x ``height``); see the module docstring."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        max_missing: int = MAX_MISSING,
        edge_missing: int = EDGE_MISSING,
        min_hits: int = MIN_HITS,
        min_similarity: float = MIN_SIMILARITY,
    ) -> None:
        self.width, self.height = width, height
        self.max_missing = max_missing
        self.edge_missing = edge_missing
        self.min_hits = min_hits
        self.min_similarity = min_similarity
        self.tracks: dict[int, Track] = {}
        self._next_id = 0

    # -- step 1 --------------------------------------------------------------------------------------

    def _motion(self, detections: Sequence[Detected], frame: int) -> np.ndarray:
        """(detections, tracks) motion distance, inf outside the gate; tracks in ``self.tracks`` order."""
        tracks = list(self.tracks.values())
        cost = np.full((len(detections), len(tracks)), np.inf)
        for j, track in enumerate(tracks):
            centre, size = box_centre_size(track.predict(frame))
            for i, found in enumerate(detections):
                found_centre, found_size = box_centre_size(found.box)
                scale = max(float(size[0]), float(found_size[0]), 1.0)
                distance = float(np.linalg.norm(found_centre - centre)) / scale
                ratio = max(found_size[0], 1.0) / max(size[0], 1.0)
                if distance <= track.gate() and 1 / SIZE_RATIO <= ratio <= SIZE_RATIO:
                    cost[i, j] = distance + abs(float(np.log(ratio)))
        return cost

    def plan(self, detections: Sequence[Detected], frame: int) -> Plan:
        """Which detections match a track by motion alone, and which need their embedding."""
        tracks = list(self.tracks.values())
        cost = self._motion(detections, frame)
        gated = np.isfinite(cost)
        clear: dict[int, int] = {}
        unclear = []
        for i in range(len(detections)):
            claims = np.flatnonzero(gated[i])
            if len(claims) == 1:
                j = int(claims[0])
                track = tracks[j]
                if gated[:, j].sum() == 1 and track.missing == 0 and cost[i, j] <= SURPRISE and not track.suspect:
                    clear[i] = track.id
                    continue
            unclear.append(i)
        return Plan(clear, unclear)

    # -- step 2 --------------------------------------------------------------------------------------

    def update(self, detections: Sequence[Detected], frame: int, plan: Optional[Plan] = None) -> Update:
        """Match the frame's detections (those in ``plan.unclear`` with their embeddings when the
        caller could score them), start tracks for the rest, age and end the unseen ones. Called on
        detection frames only, so every track not matched counts as missing."""
        plan = plan or self.plan(detections, frame)
        tracks = list(self.tracks.values())
        index = {track.id: j for j, track in enumerate(tracks)}
        # a clear match whose face was scored anyway (for its quality) is checked on its embedding too
        doubtful = [
            i
            for i, t in plan.clear.items()
            if (similarity := self.tracks[t].similarity(detections[i].embedding)) is not None
            and similarity < self.min_similarity
        ]
        plan = Plan({i: t for i, t in plan.clear.items() if i not in doubtful}, list(plan.unclear) + doubtful)
        matched = dict(plan.clear)
        taken = {index[t] for t in matched.values()}
        motion = self._motion(detections, frame)
        pairs = []
        for i in plan.unclear:
            for j, track in enumerate(tracks):
                if j in taken:
                    continue
                similarity = track.similarity(detections[i].embedding)
                if similarity is not None and similarity < self.min_similarity:
                    continue  # another person's face
                if np.isfinite(motion[i, j]):
                    cost = motion[i, j] + (0.0 if track.confirmed else TENTATIVE_PENALTY)
                elif similarity is not None and similarity >= REID_SIMILARITY and track.missing > 0 and track.confirmed:
                    # a face back after hiding longer than its motion can tell: its appearance alone,
                    # while it is still within reach (the widest gate)
                    centre, size = box_centre_size(track.predict(frame))
                    far = float(np.linalg.norm(box_centre_size(detections[i].box)[0] - centre)) / max(
                        float(size[0]), 1.0
                    )
                    if far > GATE_MAX * 2:
                        continue
                    cost = GATE_MAX + far / 4
                else:
                    continue
                if similarity is not None:
                    cost += APPEARANCE_WEIGHT * (1.0 - similarity)
                pairs.append((cost, i, j))
        used_detections = set(matched)
        for _cost, i, j in sorted(pairs):
            if i in used_detections or j in taken:
                continue
            matched[i] = tracks[j].id
            used_detections.add(i)
            taken.add(j)
        for i, track_id in matched.items():
            track = self.tracks[track_id]
            track.see(detections[i].box, frame)
            if track.hits >= self.min_hits:
                track.confirmed = True
        new = []
        for i, found in enumerate(detections):
            if i in matched or self._duplicate(found.box, matched, detections):
                continue
            track = Track(
                self._next_id, np.asarray(found.box, dtype=np.float64), frame, frame, confirmed=self.min_hits <= 1
            )
            self._next_id += 1
            self.tracks[track.id] = track
            matched[i] = track.id
            new.append(track.id)
        seen = set(matched.values())
        ended = [track for track in tracks if track.id not in seen and self._miss(track, frame)]
        for track in ended:
            del self.tracks[track.id]
        for i, track_id in matched.items():
            embedding = detections[i].embedding
            if embedding is not None:
                self.tracks[track_id].learn(embedding)
        return Update(matched, [t for t in ended if t.confirmed], new)

    def _duplicate(self, box: np.ndarray, matched: dict[int, int], detections: Sequence[Detected]) -> bool:
        """Whether a box is mostly inside a matched face's box (a second detection of the same face)."""
        for i in matched:
            other = detections[i].box
            inter = max(min(box[2], other[2]) - max(box[0], other[0]), 0) * max(
                min(box[3], other[3]) - max(box[1], other[1]), 0
            )
            if inter > 0.5 * (box[2] - box[0]) * (box[3] - box[1]):
                return True
        return False

    def _miss(self, track: Track, frame: int) -> bool:
        """Count a detection frame without the track; True when it ends here."""
        track.missing += 1
        if not track.confirmed:
            return True
        limit = self.max_missing
        expected = visible_share(track.predict(frame), self.width, self.height)
        if expected < 0.5 and expected < visible_share(track.box, self.width, self.height):  # on its way out
            limit = min(limit, self.edge_missing)
        return track.missing > limit

    def finish(self) -> list[Track]:
        """End every open track (the source ended or the run stops): the confirmed ones."""
        ended = [t for t in self.tracks.values() if t.confirmed]
        self.tracks.clear()
        return ended

"""A track's best shots: the K highest Q among its scored faces, ties broken by q, then by the earlier frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Shot:
    """One scored face of a track: where and when, its q and Q, its geometry in frame pixels, and the
    aligned crop the model saw (BGR uint8); ``image`` is the whole frame when frames are kept."""

    frame: int
    time: float
    q: float
    Q: int
    box: tuple[float, float, float, float]
    face_score: float
    eye_distance: float
    crop: np.ndarray = field(repr=False)
    image: Optional[np.ndarray] = field(default=None, repr=False)


def rank(Q: int, q: float, frame: int) -> tuple[int, float, int]:
    """The order of shots, best first when sorted: higher Q, then higher q, then the earlier frame."""
    return (-Q, -q, frame)


class BestShots:
    """Keeps the ``k`` best shots offered (see ``rank``), best first; memory is k shots whatever the track's length."""

    def __init__(self, k: int = 1) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k
        self.shots: list[Shot] = []

    def wants(self, Q: int, q: float, frame: int) -> bool:
        """Whether a shot with these values would be kept (so a caller copies a frame only when it is)."""
        return len(self.shots) < self.k or rank(Q, q, frame) < rank(
            self.shots[-1].Q, self.shots[-1].q, self.shots[-1].frame
        )

    def offer(self, shot: Shot) -> bool:
        """Keep ``shot`` if it is among the k best so far; returns whether it was kept."""
        if not self.wants(shot.Q, shot.q, shot.frame):
            return False
        self.shots.append(shot)
        self.shots.sort(key=lambda s: rank(s.Q, s.q, s.frame))
        del self.shots[self.k :]
        return True

    @property
    def best(self) -> Optional[Shot]:
        return self.shots[0] if self.shots else None

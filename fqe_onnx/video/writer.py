"""The outputs of ``fqe-onnx video``: tracks.csv, faces.csv, shots/ and one JSON line per track.

Everything is written as tracks end and flushed then, so a stopped or killed run keeps every track
that ended before: ``tracks.csv`` one row per track (or per failed source, with its error kind);
``faces.csv`` one row per track and frame where its face was located (q and Q where it was scored);
``shots/SOURCE/`` each track's best shots as the aligned crop the model saw (PNG), and with
``frames`` the whole frame too (JPEG); stdout one JSON object per tracks.csv row.
"""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path
from typing import Any, Optional, TextIO

import cv2

from ..errors import FqeError
from ..records import cell
from .pipeline import FaceRow, FinishedTrack
from .source import VideoSourceError

TRACK_COLUMNS = (
    "source",
    "track",
    "first_frame",
    "last_frame",
    "first_time",
    "last_time",
    "frames",
    "scored",
    "best_frame",
    "best_time",
    "q",
    "Q",
    "box",
    "face_score",
    "eye_distance",
    "crop",
    "flag",
    "error_kind",
    "error",
)
FACE_COLUMNS = ("source", "frame", "time", "track", "box", "q", "Q")
#: The ``flag`` of a track whose best Q stayed below --min-Q (reported, no crops written).
LOW_QUALITY = "below-min-Q"
#: faces.csv is flushed at least this often (seconds) besides at every track's end.
FLUSH_EVERY = 1.0


def _seconds(value: float) -> float:
    return round(float(value), 3)


def folder_name(source: str) -> str:
    """A source's folder under shots/: its name with anything but letters, digits, dot, dash and
    underscore made an underscore (a path's or URL's separators too), at most 100 characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_.") or "source"
    return safe[-100:]


class VideoOutput:
    """Writes one run's outputs into ``out`` (created); ``stdout`` gets the JSON lines (None: none)."""

    def __init__(self, out: Path, stdout: Optional[TextIO] = None) -> None:
        self.out = Path(out)
        self.stdout = stdout
        try:
            (self.out / "shots").mkdir(parents=True, exist_ok=True)
            self._tracks_file = open(self.out / "tracks.csv", "w", encoding="utf-8", newline="")
            self._faces_file = open(self.out / "faces.csv", "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise FqeError(f"cannot write into {out}: {exc.strerror or exc}") from exc
        self._tracks = csv.writer(self._tracks_file, lineterminator="\n")
        self._faces = csv.writer(self._faces_file, lineterminator="\n")
        self._tracks.writerow(TRACK_COLUMNS)
        self._faces.writerow(FACE_COLUMNS)
        self._flush()
        self._folders: dict[str, str] = {}
        self._last_flush = time.monotonic()
        self.tracks = self.shots = self.errors = 0

    def _folder(self, source: str) -> str:
        if source not in self._folders:
            name, n = folder_name(source), 1
            taken = set(self._folders.values())
            while (name if n == 1 else f"{name}-{n}") in taken:
                n += 1
            self._folders[source] = name if n == 1 else f"{name}-{n}"
        return self._folders[source]

    def face(self, row: FaceRow) -> None:
        self._faces.writerow(
            [cell(v) for v in (row.source, row.frame, _seconds(row.time), row.track, row.box, row.q, row.Q)]
        )
        if time.monotonic() - self._last_flush >= FLUSH_EVERY:
            self._flush()

    def track(self, track: FinishedTrack) -> dict[str, Any]:
        """Write a finished track's shots and its row; returns the row."""
        folder = self.out / "shots" / self._folder(track.source)
        crop = ""
        for rank, shot in enumerate(track.shots, 1):
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"track{track.track:05d}-{rank}-frame{shot.frame:07d}"
            self._image(folder / f"{stem}.png", shot.crop)
            if shot.image is not None:
                self._image(folder / f"{stem}.jpg", shot.image)
            if rank == 1:
                crop = (folder / f"{stem}.png").relative_to(self.out).as_posix()
            self.shots += 1
        best = track.best
        row = {
            "source": track.source,
            "track": track.track,
            "first_frame": track.first_frame,
            "last_frame": track.last_frame,
            "first_time": _seconds(track.first_time),
            "last_time": _seconds(track.last_time),
            "frames": track.frames,
            "scored": track.scored,
            "best_frame": best.frame if best else None,
            "best_time": _seconds(best.time) if best else None,
            "q": best.q if best else None,
            "Q": best.Q if best else None,
            "box": list(best.box) if best else None,
            "face_score": best.face_score if best else None,
            "eye_distance": best.eye_distance if best else None,
            "crop": crop,
            "flag": LOW_QUALITY if track.low_quality else "",
            "error_kind": "",
            "error": "",
        }
        self.tracks += 1
        self._row(row)
        return row

    def error(self, source: str, error: VideoSourceError) -> dict[str, Any]:
        """A source's error row (every other column empty)."""
        row: dict[str, Any] = {c: None for c in TRACK_COLUMNS}
        row.update(source=source, crop="", flag="", error_kind=error.kind, error=str(error))
        self.errors += 1
        self._row(row)
        return row

    def _image(self, path: Path, image: Any) -> None:
        ok, encoded = cv2.imencode(path.suffix, image, [cv2.IMWRITE_JPEG_QUALITY, 92] if path.suffix == ".jpg" else [])
        if not ok:
            raise FqeError(f"cannot encode {path}")
        path.write_bytes(encoded.tobytes())

    def _row(self, row: dict[str, Any]) -> None:
        self._tracks.writerow([cell(row[c]) for c in TRACK_COLUMNS])
        self._flush()
        if self.stdout is not None:
            self.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.stdout.flush()

    def _flush(self) -> None:
        self._tracks_file.flush()
        self._faces_file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        for handle in (self._tracks_file, self._faces_file):
            if not handle.closed:
                handle.close()

    def __enter__(self) -> "VideoOutput":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

"""Video sources: what a SOURCE argument names, opening it with timeouts, and reading its frames in a thread.

A SOURCE is a video file, a folder (its videos, sorted by path, searched recursively), a URL
(``rtsp://``, ``rtsps://``, ``http://``, ``https://``) or a camera (``/dev/videoN`` or its number).
Files and URLs are opened with OpenCV's FFmpeg backend, and the open and read timeouts are always
passed when opening (``CAP_PROP_OPEN_TIMEOUT_MSEC``, ``CAP_PROP_READ_TIMEOUT_MSEC``): without them
a stream whose camera went away can block ``read()`` forever.

Frames are read in their own thread into a small queue. A file is read as fast as it is processed
(the reader waits for room: no frame is ever dropped). A live source (URL or camera) is not
waited for: when the queue is full the oldest frame waiting is dropped and counted. A live source
that stalls (no frame for the read timeout) or ends is reopened with backoff (0.5 s, doubling, at
most 8 s between tries) up to ``reconnect`` times in a row, then ends with a ``disconnected`` error.

A source that fails is one ``VideoSourceError`` with a stable ``kind`` (``VIDEO_ERROR_KINDS``);
whatever it gave before failing has been processed by then.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Union
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import FqeError

if TYPE_CHECKING:
    import cv2

# FFmpeg's own messages ("[http @ 0x...] ...") would reach stderr without the source's name; what
# they say comes back as this module's errors. Set before OpenCV's FFmpeg is first used.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VIDEO_EXTENSIONS = (
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".mts",
    ".wmv",
    ".flv",
    ".3gp",
    ".ogv",
    ".mjpeg",
    ".mjpg",
)
URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
FILE, URL, CAMERA = "file", "url", "camera"

#: Stable kinds of a source's error row (``error_kind`` in tracks.csv).
VIDEO_ERROR_KINDS = {
    "not-found": "no such file or folder",
    "unopenable": "FFmpeg cannot open it: not a video, an unsupported codec, a URL that refuses or does not answer "
    "within --open-timeout, a camera that is busy or absent",
    "corrupt": "a video container that cannot be opened, that gives no frame, or whose decoding stops before the "
    "frames its container declares",
    "truncated": "the file is shorter than its container says (an interrupted copy or recording); the frames before "
    "the cut were processed",
    "too-large": "frames with more pixels than --max-pixels",
    "disconnected": "a live source stalled or ended and every reconnect (--reconnect) failed; what came before was "
    "processed",
}


class VideoSourceError(FqeError):
    """A source cannot be read (further); ``kind`` is one of VIDEO_ERROR_KINDS."""

    def __init__(self, message: str, kind: str) -> None:
        if kind not in VIDEO_ERROR_KINDS:
            raise ValueError(f"unknown video error kind {kind!r}")
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SourceSpec:
    """One source: its name as written in the outputs (a URL's password replaced by ***), its kind
    (file, url, camera) and what OpenCV opens."""

    name: str
    kind: str
    target: Union[str, int]

    @property
    def live(self) -> bool:
        """Live sources (URLs, cameras) are not waited for: frames are dropped when processing falls behind."""
        return self.kind != FILE


def redacted(url: str) -> str:
    """A URL as it may be written in outputs and messages: a password in it replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_source(text: str) -> SourceSpec:
    """What one SOURCE argument names (a folder is expanded by ``expand_sources``)."""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        if scheme not in URL_SCHEMES:
            raise FqeError(
                f"{redacted(text)}: unsupported URL scheme {scheme!r}; expected one of {', '.join(URL_SCHEMES)}"
            )
        return SourceSpec(redacted(text), URL, text)
    if text.isdigit():
        return SourceSpec(text, CAMERA, int(text))
    match = re.fullmatch(r"/dev/video(\d+)", text)
    if match:
        return SourceSpec(text, CAMERA, int(match.group(1)))
    return SourceSpec(text, FILE, text)


def expand_sources(arguments: list[str]) -> list[SourceSpec]:
    """Every source the arguments name, in order: a folder gives its videos (VIDEO_EXTENSIONS, any
    case), sorted by path. A missing path stays one source, which fails as ``not-found``."""
    specs = []
    for text in arguments:
        spec = parse_source(text)
        if spec.kind == FILE and os.path.isdir(text):
            found = sorted(p for p in Path(text).rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
            specs += [SourceSpec(str(p), FILE, str(p)) for p in found]
        else:
            specs.append(spec)
    return specs


# -- is a file cut short? ---------------------------------------------------------------------------


def _mp4_truncated(path: "os.PathLike[str] | str", size: int) -> Optional[bool]:
    """ISO BMFF (mp4, mov): walk the top-level boxes; truncated when one runs past the end or no moov box."""
    offset, moov = 0, False
    with open(path, "rb") as handle:
        while offset + 8 <= size:
            handle.seek(offset)
            header = handle.read(16)
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    return True
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8 or not all(32 <= c < 127 for c in box_type):
                return None  # not boxes as we know them (damaged): let FFmpeg judge
            moov = moov or box_type == b"moov"
            if offset + box_size > size:
                return True
            offset += box_size
    return not moov


def _ebml_vint(data: bytes, offset: int) -> tuple[int, int, bool]:
    """(value, length, unknown size) of the EBML variable-size integer at ``offset``."""
    first = data[offset]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or offset + length > len(data):
        raise ValueError("bad EBML integer")
    value = first & ((0x80 >> (length - 1)) - 1)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def _matroska_truncated(data: bytes, size: int) -> Optional[bool]:
    """Matroska/WebM: the Segment's declared size against the file's (unknown sizes say nothing)."""
    try:
        header_size, length, _ = _ebml_vint(data, 4)  # after the 4-byte EBML header ID
        offset = 4 + length + header_size
        if data[offset : offset + 4] != b"\x18\x53\x80\x67":
            return None
        segment_size, length, unknown = _ebml_vint(data, offset + 4)
    except (ValueError, IndexError):
        return None
    return None if unknown else offset + 4 + length + segment_size > size


def container_state(path: "os.PathLike[str] | str") -> tuple[str, bool]:
    """(container, truncated) from the file's first bytes and size: container is mp4, avi, matroska
    or '' (not recognised, then truncated is False)."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        data = handle.read(64)
    if data[4:8] == b"ftyp":
        return "mp4", bool(_mp4_truncated(path, size))
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi", struct.unpack("<I", data[4:8])[0] + 8 > size
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska", bool(_matroska_truncated(data, size))
    return "", False


# -- opening ----------------------------------------------------------------------------------------


@contextmanager
def opencv_log_errors_only() -> Iterator[None]:
    """OpenCV's own log at errors only for the block, then as it was. What OpenCV would warn about
    is said by this module, once and with the source's name: a failed open as its error, and the
    warning at every read timeout of a stalled stream ("Stream timeout triggered") as reconnects
    and a ``disconnected`` row. Opening always uses it; the CLI uses it for its whole run, while an
    app embedding the reader keeps its own log level."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_capture(spec: SourceSpec, open_timeout: float, read_timeout: float) -> "cv2.VideoCapture":
    """An opened cv2.VideoCapture for ``spec`` with both timeouts set, or VideoSourceError."""
    import cv2

    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout * 1000),
    ]
    if spec.kind == FILE:
        if not os.path.exists(spec.target):
            raise VideoSourceError(f"{spec.name}: no such file or folder", "not-found")
        if not os.path.isfile(spec.target) or not os.access(spec.target, os.R_OK):
            raise VideoSourceError(f"{spec.name}: not a readable regular file", "unopenable")
    started = time.monotonic()
    with opencv_log_errors_only():  # a failed open is our error, said once
        if spec.kind == CAMERA:
            capture = cv2.VideoCapture(spec.target, cv2.CAP_ANY, params)
            if not capture.isOpened():  # a backend without these properties refuses them: its own timeouts then
                capture = cv2.VideoCapture(spec.target, cv2.CAP_ANY)
        else:
            capture = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, params)
    if capture.isOpened():
        return capture
    capture.release()
    if spec.kind == FILE:
        container, truncated = container_state(str(spec.target))
        if truncated:
            raise VideoSourceError(
                f"{spec.name}: the {container} file is shorter than its container says, and "
                "nothing in it can be decoded",
                "truncated",
            )
        if container:
            raise VideoSourceError(f"{spec.name}: a {container} file FFmpeg cannot open (damaged header?)", "corrupt")
        raise VideoSourceError(f"{spec.name}: not a video FFmpeg can open", "unopenable")
    waited = time.monotonic() - started
    why = (
        f"no answer within --open-timeout {open_timeout:g} s"
        if waited >= open_timeout * 0.9
        else "refused or not a video"
    )
    raise VideoSourceError(f"{spec.name}: cannot open ({why})", "unopenable")


# -- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderSettings:
    """Timeouts (seconds), reconnects in a row for a live source, and the frames waiting at most."""

    open_timeout: float = 10.0
    read_timeout: float = 10.0
    reconnect: int = 5
    queue: int = 4

    def __post_init__(self) -> None:
        if self.open_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("the open and read timeouts must be above 0")
        if self.reconnect < 0 or self.queue < 1:
            raise ValueError("reconnect must be 0 or more, queue at least 1")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its number (decoded frames from 0), time (seconds from the start of the
    source: from the container for a file, the clock for a live source) and BGR image."""

    index: int
    time: float
    image: np.ndarray


BACKOFF_FIRST, BACKOFF_MAX = 0.5, 8.0
#: How often (seconds) a waiting thread looks whether it was told to stop: bounds every wait.
POLL = 0.1


class FrameReader:
    """Reads one source in a daemon thread; iterate ``frames()`` in the consumer. ``stop`` (an
    Event shared with the consumer) ends both sides within POLL, or within a read timeout for a
    read already blocked in FFmpeg (the thread is then left to finish on its own)."""

    def __init__(
        self, spec: SourceSpec, settings: ReaderSettings = ReaderSettings(), stop: Optional[threading.Event] = None
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.stop = stop or threading.Event()
        self._closed = threading.Event()
        self.decoded = 0
        self.dropped = 0
        self.reconnects = 0
        self.fps = 0.0
        self._queue: deque[Frame] = deque()
        self._ready = threading.Condition()
        self._done = False
        self._error: Optional[VideoSourceError] = None
        self._thread = threading.Thread(target=self._run, name=f"fqe-video-reader {spec.name}", daemon=True)

    # -- consumer side ----------------------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        """The frames in order (live: those not dropped); raises the source's VideoSourceError after
        its last frame; ends quietly when ``stop`` is set."""
        if not self._thread.is_alive() and not self._done:
            self._thread.start()
        while not self._stopped():
            with self._ready:
                if not self._queue and not self._done:
                    self._ready.wait(POLL)
                frame = self._queue.popleft() if self._queue else None
                done = self._done and not self._queue
                self._ready.notify_all()
            if frame is not None:
                yield frame
            elif done:
                if self._error is not None:
                    raise self._error
                return

    def close(self) -> None:
        """Tell the thread to stop and wait for it briefly (a read blocked in FFmpeg ends at its timeout)."""
        self._closed.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread.is_alive():
            self._thread.join(POLL * 5)

    def _stopped(self) -> bool:
        return self.stop.is_set() or self._closed.is_set()

    # -- reader side ------------------------------------------------------------------------------

    def _put(self, frame: Frame) -> None:
        with self._ready:
            if self.spec.live:
                while len(self._queue) >= self.settings.queue:
                    self._queue.popleft()
                    self.dropped += 1
            else:
                while len(self._queue) >= self.settings.queue and not self._stopped():
                    self._ready.wait(POLL)
            self._queue.append(frame)
            self._ready.notify_all()

    def _finish(self, error: Optional[VideoSourceError]) -> None:
        with self._ready:
            self._error = error
            self._done = True
            self._ready.notify_all()

    def _run(self) -> None:
        try:
            self._finish(self._read_all())
        except Exception as exc:  # a bug or an OpenCV failure: the source's error, never a silent thread death
            self._finish(VideoSourceError(f"{self.spec.name}: reading failed: {type(exc).__name__}: {exc}", "corrupt"))

    def _open(self) -> "cv2.VideoCapture":
        return open_capture(self.spec, self.settings.open_timeout, self.settings.read_timeout)

    def _read_all(self) -> Optional[VideoSourceError]:
        import cv2

        capture: Optional[cv2.VideoCapture]
        try:
            capture = self._open()
        except VideoSourceError as exc:
            return exc
        started = time.monotonic()
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and 0 < fps < 1000 else 0.0
        declared = capture.get(cv2.CAP_PROP_FRAME_COUNT) if not self.spec.live else 0
        try:
            while not self._stopped():
                ok, image = capture.read()
                if ok and image is not None:
                    if self.spec.live:
                        when = time.monotonic() - started
                    elif self.fps:
                        when = self.decoded / self.fps
                    else:
                        when = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    self._put(Frame(self.decoded, when, image))
                    self.decoded += 1
                    continue
                if not self.spec.live:
                    return self._file_end(declared)
                capture.release()
                capture = self._reconnect()
                if capture is None:
                    return (
                        None
                        if self._stopped()
                        else VideoSourceError(
                            f"{self.spec.name}: the stream stalled or ended and {self.settings.reconnect} reconnects "
                            "failed",
                            "disconnected",
                        )
                    )
        finally:
            if capture is not None:
                capture.release()
        return None

    def _reconnect(self) -> "Optional[cv2.VideoCapture]":
        """Reopen a live source with backoff, up to ``reconnect`` tries; None when every try failed."""
        delay = BACKOFF_FIRST
        for _ in range(self.settings.reconnect):
            waited_until = time.monotonic() + delay
            while time.monotonic() < waited_until:
                if self._stopped():
                    return None
                self._closed.wait(min(POLL, max(waited_until - time.monotonic(), 0)))
            delay = min(delay * 2, BACKOFF_MAX)
            self.reconnects += 1
            try:
                return self._open()
            except VideoSourceError:
                continue
        return None

    def _file_end(self, declared: float) -> Optional[VideoSourceError]:
        """A file's end: fine, or cut short (truncated), or damaged (corrupt)."""
        container, truncated = container_state(str(self.spec.target))
        if truncated:
            return VideoSourceError(
                f"{self.spec.name}: the {container} file is shorter than its container says; "
                f"{self.decoded} frames were decoded before the cut",
                "truncated",
            )
        if self.decoded == 0:
            return VideoSourceError(f"{self.spec.name}: no frame could be decoded", "corrupt")
        if declared and np.isfinite(declared) and self.decoded < declared - max(2, 0.02 * declared):
            return VideoSourceError(
                f"{self.spec.name}: decoding stopped at frame {self.decoded} of the "
                f"{declared:.0f} its container declares",
                "corrupt",
            )
        return None

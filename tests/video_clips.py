"""Small test videos made from scikit-image's astronaut, and an MJPEG server on 127.0.0.1 that can stall and drop."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 320, 240, 25
HEAD_WIDTH = 110


def head() -> np.ndarray:
    """The astronaut's head (BGR), about HEAD_WIDTH px wide: a face about 70 px wide."""
    from fqe_onnx.demo import astronaut_bgr

    crop = astronaut_bgr()[20:220, 130:320]
    return cv2.resize(crop, (HEAD_WIDTH, round(HEAD_WIDTH * 200 / 190)), interpolation=cv2.INTER_AREA)


def backdrop(seed: int = 0) -> np.ndarray:
    """A faceless background: smooth colour noise and a few flat rectangles."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(
        rng.integers(40, 210, (6, 8, 3)).astype(np.uint8), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC
    )
    for _ in range(4):
        x, y = (int(v) for v in rng.integers(0, [WIDTH, HEIGHT]))
        cv2.rectangle(image, (x, y), (x + 60, y + 30), tuple(int(c) for c in rng.integers(30, 230, 3)), -1)
    return image


def place(frame: np.ndarray, face: np.ndarray, x: int, y: int) -> None:
    """Paste ``face`` with its top-left corner at (x, y), clipped to the frame."""
    h, w = face.shape[:2]
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x2 > x1 and y2 > y1:
        frame[y1:y2, x1:x2] = face[y1 - y : y2 - y, x1 - x : x2 - x]


def passing(
    frames: int = 60, sharp: tuple[int, int] = (24, 36), blur: float = 3.0, speed: int = 8, face_from: int = 0
) -> list[np.ndarray]:
    """A face entering through the left edge and leaving through the right one, sharp only on the
    frames in ``sharp`` (inclusive) and blurred (Gaussian sigma ``blur``) elsewhere; before
    ``face_from`` the background is empty."""
    base, face = backdrop(), head()
    out = []
    for index in range(frames):
        frame = base.copy()
        if index >= face_from:
            k = index - face_from
            shown = face if sharp[0] <= index <= sharp[1] else cv2.GaussianBlur(face, (0, 0), blur)
            place(frame, shown, -HEAD_WIDTH + 10 + speed * k, 60)
        out.append(frame)
    return out


def standing(frames: int) -> list[np.ndarray]:
    """A face standing still in the middle of the frame."""
    base, face = backdrop(), head()
    frame = base.copy()
    place(frame, face, WIDTH // 2 - HEAD_WIDTH // 2, 50)
    return [frame] * frames


def write_video(path: Path, frames: list[np.ndarray], fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@dataclass
class Session:
    """What the server does with one connection: stream ``frames`` at FPS, then wait ``stall``
    seconds sending nothing, then close."""

    frames: list[np.ndarray]
    stall: float = 0.0


@dataclass
class LoopbackServer:
    """A server on 127.0.0.1 for one client at a time, one Session each; once the sessions are used
    up it stops listening (connections are refused). Bounded: it ends by itself after ``deadline``
    seconds at most. Subclasses say what a session is on the wire (``_serve``) and the ``url``."""

    sessions: list[Session]
    deadline: float = 60.0
    served: int = 0
    port: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def __enter__(self):  # the subclass itself
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(4)
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        end = time.monotonic() + self.deadline
        try:
            for index in range(len(self.sessions)):
                connection = None
                while connection is None and time.monotonic() < end and not self._stop.is_set():
                    try:
                        connection, _ = self._socket.accept()
                    except socket.timeout:
                        continue
                if connection is None:
                    return
                with connection:
                    self._serve(connection, index, end)
                self.served += 1
        finally:
            self._socket.close()

    def _serve(self, connection: socket.socket, index: int, end: float) -> None:
        raise NotImplementedError

    def _stall(self, seconds: float, end: float, finished: Optional[threading.Event] = None) -> None:
        """Send nothing for ``seconds`` (at most until ``end``), or until stopped or ``finished``."""
        stall_end = min(time.monotonic() + seconds, end)
        while time.monotonic() < stall_end and not self._stop.is_set() and not (finished and finished.is_set()):
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


@dataclass
class MjpegServer(LoopbackServer):
    """An HTTP multipart-JPEG stream."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def _serve(self, connection: socket.socket, index: int, end: float) -> None:
        session = self.sessions[index]
        connection.settimeout(2.0)
        try:
            connection.recv(4096)  # the request
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            for frame in session.frames:
                if time.monotonic() > end or self._stop.is_set():
                    return
                data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                connection.sendall(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data) + data + b"\r\n"
                )
                time.sleep(1 / FPS)
            self._stall(session.stall, end)
        except OSError:  # the client went away
            return


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (until closed)."""

    def __enter__(self) -> "SilentServer":
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(4)
        self.port = self._socket.getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def __exit__(self, *exc: object) -> None:
        self._socket.close()

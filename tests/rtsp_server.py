"""An RTSP camera on 127.0.0.1 for the live tests: H.264 over RTP, interleaved on the RTSP connection.

FFmpeg cannot serve a stream to an RTSP client by itself, but it can publish one (``-f rtsp``, the
ANNOUNCE/RECORD side). So each session's frames are encoded once by Debian's ``ffmpeg`` (libx264)
and published to a recorder in this module, which keeps the SDP and the RTP packets. The server (a
LoopbackServer: one client at a time, one Session each) then plays them to each client that
connects, paced by their RTP timestamps, as a camera would: OPTIONS, DESCRIBE, SETUP (TCP
interleaved, which OpenCV's FFmpeg asks for first; a SETUP for UDP is answered 461), PLAY,
TEARDOWN. After a session's packets it sends nothing for ``stall`` seconds, then drops the
connection; once the sessions are used up it stops listening. Every loop is bounded in time.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from video_clips import FPS, LoopbackServer, Session

RTP_CLOCK = 90_000


def ffmpeg() -> str:
    """Debian's ffmpeg: the test setup installs it (scripts/test.sh); its absence is a failure, not a skip."""
    path = shutil.which("ffmpeg")
    if path is None:
        raise RuntimeError("ffmpeg is missing: scripts/test.sh installs it (apt-get install ffmpeg)")
    return path


@dataclass
class Recording:
    """What FFmpeg published: the stream's SDP and its packets as (channel, bytes), in order."""

    sdp: bytes = b""
    packets: list[tuple[int, bytes]] = field(default_factory=list)


class Connection:
    """One RTSP connection: requests in (skipping the interleaved packets a client sends, its RTCP
    reports), responses and packets out (from two threads, so under a lock)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.lock = threading.Lock()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def packet(self) -> Optional[tuple[int, bytes]]:
        """The next interleaved packet if one is at the head of the input."""
        while len(self.buffer) < 4:
            if not self._fill():
                return None
        if self.buffer[:1] != b"$":
            return None
        channel, length = self.buffer[1], struct.unpack(">H", self.buffer[2:4])[0]
        while len(self.buffer) < 4 + length:
            if not self._fill():
                return None
        data, self.buffer = self.buffer[4 : 4 + length], self.buffer[4 + length :]
        return channel, data

    def request(self, on_packet: Callable[[int, bytes], None] = lambda c, d: None) -> Optional[tuple[str, dict, bytes]]:
        """(method, headers with lower-case names, body) of the next request; None when the peer closed."""
        while True:
            if not self.buffer and not self._fill():
                return None
            if self.buffer[:1] == b"$":
                got = self.packet()
                if got is None:
                    return None
                on_packet(*got)
                continue
            while b"\r\n\r\n" not in self.buffer:
                if not self._fill():
                    return None
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", 0))
            while len(self.buffer) < length:
                if not self._fill():
                    return None
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return lines[0].split(" ")[0], headers, body

    def reply(
        self, headers: dict, status: str = "200 OK", extra: Optional[list[str]] = None, body: bytes = b""
    ) -> None:
        lines = [f"RTSP/1.0 {status}", f"CSeq: {headers.get('cseq', '0')}"] + (extra or [])
        if body:
            lines.append(f"Content-Length: {len(body)}")
        with self.lock:
            self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def send_packet(self, channel: int, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(b"$" + bytes([channel]) + struct.pack(">H", len(data)) + data)


def record(frames: list[np.ndarray], deadline: float = 60.0) -> Recording:
    """Encode ``frames`` (BGR, one size) with libx264 and take what ffmpeg publishes over RTSP."""
    height, width = frames[0].shape[:2]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(deadline)
    port = listener.getsockname()[1]
    recording = Recording()
    failure: list[BaseException] = []

    def take() -> None:
        try:
            sock, _ = listener.accept()
            sock.settimeout(deadline)
            with sock:
                conn = Connection(sock)
                while True:
                    got = conn.request(lambda channel, data: recording.packets.append((channel, data)))
                    if got is None:
                        return
                    method, headers, body = got
                    extra = []
                    if method == "OPTIONS":
                        extra = ["Public: OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN"]
                    elif method == "ANNOUNCE":
                        recording.sdp = body
                    elif method == "SETUP":
                        extra = [f"Transport: {headers['transport']}", "Session: 1"]
                    elif method == "RECORD":
                        extra = ["Session: 1"]
                    conn.reply(headers, extra=extra)
                    if method == "TEARDOWN":
                        return
        except BaseException as exc:  # reported by the caller
            failure.append(exc)
        finally:
            listener.close()

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    command = [
        ffmpeg(), "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "14", "-g", str(FPS),
        "-pix_fmt", "yuv420p",
        "-f", "rtsp", "-rtsp_transport", "tcp", f"rtsp://127.0.0.1:{port}/publish",
    ]  # fmt: skip
    done = subprocess.run(
        command, input=b"".join(f.tobytes() for f in frames), capture_output=True, timeout=deadline, check=False
    )
    taker.join(deadline)
    if done.returncode != 0 or failure or not recording.sdp:
        raise RuntimeError(f"publishing through ffmpeg failed: {done.stderr.decode(errors='replace')} {failure}")
    return recording


@dataclass
class RtspServer(LoopbackServer):
    """An RTSP camera; ``transports`` keeps what each SETUP asked for."""

    transports: list[str] = field(default_factory=list)

    def __enter__(self) -> "RtspServer":
        self._recordings = [record(session.frames) for session in self.sessions]
        return super().__enter__()

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/camera"

    def _serve(self, connection: socket.socket, index: int, end: float) -> None:
        self._serve_session(Connection(connection), self.sessions[index], self._recordings[index], end)

    def _serve_session(self, conn: Connection, session: Session, recording: Recording, end: float) -> None:
        conn.sock.settimeout(0.2)
        finished = threading.Event()
        player: Optional[threading.Thread] = None
        try:
            while not finished.is_set() and time.monotonic() < end and not self._stop.is_set():
                try:
                    got = conn.request()
                except socket.timeout:
                    continue
                if got is None:
                    return
                method, headers, _ = got
                if method == "OPTIONS":
                    conn.reply(headers, extra=["Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"])
                elif method == "DESCRIBE":
                    conn.reply(
                        headers,
                        extra=["Content-Type: application/sdp", f"Content-Base: {self.url}/"],
                        body=recording.sdp,
                    )
                elif method == "SETUP":
                    self.transports.append(headers.get("transport", ""))
                    if "RTP/AVP/TCP" not in headers.get("transport", ""):
                        conn.reply(headers, "461 Unsupported Transport")
                    else:
                        conn.reply(headers, extra=["Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: 7"])
                elif method == "PLAY" and player is None:
                    conn.reply(headers, extra=["Session: 7", "Range: npt=0.000-"])
                    player = threading.Thread(
                        target=self._play, args=(conn, session, recording, end, finished), daemon=True
                    )
                    player.start()
                elif method == "TEARDOWN":
                    conn.reply(headers, extra=["Session: 7"])
                    return
                else:
                    conn.reply(headers, extra=["Session: 7"])
        except OSError:  # the client went away
            return
        finally:
            finished.set()
            if player is not None:
                player.join(2)

    def _play(
        self, conn: Connection, session: Session, recording: Recording, end: float, finished: threading.Event
    ) -> None:
        """The packets at their RTP times, then the stall; the connection is dropped when this returns."""
        started, first = time.monotonic(), None
        try:
            for channel, data in recording.packets:
                if finished.is_set() or self._stop.is_set() or time.monotonic() > end:
                    return
                if channel == 0:
                    stamp = struct.unpack(">I", data[4:8])[0]
                    first = stamp if first is None else first
                    wait = started + ((stamp - first) % 2**32) / RTP_CLOCK - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                conn.send_packet(channel, data)
            self._stall(session.stall, end, finished)
        except OSError:
            return
        finally:
            finished.set()
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

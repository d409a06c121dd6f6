"""Video sources without a server or a model: what a SOURCE names, how a cut or damaged container is
told apart, the errors of opening, and the frame reader (files read whole, live sources dropping,
reconnecting and giving up) over a stand-in capture. Fast: a few seconds in all."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest

from fqe_onnx.errors import FqeError
from fqe_onnx.video import source
from fqe_onnx.video.source import (
    FrameReader,
    ReaderSettings,
    SourceSpec,
    VideoSourceError,
    container_state,
    expand_sources,
    open_capture,
    parse_source,
    redacted,
)
from video_clips import backdrop, write_video

# -- what a SOURCE names ----------------------------------------------------------------------------


def test_a_password_in_a_url_is_never_written():
    assert redacted("rtsp://admin:hunter2@127.0.0.1:8554/live?x=1") == "rtsp://admin:***@127.0.0.1:8554/live?x=1"
    assert redacted("rtsp://:hunter2@127.0.0.1/live") == "rtsp://:***@127.0.0.1/live"  # a password alone
    assert redacted("rtsp://ad@min:p@ss@127.0.0.1/live") == "rtsp://ad@min:***@127.0.0.1/live"  # @ in both
    assert redacted("rtsp://admin@127.0.0.1/live") == "rtsp://admin@127.0.0.1/live"  # no password: as it is
    assert redacted("http://127.0.0.1/a.mjpg") == "http://127.0.0.1/a.mjpg"
    with pytest.raises(FqeError) as refused:
        parse_source("ftp://admin:hunter2@127.0.0.1/x.mp4")
    assert "hunter2" not in str(refused.value) and "ftp://admin:***@127.0.0.1/x.mp4" in str(refused.value)
    assert "expected one of rtsp, rtsps, http, https" in str(refused.value)


@pytest.mark.parametrize(
    "text,kind,target,live",
    [
        ("rtsps://127.0.0.1/a", "url", "rtsps://127.0.0.1/a", True),
        ("Http://127.0.0.1/a", "url", "Http://127.0.0.1/a", True),
        ("12", "camera", 12, True),
        ("/dev/video3", "camera", 3, True),
        ("/dev/video", "file", "/dev/video", False),
        ("/dev/video3x", "file", "/dev/video3x", False),
        ("/tmp/dev/video3", "file", "/tmp/dev/video3", False),
        ("12.mp4", "file", "12.mp4", False),
        ("http://127.0.0.1/play?from=rtsp://cam", "url", "http://127.0.0.1/play?from=rtsp://cam", True),  # the first
    ],
)
def test_what_each_source_argument_names(text, kind, target, live):
    spec = parse_source(text)
    assert (spec.kind, spec.target, spec.live, spec.name) == (kind, target, live, text)


def test_a_folder_gives_its_videos_sorted_by_path_and_other_arguments_stay_in_order(tmp_path):
    folder = tmp_path / "clips"
    (folder / "b" / "deep").mkdir(parents=True)
    for name in ("z.MKV", "a.mp4", "b/c.webm", "b/deep/d.Mjpg", "notes.txt", "b/e.mp4.txt", "noext"):
        (folder / name).write_bytes(b"x")
    (folder / "dir.mp4").mkdir()  # a folder named like a video is not one
    missing = str(tmp_path / "missing.mp4")
    specs = expand_sources(["0", str(folder), missing, "http://127.0.0.1/a.mjpg"])
    assert [(s.name, s.kind) for s in specs] == [
        ("0", "camera"),
        (str(folder / "a.mp4"), "file"),
        (str(folder / "b" / "c.webm"), "file"),
        (str(folder / "b" / "deep" / "d.Mjpg"), "file"),
        (str(folder / "z.MKV"), "file"),
        (missing, "file"),  # stays one source: it fails as not-found when opened
        ("http://127.0.0.1/a.mjpg", "url"),
    ]
    assert all(s.target == s.name for s in specs[1:5])
    assert expand_sources([str(tmp_path / "clips" / "b" / "deep")]) == [
        SourceSpec(str(folder / "b" / "deep" / "d.Mjpg"), "file", str(folder / "b" / "deep" / "d.Mjpg"))
    ]


def test_an_unknown_error_kind_is_a_bug_not_a_row():
    with pytest.raises(ValueError, match="unknown video error kind 'broken'"):
        VideoSourceError("x", "broken")
    assert VideoSourceError("x: gone", "disconnected").kind == "disconnected"


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(open_timeout=0), "the open and read timeouts must be above 0"),
        (dict(read_timeout=0), "the open and read timeouts must be above 0"),
        (dict(read_timeout=-1), "the open and read timeouts must be above 0"),
        (dict(reconnect=-1), "reconnect must be 0 or more, queue at least 1"),
        (dict(queue=0), "reconnect must be 0 or more, queue at least 1"),
    ],
)
def test_reader_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ReaderSettings(**settings)


def test_reader_settings_at_their_limits_are_accepted():
    assert ReaderSettings(open_timeout=0.001, read_timeout=0.001, reconnect=0, queue=1).queue == 1


# -- is a file cut short? ---------------------------------------------------------------------------


def box(kind: bytes, payload: bytes = b"") -> bytes:
    """One ISO BMFF box: 32-bit size, type, payload."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


FTYP = box(b"ftyp", b"isom\0\0\0\0isom")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data,state",
    [
        (FTYP + box(b"moov", b"\0" * 40) + box(b"mdat", b"\0" * 100), ("mp4", False)),
        (FTYP + box(b"mdat", b"\0" * 100) + box(b"moov", b"\0" * 40), ("mp4", False)),  # moov at the end
        (FTYP + box(b"mdat", b"\0" * 100), ("mp4", True)),  # no moov: the recording never finished
        (FTYP + box(b"moov", b"\0" * 40) + box(b"mdat", b"\0" * 100)[:-1], ("mp4", True)),  # one byte short
        (FTYP + box(b"moov", b"\0" * 40) + struct.pack(">I4s", 0, b"mdat") + b"\0" * 50, ("mp4", False)),  # to the end
        # a 64-bit size: complete, then one byte past the end
        (FTYP + box(b"moov") + struct.pack(">I4sQ", 1, b"mdat", 16 + 30) + b"\0" * 30, ("mp4", False)),
        (FTYP + box(b"moov") + struct.pack(">I4sQ", 1, b"mdat", 16 + 31) + b"\0" * 30, ("mp4", True)),
        (FTYP + box(b"moov") + struct.pack(">I4s", 1, b"mdat") + b"\0" * 4, ("mp4", True)),  # its size cut
        (FTYP + box(b"moov") + struct.pack(">I4s", 4, b"mdat") + b"\0" * 20, ("mp4", False)),  # damaged: FFmpeg's call
        (FTYP + box(b"moov") + struct.pack(">I4s", 20, b"md\x01t") + b"\0" * 12, ("mp4", False)),  # not a type
        (FTYP + box(b"moov") + struct.pack(">I4s", 8, b"md\x7ft") + b"\0" * 50, ("mp4", False)),
        (FTYP + box(b"moov") + struct.pack(">I4s", 100, b" ~~~"), ("mp4", True)),  # printable: a box, cut
        (FTYP + box(b"moov") + struct.pack(">I4s", 8, b"md\x7ft") + struct.pack(">I4s", 100, b"free"), ("mp4", False)),
        (FTYP + box(b"moov") + struct.pack(">I4s", 2**31, b"mdat") + b"\0" * 8, ("mp4", True)),  # 2 GB declared
        (FTYP + box(b"moov") + struct.pack(">I4sQ", 1, b"mdat", 2**64 - 16), ("mp4", True)),  # a 64-bit size
        (FTYP + struct.pack(">I4s", 0, b"mdat") + b"\0" * 50, ("mp4", True)),  # to the end, and no moov
    ],
)
def test_an_mp4_is_cut_short_when_a_box_runs_past_its_end_or_moov_is_missing(tmp_path, data, state):
    assert container_state(write(tmp_path / "v.mp4", data)) == state


def riff(declared: int, size: int) -> bytes:
    return (b"RIFF" + struct.pack("<I", declared) + b"AVI LIST").ljust(size, b"\0")


def test_an_avi_is_cut_short_when_riff_declares_more_than_the_file_holds(tmp_path):
    assert container_state(write(tmp_path / "a.avi", riff(92, 100))) == ("avi", False)
    assert container_state(write(tmp_path / "a.avi", riff(93, 100))) == ("avi", True)
    assert container_state(write(tmp_path / "a.avi", riff(2**32 - 1, 100))) == ("avi", True)
    assert container_state(write(tmp_path / "w.wav", b"RIFF" + struct.pack("<I", 999) + b"WAVE")) == ("", False)


def ebml_size(value: int, length: int) -> bytes:
    """An EBML variable-size integer of ``length`` bytes."""
    return ((1 << (7 * length)) | value).to_bytes(length, "big")


def matroska(segment: bytes, header_length: int = 1) -> bytes:
    """An EBML header (4 bytes of content) and a Segment whose size field is ``segment``."""
    return b"\x1a\x45\xdf\xa3" + ebml_size(4, header_length) + b"\x42\x86\x81\x01" + b"\x18\x53\x80\x67" + segment


@pytest.mark.parametrize("length", [1, 2, 3, 4, 8])
def test_a_matroska_file_is_cut_short_when_its_segment_is_longer_than_the_file(tmp_path, length):
    head = matroska(ebml_size(20, length), header_length=length)
    assert container_state(write(tmp_path / "v.mkv", head + b"\0" * 20)) == ("matroska", False)
    assert container_state(write(tmp_path / "v.mkv", head + b"\0" * 19)) == ("matroska", True)
    unknown = matroska(b"\x01\xff\xff\xff\xff\xff\xff\xff", header_length=length)  # live recording: size unknown
    assert container_state(write(tmp_path / "v.mkv", unknown)) == ("matroska", False)
    unknown_short = matroska(b"\xff", header_length=length)  # the 1-byte "unknown"
    assert container_state(write(tmp_path / "v.mkv", unknown_short)) == ("matroska", False)
    assert container_state(write(tmp_path / "v.mkv", head)) == ("matroska", True)  # its size the file's last byte


def test_a_damaged_matroska_header_says_nothing(tmp_path):
    no_segment = matroska(ebml_size(20, 1)).replace(b"\x18\x53\x80\x67", b"\x1f\x43\xb6\x75") + b"\0" * 5
    assert container_state(write(tmp_path / "v.mkv", no_segment)) == ("matroska", False)
    bad_size = b"\x1a\x45\xdf\xa3" + b"\x00" * 12  # no length marker in 8 bytes
    assert container_state(write(tmp_path / "v.mkv", bad_size)) == ("matroska", False)
    # no length marker, then bytes that read as a cut Segment if the size were taken as 8 or 9 bytes long
    for width in (8, 9):
        misread = b"\x00" + (4).to_bytes(width - 1, "big") + b"\x42\x86\x81\x01" + b"\x18\x53\x80\x67" + b"\xe4"
        assert container_state(write(tmp_path / "v.mkv", b"\x1a\x45\xdf\xa3" + misread)) == ("matroska", False)
    cut_size = b"\x1a\x45\xdf\xa3\x10\x00"  # a 4-byte size with 2 bytes left
    assert container_state(write(tmp_path / "v.mkv", cut_size)) == ("matroska", False)
    cut_segment = matroska(b"\x10\x00")  # the Segment's size cut
    assert container_state(write(tmp_path / "v.mkv", cut_segment)) == ("matroska", False)
    assert container_state(write(tmp_path / "v.mkv", b"\x1a\x45\xdf\xa3")) == ("matroska", False)  # the ID alone


def test_a_file_of_no_known_container_is_not_called_cut(tmp_path):
    assert container_state(write(tmp_path / "x.bin", b"")) == ("", False)
    assert container_state(write(tmp_path / "x.bin", b"\0\0\0\x20ftyX" + b"\0" * 40)) == ("", False)


# -- opening ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kind_of(text: str) -> tuple[str, str]:
    with pytest.raises(VideoSourceError) as error:
        open_capture(parse_source(text), 2.0, 2.0)
    return error.value.kind, str(error.value)


def test_each_way_a_source_fails_to_open_has_its_kind(tmp_path):
    assert kind_of(str(tmp_path / "missing.mp4")) == (
        "not-found",
        f"{tmp_path / 'missing.mp4'}: no such file or folder",
    )
    assert kind_of(str(tmp_path)) == ("unopenable", f"{tmp_path}: not a readable regular file")
    text = write(tmp_path / "notes.mkv", b"not a video at all\n")
    assert kind_of(str(text)) == ("unopenable", f"{text}: not a video FFmpeg can open")
    cut = write(tmp_path / "cut.mp4", FTYP + struct.pack(">I4s", 100000, b"mdat") + b"\0" * 100)
    assert kind_of(str(cut)) == (
        "truncated",
        f"{cut}: the mp4 file is shorter than its container says, and nothing in it can be decoded",
    )
    damaged = write(tmp_path / "damaged.mp4", FTYP + box(b"moov", bytes(range(200))))
    assert kind_of(str(damaged)) == ("corrupt", f"{damaged}: a mp4 file FFmpeg cannot open (damaged header?)")
    refused = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    assert kind_of(refused) == ("unopenable", f"{refused}: cannot open (refused or not a video)")
    assert kind_of("/dev/video97") == ("unopenable", "/dev/video97: cannot open (refused or not a video)")


def test_opening_leaves_opencvs_log_level_as_it_was(tmp_path):
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_DEBUG)
    try:
        kind_of(str(write(tmp_path / "notes.mkv", b"not a video at all\n")))
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_DEBUG
    finally:
        cv2.utils.logging.setLogLevel(level)


def test_the_quiet_block_logs_errors_only_and_then_restores_the_level_even_after_a_failure():
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_INFO)
    try:
        with pytest.raises(RuntimeError):
            with source.opencv_log_errors_only():
                assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_ERROR
                raise RuntimeError("the run failed")
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_INFO
    finally:
        cv2.utils.logging.setLogLevel(level)


def test_a_url_that_never_answers_is_unopenable_within_its_open_timeout():
    from video_clips import SilentServer

    with SilentServer() as server:
        started = time.monotonic()
        with pytest.raises(VideoSourceError) as error:
            open_capture(parse_source(server.url), 0.5, 5.0)
        took = time.monotonic() - started
    assert error.value.kind == "unopenable" and 0.45 <= took < 5
    assert str(error.value) == f"{server.url}: cannot open (no answer within --open-timeout 0.5 s)"


def made_captures(monkeypatch, takes_timeouts: bool = True) -> list:
    """Stands in for cv2.VideoCapture: records (target, backend, params, OpenCV's log level) of each
    one made; a backend that does not take the timeouts refuses to open with them."""
    made = []

    class Made:
        def __init__(self, target, backend=cv2.CAP_ANY, params=None):
            made.append((target, backend, params, cv2.utils.logging.getLogLevel()))
            self.opened = params is None or takes_timeouts

        def isOpened(self):
            return self.opened

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Made)
    return made


def timeouts(open_ms: int, read_ms: int) -> list[int]:
    return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms]


def test_a_url_is_opened_with_ffmpeg_both_timeouts_in_milliseconds_and_opencvs_errors_only(monkeypatch):
    made = made_captures(monkeypatch)
    open_capture(parse_source("rtsp://127.0.0.1:8554/live"), 2.5, 1.5)
    assert made == [
        ("rtsp://127.0.0.1:8554/live", cv2.CAP_FFMPEG, timeouts(2500, 1500), cv2.utils.logging.LOG_LEVEL_ERROR)
    ]


@pytest.mark.parametrize("takes_timeouts", [True, False])
def test_a_camera_is_opened_with_the_timeouts_or_without_them_where_its_backend_refuses_them(
    monkeypatch, takes_timeouts
):
    made = made_captures(monkeypatch, takes_timeouts)
    open_capture(parse_source("/dev/video3"), 2.0, 1.0)
    tries = [(3, timeouts(2000, 1000))] + ([] if takes_timeouts else [(3, None)])
    assert [(target, params) for target, _, params, _ in made] == tries


# -- reading ----------------------------------------------------------------------------------------


def test_a_file_gives_every_frame_in_order_at_its_container_times(tmp_path):
    frames = [np.full((240, 320, 3), 10 * k, np.uint8) for k in range(12)]
    video = write_video(tmp_path / "v.avi", frames, "MJPG")
    reader = FrameReader(parse_source(str(video)), ReaderSettings(queue=1))
    seen = list(reader.frames())
    assert [f.index for f in seen] == list(range(12)) and reader.decoded == 12 and reader.dropped == 0
    assert [f.time for f in seen] == pytest.approx([k / 25 for k in range(12)])
    assert reader.fps == 25 and seen[5].image.shape == (240, 320, 3)
    assert abs(int(seen[5].image.mean()) - 50) <= 3  # the sixth frame's pixels, MJPG-coded


def test_a_file_cut_short_gives_its_frames_then_truncated(tmp_path):
    whole = write_video(tmp_path / "whole.avi", [backdrop(k % 3) for k in range(40)], "MJPG").read_bytes()
    cut = write(tmp_path / "cut.avi", whole[: len(whole) * 6 // 10])
    reader = FrameReader(parse_source(str(cut)))
    indices = []
    with pytest.raises(VideoSourceError) as error:
        for frame in reader.frames():
            indices.append(frame.index)
    assert error.value.kind == "truncated" and indices == list(range(len(indices))) and 10 < len(indices) < 40
    assert str(error.value) == (
        f"{cut}: the avi file is shorter than its container says; {len(indices)} frames were decoded before the cut"
    )


def test_a_source_that_cannot_open_raises_its_error_from_the_frames(tmp_path):
    reader = FrameReader(parse_source(str(tmp_path / "missing.mp4")))
    with pytest.raises(VideoSourceError) as error:
        list(reader.frames())
    assert error.value.kind == "not-found" and reader.decoded == 0


class Capture:
    """Stands in for an opened cv2.VideoCapture: ``frames`` frames (an int: that many; None: endless),
    then every read fails, as a stream that ended or a file at its end."""

    def __init__(self, frames: Optional[int] = 5, fps: float = 25.0, count: float = 0.0, fail: bool = False):
        self.left, self.fps, self.count, self.fail = frames, fps, count, fail
        self.reads = 0
        self.released = False

    def read(self):
        if self.fail:
            raise RuntimeError("the decoder fell over")
        if self.left is not None and self.reads >= self.left:
            return False, None
        self.reads += 1
        return True, np.full((4, 6, 3), self.reads % 256, np.uint8)

    def get(self, prop):
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return self.count
        if prop == cv2.CAP_PROP_POS_MSEC:
            return 10000.0 * self.reads  # the container's own clock: 10 s a frame
        return 0.0

    def release(self):
        self.released = True


class Opener:
    """Stands in for ``open_capture``: each call takes the next outcome (a Capture, or an error
    raised), then refuses; records when each call came."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[float] = []

    def __call__(self, spec, open_timeout, read_timeout):
        self.calls.append(time.monotonic())
        outcome = self.outcomes.pop(0) if self.outcomes else VideoSourceError(f"{spec.name}: refused", "unopenable")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def quick_backoff(monkeypatch):
    """Backoff of 20 ms doubling up to 50 ms, so that reconnect tests take a fraction of a second."""
    monkeypatch.setattr(source, "BACKOFF_FIRST", 0.02)
    monkeypatch.setattr(source, "BACKOFF_MAX", 0.05)


LIVE = SourceSpec("http://127.0.0.1:9/stream.mjpg", "url", "http://127.0.0.1:9/stream.mjpg")


def test_a_live_source_is_reopened_and_gives_up_after_its_reconnects_in_a_row(monkeypatch, quick_backoff):
    first, second = Capture(3), Capture(2)
    opener = Opener(first, VideoSourceError("x: refused", "unopenable"), second)
    monkeypatch.setattr(source, "open_capture", opener)
    reader = FrameReader(LIVE, ReaderSettings(reconnect=2, queue=10))
    seen = []
    with pytest.raises(VideoSourceError) as error:
        for frame in reader.frames():
            seen.append(frame.index)
            time.sleep(0.01)
    assert seen == [0, 1, 2, 3, 4]  # frame numbers go on across the reconnect
    assert error.value.kind == "disconnected"
    assert str(error.value) == f"{LIVE.name}: the stream stalled or ended and 2 reconnects failed"
    # one open, two tries after the first stream ended (the first refused), two after the second
    assert len(opener.calls) == 5 and reader.reconnects == 4
    assert first.released and second.released
    gaps = np.diff(opener.calls)
    assert gaps[1] >= 0.04 and gaps[3] >= 0.04  # the second try of each run waited twice the first delay
    assert gaps[2] >= 0.02


def test_the_backoff_doubles(monkeypatch):
    monkeypatch.setattr(source, "BACKOFF_FIRST", 0.05)
    opener = Opener(Capture(1))
    monkeypatch.setattr(source, "open_capture", opener)
    reader = FrameReader(LIVE, ReaderSettings(reconnect=3))
    with pytest.raises(VideoSourceError):
        list(reader.frames())
    gaps = np.diff(opener.calls)  # after the first open: 50, 100, 200 ms (0.35 s)
    assert len(gaps) == 3 and gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert sum(gaps) < 0.55  # tripling would wait 50 + 150 + 450 ms


def test_the_backoff_stops_growing_at_its_cap(monkeypatch):
    monkeypatch.setattr(source, "BACKOFF_FIRST", 0.02)
    monkeypatch.setattr(source, "BACKOFF_MAX", 0.04)
    opener = Opener(Capture(1))
    monkeypatch.setattr(source, "open_capture", opener)
    reader = FrameReader(LIVE, ReaderSettings(reconnect=6))
    with pytest.raises(VideoSourceError):
        list(reader.frames())
    gaps = np.diff(opener.calls)  # after the first open: 20 ms, then 40 ms five times (0.22 s)
    assert len(gaps) == 6 and reader.reconnects == 6
    assert gaps[0] >= 0.02 and all(gap >= 0.04 for gap in gaps[1:])
    assert sum(gaps) < 0.5  # past the cap: 1.26 s; each wait rounded up to 0.1 s: 0.6 s


def test_without_reconnects_a_live_source_that_ends_is_disconnected_at_once(monkeypatch, quick_backoff):
    opener = Opener(Capture(2))
    monkeypatch.setattr(source, "open_capture", opener)
    reader = FrameReader(LIVE, ReaderSettings(reconnect=0))
    with pytest.raises(VideoSourceError, match="0 reconnects failed"):
        list(reader.frames())
    assert len(opener.calls) == 1 and reader.reconnects == 0


def test_a_live_source_keeps_the_newest_frames_when_the_consumer_is_slow(monkeypatch):
    monkeypatch.setattr(source, "open_capture", Opener(Capture(50)))
    reader = FrameReader(LIVE, ReaderSettings(reconnect=0, queue=3))
    frames = reader.frames()
    seen = [next(frames).index]
    deadline = time.monotonic() + 10
    while reader.decoded < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(VideoSourceError):
        for frame in frames:
            seen.append(frame.index)
    assert reader.decoded == 50 and seen[-3:] == [47, 48, 49] and seen == sorted(seen)
    assert len(seen) in (3, 4) and len(seen) == 50 - reader.dropped  # the first, then the newest 3


def test_a_live_sources_times_are_its_clock(monkeypatch):
    monkeypatch.setattr(source, "open_capture", Opener(Capture(3, fps=0.5)))
    reader = FrameReader(LIVE, ReaderSettings(reconnect=0, queue=10))
    started = time.monotonic()
    times = []
    with pytest.raises(VideoSourceError):
        for frame in reader.frames():
            times.append(frame.time)
    assert len(times) == 3 and times == sorted(times)
    assert 0 <= times[0] and times[-1] <= time.monotonic() - started < 2  # not 0, 2, 4 s, nor 10, 20, 30 s


@pytest.mark.parametrize("fps", [0.0, float("nan"), 1000.0, -5.0])
def test_a_file_without_a_believable_frame_rate_takes_its_times_from_the_container(monkeypatch, tmp_path, fps):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(3, fps=fps)))
    reader = FrameReader(parse_source(str(plain)))
    assert [f.time for f in reader.frames()] == pytest.approx([10.0, 20.0, 30.0])
    assert reader.fps == 0.0


def test_a_file_with_a_frame_rate_is_timed_by_its_frame_numbers(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(3, fps=999.0)))
    reader = FrameReader(parse_source(str(plain)))
    assert [f.time for f in reader.frames()] == pytest.approx([0, 1 / 999, 2 / 999])
    assert reader.fps == 999.0


@pytest.mark.parametrize(
    "decoded,declared,kind",
    [
        (10, 0.0, None),  # no count declared
        (10, float("nan"), None),
        (10, 12.0, None),  # up to 2 frames short is a count rounded by the container
        (10, 13.0, "corrupt"),
        (200, 204.0, None),  # or 2 % of a long video
        (200, 205.0, "corrupt"),
        (0, 0.0, "corrupt"),  # nothing decoded at all
    ],
)
def test_a_file_that_stops_before_its_declared_frames_is_corrupt(monkeypatch, tmp_path, decoded, declared, kind):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(decoded, count=declared)))
    reader = FrameReader(parse_source(str(plain)), ReaderSettings(queue=300))
    indices = []
    try:
        for frame in reader.frames():
            indices.append(frame.index)
        error = None
    except VideoSourceError as exc:
        error = exc
    assert indices == list(range(decoded))
    assert (error and error.kind) == kind
    if kind and decoded:
        assert (
            str(error) == f"{plain}: decoding stopped at frame {decoded} of the {declared:.0f} its container declares"
        )
    elif kind:
        assert str(error) == f"{plain}: no frame could be decoded"


def test_a_failure_while_reading_is_the_sources_corrupt_error_not_a_dead_thread(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    capture = Capture(fail=True)
    monkeypatch.setattr(source, "open_capture", Opener(capture))
    reader = FrameReader(parse_source(str(plain)))
    with pytest.raises(VideoSourceError) as error:
        list(reader.frames())
    assert error.value.kind == "corrupt"
    assert str(error.value) == f"{plain}: reading failed: RuntimeError: the decoder fell over"
    assert capture.released


def test_stop_ends_an_endless_source_quietly_and_the_thread_with_it(monkeypatch):
    capture = Capture(None)
    monkeypatch.setattr(source, "open_capture", Opener(capture))
    stop = threading.Event()
    reader = FrameReader(LIVE, ReaderSettings(queue=2), stop)
    seen = []
    for frame in reader.frames():  # no error: stopping is not a failure
        seen.append(frame.index)
        if len(seen) == 5:
            stop.set()
    assert len(seen) == 5
    reader._thread.join(2)
    assert not reader._thread.is_alive() and capture.released


def test_close_stops_the_reader_waiting_for_room(monkeypatch, tmp_path):
    """A file's reader waits for room in the queue; close ends that wait, and the thread."""
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    capture = Capture(None)
    monkeypatch.setattr(source, "open_capture", Opener(capture))
    reader = FrameReader(parse_source(str(plain)), ReaderSettings(queue=1))
    frames = reader.frames()
    assert next(frames).index == 0
    time.sleep(0.2)
    assert capture.reads <= 3  # the reader waits: one frame taken, one queued, one in hand
    reader.close()
    assert not reader._thread.is_alive() and capture.released
    assert list(frames) == []  # closed: the iteration ends


def test_stop_during_the_backoff_ends_the_reconnects_without_an_error(monkeypatch):
    monkeypatch.setattr(source, "open_capture", Opener(Capture(1)))
    monkeypatch.setattr(source, "BACKOFF_FIRST", 5.0)  # a long wait, cut short by stop
    stop = threading.Event()
    reader = FrameReader(LIVE, ReaderSettings(reconnect=3), stop)
    frames = reader.frames()
    assert next(frames).index == 0
    time.sleep(0.1)
    started = time.monotonic()
    stop.set()
    assert list(frames) == []
    reader._thread.join(2)
    assert not reader._thread.is_alive() and time.monotonic() - started < 1.5
    assert reader._error is None and reader.reconnects == 0


class Stalled(Capture):
    """A stream that gives ``frames`` frames, then blocks in read() until ``release`` is set (5 s at
    most), as FFmpeg does on a stalled stream; then its frames go on (``then`` more)."""

    def __init__(self, frames: int = 0, then: int = 0):
        super().__init__(frames + then)
        self.first, self.release = frames, threading.Event()

    def read(self):
        if self.reads == self.first:
            self.release.wait(5)
        return super().read()


def test_a_reader_not_yet_started_or_that_failed_knows_no_frame_rate(tmp_path):
    reader = FrameReader(parse_source(str(tmp_path / "missing.mp4")))
    assert reader.fps == 0.0
    with pytest.raises(VideoSourceError):
        list(reader.frames())
    assert reader.fps == 0.0 and reader.decoded == 0


def test_the_reader_is_a_daemon_thread_named_after_its_source(monkeypatch):
    monkeypatch.setattr(source, "open_capture", Opener(Capture(None)))
    reader = FrameReader(LIVE, ReaderSettings(queue=2))
    frames = reader.frames()
    next(frames)
    (thread,) = [t for t in threading.enumerate() if t.name == f"fqe-video-reader {LIVE.name}"]
    assert thread.daemon  # a read blocked in FFmpeg never keeps the program from exiting
    reader.close()


def test_a_finished_source_gives_nothing_more_when_asked_again(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(3)))
    reader = FrameReader(parse_source(str(plain)))
    assert [f.index for f in reader.frames()] == [0, 1, 2]
    assert list(reader.frames()) == []


def test_frames_are_handed_over_as_fast_as_they_are_read(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(300)))
    reader = FrameReader(parse_source(str(plain)))
    started = time.monotonic()
    assert len(list(reader.frames())) == 300
    assert time.monotonic() - started < 3  # not a wait of POLL (0.1 s) a frame


def test_a_slow_timelapse_frame_rate_is_believed(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    monkeypatch.setattr(source, "open_capture", Opener(Capture(3, fps=0.5)))
    reader = FrameReader(parse_source(str(plain)))
    assert [f.time for f in reader.frames()] == [0.0, 2.0, 4.0] and reader.fps == 0.5


def test_a_read_that_fails_with_an_image_ends_the_file(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    capture = Capture(2)
    capture.read = lambda: (False, np.zeros((4, 6, 3), np.uint8)) if capture.reads >= 2 else Capture.read(capture)
    monkeypatch.setattr(source, "open_capture", Opener(capture))
    assert [f.index for f in FrameReader(parse_source(str(plain))).frames()] == [0, 1]


def test_stop_from_another_thread_ends_a_wait_for_a_stalled_stream(monkeypatch):
    stalled = Stalled(1)
    monkeypatch.setattr(source, "open_capture", Opener(stalled))
    stop = threading.Event()
    reader = FrameReader(LIVE, ReaderSettings(), stop)
    frames = reader.frames()
    assert next(frames).index == 0
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert list(frames) == []  # the consumer waits for a frame that does not come, and sees stop
    assert time.monotonic() - started < 1.5
    stalled.release.set()


def test_close_returns_while_a_read_is_blocked(monkeypatch):
    stalled = Stalled(1)
    monkeypatch.setattr(source, "open_capture", Opener(stalled))
    reader = FrameReader(LIVE)
    frames = reader.frames()
    next(frames)
    time.sleep(0.1)
    started = time.monotonic()
    reader.close()  # the thread is left to finish its read on its own
    assert time.monotonic() - started < 2
    stalled.release.set()


def test_stop_ends_a_file_reader_waiting_for_room(monkeypatch, tmp_path):
    plain = write(tmp_path / "v.bin", b"\0" * 64)
    capture = Capture(None)
    monkeypatch.setattr(source, "open_capture", Opener(capture))
    stop = threading.Event()
    reader = FrameReader(parse_source(str(plain)), ReaderSettings(queue=1), stop)
    next(reader.frames())
    time.sleep(0.1)
    stop.set()  # the consumer stops, telling nobody
    reader._thread.join(1.5)
    assert not reader._thread.is_alive() and capture.released


def test_a_live_queue_keeps_exactly_the_newest_frames(monkeypatch):
    stalled = Stalled(1, then=49)
    monkeypatch.setattr(source, "open_capture", Opener(stalled))
    reader = FrameReader(LIVE, ReaderSettings(reconnect=0, queue=3))
    frames = reader.frames()
    seen = [next(frames).index]  # frame 0 alone, the stream holding the rest back
    stalled.release.set()
    deadline = time.monotonic() + 10
    while reader.decoded < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(VideoSourceError):
        for frame in frames:
            seen.append(frame.index)
    assert seen == [0, 47, 48, 49] and reader.dropped == 46


def test_a_live_stream_that_stalls_ends_within_its_read_timeout():
    from video_clips import MjpegServer, Session

    with MjpegServer([Session([backdrop()] * 3, stall=8)], deadline=15) as server:
        reader = FrameReader(parse_source(server.url), ReaderSettings(open_timeout=5, read_timeout=0.5, reconnect=0))
        started = time.monotonic()
        with pytest.raises(VideoSourceError) as error:
            for _ in reader.frames():
                pass
        took = time.monotonic() - started
    assert error.value.kind == "disconnected" and reader.decoded == 3 and took < 4


def test_waiting_for_a_stalled_stream_costs_no_cpu(monkeypatch):
    stalled = Stalled(1)
    monkeypatch.setattr(source, "open_capture", Opener(stalled))
    stop = threading.Event()
    reader = FrameReader(LIVE, ReaderSettings(), stop)
    frames = reader.frames()
    next(frames)
    threading.Timer(0.6, stop.set).start()
    cpu = time.process_time()
    assert list(frames) == []  # 0.6 s waiting for a frame, then stopped
    assert time.process_time() - cpu < 0.3  # waiting, not spinning
    stalled.release.set()

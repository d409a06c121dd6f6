"""fqe-onnx video on live streams served on 127.0.0.1 by a thread of the test: HTTP MJPEG, and an
RTSP camera sending H.264 (tests/rtsp_server.py, encoded by Debian's ffmpeg). A stall, a dropped
connection, SIGTERM, and a URL that never answers. Every server loop ends by itself."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fqe_onnx.cli import main
from fqe_onnx.video.source import FrameReader, ReaderSettings, parse_source
from rtsp_server import RtspServer
from video_clips import MjpegServer, Session, SilentServer, backdrop, passing, standing, write_video


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_stream_that_stalls_then_drops_is_reopened_and_no_finished_track_is_lost(tmp_path):
    """Connection 1: a face passes, then the stream stalls (longer than --read-timeout) and the
    connection drops. Connection 2: another face passes, then the server closes and stops
    listening: the reconnects fail and the source ends with a 'disconnected' row."""
    first = passing(frames=45, sharp=(15, 25), speed=12) + [backdrop()] * 10
    second = passing(frames=45, sharp=(15, 25), speed=12) + [backdrop()] * 10
    out = tmp_path / "out"
    started = time.monotonic()
    with MjpegServer([Session(first, stall=2.5), Session(second)], deadline=60) as server:
        result = CliRunner().invoke(
            main,
            [
                "video",
                server.url,
                "-o",
                str(out),
                "--read-timeout",
                "1",
                "--open-timeout",
                "5",
                "--reconnect",
                "2",
                "--no-progress",
            ],
            catch_exceptions=False,
        )
        served = server.served
    assert time.monotonic() - started < 60
    assert served == 2
    assert result.exit_code == 1, result.stderr
    rows = read_csv(out / "tracks.csv")
    tracks = [r for r in rows if not r["error_kind"]]
    assert len(tracks) == 2, rows  # one per pass: the first, finished before the stall, is kept
    assert all(r["crop"] and (out / r["crop"]).is_file() for r in tracks)
    assert float(tracks[1]["first_time"]) > float(tracks[0]["last_time"]) + 1.0  # the stall lies between
    assert int(tracks[1]["first_frame"]) > int(tracks[0]["last_frame"])  # frame numbers go on across reconnects
    assert [r["error_kind"] for r in rows if r["error_kind"]] == ["disconnected"]
    assert "reconnects" in result.stderr
    assert len(result.stdout.splitlines()) == 3


def rtsp_story(tmp_path: Path, lead_in: int, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list, list]:
    """Two connections to an RTSP camera, each with ``lead_in`` empty frames and then a face passing;
    the first stalls and drops, the second ends and the camera goes away. fqe-onnx video runs as its
    own process so that everything it prints is seen. (result, tracks.csv rows, transports asked)"""
    story = [backdrop()] * lead_in + passing(frames=45, sharp=(15, 25), speed=12) + [backdrop()] * 10
    out = tmp_path / "out"
    with RtspServer([Session(story, stall=2.5), Session(story)], deadline=90) as server:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "fqe_onnx", "video", server.url, "-o", str(out), "--read-timeout", "1"]
            + ["--open-timeout", "5", "--reconnect", "2", "--no-progress"],
            capture_output=True,
            text=True,
            timeout=80,
            env={**os.environ, **env},
        )
        assert time.monotonic() - started < 60
        assert server.served == 2, done.stderr
        transports = server.transports
    return done, read_csv(out / "tracks.csv"), transports


def dropped(stderr: str) -> int:
    return int(re.search(r"sources: \d+ frames decoded, (\d+) dropped", stderr).group(1))


def test_an_rtsp_camera_that_stalls_then_drops_is_reopened_and_no_finished_track_is_lost(tmp_path):
    """The stall-and-drop story over RTSP (H.264, RTP interleaved on TCP). OpenCV's read-timeout
    warnings must not reach stderr. Each connection starts with 2 s of empty background: FFmpeg
    reads about a second of the stream on every (re)connect, and that backlog is dropped (next test)."""
    done, rows, transports = rtsp_story(tmp_path, lead_in=50, env={})
    assert transports == ["RTP/AVP/TCP;unicast;interleaved=0-1"] * 2
    assert done.returncode == 1, done.stderr
    tracks = [r for r in rows if not r["error_kind"]]
    assert len(tracks) == 2, (rows, done.stderr)
    assert all(r["crop"] and (tmp_path / "out" / r["crop"]).is_file() for r in tracks)
    assert all(float(r["Q"]) >= 50 for r in tracks), tracks  # H.264 at crf 14 keeps the sharp frames sharp
    assert float(tracks[1]["first_time"]) > float(tracks[0]["last_time"]) + 1.0
    assert int(tracks[1]["first_frame"]) > int(tracks[0]["last_frame"])
    assert [r["error_kind"] for r in rows if r["error_kind"]] == ["disconnected"]
    assert "3 reconnects" in done.stderr
    assert "WARN" not in done.stderr and "Stream timeout" not in done.stderr, done.stderr
    assert [json.loads(line)["track"] for line in done.stdout.splitlines()] == [
        int(tracks[0]["track"]),
        int(tracks[1]["track"]),
        None,
    ]


def test_the_backlog_of_an_rtsp_connect_is_dropped_unless_ffmpeg_is_told_to_probe_less(tmp_path):
    """docs/guides/video.md, both ways, with a face passing right after each connect: by default
    the second FFmpeg reads while opening arrives at once and is dropped as a backlog; with the
    OpenCV option the guide gives, frames come at the camera's pace and both faces are tracked."""
    done, rows, _ = rtsp_story(tmp_path / "default", lead_in=0, env={})
    assert dropped(done.stderr) >= 20, done.stderr  # about 27 frames per connect, less the queue
    done, rows, _ = rtsp_story(
        tmp_path / "probe", lead_in=0, env={"OPENCV_FFMPEG_CAPTURE_OPTIONS": "rtsp_flags;prefer_tcp|probesize;32"}
    )
    assert dropped(done.stderr) == 0, done.stderr
    assert len([r for r in rows if not r["error_kind"]]) == 2, (rows, done.stderr)


@pytest.mark.parametrize(
    "sig, status, said", [(signal.SIGTERM, 143, "terminated (SIGTERM)"), (signal.SIGINT, 130, "interrupted (SIGINT)")]
)
def test_a_signal_writes_the_open_tracks(tmp_path, sig, status, said):
    out = tmp_path / "out"
    with MjpegServer([Session(standing(25 * 40))], deadline=60) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "fqe_onnx", "video", server.url, "-o", str(out), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and process.poll() is None:
                faces = out / "faces.csv"
                if faces.exists() and len(faces.read_text().splitlines()) > 5:  # a confirmed track, followed
                    break
                time.sleep(0.2)
            assert process.poll() is None, process.communicate()[1]
            os.kill(process.pid, sig)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == status, stderr
    (track,) = read_csv(out / "tracks.csv")
    assert track["error_kind"] == "" and (out / track["crop"]).is_file()
    assert json.loads(stdout)["track"] == int(track["track"])
    assert said in stderr


@pytest.mark.parametrize("scheme", ["http", "rtsp"])
def test_a_url_that_never_answers_ends_with_a_clear_error_within_the_timeout(tmp_path, scheme):
    out = tmp_path / "out"
    with SilentServer() as server:
        url = f"{scheme}://127.0.0.1:{server.port}/stream"
        started = time.monotonic()
        result = CliRunner().invoke(
            main, ["video", url, "-o", str(out), "--open-timeout", "1", "--no-progress"], catch_exceptions=False
        )
        took = time.monotonic() - started
    assert took < 15
    assert result.exit_code == 1
    (row,) = read_csv(out / "tracks.csv")
    assert row["error_kind"] == "unopenable"
    assert "no answer within --open-timeout 1 s" in row["error"]


def test_a_live_source_drops_the_oldest_frames_when_processing_falls_behind():
    frames = [backdrop(k % 3) for k in range(60)]
    with MjpegServer([Session(frames)], deadline=30) as server:
        reader = FrameReader(
            parse_source(server.url), ReaderSettings(open_timeout=5, read_timeout=2, reconnect=0, queue=2)
        )
        seen = []
        started = time.monotonic()
        try:
            for frame in reader.frames():  # a consumer slower than the stream's 25 frames/s
                seen.append(frame.index)
                assert len(reader._queue) <= 2
                time.sleep(0.15)
                if time.monotonic() - started > 20:
                    break
        except Exception as exc:  # the stream ends: reconnect 0 makes it 'disconnected'
            assert getattr(exc, "kind", "") == "disconnected"
        finally:
            reader.close()
    assert reader.decoded == 60 and reader.dropped > 20
    assert len(seen) == 60 - reader.dropped and seen == sorted(seen) and seen[-1] == 59  # the newest is kept


def test_a_file_is_never_dropped_from(tmp_path):
    video = write_video(tmp_path / "v.mp4", [backdrop(k % 3) for k in range(30)])
    reader = FrameReader(parse_source(str(video)), ReaderSettings(queue=1))
    seen = []
    for frame in reader.frames():
        seen.append(frame.index)
        time.sleep(0.01)
    assert seen == list(range(30)) and reader.dropped == 0

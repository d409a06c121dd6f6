"""fqe-onnx video on a live HTTP MJPEG stream served on 127.0.0.1 by a thread of the test: a stall,
a dropped connection, SIGTERM, and a URL that never answers. Every server loop ends by itself."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fqe_onnx.cli import main
from fqe_onnx.video.source import FrameReader, ReaderSettings, parse_source
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


def test_a_url_that_never_answers_ends_with_a_clear_error_within_the_timeout(tmp_path):
    out = tmp_path / "out"
    with SilentServer() as server:
        started = time.monotonic()
        result = CliRunner().invoke(
            main, ["video", server.url, "-o", str(out), "--open-timeout", "1", "--no-progress"], catch_exceptions=False
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

"""``fqe-onnx video``: follow every face in videos, folders, streams and cameras; keep each one's best shots.

Sources are processed one after another. SIGINT or SIGTERM stops reading, ends every open track,
writes it and exits with 130 or 143. Exit status: 0 every source read to its end, 1 some source
failed (its error row is in tracks.csv), 2 a usage or model error.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import click

from .options import (
    EXIT_SIGINT,
    EXIT_SIGTERM,
    device_option,
    fail,
    model_option,
    output_folder_option,
    precision_option,
)
from ..errors import FqeError

SIGNAL_EXITS: dict[int, int] = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}
#: Seconds between progress lines on a terminal.
PROGRESS_EVERY = 0.5


@contextlib.contextmanager
def signals_stop(stop: threading.Event, caught: list[int]) -> Iterator[None]:
    """While running, SIGINT and SIGTERM set ``stop`` (the frame in progress finishes, open tracks
    are written) instead of interrupting a write; ``caught`` gets the signal number."""

    def handler(signum: int, frame: Any) -> None:
        caught.append(signum)
        stop.set()

    previous = {}
    try:
        for sig in SIGNAL_EXITS:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: no handlers
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Progress:
    """One line on stderr, rewritten in place, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def show(self, run: Any) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        stats = run.stats
        rate = stats.processed / stats.seconds if stats.seconds else 0.0
        click.echo(
            f"\r{run.spec.name}: frame {stats.decoded}, {stats.media_seconds:.1f} s, {run.open_tracks} faces open, "
            f"{stats.tracks} tracks, {stats.dropped} dropped, {rate:.1f} frames/s ",
            err=True,
            nl=False,
        )

    def clear(self) -> None:
        if self.enabled:
            click.echo("\r\033[K", err=True, nl=False)


def describe(name: str, stats: Any, error: str = "") -> str:
    """A source's summary line."""
    rate = stats.processed / stats.seconds if stats.seconds else 0.0
    factor = stats.media_seconds / stats.seconds if stats.seconds and stats.media_seconds else 0.0
    text = (
        f"{name}: {stats.decoded} frames decoded, {stats.dropped} dropped, {stats.tracks} tracks, "
        f"{stats.scored} faces scored, {rate:.1f} frames/s, real-time factor {factor:.2f}x"
    )
    if stats.reconnects:
        text += f", {stats.reconnects} reconnects"
    return text + (f"; {error}" if error else "")


@click.command()
@click.argument("sources", nargs=-1, required=True)
@output_folder_option("Folder for tracks.csv, faces.csv and shots/.")
@model_option
@device_option
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Scorer worker threads (0: score in the frame loop's thread, the fastest here).",
)
@precision_option
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Refuse a source whose frames have more pixels.",
)
@click.option(
    "--best",
    "best",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shots kept per track (highest Q, ties by q).",
)
@click.option(
    "--min-Q",
    "min_Q",
    type=click.FloatRange(0, 100),
    default=0.0,
    show_default=True,
    help="Tracks whose best Q stays below this are reported, flagged below-min-Q, without crops.",
)
@click.option("--frames", "frames", is_flag=True, help="Also write the whole frame of each shot (JPEG).")
@click.option(
    "--detect-every",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Run the whole-frame detector pass every N frames (the tracks coast in between).",
)
@click.option(
    "--tile-every",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Look at one tile of the finer grid (small faces) every N detection frames, in turn.",
)
@click.option(
    "--rescore-every",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Seconds after which a followed face is scored again even if it looks no better.",
)
@click.option(
    "--max-scores",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Faces rescored per frame at most (new faces, and faces the tracker must tell apart, besides).",
)
@click.option(
    "--max-missing",
    type=click.FloatRange(min=0, min_open=True),
    default=1.2,
    show_default=True,
    help="Seconds a face may stay hidden (behind another) before its track ends.",
)
@click.option(
    "--open-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for a source to open.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds without a frame after which a live source counts as stalled and is reopened.",
)
@click.option(
    "--reconnect",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Reopen tries in a row for a live source that stalled or ended, with backoff.",
)
@click.option(
    "--queue",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Frames waiting at most; a live source drops the oldest beyond it.",
)
@click.option("--progress/--no-progress", default=True, help="Progress line on stderr (on a terminal).")
def video(
    sources: tuple[str, ...],
    out: Path,
    model: Optional[str],
    device: str,
    threads: int,
    precision: str,
    max_pixels: int,
    best: int,
    min_Q: float,
    frames: bool,
    detect_every: int,
    tile_every: int,
    rescore_every: float,
    max_scores: int,
    max_missing: float,
    open_timeout: float,
    read_timeout: float,
    reconnect: int,
    queue: int,
    progress: bool,
) -> None:
    """Follow every face in SOURCE... (video files, folders of videos, rtsp/http(s) URLs, cameras
    /dev/videoN or N) and keep each track's best shots: OUT/tracks.csv, OUT/faces.csv, OUT/shots/,
    and one JSON line per finished track on stdout."""
    from ..scorer import Scorer
    from ..video.pipeline import FaceVideo, VideoSettings
    from ..video.schedule import ScheduleSettings
    from ..video.source import ReaderSettings, VideoSourceError, expand_sources, opencv_log_errors_only
    from ..video.writer import VideoOutput

    try:
        specs = expand_sources(list(sources))
        settings = VideoSettings(
            best=best,
            min_Q=min_Q,
            frames=frames,
            max_missing=max_missing,
            schedule=ScheduleSettings(
                detect_every=detect_every, tile_every=tile_every, rescore_every=rescore_every, max_scores=max_scores
            ),
            reader=ReaderSettings(
                open_timeout=open_timeout, read_timeout=read_timeout, reconnect=reconnect, queue=queue
            ),
        )
        scorer = Scorer(model, device=device, threads=threads, precision=precision, max_pixels=max_pixels)
        output = VideoOutput(out, sys.stdout)
    except FqeError as exc:
        raise fail(exc) from exc
    if not specs:
        click.echo(f"warning: no videos in {', '.join(sources)}", err=True)
    stop, caught = threading.Event(), list[int]()
    bar = Progress(progress)
    totals = {"decoded": 0, "dropped": 0, "processed": 0, "seconds": 0.0, "media": 0.0}
    with scorer, output, signals_stop(stop, caught), opencv_log_errors_only():
        for spec in specs:
            if stop.is_set():
                break
            run = FaceVideo(spec, scorer, settings, on_face=output.face, stop=stop)
            run.on_frame = lambda run=run: bar.show(run)
            error = ""
            try:
                for track in run:
                    output.track(track)
            except VideoSourceError as exc:
                output.error(spec.name, exc)
                error = f"{exc.kind}: {exc}"
            bar.clear()
            click.echo(describe(spec.name, run.stats, error), err=True)
            for key, value in (
                ("decoded", run.stats.decoded),
                ("dropped", run.stats.dropped),
                ("processed", run.stats.processed),
                ("seconds", run.stats.seconds),
                ("media", run.stats.media_seconds),
            ):
                totals[key] += value
    factor = totals["media"] / totals["seconds"] if totals["seconds"] else 0.0
    rate = totals["processed"] / totals["seconds"] if totals["seconds"] else 0.0
    click.echo(
        f"{len(specs)} sources: {totals['decoded']} frames decoded, {totals['dropped']} dropped, "
        f"{output.tracks} tracks, {output.shots} shots, {output.errors} errors, {rate:.1f} frames/s, "
        f"real-time factor {factor:.2f}x; wrote {out}",
        err=True,
    )
    if caught:
        click.echo("interrupted (SIGINT)" if caught[0] == signal.SIGINT else "terminated (SIGTERM)", err=True)
        sys.exit(SIGNAL_EXITS[caught[0]])
    sys.exit(1 if output.errors else 0)

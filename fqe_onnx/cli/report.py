"""``fqe-onnx report``: one self-contained HTML page of a score table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from ..errors import FqeError
from .options import fail


@click.command()
@click.argument("scores", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--images",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The ROOT the scores were made from (paths in SCORES are relative to it).",
)
@click.option(
    "--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The HTML file to write."
)
@click.option(
    "--count",
    type=click.IntRange(min=0),
    default=24,
    show_default=True,
    help="How many lowest and highest scored faces to show.",
)
@click.option(
    "--evaluation",
    type=click.Path(exists=True, path_type=Path),
    help="An evaluate output folder (summary.json, curves.csv): adds the EDC plot.",
)
def report(scores: Path, images: Path, out: Path, count: int, evaluation: Optional[Path]) -> None:
    """One self-contained HTML page of a score table: histogram, q against Q, counts by mode and error
    kind, the lowest and highest scored faces as thumbnails, per-identity summaries, the EDC plot."""
    from ..report.page import build_report, save_report

    try:
        page = build_report(scores, images, count, evaluation)
    except FqeError as exc:
        raise fail(exc) from exc
    save_report(page, out)
    click.echo(f"wrote {out} ({len(page) / 1024:.0f} KiB)", err=True)

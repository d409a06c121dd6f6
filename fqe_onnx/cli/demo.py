"""``fqe-onnx demo``: a real face and ladders of degradations, scored."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from ..errors import FqeError
from .options import device_option, fail, model_option


@click.command()
@model_option
@device_option
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the aligned face and every degraded image here.",
)
def demo(model: Optional[str], device: str, out: Optional[Path]) -> None:
    """Score a real face (scikit-image's astronaut) and ladders of blur, noise, down-scaling, JPEG,
    exposure and occlusion: the score falls as the image degrades."""
    from ..demo import format_demo, run_demo

    try:
        result = run_demo(model, out, device=device)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(format_demo(result), nl=False)
    if out is not None:
        click.echo(f"images written to {out}", err=True)

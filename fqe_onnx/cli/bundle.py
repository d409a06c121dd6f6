"""``fqe-onnx bundle``: write the whole pipeline as one ONNX file, or check one against the Python path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from ..errors import FqeError
from .options import fail, output_folder_option


@click.command()
@click.argument("model", required=False)
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path), help="The .onnx file to write.")
@click.option(
    "--pixels",
    type=click.Choice(["bgr", "rgb", "rgba"]),
    default="bgr",
    show_default=True,
    help="Channel layout of the image input (rgba: what a browser canvas gives).",
)
@click.option(
    "--align",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="The framing rule baked into the graph (see Framing).",
)
@click.option("--embedding", is_flag=True, help="Also output the embedding.")
@click.option(
    "--check",
    "check_root",
    type=click.Path(exists=True, path_type=Path),
    help="Run the bundle and the Python path over the images under this folder and compare them.",
)
def bundle(
    model: Optional[str], out: Optional[Path], pixels: str, align: str, embedding: bool, check_root: Optional[Path]
) -> None:
    """Write MODEL (default: the default zoo model), its face detector and landmark model as one ONNX
    graph: decoded pixels in; q, Q, status, box, points and face score out."""
    from ..sources import find_images
    from ..bundle.api import make_bundle, write_bundle
    from ..bundle.check import compare, format_comparison

    if out is None and check_root is None:
        raise click.UsageError("give --out OUT.onnx, or --check ROOT")
    try:
        options: dict[str, Any] = dict(pixels=pixels, align=align, embedding=embedding)
        proto = write_bundle(out, model, **options) if out is not None else make_bundle(model, **options)
        if out is not None:
            click.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)", err=True)
        if check_root is not None:
            sources = [(s.name, s.path) for s in find_images(check_root) if s.error is None]
            click.echo(format_comparison(compare(sources, proto, align, model)), nl=False)
    except FqeError as exc:
        raise fail(exc) from exc


@click.command()
@click.argument("model", required=False)
@output_folder_option("Folder for the PNG images and expected.json.")
def vectors(model: Optional[str], out: Path) -> None:
    """Write conformance vectors for MODEL (default: the default zoo model): PNG images and
    expected.json with the Python path's status, q, Q, box and points for each."""
    from ..bundle.vectors import write_vectors

    try:
        document = write_vectors(out, model)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(f"wrote {len(document['images'])} images and expected.json to {out}", err=True)

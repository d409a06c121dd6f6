"""``fqe-onnx align``: detect the faces under ROOT and write crops on the model's face template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

from ..errors import FqeError
from .options import device_option, fail, model_option, output_folder_option


@click.command()
@click.argument("root", type=click.Path(exists=True))
@output_folder_option("Folder for the aligned crops (mirrors ROOT's tree, PNG).")
@click.option("--table", type=click.Path(dir_okay=False), help="Write the per-face table here (default: stdout).")
@click.option("--all-faces", is_flag=True, help="Every confident face, not only the main one (group photos).")
@model_option
@click.option(
    "--align",
    "align",
    type=click.Choice(["auto", "always"]),
    default="auto",
    show_default=True,
    help="auto: copy images already at the model's input size as they are; always: align every image.",
)
@device_option
def align(
    root: str, out: Path, table: Optional[str], all_faces: bool, model: Optional[str], align: str, device: str
) -> None:
    """Detect faces in the photos under ROOT and write crops on the model's face template to OUT.

    The table has one row per face (or per image with an error): source path, face index, box,
    detector score, the five points (eyes, nose tip, mouth corners) and the crop written."""
    from ..align.batch import align_tree
    from ..modelfile import load_model_proto, proto_contract
    from ..zoo import resolve_model

    try:
        contract, _ = proto_contract(load_model_proto(resolve_model(model)))
        stream = open(table, "w", encoding="utf-8", newline="") if table else sys.stdout
        try:
            errors = align_tree(root, out, stream, contract.preprocess, all_faces=all_faces, align=align, device=device)
        finally:
            if table:
                stream.close()
    except FqeError as exc:
        raise fail(exc) from exc
    sys.exit(1 if errors else 0)

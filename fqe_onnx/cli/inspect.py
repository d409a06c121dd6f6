"""``fqe-onnx inspect``: a model's inputs, outputs, opset, contract and the providers available."""

from __future__ import annotations

import json
from typing import Optional

import click

from ..errors import FqeError
from .options import device_option, fail


@click.command()
@click.argument("model", required=False)
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def inspect(model: Optional[str], device: str, as_json: bool) -> None:
    """Show a model's inputs, outputs, opset, contract and the execution providers available."""
    from ..inspection import inspect_model
    from ..zoo import resolve_model

    try:
        report = inspect_model(resolve_model(model), device=device)
    except FqeError as exc:
        raise fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"model: {report['model']}")
    for kind in ("inputs", "outputs"):
        click.echo(f"{kind}:")
        for t in report[kind]:
            click.echo(f"  {t['name']}  {t['type']}  {t['shape']}")
    click.echo("opset: " + ", ".join(f"{d} {v}" for d, v in report["opset"].items()))
    click.echo(f"batch: {report['batch']}")
    if report["has_contract"]:
        click.echo("contract:")
        for key, value in report["contract"].items():
            click.echo(f"  {key}: {json.dumps(value)}")
    else:
        click.echo("contract: none: seed defaults")
    template = report["template"]
    click.echo(
        f"face template ({template['source']}; left eye, right eye, nose tip, mouth corners, input pixels): "
        + ", ".join(f"({x:g}, {y:g})" for x, y in template["points"])
    )
    click.echo(f"check: {report['check']}")
    for line in report["probes"]:
        click.echo(f"  {line}")
    click.echo("execution providers available: " + ", ".join(report["providers_available"]))

"""``fqe-onnx contract``: a copy of a model with a contract written in (and, on request, the speed edits)."""

from __future__ import annotations

import json
from typing import Any, Optional

import click

from ..errors import FqeError
from .options import contract_options, fail


@click.command()
@click.argument("model")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model.")
@click.option("--source", help="Free text: where the model comes from.")
@click.option("--license", "license_", help="Free text: the model's license.")
@click.option("--flush-denormals", is_flag=True, help="Also set denormal float32 weights to zero (faster on x86).")
@click.option(
    "--optimize",
    is_flag=True,
    help="Also apply the speed edits: denormals flushed, PRelu rewritten into "
    "depthwise convolutions ONNX Runtime fuses (the same numbers, checked before writing; about 2x "
    "faster for MobileFaceNet on ONNX Runtime 1.32).",
)
@contract_options
def contract(
    model: str,
    out: str,
    source: Optional[str],
    license_: Optional[str],
    flush_denormals: bool,
    optimize: bool,
    overrides: dict[str, Any],
) -> None:
    """Write a contract into a copy of MODEL: its current one (or the seed's) plus the given options."""
    from ..contract import with_overrides
    from ..errors import ModelError
    from ..inspection import output_difference, probe_batches
    from ..modelprep.graph import OPTIMIZE_TOLERANCE
    from ..modelfile import load_model_proto, proto_contract, save_model_bytes, with_contract_bytes
    from ..session import EmbeddingModel
    from ..zoo import resolve_model

    try:
        proto = load_model_proto(resolve_model(model))
        current, _ = proto_contract(proto)
        updated = with_overrides(current, source=source, license=license_, **overrides)
        if flush_denormals and not optimize:
            from ..modelprep.graph import flush_denormals as flush

            click.echo(f"flushed {flush(proto)} denormal weights to zero", err=True)
        original = with_contract_bytes(proto, updated) if optimize else None
        if optimize:
            from ..modelprep.graph import optimize as speed_edits

            for what, count in speed_edits(proto).items():
                click.echo(f"{what}: {count}", err=True)
        data = with_contract_bytes(proto, updated)
        checked = EmbeddingModel(data, device="cpu")  # must load and pass the I/O checks before it is written
        for line in probe_batches(checked):
            click.echo(f"check: {line}", err=True)
        if original is not None:
            difference = output_difference(EmbeddingModel(original, device="cpu"), checked)
            if not difference <= OPTIMIZE_TOLERANCE:
                raise ModelError(
                    f"the speed edits changed the embeddings by up to {difference:.3g} "
                    f"(allowed {OPTIMIZE_TOLERANCE}); the model was not written"
                )
            click.echo(f"check: embeddings equal the unedited model's: max |diff| {difference:.3g}", err=True)
        path = save_model_bytes(data, out)
    except FqeError as exc:
        raise fail(exc) from exc
    from ..inspection import template_report

    click.echo(json.dumps(dict(updated.to_json(), face_template=template_report(updated)), indent=2))
    click.echo(f"wrote {path}", err=True)

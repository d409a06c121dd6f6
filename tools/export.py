#!/usr/bin/env python3
"""Export a PyTorch face-embedding model to a contract-carrying ONNX file that fqe-onnx scores anywhere.

    python tools/export.py --arch iresnet50 --checkpoint magface_iresnet50.pth --preset magface -o magface.onnx
    python tools/export.py --module mypkg.nets:build --kwargs '{"dim": 256}' -o mine.onnx

Prints the parity report (torch vs ONNX Runtime on random images and a real face), the file's sha256
and a models.md-ready entry. Needs torch (pip install 'fqe-onnx[export]'); the runtime never does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fqe_onnx.cli.options import contract_options
from fqe_onnx.contract import with_overrides
from fqe_onnx.errors import FqeError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--arch", help="Built-in architecture: iresnet18, iresnet34, iresnet50, iresnet100, mobilefacenet.")
@click.option("--module", "factory", help="Any network: 'module.path:factory' returning an nn.Module.")
@click.option(
    "--kwargs", "factory_kwargs", default="{}", show_default=True, help="JSON keyword arguments for the factory."
)
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Weights to load.")
@click.option("--random-init", is_flag=True, help="Export a built-in architecture with random weights (testing only).")
@click.option("--embedding-size", default=512, show_default=True, help="Embedding size of a built-in architecture.")
@click.option("--preset", default="seed", show_default=True, help="Contract preset: seed, magface, arcface, adaface.")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fixed-batch", is_flag=True, help="Batch axis fixed at 1 (for runtimes that need it).")
@click.option(
    "--fp16", is_flag=True, help="fp16 weights (float32 I/O), verified against fp32 torch with looser limits."
)
@click.option(
    "--exporter",
    type=click.Choice(["dynamo", "torchscript"]),
    default="dynamo",
    show_default=True,
    help="torch's current exporter (torch.export + onnxscript, opset 18) or the deprecated TorchScript one (opset 17).",
)
@click.option(
    "--output-index", type=int, help="The network returns a tuple or list: export this element (the embedding)."
)
@click.option("--output-name", help="The network returns a dict: export this key (the embedding).")
@click.option("--source", help="Free text for the contract: where the weights come from.")
@click.option("--license", "license_", help="Free text for the contract: the weights' license.")
@click.option("--title", help="Heading of the printed models.md entry (default: the output file name).")
@contract_options
def main(
    arch: Optional[str],
    factory: Optional[str],
    factory_kwargs: str,
    checkpoint: Optional[Path],
    random_init: bool,
    embedding_size: int,
    preset: str,
    out: Path,
    fixed_batch: bool,
    fp16: bool,
    exporter: str,
    output_index: Optional[int],
    output_name: Optional[str],
    source: Optional[str],
    license_: Optional[str],
    title: Optional[str],
    overrides: dict[str, Any],
) -> None:
    """Export a PyTorch embedding network (fixed 112x112 input) to ONNX with its contract, proven equal to torch."""
    from fqe_export.checkpoints import CheckpointError, load_weights
    from fqe_export.exporter import ExportError, export_model, models_md_entry
    from fqe_export.networks import build_architecture, build_from_factory
    from fqe_export.presets import PRESETS

    if (arch is None) == (factory is None):
        raise click.UsageError("give exactly one of --arch or --module")
    if arch is not None and checkpoint is None and not random_init:
        raise click.UsageError("a built-in architecture needs --checkpoint (or --random-init for a test export)")
    if preset not in PRESETS:
        raise click.UsageError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if overrides.get("output_kind", "embedding") != "embedding":
        raise click.UsageError("exported networks output an embedding; --output-kind norm is for other files")
    try:
        kwargs = json.loads(factory_kwargs)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"--kwargs is not valid JSON: {exc}") from exc
    try:
        network = build_architecture(arch, embedding_size) if arch else build_from_factory(factory, kwargs)
        if checkpoint is not None:
            click.echo(load_weights(network, checkpoint).describe(), err=True)
        contract = with_overrides(PRESETS[preset], source=source, license=license_, **overrides)
        result = export_model(
            network,
            contract,
            out,
            fixed_batch=fixed_batch,
            fp16=fp16,
            exporter=exporter,
            output_index=output_index,
            output_name=output_name,
        )
    except (CheckpointError, ExportError, FqeError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for parity in result.parity:
        click.echo(f"parity {parity.describe()}", err=True)
    click.echo(
        f"wrote {result.path} ({result.exporter} exporter, opset {result.opset}), sha256 {result.sha256}", err=True
    )
    click.echo(models_md_entry(result, title or result.path.name))


if __name__ == "__main__":
    main()

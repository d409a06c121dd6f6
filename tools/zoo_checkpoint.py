#!/usr/bin/env python3
"""Turn the default zoo model's trained weights into a PyTorch checkpoint for ``--arch mobilefacenet``.

    python tools/zoo_checkpoint.py -o mobilefacenet-faceplugin.pth
    python tools/export.py --arch mobilefacenet --checkpoint mobilefacenet-faceplugin.pth \\
        --preset arcface --mean 127 --scale 128 -o mobilefacenet-faceplugin.onnx

The raw ``fr_feature.onnx`` is taken from the zoo cache (fetched and hash-checked if missing); its
initialisers are mapped onto the project's MobileFaceNet (``fqe_export.onnx_weights`` says how and
checks every shape); the network is run on the demo ladder against ONNX Runtime on the original
file, and the checkpoint is written only if the embeddings agree (max |diff| <= 1e-5).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def main(out: Path) -> None:
    """Write the faceplugin MobileFaceNet weights as a state_dict for the built-in mobilefacenet."""
    from fqe_export.twin import build_twin, ladder_difference
    import torch

    network, raw, counts = build_twin()
    difference = ladder_difference(network, raw)
    click.echo(f"mapped {counts['convolutions']} convolutions and {counts['prelus']} PReLUs from {raw}", err=True)
    click.echo(f"demo ladder, torch against ONNX Runtime on the original: max |diff| {difference:.3g}", err=True)
    if difference > 1e-5:
        raise click.ClickException(f"the torch network differs from the ONNX file by {difference:.3g} (limit 1e-5)")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), out)
    click.echo(str(out))


if __name__ == "__main__":
    main()

"""The export round trip on real weights, over ../shared/data/lfw-dev (not a test: tests may not read it).

The default zoo model's trained MobileFaceNet becomes a PyTorch network (tools/fqe_export/twin.py),
which is exported again with tools/ (the dynamo exporter). On the 2,010 LFW images, framed with the
default --align auto: q of the torch twin and of the re-exported file against the zoo model's q,
and the EDC of both files as ``fqe-onnx evaluate`` computes it.

    python benchmarks/real_weights.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from fqe_export.exporter import export_model
from fqe_export.twin import build_twin

from fqe_onnx import Scorer
from fqe_onnx.evaluation.run import format_evaluation, run_evaluation
from fqe_onnx.modelprep.faceplugin import FACEPLUGIN_CONTRACT
from fqe_onnx.sources import find_images
from verification import LFW_DEV
from fqe_onnx.machine import describe_line


def main() -> None:
    print(describe_line(), flush=True)
    network, raw, counts = build_twin()
    sources = find_images(LFW_DEV)
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_model(network, FACEPLUGIN_CONTRACT, Path(tmp) / "mobilefacenet-faceplugin.onnx")
        print(
            f"exported with the {exported.exporter} exporter (opset {exported.opset}); parity: "
            + "; ".join(p.describe() for p in exported.parity)
        )
        with Scorer(device="cpu") as zoo, Scorer(exported.path, device="cpu") as ours:
            zoo_items = list(zoo.embed_sources(sources))
            our_items = list(ours.embed_sources(sources))
            tensors = np.stack([item.tensor for item in zoo_items if item.tensor is not None])
            q_zoo = np.array([item.record.q for item in zoo_items if item.tensor is not None])
            with torch.no_grad():
                twin = np.concatenate(
                    [
                        network(torch.from_numpy(tensors[i : i + 64])).numpy().astype(np.float64)
                        for i in range(0, len(tensors), 64)
                    ]
                )
            q_twin = np.linalg.norm(twin, axis=1)
            q_ours = np.array([item.record.q for item in our_items if item.tensor is not None])
            print(
                f"{len(q_zoo)} LFW images: torch twin q vs zoo q, max relative difference "
                f"{np.max(np.abs(q_twin - q_zoo) / q_zoo):.2g}; re-exported file vs zoo "
                f"{np.max(np.abs(q_ours - q_zoo) / q_zoo):.2g}"
            )
            for name, scorer in (("zoo model", zoo), ("re-exported", ours)):
                evaluation, *_ = run_evaluation(str(LFW_DEV), scorer)
                print(f"\nEDC, {name}:\n" + format_evaluation(evaluation.summary), flush=True)


if __name__ == "__main__":
    main()

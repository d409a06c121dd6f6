"""Throughput of the scorer against a seed-style baseline, in one process, on real LFW faces.

Baseline: the original fr_feature.onnx (fixed batch 1, denormal weights), one image at a time,
decoded in the calling thread. Each variant changes one thing; ratios are against the baseline.

    python benchmarks/speed.py [--images 400] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.decode import read_image
from fqe_onnx.preprocess import prepare
from fqe_onnx.session import EmbeddingModel
from fqe_onnx.zoo import DEFAULT_MODEL, FR_FEATURE, pull, raw_file
from verification import lfw_items

GEOMETRY = {"resize": (224, 224), "crop": (112, 112)}


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = [path for path, _ in lfw_items()[: args.images]]
    zoo_model, raw_model = pull(DEFAULT_MODEL), raw_file(FR_FEATURE)
    raw_overrides = dict(GEOMETRY, channel_order="RGB", mean=(127.0,), scale=(128.0,))

    def model_only(model_path, overrides, batch):
        model = EmbeddingModel(model_path, device="cpu", overrides=overrides)
        tensors = np.stack([prepare(read_image(p), model.contract.preprocess) for p in paths])
        model.norms(tensors[:batch])  # warm-up
        return lambda: [model.norms(tensors[i : i + batch]) for i in range(0, len(tensors), batch)]

    def pipeline(model_path, overrides, batch, workers):
        scorer = Scorer(model_path, device="cpu", batch_size=batch, workers=workers, align="never", **overrides)
        list(scorer.score_paths(paths[:batch]))
        return lambda: list(scorer.score_paths(paths))

    variants = [
        ("baseline: original model, batch 1, decode inline", pipeline(raw_model, raw_overrides, 1, 0)),
        ("zoo model (denormals flushed), batch 1, inline", pipeline(zoo_model, GEOMETRY, 1, 0)),
        ("zoo model, batch 32, inline", pipeline(zoo_model, GEOMETRY, 32, 0)),
        ("zoo model, batch 32, 2 decode threads", pipeline(zoo_model, GEOMETRY, 32, 2)),
        ("inference only: original model, batch 1", model_only(raw_model, raw_overrides, 1)),
        ("inference only: zoo model, batch 1", model_only(zoo_model, GEOMETRY, 1)),
        ("inference only: zoo model, batch 32", model_only(zoo_model, GEOMETRY, 32)),
    ]
    print(f"{len(paths)} LFW images, best of {args.repeat}")
    baseline = None
    for name, run in variants:
        seconds = best_of(args.repeat, run)
        baseline = baseline or seconds
        print(f"{name:<52} {len(paths) / seconds:8.1f} images/s  x{baseline / seconds:5.2f}", flush=True)


if __name__ == "__main__":
    main()

"""The CUDA check: run it once on a machine with an NVIDIA GPU and onnxruntime-gpu, and record the output.

    pip install onnxruntime-gpu   # in place of onnxruntime
    python benchmarks/cuda_check.py [--images 512]

Prints the GPU's name; the default model's q on the GPU against ONNX Runtime's CPU provider (fp32:
max relative difference, must be <= 1e-3; ``precision="fp16"``: Spearman rank correlation, must be
>= 0.999); raw throughput at several batch sizes, plain ``run`` against IO binding; and ``Scorer``
end to end from files (fp32 and fp16, with and without IO binding) when the LFW development set is there. ``--device cpu`` runs the same steps
on the CPU, to check the script itself on a machine without a GPU. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fqe_onnx import Scorer
from fqe_onnx.demo import FAMILIES, demo_face
from fqe_onnx.modelprep.faceplugin import FACEPLUGIN_CONTRACT
from fqe_onnx.preprocess import prepare_crop
from fqe_onnx.session import EmbeddingModel, import_onnxruntime
from fqe_onnx.zoo import DEFAULT_MODEL, pull
from fqe_onnx.machine import describe_line

BATCHES = (1, 8, 32, 128, 256)


def gpu_name() -> str:
    if shutil.which("nvidia-smi"):
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return "no GPU found by nvidia-smi"


def inputs(count: int) -> np.ndarray:
    """The demo ladder, repeated with small shifts up to ``count`` model inputs."""
    face = demo_face()
    images = [face] + [family.apply(face, level) for family in FAMILIES for level in family.levels]
    tensors = [
        prepare_crop(np.roll(images[i % len(images)], i // len(images), axis=1), FACEPLUGIN_CONTRACT.preprocess)
        for i in range(count)
    ]
    return np.stack(tensors)


def rate(run, batch: np.ndarray, rounds: int = 5) -> float:
    run(batch)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - started)
    return len(batch) / float(np.median(times))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (no ties in real q values)."""
    ranks = [np.argsort(np.argsort(x)) for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def main() -> int:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    print(f"GPU: {gpu_name()}")
    print(f"onnxruntime {import_onnxruntime().__version__}, providers {import_onnxruntime().get_available_providers()}")
    zoo = pull(DEFAULT_MODEL)
    batch = inputs(args.images)
    q_cpu = EmbeddingModel(zoo, device="cpu").norms(batch)
    failed = False
    for precision in ("fp32", "fp16"):
        model = EmbeddingModel(zoo, device=args.device, precision=precision)
        bound = EmbeddingModel(zoo, device=args.device, precision=precision, io_binding=True)
        q = model.norms(batch)
        worst = float(np.max(np.abs(q - q_cpu) / q_cpu))
        if precision == "fp32":
            ok = worst <= 1e-3
            print(
                f"{precision} on {model.provider}: q against the CPU provider, max relative difference {worst:.2e} "
                f"(limit 1e-3): {'ok' if ok else 'FAILED'}"
            )
        else:
            rho = spearman(q, q_cpu)
            ok = rho >= 0.999
            print(
                f"{precision} on {model.provider}: Spearman {rho:.5f} with the CPU provider's q (limit 0.999), "
                f"max relative difference {worst:.2e}: {'ok' if ok else 'FAILED'}"
            )
        failed |= not ok
        plain = {b: rate(model.run, batch[:b]) for b in BATCHES if b <= len(batch)}
        binding = {b: rate(bound.run, batch[:b]) for b in BATCHES if b <= len(batch)}
        print(
            "  raw images/s by batch size: "
            + ", ".join(f"{b}: {plain[b]:.0f} (IO binding {binding[b]:.0f})" for b in plain)
        )
    lfw = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw-dev"
    if lfw.is_dir():
        from fqe_onnx.sources import find_images

        sources = find_images(lfw)[: args.images]
        settings = [
            ("never", 32, "fp32", False),
            ("never", 128, "fp32", False),
            ("never", 128, "fp32", True),
            ("never", 128, "fp16", False),
            ("never", 128, "fp16", True),
            ("auto", 32, "fp32", False),
            ("auto", 128, "fp16", True),
        ]
        for align, size, precision, io_binding in settings:
            with Scorer(
                zoo,
                device=args.device,
                batch_size=size,
                align=align,
                precision=precision,
                io_binding=io_binding,
                **({"resize": (200, 200), "crop": (38, 44, 112, 112)} if align == "never" else {}),
            ) as scorer:
                list(scorer.score_sources(sources[:size]))
                started = time.perf_counter()
                list(scorer.score_sources(sources))
                print(
                    f"Scorer end to end, --align {align}, batch {size}, {precision}, IO binding {io_binding}, "
                    f"{scorer.provider}: {len(sources) / (time.perf_counter() - started):.0f} images/s over "
                    f"{len(sources)} LFW files"
                )
    print("result: " + ("FAILED" if failed else "all checks passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

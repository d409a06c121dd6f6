"""Speed, in one process and one run: fqe-onnx against PyTorch on the same weights, and against the machine.

All rates are images/s, medians of interleaved rounds; ratios are within this run. Needs torch (the
export extra) for the PyTorch twin of the default model (tools/fqe_export/twin.py) and the LFW
development set. Parts:

1. Raw inference on pre-made tensors: the shipped settings (worker threads, one runtime thread each,
   batch 4) on ONNX Runtime's CPU provider and on OpenVINO (when installed), the original zoo file
   with PRelu, and PyTorch.
2. End to end from JPEG files with a fixed crop (--align never --resize 200,200 --crop 38,44,112,112),
   as `fqe-onnx score` runs: the Scorer with default options, its ratio to raw, a seed-style torch
   loop (one image at a time) and the best torch setting found.
3. Achieved GFLOP/s against a measured float32 matrix-multiply peak.
4. --align auto (the default) on the 250x250 frames, against the fixed crop.
5. The CLI as a user runs it: time to the first row, and peak memory at N and 10N images.

    python benchmarks/speed.py [--images 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from fqe_onnx import Scorer
from fqe_onnx.backends.openvino import openvino_available
from fqe_onnx.decode import load_file
from fqe_onnx.preprocess import prepare
from fqe_onnx.session import EmbeddingModel, available_cores
from fqe_onnx.zoo import DEFAULT_MODEL, FR_FEATURE, pull, raw_file
from verification import lfw_items
from fqe_onnx.machine import describe_line

FIXED = {"resize": (200, 200), "crop": (38, 44, 112, 112)}


def model_gflop(path: Path) -> float:
    """Floating-point operations per image (2 per multiply-add) of every Conv and Gemm/MatMul."""
    import onnx
    from onnx import shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {
        v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
        for v in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)
    }
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    flop = 0
    for node in model.graph.node:
        if node.op_type == "Conv" and node.output[0] in shapes:
            out = shapes[node.output[0]]
            cout, cin_per_group, kh, kw = weights[node.input[1]]
            flop += 2 * out[2] * out[3] * cout * cin_per_group * kh * kw
        elif node.op_type in ("Gemm", "MatMul") and node.input[1] in weights:
            flop += 2 * int(np.prod(weights[node.input[1]]))
    return flop / 1e9


def sgemm_peak(size: int = 2048, rounds: int = 5) -> float:
    """GFLOP/s of a float32 size x size matrix multiply (NumPy's BLAS, all cores), best of ``rounds``."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(rounds))
    return 2 * size**3 / best / 1e9


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def interleaved(variants: dict[str, Callable[[], object]], count: int, rounds: int) -> dict[str, float]:
    """images/s of each variant: the median over ``rounds`` rounds, variants interleaved in each."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times[name].append(_timed(run))
    return {name: count / float(np.median(t)) for name, t in times.items()}


def threaded(
    run_chunk: Callable[[np.ndarray], object], tensors: np.ndarray, batch: int, threads: int
) -> Callable[[], object]:
    pool = ThreadPoolExecutor(threads)
    chunks = [tensors[i : i + batch] for i in range(0, len(tensors), batch)]
    return lambda: list(pool.map(run_chunk, chunks))


def torch_setups(network, threads: int):
    """PyTorch variants on the twin: eager, channels_last, and traced + optimize_for_inference."""
    import torch

    torch.set_num_threads(threads)
    eager = network.eval()
    channels_last = network.to(memory_format=torch.channels_last)
    with torch.no_grad():
        traced = torch.jit.optimize_for_inference(torch.jit.trace(eager, torch.zeros(8, 3, 112, 112)))

    def runner(module, memory_format=None):
        def run(batch: np.ndarray):
            with torch.no_grad():
                x = torch.from_numpy(batch)
                if memory_format is not None:
                    x = x.contiguous(memory_format=memory_format)
                return module(x).numpy()

        return run

    return {
        "eager": runner(eager),
        "channels_last": runner(channels_last, torch.channels_last),
        "jit.trace + optimize_for_inference": runner(traced),
    }


#: Runs the CLI in a new interpreter and reports its peak resident memory on exit from /proc's
#: VmHWM, which starts afresh with the new program (ru_maxrss survives exec, so it would count the
#: forked copy of this big benchmark process).
_MEASURED_CLI = (
    "import re, runpy, sys\n"
    "sys.argv = ['fqe-onnx'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('fqe_onnx', run_name='__main__')\n"
    "finally:\n    status = open('/proc/self/status').read()\n"
    "    print('peak_kb', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
)


def cli_run(paths: list[Path], workdir: Path, extra: list[str]) -> tuple[float, float]:
    """(seconds to the first row, peak resident MB) of `fqe-onnx score --from-list` in a new process."""
    listing = workdir / "list.txt"
    listing.write_text("\n".join(str(p) for p in paths) + "\n")
    command = [sys.executable, "-c", _MEASURED_CLI, "score", "/", "--from-list", str(listing), "--no-progress", *extra]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.readline()  # the header
    process.stdout.readline()  # the first row
    first = time.perf_counter() - started
    process.stdout.read()
    stderr = process.stderr.read()
    process.wait()
    peak_kb = int(next(line.split()[1] for line in stderr.splitlines() if line.startswith("peak_kb")))
    return first, peak_kb / 1024


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from fqe_export.twin import build_twin

    threads = available_cores()
    items = lfw_items()
    paths = [path for path, _ in items[: args.images]]
    zoo, original = pull(DEFAULT_MODEL), raw_file(FR_FEATURE)
    print(f"{len(paths)} LFW images, {threads} cores, {args.rounds} interleaved rounds (medians)")

    shipped = EmbeddingModel(zoo, device="cpu", overrides=FIXED, threads=1)
    tensors = np.stack([prepare(load_file(p)[0], shipped.contract.preprocess) for p in paths])
    with_prelu = EmbeddingModel(
        original, device="cpu", threads=1, overrides=dict(FIXED, channel_order="RGB", mean=(127.0,), scale=(128.0,))
    )
    ort_default_threads = EmbeddingModel(zoo, device="cpu", overrides=FIXED)
    network, _, _ = build_twin()
    torch_variants = torch_setups(network, threads)
    raw = {
        "ORT CPU, shipped: threads x batch 4, 1 runtime thread each": threaded(shipped.run, tensors, 4, threads),
        "ORT CPU, one call at a time, batch 32, ORT's own threads": lambda: [
            ort_default_threads.run(tensors[i : i + 32]) for i in range(0, len(tensors), 32)
        ],
        "ORT CPU, original file with PRelu, shipped structure": threaded(with_prelu.run, tensors, 4, threads),
    }
    if openvino_available():
        ov = EmbeddingModel(zoo, device="openvino", overrides=FIXED)
        raw["OpenVINO, shipped structure"] = threaded(ov.run, tensors, 4, threads)
    for name, run in torch_variants.items():
        for batch in (8, 32):
            raw[f"PyTorch {name}, batch {batch}"] = lambda run=run, batch=batch: [
                run(tensors[i : i + batch]) for i in range(0, len(tensors), batch)
            ]
    for run in raw.values():
        run()  # warm-up
    rates = interleaved(raw, len(paths), args.rounds)
    base = rates["ORT CPU, shipped: threads x batch 4, 1 runtime thread each"]
    print("\n1. raw inference on pre-made tensors")
    for name, rate in rates.items():
        print(f"  {name:<62} {rate:7.1f}  x{rate / base:5.2f}")
    best_torch_raw = max((r, n) for n, r in rates.items() if n.startswith("PyTorch"))

    # 2. end to end
    import torch

    best_name = best_torch_raw[1].split("PyTorch ")[1].rsplit(", batch", 1)[0]
    best_batch = int(best_torch_raw[1].rsplit("batch ", 1)[1])
    best_run = torch_variants[best_name]
    eager_run = torch_variants["eager"]
    pre = shipped.contract.preprocess

    def torch_seed_loop():
        for p in paths:  # the seed's loop: read, preprocess, one image through the network
            eager_run(prepare(load_file(p)[0], pre)[None])

    def torch_best():
        pool = ThreadPoolExecutor(threads)
        chunks = [paths[i : i + best_batch] for i in range(0, len(paths), best_batch)]
        for chunk in pool.map(lambda c: np.stack([prepare(load_file(p)[0], pre) for p in c]), chunks):
            best_run(chunk)
        pool.shutdown()

    decoded = [load_file(p)[0] for p in paths]
    started = time.perf_counter()
    for p in paths:
        prepare(load_file(p)[0], pre)
    decode_ms = (time.perf_counter() - started) / len(paths) * 1000

    end_to_end = {"fqe-onnx score, default options (CPU provider)": Scorer(zoo, device="cpu", align="never", **FIXED)}
    if openvino_available():
        end_to_end["fqe-onnx score, --device openvino"] = Scorer(zoo, device="openvino", align="never", **FIXED)
    variants = {name: (lambda s=s: list(s.score_paths(paths))) for name, s in end_to_end.items()}
    on_arrays = end_to_end["fqe-onnx score, default options (CPU provider)"]
    variants["the same Scorer on pre-decoded arrays (no file reading or decoding)"] = lambda: list(
        on_arrays.score_arrays(decoded)
    )
    variants["PyTorch seed-style loop (eager, one image at a time)"] = torch_seed_loop
    variants[f"PyTorch best: {best_name}, batch {best_batch}, decode threads"] = torch_best
    for run in variants.values():
        run()
    e2e = interleaved(variants, len(paths), args.rounds)
    score_rate = e2e["fqe-onnx score, default options (CPU provider)"]
    best_torch_e2e = e2e[f"PyTorch best: {best_name}, batch {best_batch}, decode threads"]
    print(f"\n2. end to end from {len(paths)} JPEG files, fixed crop (torch {torch.__version__}, {threads} threads)")
    for name, rate in e2e.items():
        print(f"  {name:<62} {rate:7.1f}  x{rate / best_torch_e2e:5.2f} of the best torch")
    print(f"  fqe-onnx score against raw inference with the same settings: {score_rate / base:.2f}")
    network_ms = 1000 * threads / base
    print(
        f"  reading, decoding and preparing one image: {decode_ms:.2f} ms of a core, the network {network_ms:.2f} ms: "
        f"at most {network_ms / (network_ms + decode_ms):.2f} of raw end to end"
    )

    # 3. the machine's limit: the network's own arithmetic (the original file; the PRelu rewrite's
    # depthwise convolutions are bookkeeping, not work the network needs)
    gflop = model_gflop(original)
    peak = sgemm_peak()
    print(
        f"\n3. {gflop:.3f} GFLOP per image; float32 matmul peak {peak:.0f} GFLOP/s, so at most {peak / gflop:.0f} images/s"
    )
    for name, rate in (
        list(rates.items())[:1] + [(n, r) for n, r in rates.items() if n.startswith("OpenVINO")] + list(e2e.items())[:2]
    ):
        print(f"  {name:<62} {rate * gflop:6.1f} GFLOP/s = {rate * gflop / peak:5.1%} of the peak")

    # 4. --align auto: the detector and landmark models batched per chunk, against the pinned files
    # (fixed at batch 1, so one image per call)
    from fqe_onnx.align.aligner import FaceAligner
    from fqe_onnx.zoo import FR_DETECT, FR_LANDMARK

    one_at_a_time = FaceAligner(detector_model=raw_file(FR_DETECT), landmark_model=raw_file(FR_LANDMARK), threads=1)
    with Scorer(zoo, device="cpu") as auto, Scorer(zoo, device="cpu", aligner=one_at_a_time) as auto_single:
        list(auto.score_paths(paths[:16]))
        list(auto_single.score_paths(paths[:16]))
        auto_rate = interleaved(
            {
                "auto": lambda: list(auto.score_paths(paths)),
                "auto, one image per call": lambda: list(auto_single.score_paths(paths)),
                "fixed": variants["fqe-onnx score, default options (CPU provider)"],
            },
            len(paths),
            args.rounds,
        )
    print(
        f"\n4. --align auto (the default) on the 250x250 frames: {auto_rate['auto']:.1f} images/s, "
        f"{auto_rate['auto'] / auto_rate['fixed']:.2f} of the fixed crop's {auto_rate['fixed']:.1f} "
        f"(detector and landmarks one image per call: {auto_rate['auto, one image per call']:.1f})"
    )

    # 5. the CLI: first row and memory
    with tempfile.TemporaryDirectory() as tmp:
        small = cli_run(
            paths, Path(tmp), ["--align", "never", "--resize", "200,200", "--crop", "38,44,112,112", "--device", "cpu"]
        )
        many = cli_run(
            paths * 10,
            Path(tmp),
            ["--align", "never", "--resize", "200,200", "--crop", "38,44,112,112", "--device", "cpu"],
        )
        auto_small = cli_run(paths, Path(tmp), ["--device", "cpu"])
    print(
        f"\n5. fqe-onnx score in a new process: first row after {small[0] * 1000:.0f} ms (fixed crop), "
        f"{auto_small[0] * 1000:.0f} ms (--align auto); peak memory {small[1]:.0f} MB for {len(paths)} images, "
        f"{many[1]:.0f} MB for {10 * len(paths)}"
    )


if __name__ == "__main__":
    main()

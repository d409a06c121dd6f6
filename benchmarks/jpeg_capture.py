"""What catching libjpeg's warnings costs: JPEG decoding with the stderr capture (the shipped path)
against the same decoder with the capture replaced by a no-op, in one process, interleaved rounds.

The capture points fd 2 at a temporary file for each JPEG decode, under a lock, so JPEG decodes
never overlap; this measures that on one thread and on several. Ratios are within this run.

    python benchmarks/jpeg_capture.py [--images 200] [--rounds 5] [--threads 2] [--dir /work/shared/data/lfw-dev]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fqe_onnx import decode


@contextlib.contextmanager
def no_capture(prefixes):
    yield []


def jpeg_files(folder: str, count: int) -> list[bytes]:
    paths = sorted(Path(folder).rglob("*.jpg"))[:count] if folder else []
    if paths:
        return [p.read_bytes() for p in paths]
    rng = np.random.default_rng(0)
    return [cv2.imencode(".jpg", rng.integers(0, 256, (250, 250, 3), dtype=np.uint8))[1].tobytes() for _ in range(count)]


def rate(datas: list[bytes], threads: int) -> float:
    started = time.perf_counter()
    if threads == 1:
        for data in datas:
            decode.decode_image(data)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(decode.decode_image, datas))
    return len(datas) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default="/work/shared/data/lfw-dev")
    args = parser.parse_args()
    datas = jpeg_files(args.dir if Path(args.dir).is_dir() else "", args.images)
    shipped = decode.decoder_messages
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for threads in sorted({1, args.threads}):
            for name, capture in (("capture", shipped), ("no capture", no_capture)):
                decode.decoder_messages = capture
                results.setdefault((name, threads), []).append(rate(datas, threads))
    decode.decoder_messages = shipped
    print(f"{len(datas)} JPEGs, {args.rounds} interleaved rounds, median images/s")
    for threads in sorted({1, args.threads}):
        on = statistics.median(results[("capture", threads)])
        off = statistics.median(results[("no capture", threads)])
        print(f"threads {threads}: capture {on:.0f}/s, no capture {off:.0f}/s, ratio {on / off:.3f}")


if __name__ == "__main__":
    main()

"""What catching libjpeg's warnings costs: JPEG decoding with the stderr capture (the shipped path)
against the same decoder with the capture replaced by a no-op, in one process, interleaved rounds.

The capture points fd 2 at a temporary file for each JPEG decode, under a lock, so JPEG decodes
never overlap; this measures that on one thread and on several, then ``Scorer.score_paths`` end to
end on the same files (default model, ``--align auto``, default threads). Ratios are within this run.

    python benchmarks/jpeg_capture.py [--images 200] [--rounds 5] [--threads 2] [--dir ../shared/data/lfw-dev]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fqe_onnx import decode
from fqe_onnx.machine import describe_line


@contextlib.contextmanager
def no_capture(prefixes):
    yield []


def jpeg_paths(folder: str, count: int) -> list[Path]:
    paths = sorted(Path(folder).rglob("*.jpg"))[:count] if Path(folder).is_dir() else []
    if not paths:
        out = Path(tempfile.mkdtemp(prefix="jpeg-capture-"))
        rng = np.random.default_rng(0)
        for i in range(count):
            cv2.imwrite(str(out / f"{i}.jpg"), rng.integers(0, 256, (250, 250, 3), dtype=np.uint8))
        paths = sorted(out.glob("*.jpg"))
    return paths


def scorer_rate(scorer, paths: list[Path]) -> float:
    started = time.perf_counter()
    for _ in scorer.score_paths(paths):
        pass
    return len(paths) / (time.perf_counter() - started)


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
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/lfw-dev"))
    args = parser.parse_args()
    from fqe_onnx import Scorer

    paths = jpeg_paths(args.dir, args.images)
    datas = [p.read_bytes() for p in paths]
    shipped = decode.decoder_messages
    results: dict[tuple[str, object], list[float]] = {}
    with Scorer(device="cpu") as scorer:
        list(scorer.score_paths(paths[:8]))  # warm: models loaded, detector built
        for _ in range(args.rounds):
            for name, capture in (("capture", shipped), ("no capture", no_capture)):
                decode.decoder_messages = capture
                for threads in sorted({1, args.threads}):
                    results.setdefault((name, threads), []).append(rate(datas, threads))
                results.setdefault((name, "scorer"), []).append(scorer_rate(scorer, paths))
        decode.decoder_messages = shipped
        print(
            f"{len(datas)} JPEGs ({paths[0].parent.parent}), {args.rounds} interleaved rounds, median images/s; "
            f"scorer: {scorer.threads} threads, {scorer.provider}"
        )
    for what in [*sorted({1, args.threads}), "scorer"]:
        on = statistics.median(results[("capture", what)])
        off = statistics.median(results[("no capture", what)])
        label = f"decode, {what} thread(s)" if what != "scorer" else "Scorer.score_paths end to end"
        print(f"{label}: capture {on:.0f}/s, no capture {off:.0f}/s, ratio {on / off:.3f}")


if __name__ == "__main__":
    main()

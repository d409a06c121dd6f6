"""Milliseconds per call of bundle files side by side, one thread, interleaved rounds, medians.

    python benchmarks/bundle_speed.py OLD.onnx NEW.onnx [--rounds 5] [--sizes 250x250,1920x1080]

Each bundle gets the same frames in its own pixel layout (from its ``fqe_onnx.bundle`` metadata):
the committed 250x250 vector frame, and large frames (``tests/frames.large_frame``: a 34 px face that
only the tiles find). For comparing two builds of the bundle, e.g. an older commit's:
``git worktree add /tmp/old COMMIT && (cd /tmp/old && python -m fqe_onnx bundle -o /tmp/old.onnx)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from frames import large_frame  # noqa: E402  (after the sys.path insert above)

from fqe_onnx.bundle.api import BundleSession, bgr_to_layout  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.machine import describe_line  # noqa: E402  (after the sys.path insert above)

FRAME = ROOT / "tests" / "vectors" / "faceplugin-mobilefacenet" / "frame-250.png"


def frame(size: str):
    width, height = (int(v) for v in size.split("x"))
    return cv2.imread(str(FRAME)) if (width, height) == (250, 250) else large_frame(height, width, "plain", True)


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="250x250,1920x1080,3000x2000")
    args = parser.parse_args()
    sessions = {path.name: BundleSession(path.read_bytes()) for path in args.bundles}
    print(f"ms per call, 1 thread, medians of {args.rounds} interleaved rounds")
    for size in args.sizes.split(","):
        image = frame(size)
        feeds = {name: bgr_to_layout(image, s.info.get("pixels", "bgr")) for name, s in sessions.items()}
        times: dict[str, list[float]] = {name: [] for name in sessions}
        for name, session in sessions.items():  # warm up
            session.session.run(None, {"image": feeds[name]})
        for _ in range(args.rounds):
            for name, session in sessions.items():
                start = time.perf_counter()
                session.session.run(None, {"image": feeds[name]})
                times[name].append(1000 * (time.perf_counter() - start))
        print(f"  {size}: " + ", ".join(f"{name} {statistics.median(v):.1f}" for name, v in times.items()))


if __name__ == "__main__":
    main()

"""How far this machine's Python path lands from a set of conformance vectors made on another one.

The PNGs are the same bytes everywhere; what moves with the CPU is float rounding (OpenCV's warp in
the alignment, ONNX Runtime's kernels). This prints, per image and as maxima per status, the gap in
q (relative), Q, box, points and face score, against the tolerances the vectors carry.

    python benchmarks/vectors_drift.py [DIR]   (default: tests/vectors/faceplugin-mobilefacenet)

To compare with a set made on another machine, check it out beside this one (for example the set of
commit dcde07c, made on an AVX-512 machine: ``git worktree add /tmp/avx512-set dcde07c``) and give
its folder. Environment variables that lower OpenCV's and NumPy's SIMD level (``OPENCV_CPU_DISABLE``,
``NPY_DISABLE_CPU_FEATURES``) apply, to see what each library's CPU paths change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqe_onnx import Scorer  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.bundle.vectors import expected_row  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.decode import Limits, read_image  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.machine import describe_line  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.zoo import resolve_model  # noqa: E402  (after the sys.path insert above)

FIELDS = ("q_relative", "Q", "box_px", "points_px", "face_score")


def gaps(expected: dict, got: dict) -> dict[str, float]:
    """The gap of each field that the expected row has."""
    out: dict[str, float] = {}
    if expected["q"] is not None and got["q"] is not None:
        out["q_relative"] = abs(got["q"] - expected["q"]) / abs(expected["q"])
        out["Q"] = abs(got["Q"] - expected["Q"])
    for key, name in (("box", "box_px"), ("points", "points_px"), ("face_score", "face_score")):
        if expected.get(key) is not None and got.get(key) is not None:
            out[name] = float(np.max(np.abs(np.subtract(got[key], expected[key]))))
    return out


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "vectors" / "faceplugin-mobilefacenet"
    print(describe_line(), flush=True)
    document = json.loads((folder / "expected.json").read_text())
    print(f"vectors: {folder} (made on: {document.get('made_on', 'not recorded')})")
    worst: dict[str, dict[str, float]] = {}
    with Scorer(resolve_model(None), threads=1, batch_size=1) as scorer:
        for row in document["images"]:
            image = read_image(folder / row["file"], Limits(min_side=1, refuse_flat=False))
            got = expected_row(row["file"][:-4], image, scorer)
            found = gaps(row, got)
            same = "same status" if got["status"] == row["status"] else f"STATUS {got['status']}"
            print(
                f"  {row['file']:<24} {row['status']:<10} {same}  "
                + "  ".join(f"{k} {v:.2e}" for k, v in found.items())
            )
            for key, value in found.items():
                worst.setdefault(row["status"], {})[key] = max(value, worst.get(row["status"], {}).get(key, 0.0))
    print("largest gap per status, against the tolerance:")
    for status, values in worst.items():
        tolerance = document["tolerances"].get(status, {})
        print(
            f"  {status:<10} "
            + "  ".join(f"{k} {values[k]:.2e} (limit {tolerance.get(k, '-')})" for k in FIELDS if k in values)
        )


if __name__ == "__main__":
    main()

"""examples/node scores the committed vectors with onnxruntime-node and pngjs and meets expected.json.

Needs Node and the example's ``npm ci`` (scripts/test.sh runs it); it fails, never skips, without them."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

from fqe_onnx.bundle.api import write_bundle
from fqe_onnx.bundle.vectors import meets

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node"
VECTORS = ROOT / "tests" / "vectors" / "faceplugin-mobilefacenet"


def _number(text: str) -> float:
    return float(text) if text else float("nan")


def test_node_example_meets_the_vectors(default_model, tmp_path):
    node = shutil.which("node")
    assert node, "node is missing: install Node.js (scripts/test.sh needs it for the examples)"
    assert (EXAMPLE / "node_modules" / "onnxruntime-node").is_dir(), (
        "run `npm ci` in examples/node (scripts/test.sh does)"
    )
    bundle = tmp_path / "bundle.onnx"
    write_bundle(bundle, default_model, pixels="rgba")
    expected = json.loads((VECTORS / "expected.json").read_text())
    files = [str(VECTORS / row["file"]) for row in expected["images"]]
    done = subprocess.run(
        [node, "score.mjs", str(bundle), *files], cwd=EXAMPLE, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "images/s" in done.stderr
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert len(rows) == len(expected["images"])
    for row in expected["images"]:
        got = rows[row["file"]]
        points = [
            _number(got[f"{p}_{a}"])
            for p in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
            for a in "xy"
        ]
        result = {
            "status": got["status"],
            "q": _number(got["q"]),
            "Q": int(got["Q"]) if got["Q"] else -1,
            "box": [_number(got[k]) for k in ("x1", "y1", "x2", "y2")],
            "points": [points[i : i + 2] for i in range(0, 10, 2)],
            "face_score": _number(got["face_score"]),
        }
        assert meets(row, result) == [], row["file"]

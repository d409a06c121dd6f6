"""Conformance vectors: a few PNG images and ``expected.json`` with what the Python path gives for each
(status, q, Q, box, points, face score), the model's sha256 and the package version. Any other
implementation of the pipeline (the bundle in Node, in a browser, or a port) runs them as its test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import cv2
import numpy as np

#: How close an implementation must come, per status group; the bundle meets these (tests/test_vectors.py).
TOLERANCES = {
    "as-is": {"q_relative": 1e-5, "Q": 0},
    "aligned": {"q_relative": 1e-3, "Q": 1, "box_px": 0.01, "points_px": 0.1, "face_score": 1e-4},
    "geometry": {"q_relative": 1e-5, "Q": 0},
}


def expected_row(name: str, image: np.ndarray, scorer: Any) -> dict[str, Any]:
    """What the Python path gives for one image (box and points from its aligner for aligned faces)."""
    from .check import python_status

    record = scorer.score_array(image)
    row: dict[str, Any] = {
        "file": f"{name}.png",
        "height": image.shape[0],
        "width": image.shape[1],
        "status": python_status(record),
        "q": record.q,
        "Q": record.Q,
        "box": None,
        "points": None,
        "face_score": None,
    }
    if record.mode == "aligned" and record.ok:
        (face,) = scorer.framer.aligner.locate(image)
        row.update(
            box=[float(v) for v in face.detection.box],
            points=face.points.tolist(),
            face_score=float(face.detection.score),
        )
    return row


def write_vectors(out: Union[str, "os.PathLike[str]"], model: Optional[str] = None) -> dict[str, Any]:
    """Write the PNGs and expected.json into ``out``; returns the expected document."""
    from .. import __version__
    from ..demo import ASTRONAUT_POINTS, astronaut_bgr
    from ..fs import write_atomically
    from ..machine import describe
    from ..scorer import Scorer
    from ..zoo import resolve_model, sha256_of
    from .assemble import STATUS_CODES
    from .vector_images import vector_images

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = resolve_model(model)
    rows = []
    with Scorer(path, threads=1, batch_size=1) as scorer:
        images = vector_images(astronaut_bgr(), ASTRONAUT_POINTS, scorer.framer.template, scorer.framer.size_hw)
        for name, image in images.items():
            ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            if not ok:
                raise ValueError(f"PNG encoding failed for {name}")
            write_atomically(out / f"{name}.png", data.tobytes())
            rows.append(expected_row(name, image, scorer))
    document = {
        "fqe_onnx_version": __version__,
        "model": {"file": Path(path).name, "sha256": sha256_of(Path(path))},
        "made_on": describe(),
        "pixels": "the PNGs decoded to 8-bit BGR (or RGB/RGBA for a bundle made so)",
        "status_codes": list(STATUS_CODES),
        "tolerances": TOLERANCES,
        "images": rows,
    }
    write_atomically(out / "expected.json", (json.dumps(document, indent=1) + "\n").encode())
    return document


def _miss(key: str, got: Any, expected: Any, limit: float) -> Optional[str]:
    """How ``got`` (a number, a box, a list of points) misses ``expected``, coordinate by coordinate:
    the first coordinate off by more than ``limit``; None when every one is within it. A missing
    value, one that is not a number (NaN included) or one of another shape is a miss."""
    if got is None:
        return f"{key} missing"
    try:
        a, b = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    except (TypeError, ValueError):
        return f"{key} {got!r} is not numbers"
    if a.shape != b.shape:
        return f"{key} {got!r} has shape {a.shape}, expected {b.shape}"
    out = ~(np.abs(a - b) <= limit)  # NaN compares false: a NaN is out
    if not out.any():
        return None
    where = tuple(int(i) for i in np.argwhere(out)[0])
    index = "".join(f"[{i}]" for i in where)
    count = f"; {int(out.sum())} of {out.size} coordinates out" if a.ndim else ""
    return f"{key}{index} {a[where]:.9g}, expected {b[where]:.9g} (within {limit:g}{count})"


def meets(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """The ways ``got`` (status, q, Q, box, points, face_score) misses one expected row; empty if it meets it.
    Each coordinate of the box and of each point is held to the tolerance on its own."""
    if got["status"] != expected["status"]:
        return [f"status {got['status']}, expected {expected['status']}"]
    tolerance = TOLERANCES.get(expected["status"])
    if tolerance is None:  # not scored: nothing more to compare
        return []
    checks = [("q", tolerance["q_relative"] * abs(expected["q"])), ("Q", tolerance["Q"])]
    checks += [
        (key, tolerance[limit])
        for key, limit in (("box", "box_px"), ("points", "points_px"), ("face_score", "face_score"))
        if expected.get(key) is not None and limit in tolerance
    ]
    misses = [_miss(key, got.get(key), expected[key], limit) for key, limit in checks]
    return [miss for miss in misses if miss is not None]

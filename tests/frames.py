"""Test photos made from scikit-image's astronaut: the photo itself, and large frames with a small face."""

from __future__ import annotations

import cv2
import numpy as np


def astronaut() -> np.ndarray:
    """scikit-image's astronaut as BGR uint8 (512x512, a face about 100 px wide): the demo's photo."""
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


def large_frame(height: int, width: int, background: str, face: bool) -> np.ndarray:
    """A large frame, plain or textured, with the astronaut's head shrunk to a face about 34 px wide."""
    rng = np.random.default_rng(height + width)
    if background == "plain":
        frame = np.full((height, width, 3), (120, 140, 160), np.uint8)
    else:
        blocks = rng.integers(60, 200, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
        frame = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_LINEAR)
    if face:
        head = cv2.resize(astronaut()[0:300, 100:360], None, fx=0.38, fy=0.38, interpolation=cv2.INTER_AREA)
        y, x = height // 3, width // 2 + 37
        frame[y : y + head.shape[0], x : x + head.shape[1]] = head
    return frame

"""Sharpness: a pixel measure of fine detail in the face region (OFIQ: a random forest).

OFIQ feeds Laplacian, Sobel and mean-difference statistics of the face region to a random forest
trained on its own data (OFIQlib/modules/measures/src/Sharpness.cpp) and maps the forest's votes
with a sigmoid. The forest is not available here; we keep its simplest ingredient: the mean
absolute 3x3 Laplacian of the grey aligned face inside the landmarked region, divided by the
standard deviation of the grey levels there, so that brightness and contrast changes leave it
alone and only the share of fine detail counts. Measured on the aligned face (fixed scale: the eye
centres about 56 px apart), a small face upscaled for the frame reads as blurred, as a recognition
model sees it.

Raw: dimensionless, about 0.11 for an LFW photo (median), falling toward 0.05 with strong blur.
The mapping is ours: a sigmoid whose midpoint (``SHARPNESS.x0``) is the median raw value of
lfw-dev photos blurred with a Gaussian of sigma 1 photo pixel (about 1.3 pixels of the frame), and
whose width puts the unblurred median near 95 (benchmarks/measures.py prints the values).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .frame import AlignedFace
from .mapping import Sigmoid

SHARPNESS = Sigmoid(x0=0.07, w=0.015)


def sharpness(face: AlignedFace) -> Optional[float]:
    """Raw: mean |Laplacian| over grey-level standard deviation in the face region; None for an
    empty or flat region."""
    if not face.mask.any():
        return None
    grey = cv2.cvtColor(face.bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))
    inside = face.mask
    spread = float(grey[inside].std())
    if spread <= 0:
        return None
    return float(laplacian[inside].mean()) / spread


def sharpness_measure(face: AlignedFace) -> Optional[tuple[int, float]]:
    raw = sharpness(face)
    return None if raw is None else (SHARPNESS(raw), raw)

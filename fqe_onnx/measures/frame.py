"""The aligned face the pixel measures look at: OFIQ's frame at half its size, and its face region.

OFIQ warps every face onto its 616x616 reference (eye centres, nose tip, mouth corners;
OFIQlib/modules/utils/src/utils.cpp, ``alignImage``) and measures pixels inside the convex hull of
the aligned landmarks (OFIQlib/modules/landmarks/src/FaceMeasures.cpp, ``GetFaceMask`` with
alpha 0). We use the same reference at 308x308 (half the size: the eye centres about 56 px apart,
about what a 250x250 LFW photo holds), fit with least squares (OFIQ: least median of squares),
fill the hull directly (OFIQ draws it on a 224x224 grid first), and warp only the window of the
frame that the measures read: the hull and the two cheek regions, with a margin for the
Laplacian. Pixels of the frame beyond the photo are black, as in OFIQ.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..align.template import OFIQ_REFERENCE_616, OFIQ_SIZE, resize_points, similarity_transform
from .parts import LEFT_EYE_CORNERS, NOSE_TIP, RIGHT_EYE_CORNERS, as_points, cheek_regions

FRAME_SIZE = 308
FRAME_REFERENCE = resize_points(OFIQ_REFERENCE_616, (OFIQ_SIZE, OFIQ_SIZE), (FRAME_SIZE, FRAME_SIZE))
MOUTH_CORNERS = (48, 54)  # WFLW 76, 82
#: Frame pixels kept around the hull, so that a 3x3 filter at its edge sees real neighbours.
MARGIN = 2


@dataclass(frozen=True)
class AlignedFace:
    """A window of the face on OFIQ's reference: ``bgr`` (uint8), ``points`` (the 68 landmarks in
    window pixels), ``mask`` (bool, the landmarked region) and ``origin`` (the window's top-left
    corner in the FRAME_SIZE frame)."""

    bgr: np.ndarray
    points: np.ndarray
    mask: np.ndarray
    origin: tuple[int, int] = (0, 0)


def reference_points(landmarks: np.ndarray) -> np.ndarray:
    """OFIQ's five alignment points from 68: eye centres (middle of the corners), nose tip, mouth corners."""
    points = as_points(landmarks)
    return np.array([points[list(LEFT_EYE_CORNERS)].mean(axis=0), points[list(RIGHT_EYE_CORNERS)].mean(axis=0),
                     points[NOSE_TIP], points[MOUTH_CORNERS[0]], points[MOUTH_CORNERS[1]]])


def face_mask(points: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the convex hull of the points (rounded to whole pixels), filled."""
    hull = cv2.convexHull(np.floor(points + 0.5).astype(np.int32))
    mask = np.zeros(size_hw, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.view(bool)


def window(points: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h): the part of the frame holding the hull of ``points`` (frame pixels) and the
    cheek regions, plus MARGIN, clipped to the frame."""
    rounded = np.floor(points + 0.5)
    x1, y1 = rounded.min(axis=0)
    x2, y2 = rounded.max(axis=0) + 1
    for x, y, w, h in cheek_regions(points):
        x1, y1, x2, y2 = min(x1, x), min(y1, y), max(x2, x + w), max(y2, y + h)
    x1, y1 = max(int(x1) - MARGIN, 0), max(int(y1) - MARGIN, 0)
    x2, y2 = min(int(x2) + MARGIN, FRAME_SIZE), min(int(y2) + MARGIN, FRAME_SIZE)
    return x1, y1, max(x2 - x1, 1), max(y2 - y1, 1)


def warp(bgr: np.ndarray, matrix: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """The window ``rect`` of the frame that ``matrix`` (photo -> frame) maps the photo onto; a
    photo more than twice the frame's scale is first shrunk (area interpolation), as the model's
    aligner does, so that fine texture does not alias."""
    x, y, w, h = rect
    matrix = matrix - [[0, 0, x], [0, 0, y]]
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < 0.5:
        height, width = bgr.shape[:2]
        new_w, new_h = max(1, round(width * 2 * scale)), max(1, round(height * 2 * scale))
        fx, fy = new_w / width, new_h / height
        bgr = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
        # a shrunk pixel x' sits at x = (x' + 0.5) / f - 0.5 of the photo
        matrix = matrix @ np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
    return cv2.warpAffine(bgr, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def align(bgr: np.ndarray, landmarks: np.ndarray) -> AlignedFace:
    """The window of OFIQ's reference frame (FRAME_SIZE) that holds the face of ``landmarks``
    (68 points, photo pixels)."""
    points = as_points(landmarks)
    matrix = similarity_transform(reference_points(points), FRAME_REFERENCE)
    in_frame = points @ matrix[:, :2].T + matrix[:, 2]
    rect = window(in_frame)
    local = in_frame - rect[:2]
    return AlignedFace(warp(bgr, matrix, rect), local, face_mask(local, (rect[3], rect[2])), (rect[0], rect[1]))

"""The aligned face the pixel measures look at: OFIQ's frame at half its size, and its face region.

OFIQ warps every face onto its 616x616 reference (eye centres, nose tip, mouth corners;
OFIQlib/modules/utils/src/utils.cpp, ``alignImage``) and measures pixels inside the convex hull of
the aligned landmarks (OFIQlib/modules/landmarks/src/FaceMeasures.cpp, ``GetFaceMask`` with
alpha 0). We use the same reference at 308x308 (half the size: the eye centres about 56 px apart,
about what a 250x250 LFW photo holds), fit with least squares (OFIQ: least median of squares),
fill the hull directly (OFIQ draws it on a 224x224 grid first), and warp only the window of the
frame that the measures read: the hull, with a margin for the Laplacian. The two small cheek
regions of illumination uniformity and natural colour are read on the full 616x616 frame
(``cheeks``), so that their histograms have OFIQ's pixel counts. Pixels of the frame beyond the
photo are black, as in OFIQ.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from typing import Optional

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


@dataclass(frozen=True)
class Cheek:
    """One cheek region on OFIQ's 616x616 frame: its pixels (uint8 BGR) and which of them lie in
    the landmarked region (bool)."""

    bgr: np.ndarray
    mask: np.ndarray


def reference_points(landmarks: np.ndarray) -> np.ndarray:
    """OFIQ's five alignment points from 68: eye centres (middle of the corners), nose tip, mouth corners."""
    p = as_points(landmarks)
    (a, b), (c, d) = LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
    return np.array([(p[a] + p[b]) * 0.5, (p[c] + p[d]) * 0.5, p[NOSE_TIP], p[MOUTH_CORNERS[0]], p[MOUTH_CORNERS[1]]])


def ofiq_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3: the similarity taking the photo onto OFIQ's 616x616 frame (least squares on the five points)."""
    return similarity_transform(reference_points(landmarks), OFIQ_REFERENCE_616)


def _halved(matrix_616: np.ndarray) -> np.ndarray:
    """The same similarity onto the FRAME_SIZE frame: x' = (x + 0.5) / 2 - 0.5 of the 616 frame
    (what fitting FRAME_REFERENCE, the reference resized so, gives exactly)."""
    return np.hstack([matrix_616[:, :2] * 0.5, matrix_616[:, 2:] * 0.5 - 0.25])


def face_mask(points: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the convex hull of the points (rounded to whole pixels), filled."""
    hull = cv2.convexHull(np.floor(points + 0.5).astype(np.int32))
    mask = np.zeros(size_hw, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.view(bool)


def window(points: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h): the part of the frame holding the hull of ``points`` (frame pixels), plus
    MARGIN, clipped to the frame."""
    rounded = np.floor(points + 0.5)
    x1, y1 = rounded.min(axis=0)
    x2, y2 = rounded.max(axis=0) + 1
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


def align(bgr: np.ndarray, landmarks: np.ndarray, matrix_616: Optional[np.ndarray] = None) -> AlignedFace:
    """The window of OFIQ's reference frame (FRAME_SIZE) that holds the face of ``landmarks``
    (68 points, photo pixels); ``matrix_616``: ``ofiq_matrix`` when already known."""
    points = as_points(landmarks)
    matrix = _halved(ofiq_matrix(points) if matrix_616 is None else matrix_616)
    in_frame = points @ matrix[:, :2].T + matrix[:, 2]
    rect = window(in_frame)
    local = in_frame - rect[:2]
    return AlignedFace(warp(bgr, matrix, rect), local, face_mask(local, (rect[3], rect[2])), (rect[0], rect[1]))


def cheeks(
    bgr: np.ndarray, landmarks: np.ndarray, matrix_616: Optional[np.ndarray] = None
) -> Optional[tuple[Cheek, Cheek]]:
    """The (left, right) cheek regions (``parts.cheek_regions``) of the face on OFIQ's 616x616
    frame; None when a region is empty or leaves the frame (OFIQ: failure to assess)."""
    points = as_points(landmarks)
    matrix = ofiq_matrix(points) if matrix_616 is None else matrix_616
    in_frame = points @ matrix[:, :2].T + matrix[:, 2]
    regions = cheek_regions(in_frame)
    if any(w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > OFIQ_SIZE or y + h > OFIQ_SIZE for x, y, w, h in regions):
        return None
    left, right = (
        Cheek(warp(bgr, matrix, rect), face_mask(in_frame - rect[:2], (rect[3], rect[2]))) for rect in regions
    )
    return left, right

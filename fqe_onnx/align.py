"""Similarity alignment onto the 112x112 five-point template used by ArcFace-style models.

Points are (x, y) in pixels, in the order: left eye, right eye (as seen in the image), nose tip,
left mouth corner, right mouth corner. The fit is Umeyama's least-squares similarity (rotation,
uniform scale, translation): a full affine would stretch faces.
"""

from __future__ import annotations

import cv2
import numpy as np

#: The five-point template of the 112x112 aligned crop (insightface/ArcFace convention).
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
ALIGNED_SIZE = 112


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix M of the similarity that best maps ``src`` points onto ``dst`` (least squares,
    Umeyama 1991); apply as ``dst ~ M @ [x, y, 1]``."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need matching (K, 2) point arrays with K >= 2, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection: flip the weakest axis
        sign[-1] = -1
    rotation = u @ np.diag(sign) @ vt
    src_var = (src_c ** 2).sum() / len(src)
    if src_var == 0:
        raise ValueError("the source points are all the same point")
    scale = float((singular * sign).sum() / src_var)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(bgr: np.ndarray, points: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """Warp an image so its five ``points`` land on the template; returns a size x size BGR crop.

    Large photos are first shrunk (area interpolation) so the face is at most about twice the
    crop's scale: warping straight from a much larger image aliases."""
    points = np.asarray(points, dtype=np.float64)
    template = ARCFACE_TEMPLATE_112 * (size / ALIGNED_SIZE)
    matrix = similarity_transform(points, template)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < 0.5:  # the face is more than twice the crop's size: pre-shrink
        factor = 2 * scale
        height, width = bgr.shape[:2]
        new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_AREA)
        points = points * [new_size[0] / width, new_size[1] / height]
        matrix = similarity_transform(points, template)
    return cv2.warpAffine(bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

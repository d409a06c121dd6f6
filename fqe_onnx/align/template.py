"""Face templates and the similarity warp that puts a face onto one.

A template is where a model wants the five face points in its input, in input pixels, in the order
of ``contract.TEMPLATE_POINTS``: left eye, right eye (as seen in the image), nose tip, left and
right mouth corner. Coordinates follow OpenCV's convention: pixel (i, j) has its centre at x = j,
y = i. The fit is Umeyama's least-squares similarity (rotation, uniform scale, translation): a full
affine would stretch faces.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..contract import ARCFACE_POINTS_112, Geometry, Preprocess

#: The five-point template of the 112x112 aligned crop (insightface/ArcFace convention).
ARCFACE_TEMPLATE_112 = np.array(ARCFACE_POINTS_112, dtype=np.float64)
ARCFACE_SIZE = 112

#: OFIQ's alignment reference points in its 616x616 aligned image (OFIQ's ``alignImage``): eye
#: centres, nose tip, mouth corners. OFIQ's unified score resizes that image to 192 and crops it.
OFIQ_REFERENCE_616 = np.array([[251, 272], [364, 272], [308, 336], [262, 402], [355, 402]], dtype=np.float64)
OFIQ_SIZE = 616


def resize_points(points: np.ndarray, source_hw: tuple[int, int], target_hw: tuple[int, int]) -> np.ndarray:
    """Where points land when an image of ``source_hw`` is resized to ``target_hw`` (cv2.resize's
    half-pixel centres: x' = (x + 0.5) * sx - 0.5)."""
    scale = np.array([target_hw[1] / source_hw[1], target_hw[0] / source_hw[0]])
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5


def geometry_template(geometry: Geometry) -> np.ndarray:
    """The template a geometry implies, when the contract does not give one.

    A geometry that only resizes to the crop size (``aligned112``) takes faces aligned to the
    ArcFace 112x112 template, scaled to the crop. Any other geometry (``seed``, ``ofiq``, custom
    crops) is read as OFIQ's framing: its 616x616 reference points resized to ``geometry.resize``,
    then moved by the crop's top-left corner.
    """
    top, left, height, width = geometry.crop_box()
    if geometry.resize == geometry.crop_size:
        return resize_points(ARCFACE_TEMPLATE_112, (ARCFACE_SIZE, ARCFACE_SIZE), (height, width))
    return resize_points(OFIQ_REFERENCE_616, (OFIQ_SIZE, OFIQ_SIZE), geometry.resize) - [left, top]


def model_template(preprocess: Preprocess) -> np.ndarray:
    """(5, 2) float64: the contract's template, or the one its geometry implies."""
    if preprocess.template is not None:
        return np.array(preprocess.template, dtype=np.float64)
    return geometry_template(preprocess.geometry)


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
    src_var = (src_c**2).sum() / len(src)
    if src_var == 0:
        raise ValueError("the source points are all the same point")
    scale = float((singular * sign).sum() / src_var)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def warp_to_template(bgr: np.ndarray, points: np.ndarray, template: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Warp an image so its five ``points`` land on ``template``; returns the (h, w) crop, one resampling.

    Large photos are first shrunk (area interpolation) so the face is at most about twice the
    crop's scale: warping straight from a much larger image aliases."""
    points = np.asarray(points, dtype=np.float64)
    matrix = similarity_transform(points, template)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < 0.5:  # the face is more than twice the crop's size: pre-shrink
        factor = 2 * scale
        height, width = bgr.shape[:2]
        new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_AREA)
        points = points * [new_size[0] / width, new_size[1] / height]
        matrix = similarity_transform(points, template)
    height, width = size_hw
    return cv2.warpAffine(bgr, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_face(bgr: np.ndarray, points: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The face warped onto the ArcFace template at ``size`` x ``size`` (for models that use it)."""
    template = resize_points(ARCFACE_TEMPLATE_112, (ARCFACE_SIZE, ARCFACE_SIZE), (size, size))
    return warp_to_template(bgr, points, template, (size, size))

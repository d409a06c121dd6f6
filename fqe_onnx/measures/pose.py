"""Head pose from the 68 landmarks: a least-squares fit of a generic 3D face (OFIQ: a network).

OFIQ estimates pose with 3DDFA-V2 (OFIQlib/modules/poseEstimators/src/HeadPose3DDFAV2.cpp) and maps
each angle to 100 cos^2 (OFIQlib/modules/measures/src/HeadPose.cpp). That network is not
redistributable here, so the angles come from the rotation that best carries ``FACE_68_3D`` (a
mean face built from our own landmark model, see ``fqe_onnx.measures.face3d``) onto the 68
points under scaled orthographic projection (weak perspective): x ~ s P R X + t, solved in closed
form and refined by Gauss-Newton. Weak perspective needs no focal length, and an in-plane rotation
of the image by phi changes the roll by exactly phi.

Angles, in degrees (R = Rz(-roll) Ry(-yaw) Rx(-pitch), camera axes x right, y down, z forward):
yaw > 0 when the face turns toward the image's right, pitch > 0 when it tilts up, roll > 0 when
it is rotated counter-clockwise as the image is shown (OpenCV's ``getRotationMatrix2D`` angle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .face3d import FACE_68_3D
from .mapping import head_pose_score

#: Gauss-Newton steps at most, and the step (radians) under which the fit has converged.
ITERATIONS, TOLERANCE = 20, 1e-5


@dataclass(frozen=True)
class Pose:
    """Yaw, pitch and roll in degrees, and the fit's RMS residual over its scale (a share of the face)."""

    yaw: float
    pitch: float
    roll: float
    residual: float


def _skew(vectors: np.ndarray) -> np.ndarray:
    """(n, 3, 3): the cross-product matrix of each vector."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def fit_rotation(
    points_2d: np.ndarray, model_3d: np.ndarray = FACE_68_3D
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """(R, s, t, rms) of x ~ s P R X + t, least squares over all points (P drops z).

    Start: the linear fit of the 2x3 camera, projected onto scaled orthonormal rows; then
    Gauss-Newton on a rotation increment, the scale and the shift (normal equations, 6 unknowns)."""
    x = np.asarray(points_2d, dtype=np.float64)
    model = np.asarray(model_3d, dtype=np.float64)
    centred = model - model.mean(axis=0)
    skew = _SKEW if model_3d is FACE_68_3D else _skew(centred)
    x_mean = x.mean(axis=0)
    camera = np.linalg.solve(centred.T @ centred, centred.T @ (x - x_mean)).T  # (2, 3)
    u, singular, vt = np.linalg.svd(camera, full_matrices=False)
    rows = u @ vt
    rotation = np.vstack([rows, _cross(rows[0], rows[1])])
    scale = float(singular.mean())
    shift = x_mean.copy()  # the model is centred: its projection's mean is 0
    identity = np.broadcast_to(np.eye(2), (len(x), 2, 2))
    for _ in range(ITERATIONS):
        rotated = centred @ rotation.T
        residual = (scale * rotated[:, :2] + shift - x).reshape(-1)
        j_rot = -scale * np.einsum("ab,nbc->nac", rotation[:2], skew)  # d(s P R exp(w) X)/dw at w = 0
        jacobian = np.concatenate([j_rot, rotated[:, :2, None], identity], axis=2).reshape(-1, 6)
        step = np.linalg.solve(jacobian.T @ jacobian, -(jacobian.T @ residual))
        rotation = rotation @ cv2.Rodrigues(step[:3].reshape(3, 1))[0]
        scale += float(step[3])
        shift = shift + step[4:]
        if float(np.abs(step[:3]).max()) < TOLERANCE:
            break
    u, _, vt = np.linalg.svd(rotation)  # keep R exactly orthonormal
    rotation = u @ vt
    rms = float(np.sqrt(np.mean(np.sum((scale * (centred @ rotation.T)[:, :2] + shift - x) ** 2, axis=1))))
    return rotation, scale, shift, rms


_SKEW = _skew(FACE_68_3D - FACE_68_3D.mean(axis=0))


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of R = Rz(-roll) Ry(-yaw) Rx(-pitch)."""
    r = np.asarray(rotation, dtype=np.float64)
    beta = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    alpha = math.atan2(r[2, 1], r[2, 2])
    rho = math.atan2(r[1, 0], r[0, 0])
    return -math.degrees(beta), -math.degrees(alpha), -math.degrees(rho)


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The inverse of ``euler_angles`` (for tests and synthetic faces)."""
    a, b, c = (-math.radians(v) for v in (pitch, yaw, roll))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_pose(landmarks: np.ndarray) -> Pose:
    """The pose of a face from its 68 points (image pixels)."""
    rotation, scale, _, rms = fit_rotation(landmarks)
    yaw, pitch, roll = euler_angles(rotation)
    return Pose(yaw, pitch, roll, rms / scale if scale > 0 else math.inf)


def pose_scores(pose: Pose) -> dict[str, int]:
    """OFIQ's 100 cos^2 of each angle."""
    return {
        "head_pose_yaw": head_pose_score(pose.yaw),
        "head_pose_pitch": head_pose_score(pose.pitch),
        "head_pose_roll": head_pose_score(pose.roll),
    }

#!/usr/bin/env python3
"""Build the generic 3D face of ``fqe_onnx/measures/face3d.py`` from our own 68-point landmarks.

    python tools/face_model.py ../shared/data/lfw-dev > fqe_onnx/measures/face3d.py

Rigid structure from motion (Tomasi and Kanade 1992, scaled orthographic cameras): the main face's
68 points of every photo (each centred and scaled to unit RMS) are stacked into a 2F x 68 matrix,
whose rank-3 factorisation gives cameras and one 3D shape up to a linear map; the metric upgrade
(rows of each camera orthogonal and of equal length) fixes the map up to a rotation and a depth
reflection. Different people and expressions are noise around that mean shape. The shape is then
put in the face's own frame: rotated so that it is mirror-symmetric about x = 0 (the 68 layout's
left/right pairs), averaged with its mirror image (so a flipped face gives exactly the opposite
yaw and roll), turned about x until the eye centres and mouth corners lie at one depth (pitch 0),
with the nose tip toward the camera (z forward), and scaled so the eye centres are 1 apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fqe_onnx.align.aligner import FaceAligner
from fqe_onnx.decode import read_image
from fqe_onnx.errors import ImageError
from fqe_onnx.measures.parts import MIRROR as PARTS_MIRROR

MIRROR = np.array(PARTS_MIRROR)
FLIP = np.diag([-1.0, 1.0, 1.0])


def landmarks_of(root: Path) -> np.ndarray:
    aligner = FaceAligner(device="cpu")
    faces = []
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for start in range(0, len(paths), 16):
        images = []
        for path in paths[start : start + 16]:
            try:
                images.append(read_image(path))
            except ImageError:
                continue
        for found in aligner.locate_batch(images):
            if not isinstance(found, ImageError):
                faces.append(found[0].landmarks)
    return np.array(faces)


def factorise(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cameras (F, 2, 3), shape (68, 3)) of the unit-normalised faces, metric up to a rotation."""
    centred = faces - faces.mean(axis=1, keepdims=True)
    centred /= np.sqrt((centred**2).sum(axis=2).mean(axis=1))[:, None, None]
    stacked = centred.transpose(0, 2, 1).reshape(-1, 68)  # rows x_f, y_f
    u, singular, vt = np.linalg.svd(stacked, full_matrices=False)
    motion = u[:, :3] * np.sqrt(singular[:3])
    shape = np.sqrt(singular[:3])[:, None] * vt[:3]
    rows_i, rows_j = motion[0::2], motion[1::2]

    def quadratic(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # coefficients of a^T L b in L's 6 entries
        return np.stack(
            [
                a[:, 0] * b[:, 0],
                a[:, 0] * b[:, 1] + a[:, 1] * b[:, 0],
                a[:, 0] * b[:, 2] + a[:, 2] * b[:, 0],
                a[:, 1] * b[:, 1],
                a[:, 1] * b[:, 2] + a[:, 2] * b[:, 1],
                a[:, 2] * b[:, 2],
            ],
            axis=1,
        )

    system = np.vstack(
        [
            quadratic(rows_i, rows_i) - quadratic(rows_j, rows_j),
            quadratic(rows_i, rows_j),
            quadratic(rows_i, rows_i).mean(axis=0, keepdims=True),
        ]
    )
    target = np.concatenate([np.zeros(2 * len(rows_i)), [1.0]])
    g = np.linalg.lstsq(system, target, rcond=None)[0]  # the symmetric metric's six entries
    gram = np.array([[g[0], g[1], g[2]], [g[1], g[3], g[4]], [g[2], g[4], g[5]]])
    values, vectors = np.linalg.eigh(gram)
    if values.min() <= 0:
        raise SystemExit(f"the metric upgrade failed (eigenvalues {values})")
    upgrade = vectors @ np.diag(np.sqrt(values)) @ vectors.T
    cameras = (motion @ upgrade).reshape(-1, 2, 3)
    return cameras, (np.linalg.inv(upgrade) @ shape).T


def mean_rotation(cameras: np.ndarray) -> np.ndarray:
    rows = cameras / np.linalg.norm(cameras, axis=2, keepdims=True)
    rotations = np.concatenate([rows, np.cross(rows[:, 0], rows[:, 1])[:, None]], axis=1)
    u, _, vt = np.linalg.svd(rotations.mean(axis=0))
    return u @ vt


def symmetric_frame(shape: np.ndarray) -> np.ndarray:
    """The shape rotated so that its mirror plane is x = 0, then averaged with its mirror image."""
    shape = shape - shape.mean(axis=0)
    mirrored = shape[MIRROR] @ FLIP
    u, _, vt = np.linalg.svd(mirrored.T @ shape)  # Kabsch: rotation taking mirrored onto shape
    twice = (u @ np.diag([1, 1, np.linalg.det(u @ vt)]) @ vt).T
    half = cv2.Rodrigues(cv2.Rodrigues(twice)[0] / 2)[0]
    best = min((shape @ r.T for r in (half, half.T)), key=lambda s: np.abs(s - s[MIRROR] @ FLIP).sum())
    best = (best + best[MIRROR] @ FLIP) / 2
    best[:, 0] -= best[:, 0].mean()
    return best


def face_frame(shape: np.ndarray) -> np.ndarray:
    """Pitch 0 (eye centres and mouth corners at one depth), nose toward the camera, eyes 1 apart."""
    if shape[30, 2] > shape[[36, 39, 42, 45], 2].mean():  # nose behind the eyes: the depth reflection
        shape = shape @ np.diag([1.0, 1.0, -1.0])
    eyes = shape[[36, 39, 42, 45]].mean(axis=0)
    mouth = shape[[48, 54]].mean(axis=0)
    angle = np.arctan2(-(mouth[2] - eyes[2]), mouth[1] - eyes[1])  # turn about x: mouth level with eyes in z
    c, s = np.cos(angle), np.sin(angle)
    shape = shape @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]]).T
    shape -= shape.mean(axis=0)
    left, right = shape[[36, 39]].mean(axis=0), shape[[42, 45]].mean(axis=0)
    return shape / np.linalg.norm(right - left)


def main() -> None:
    root = Path(sys.argv[1])
    faces = landmarks_of(root)
    cameras, shape = factorise(faces)
    shape = shape @ mean_rotation(cameras).T
    model = face_frame(symmetric_frame(shape))
    rows = ",\n".join("    [" + ", ".join(f"{v:.4f}" for v in point) + "]" for point in model)
    print(f'''"""The generic 3D face the head pose is fitted to: 68 points (iBUG 300-W layout, 0-based).

Built by tools/face_model.py from our own landmark model's points on {len(faces)} LFW photos (rigid
structure from motion under scaled orthographic cameras, then made mirror-symmetric): x right,
y down, z away from the camera; eye centres 1 apart; pitch 0 when the eye centres and the mouth
corners lie at one depth. Regenerate with ``python tools/face_model.py LFW_FOLDER``.
"""

import numpy as np

FACE_68_3D = np.array([
{rows},
], dtype=np.float64)
FACE_68_3D.setflags(write=False)''')


if __name__ == "__main__":
    main()

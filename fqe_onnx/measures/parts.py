"""OFIQ's face parts on our 68-point layout, and the distances OFIQ builds from them.

OFIQ's landmarks are ADNet's 98 points (WFLW layout; OFIQlib/modules/landmarks/adnet_FaceMap.h);
ours are the usual 68 (iBUG 300-W layout, 0-based). The parts map one to one except the eyes:
WFLW has 8 points per eye (3 lid pairs), the 68 layout 6 (2 lid pairs). "Left" and "right" are as
seen in the image, as in OFIQ's code (its left eye, points 60-67, is the one on the image's left).
"""

from __future__ import annotations

import numpy as np

LEFT_EYE_CORNERS = (36, 39)  # WFLW 60, 64
RIGHT_EYE_CORNERS = (42, 45)  # WFLW 68, 72
LEFT_EYE_PAIRS = ((37, 41), (38, 40))  # upper lid over lower lid; WFLW (61, 67), (62, 66), (63, 65)
RIGHT_EYE_PAIRS = ((43, 47), (44, 46))  # WFLW (69, 75), (70, 74), (71, 73)
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # WFLW (89, 95), (90, 94), (91, 93)
MOUTH_CENTRE_PAIR = (62, 66)  # WFLW (90, 94)
CHIN = 8  # WFLW 16
NOSE_TIP = 30  # WFLW 54


def as_points(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) float64, or ValueError naming the shape given."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"need 68 (x, y) landmarks, got an array of shape {points.shape}")
    return points


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centre: the middle of each eye's two corners (OFIQ's ``GetMiddle`` of the
    eye corners)."""
    return points[list(LEFT_EYE_CORNERS)].mean(axis=0), points[list(RIGHT_EYE_CORNERS)].mean(axis=0)


def eye_distance(points: np.ndarray) -> float:
    """Eye centre to eye centre, in the points' pixels."""
    left, right = eye_centres(points)
    return float(np.linalg.norm(right - left))


def eye_midpoint(points: np.ndarray) -> np.ndarray:
    left, right = eye_centres(points)
    return (left + right) / 2


def chin_distance(points: np.ndarray) -> float:
    """OFIQ's ``tmetric``: from the midpoint of the eye centres to the chin."""
    return float(np.linalg.norm(points[CHIN] - eye_midpoint(points)))


def max_pair_distance(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> float:
    """The largest distance within the pairs (OFIQ's ``GetMaxPairDistance``)."""
    return max(float(np.linalg.norm(points[a] - points[b])) for a, b in pairs)


def mouth_centre(points: np.ndarray) -> np.ndarray:
    return points[list(MOUTH_CENTRE_PAIR)].mean(axis=0)


def cheek_regions(points: np.ndarray) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(left, right) cheek regions, (x, y, w, h), from the aligned 68 points, with OFIQ's integer
    arithmetic (OFIQlib/modules/utils/src/image_utils.cpp, ``CalculateReferencePoints`` and
    ``CalculateRegionOfInterest``): squares of side int(0.3 x eye distance), their top
    int(eye-to-mouth distance / 2) below the eyes; the left one starts at the left eye centre,
    the right one ends at the right eye centre."""
    left_eye, right_eye = (np.floor(c + 0.5).astype(int) for c in eye_centres(points))
    eye_gap = float(np.linalg.norm(right_eye - left_eye))
    mouth_gap = float(np.linalg.norm((left_eye + right_eye) / 2 - mouth_centre(points)))
    zone, drop = int(eye_gap * 0.3), int(mouth_gap / 2)
    return ((int(left_eye[0]), int(left_eye[1]) + drop, zone, zone),
            (int(right_eye[0]) - zone, int(right_eye[1]) + drop, zone, zone))

"""OFIQ's face parts on our 68-point layout, and the distances OFIQ builds from them.

OFIQ's landmarks are ADNet's 98 points (WFLW layout; OFIQlib/modules/landmarks/adnet_FaceMap.h);
ours are the usual 68 (iBUG 300-W layout, 0-based). The parts map one to one except the eyes:
WFLW has 8 points per eye (3 lid pairs), the 68 layout 6 (2 lid pairs). "Left" and "right" are as
seen in the image, as in OFIQ's code (its left eye, points 60-67, is the one on the image's left).
"""

from __future__ import annotations

import math

import numpy as np

LEFT_EYE_CORNERS = (36, 39)  # WFLW 60, 64
RIGHT_EYE_CORNERS = (42, 45)  # WFLW 68, 72
LEFT_EYE_PAIRS = ((37, 41), (38, 40))  # upper lid over lower lid; WFLW (61, 67), (62, 66), (63, 65)
RIGHT_EYE_PAIRS = ((43, 47), (44, 46))  # WFLW (69, 75), (70, 74), (71, 73)
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # WFLW (89, 95), (90, 94), (91, 93)
MOUTH_CENTRE_PAIR = (62, 66)  # WFLW (90, 94)
CHIN = 8  # WFLW 16
NOSE_TIP = 30  # WFLW 54
#: Each point's mirror partner: a face flipped left to right has point MIRROR[i] where it had i.
MIRROR = (
    tuple(range(16, -1, -1))  # jaw
    + tuple(range(26, 16, -1))  # eyebrows
    + (27, 28, 29, 30, 35, 34, 33, 32, 31)  # nose
    + (45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40)  # eyes
    + (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55)  # outer lips
    + (64, 63, 62, 61, 60, 67, 66, 65)
)  # inner lips


def as_points(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) float64, or ValueError naming the shape given."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"need 68 (x, y) landmarks, got an array of shape {points.shape}")
    return points


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centre: the middle of each eye's two corners (OFIQ's ``GetMiddle`` of the
    eye corners)."""
    (a, b), (c, d) = LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS
    return (points[a] + points[b]) * 0.5, (points[c] + points[d]) * 0.5


def _length(vector: np.ndarray) -> float:
    return math.hypot(float(vector[0]), float(vector[1]))


def eye_distance(points: np.ndarray) -> float:
    """Eye centre to eye centre, in the points' pixels."""
    left, right = eye_centres(points)
    return _length(right - left)


def eye_midpoint(points: np.ndarray) -> np.ndarray:
    left, right = eye_centres(points)
    return (left + right) / 2


def chin_distance(points: np.ndarray) -> float:
    """OFIQ's ``tmetric``: from the midpoint of the eye centres to the chin."""
    return _length(points[CHIN] - eye_midpoint(points))


def max_pair_distance(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> float:
    """The largest distance within the pairs (OFIQ's ``GetMaxPairDistance``)."""
    return max(_length(points[a] - points[b]) for a, b in pairs)


def mouth_centre(points: np.ndarray) -> np.ndarray:
    return (points[MOUTH_CENTRE_PAIR[0]] + points[MOUTH_CENTRE_PAIR[1]]) * 0.5


def cheek_regions(points: np.ndarray) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """(left, right) cheek regions, (x, y, w, h), from the aligned 68 points, with OFIQ's integer
    arithmetic (OFIQlib/modules/utils/src/image_utils.cpp, ``CalculateReferencePoints`` and
    ``CalculateRegionOfInterest``): squares of side int(0.3 x eye distance), their top
    int(eye-to-mouth distance / 2) below the eyes; the left one starts at the left eye centre,
    the right one ends at the right eye centre."""
    left_eye, right_eye = (np.floor(c + 0.5).astype(int) for c in eye_centres(points))
    eye_gap = _length(right_eye - left_eye)
    mouth_gap = _length((left_eye + right_eye) / 2 - mouth_centre(points))
    zone, drop = int(eye_gap * 0.3), int(mouth_gap / 2)
    return (
        (int(left_eye[0]), int(left_eye[1]) + drop, zone, zone),
        (int(right_eye[0]) - zone, int(right_eye[1]) + drop, zone, zone),
    )

"""From a raw photo to template-aligned 112x112 face crops: detect, pick, landmark, warp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .align import ALIGNED_SIZE, align_face
from .detection import CONFIDENCE, Detection, FaceDetector, five_points, select_main_face
from .errors import ImageError

MODE_ALIGNED = "aligned"
MODE_PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class AlignedFace:
    """One face: its detection, five points (image pixels) and the aligned BGR crop."""

    face_index: int
    detection: Detection
    points: np.ndarray  # (5, 2): left eye, right eye, nose tip, left and right mouth corner
    crop: np.ndarray  # 112x112x3 BGR uint8


class FaceAligner:
    """Detector + landmarks + similarity warp onto the ArcFace 112x112 template.

    Models default to the pinned files of the default model's npm package (fetched once, hash-checked).
    ``pass_aligned``: images that are already 112x112 are taken as aligned and passed through.
    """

    def __init__(self, device: str = "cpu", detector_model=None, landmark_model=None, pass_aligned: bool = False,
                 confidence: float = CONFIDENCE):
        if detector_model is None or landmark_model is None:
            from .zoo import FR_DETECT, FR_LANDMARK, raw_file

            detector_model = detector_model or raw_file(FR_DETECT)
            landmark_model = landmark_model or raw_file(FR_LANDMARK)
        self.detector = FaceDetector(detector_model, landmark_model, device=device, confidence=confidence)
        self.pass_aligned = pass_aligned

    def is_passthrough(self, bgr: np.ndarray) -> bool:
        return self.pass_aligned and bgr.shape[:2] == (ALIGNED_SIZE, ALIGNED_SIZE)

    def locate(self, bgr: np.ndarray, all_faces: bool = False) -> list[tuple[int, Detection, np.ndarray]]:
        """(face index, detection, five points) for the main face (or every face); raises ImageError
        when no face is found."""
        detections = self.detector.detect(bgr)
        if not detections:
            raise ImageError(f"no face found (detector confidence >= {self.detector.confidence:g})")
        height, width = bgr.shape[:2]
        indices = range(len(detections)) if all_faces else [select_main_face(detections, width, height)]
        return [(i, detections[i], five_points(self.detector.landmarks(bgr, detections[i]))) for i in indices]

    def faces(self, bgr: np.ndarray, all_faces: bool = False) -> list[AlignedFace]:
        """The main face (or every face), aligned; raises ImageError when no face is found."""
        return [AlignedFace(index, detection, points, align_face(bgr, points))
                for index, detection, points in self.locate(bgr, all_faces)]

    def main_face_crop(self, bgr: np.ndarray) -> tuple[np.ndarray, str]:
        """(112x112 crop, mode) for scoring: passed through when allowed, else the main face aligned."""
        if self.is_passthrough(bgr):
            return bgr, MODE_PASSTHROUGH
        return self.faces(bgr)[0].crop, MODE_ALIGNED


def optional_aligner(enabled: bool, device: str = "cpu", pass_aligned: bool = False) -> Optional[FaceAligner]:
    """A FaceAligner when alignment was asked for, else None (the Scorer's ``aligner`` argument)."""
    return FaceAligner(device=device, pass_aligned=pass_aligned) if enabled else None


def looks_aligned(aligner: Optional[FaceAligner], crops: list[np.ndarray], tolerance_px: float = 8.0) -> Optional[bool]:
    """Whether model-input crops (112x112 BGR, after the geometry) have their five points near the
    template: median point distance within ``tolerance_px``. None when nothing could be checked."""
    from .align import ARCFACE_TEMPLATE_112

    if aligner is None:
        return None
    distances = []
    for crop in crops:
        try:
            ((_, _, points),) = aligner.locate(crop)
        except ImageError:
            continue
        points = points * (ALIGNED_SIZE / crop.shape[0])
        distances.append(float(np.median(np.linalg.norm(points - ARCFACE_TEMPLATE_112, axis=1))))
    if not distances:
        return None
    return float(np.median(distances)) <= tolerance_px


def cached_aligner(device: str = "cpu") -> Optional[FaceAligner]:
    """A FaceAligner if its models are already in the cache (no fetching), else None."""
    from .zoo import FR_DETECT, FR_LANDMARK, cache_dir

    raw = cache_dir() / "raw"
    if not ((raw / FR_DETECT.file_name).is_file() and (raw / FR_LANDMARK.file_name).is_file()):
        return None
    try:
        return FaceAligner(device=device)
    except Exception:  # a check that cannot run must never stop scoring
        return None


def alignment_warning(paths: list, geometry, sample: int = 5) -> Optional[str]:
    """A warning when the first few images, cut by ``geometry``, do not look template-aligned."""
    from .decode import read_image
    from .preprocess import apply_geometry

    crops = []
    for path in paths[: sample * 2]:
        try:
            crops.append(apply_geometry(read_image(path), geometry))
        except (ImageError, OSError):
            continue
        if len(crops) == sample:
            break
    if looks_aligned(cached_aligner(), crops) is False:
        return ("the images do not look aligned to the 112x112 five-point template after this geometry "
                "(median landmark offset over 8 px); scores and match thresholds differ between aligned and "
                "unaligned input: use --align for ordinary photos, or --geometry/--crop to match your alignment")
    return None

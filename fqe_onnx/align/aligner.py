"""From a raw photo to faces on a model's template: detect, pick the main face, landmark, warp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import ImageError
from .detection import CONFIDENCE, Detection, FaceDetector, five_points, select_main_face
from .template import ARCFACE_SIZE, ARCFACE_TEMPLATE_112, warp_to_template


@dataclass(frozen=True)
class LocatedFace:
    """One face found in a photo: its index among the detections, box and five points (image pixels)."""

    face_index: int
    detection: Detection
    points: np.ndarray  # (5, 2): left eye, right eye, nose tip, left and right mouth corner


@dataclass(frozen=True)
class AlignedFace:
    """A located face and its crop on the template."""

    face: LocatedFace
    crop: np.ndarray  # (h, w, 3) BGR uint8


class FaceAligner:
    """Detector + 68-point landmarks + similarity warp onto a template.

    The models default to the pinned files of the default model's npm package (fetched once,
    hash-checked). The template and crop size default to ArcFace's 112x112; a scorer passes its
    model's own (``fqe_onnx.align.template.model_template``).
    """

    def __init__(self, device: str = "cpu", detector_model: Any = None, landmark_model: Any = None,
                 confidence: float = CONFIDENCE, threads: Optional[int] = None):
        if detector_model is None or landmark_model is None:
            from ..zoo import FR_DETECT, FR_LANDMARK, raw_file

            detector_model = detector_model or raw_file(FR_DETECT)
            landmark_model = landmark_model or raw_file(FR_LANDMARK)
        self.detector = FaceDetector(detector_model, landmark_model, device=device, confidence=confidence, threads=threads)

    def locate(self, bgr: np.ndarray, all_faces: bool = False) -> list[LocatedFace]:
        """The main face (or every face) with its five points; raises ImageError (kind ``no-face``)
        when no face is found."""
        detections = self.detector.detect(bgr)
        if not detections:
            raise ImageError(f"no face found (detector confidence >= {self.detector.confidence:g})", "no-face")
        height, width = bgr.shape[:2]
        indices = range(len(detections)) if all_faces else [select_main_face(detections, width, height)]
        return [LocatedFace(i, detections[i], five_points(self.detector.landmarks(bgr, detections[i]))) for i in indices]

    def faces(self, bgr: np.ndarray, all_faces: bool = False, template: Optional[np.ndarray] = None,
              size_hw: tuple[int, int] = (ARCFACE_SIZE, ARCFACE_SIZE)) -> list[AlignedFace]:
        """The main face (or every face) warped onto ``template`` (default ArcFace 112) at ``size_hw``."""
        template = ARCFACE_TEMPLATE_112 if template is None else template
        return [AlignedFace(f, warp_to_template(bgr, f.points, template, size_hw)) for f in self.locate(bgr, all_faces)]

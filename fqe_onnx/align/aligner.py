"""From a raw photo to faces on a model's template: detect, pick the main face, landmark, warp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

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
    landmarks: Optional[np.ndarray] = None  # (68, 2), the points the five come from
    detections: tuple[Detection, ...] = ()  # every confident face of the image (single_face_present)


def face_geometry(face: LocatedFace) -> dict[str, Any]:
    """The geometry columns of a row for one located face: its index, box (x1, y1, x2, y2, to 0.1 px),
    detector score (to 1e-4) and inter-eye distance (eye centre to eye centre, to 0.01 px), in source pixels."""
    eye_distance = float(np.linalg.norm(face.points[0] - face.points[1]))
    return {
        "face": face.face_index,
        "box": tuple(round(float(v), 1) for v in face.detection.box),
        "face_score": round(float(face.detection.score), 4),
        "eye_distance": round(eye_distance, 2),
    }


@dataclass(frozen=True)
class AlignedFace:
    """A located face and its crop on the template."""

    face: LocatedFace
    crop: np.ndarray  # (h, w, 3) BGR uint8


class FaceAligner:
    """Detector + 68-point landmarks + similarity warp onto a template.

    The models default to the pinned files of the default model's npm package (fetched once,
    hash-checked). The template and crop size default to ArcFace's 112x112; a scorer passes its
    model's own (``fqe_onnx.align.template.model_template``). Large photos are also searched in
    tiles for small faces (``tiling``, see ``fqe_onnx.align.detection.tile_rects``); pieces of a face
    that a tile cut are dropped (``keep_pieces=True`` keeps them, for comparisons).
    """

    def __init__(
        self,
        device: str = "cpu",
        detector_model: Any = None,
        landmark_model: Any = None,
        confidence: float = CONFIDENCE,
        threads: Optional[int] = None,
        tiling: bool = True,
        keep_pieces: bool = False,
    ):
        if detector_model is None or landmark_model is None:
            from ..zoo import aligner_models

            default_detector, default_landmarks = aligner_models()
            detector_model = detector_model or default_detector
            landmark_model = landmark_model or default_landmarks
        self.detector = FaceDetector(
            detector_model,
            landmark_model,
            device=device,
            confidence=confidence,
            threads=threads,
            tiling=tiling,
            keep_pieces=keep_pieces,
        )

    def locate_batch(
        self, images: Sequence[np.ndarray], all_faces: bool = False
    ) -> list[list[LocatedFace] | ImageError]:
        """Per image, the main face (or every face) with its five points, or an ImageError (kind
        ``no-face``) when none is found. One detector call for all images and one landmark call
        for all their faces."""
        detections = self.detector.detect_batch(images)
        wanted: list[tuple[int, int]] = []  # (image, face) pairs to landmark
        for k, (image, found) in enumerate(zip(images, detections)):
            if found:
                height, width = image.shape[:2]
                faces = range(len(found)) if all_faces else [select_main_face(found, width, height)]
                wanted += [(k, i) for i in faces]  # type: ignore[misc]  # found is not empty: it has a main face
        points = self.detector.landmarks_batch([(images[k], detections[k][i]) for k, i in wanted])
        located: list[list[LocatedFace] | ImageError] = [
            []
            if found
            else ImageError(f"no face found (detector confidence >= {self.detector.confidence:g})", "no-face")
            for found in detections
        ]
        for (k, i), landmarks in zip(wanted, points):
            located[k].append(LocatedFace(i, detections[k][i], five_points(landmarks), landmarks, tuple(detections[k])))  # type: ignore[union-attr]  # a list: k has faces
        return located

    def locate(self, bgr: np.ndarray, all_faces: bool = False) -> list[LocatedFace]:
        """``locate_batch`` of one image; raises its ImageError when no face is found."""
        return _or_raise(self.locate_batch([bgr], all_faces)[0])

    def faces_batch(
        self,
        images: Sequence[np.ndarray],
        all_faces: bool = False,
        template: Optional[np.ndarray] = None,
        size_hw: tuple[int, int] = (ARCFACE_SIZE, ARCFACE_SIZE),
    ) -> list[list[AlignedFace] | ImageError]:
        """Per image, the main face (or every face) warped onto ``template`` (default ArcFace 112) at
        ``size_hw``, or the ImageError of an image without a face."""
        template = ARCFACE_TEMPLATE_112 if template is None else template
        return [
            found
            if isinstance(found, ImageError)
            else [AlignedFace(f, warp_to_template(image, f.points, template, size_hw)) for f in found]
            for image, found in zip(images, self.locate_batch(images, all_faces))
        ]

    def faces_at(
        self,
        bgr: np.ndarray,
        detections: Sequence[Detection],
        template: Optional[np.ndarray] = None,
        size_hw: tuple[int, int] = (ARCFACE_SIZE, ARCFACE_SIZE),
    ) -> list[AlignedFace]:
        """Faces already detected in one image (a video follows them between detector passes),
        landmarked in one call and warped onto ``template`` as ``faces_batch`` does; ``face_index``
        is the position in ``detections``."""
        template = ARCFACE_TEMPLATE_112 if template is None else template
        points = self.detector.landmarks_batch([(bgr, d) for d in detections])
        located = [LocatedFace(i, d, five_points(p)) for i, (d, p) in enumerate(zip(detections, points))]
        return [AlignedFace(f, warp_to_template(bgr, f.points, template, size_hw)) for f in located]

    def faces(
        self,
        bgr: np.ndarray,
        all_faces: bool = False,
        template: Optional[np.ndarray] = None,
        size_hw: tuple[int, int] = (ARCFACE_SIZE, ARCFACE_SIZE),
    ) -> list[AlignedFace]:
        """``faces_batch`` of one image; raises its ImageError when no face is found."""
        return _or_raise(self.faces_batch([bgr], all_faces, template, size_hw)[0])


def _or_raise(result: Any) -> Any:
    if isinstance(result, ImageError):
        raise result
    return result

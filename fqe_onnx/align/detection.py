"""Face detection and 68-point landmarks with the two small models of the default model's npm package.

Detector (``fr_detect.onnx``): the whole image stretched to 320x240, RGB, ``(x - 127) / 128``; the
graph already applies the softmax and the prior decoding, so ``boxes`` are normalised x1, y1, x2, y2.
Landmarks (``fr_landmark.onnx``): a square crop around the box (side = box height), grey, / 256,
64x64; output 68 (x, y) points normalised to that crop, in the usual 68-point layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..session import create_session

DETECTOR_SIZE = (320, 240)  # (width, height)
CONFIDENCE = 0.65
NMS_IOU = 0.4
LANDMARK_SIZE = 64


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_limit: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    kept: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_limit]
    return kept


def five_points(landmarks68: np.ndarray) -> np.ndarray:
    """Eyes (mean of the four eyelid points each), nose tip, mouth corners (mean of inner and outer)."""
    p = np.asarray(landmarks68, dtype=np.float64).reshape(68, 2)
    return np.array([
        p[[37, 38, 40, 41]].mean(axis=0),
        p[[43, 44, 46, 47]].mean(axis=0),
        p[30],
        p[[48, 60]].mean(axis=0),
        p[[54, 64]].mean(axis=0),
    ])


def landmark_crop(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom): the square of side = box height centred on the box, moved inside
    the image, clipped where the image is smaller than the square."""
    x1, y1, x2, y2 = box
    side = max(int(np.floor(y2 - y1 + 0.5)), 1)
    left = int(np.floor((x1 + x2) / 2 - side / 2 + 0.5))
    top = int(np.floor((y1 + y2) / 2 - side / 2 + 0.5))
    left = min(max(left, 0), max(width - side, 0))
    top = min(max(top, 0), max(height - side, 0))
    return left, top, min(left + side, width), min(top + side, height)


class FaceDetector:
    """Detector + landmark models; ``detect`` gives confident faces, ``landmarks`` 68 points for one."""

    def __init__(self, detector_model, landmark_model, device: str = "cpu",
                 confidence: float = CONFIDENCE, nms_iou: float = NMS_IOU, threads: Optional[int] = None):
        self.detector, self.provider = create_session(detector_model, device, threads)
        self.landmarker, _ = create_session(landmark_model, device, threads)
        self.confidence = confidence
        self.nms_iou = nms_iou

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """Faces above the confidence threshold after NMS, in image pixels, best score first."""
        height, width = bgr.shape[:2]
        resized = cv2.resize(bgr, DETECTOR_SIZE, interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        tensor = ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self.detector.run(["scores", "boxes"], {"input": tensor})
        face_scores, face_boxes = scores[0, :, 1], boxes[0]
        confident = face_scores >= self.confidence
        face_scores, face_boxes = face_scores[confident], face_boxes[confident] * [width, height, width, height]
        keep = nms(face_boxes, face_scores, self.nms_iou)
        return [Detection(tuple(float(v) for v in face_boxes[i]), float(face_scores[i])) for i in keep]

    def landmarks(self, bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """68 (x, y) points in image pixels for one detected face."""
        height, width = bgr.shape[:2]
        left, top, right, bottom = landmark_crop(detection.box, width, height)
        crop = cv2.resize(bgr[top:bottom, left:right], (LANDMARK_SIZE, LANDMARK_SIZE), interpolation=cv2.INTER_LINEAR)
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32) / 256.0
        points = self.landmarker.run(None, {"input": grey[None, None]})[0].reshape(68, 2).astype(np.float64)
        return points * [right - left, bottom - top] + [left, top]


def select_main_face(detections: list[Detection], width: int, height: int) -> Optional[int]:
    """Index of the main face: the largest box, with closeness to the image centre breaking near-ties
    (area weighted by 1 - normalised distance of the box centre from the image centre)."""
    if not detections:
        return None
    diagonal = float(np.hypot(width, height)) / 2

    def merit(d: Detection) -> float:
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        off_centre = float(np.hypot(cx - width / 2, cy - height / 2)) / diagonal
        return d.width * d.height * (1.0 - 0.5 * min(off_centre, 1.0))

    return max(range(len(detections)), key=lambda i: merit(detections[i]))

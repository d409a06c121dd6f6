"""Face detection and 68-point landmarks with the two small models of the default model's npm package.

Detector (``fr_detect.onnx``): the whole image stretched to 320x240, RGB, ``(x - 127) / 128``; the
graph already applies the softmax and the prior decoding, so ``boxes`` are normalised x1, y1, x2, y2.
Landmarks (``fr_landmark.onnx``): a square crop around the box (side = box height), grey, / 256,
64x64; output 68 (x, y) points normalised to that crop, in the usual 68-point layout.

Small faces in large photos: the detector finds faces from about 12 of its input pixels wide, so a
photo much larger than its input is also looked at in overlapping tiles at finer scales
(``tile_rects``: a fixed grid computed from the image's height and width alone), all run as one
detector batch with the whole image, and merged by one NMS. Frames near the detector's size (a
250x250 crop, a 640x480 frame) get no tiles and the same detections as without tiling.

A tile's side can cut a face that a coarser view sees whole; the piece the tile saw lies mostly
inside the whole face's box, with an IoU too low for NMS. ``same_face`` drops it after the merge,
and a second look confirms a face only a tile saw only when it finds that face again, not a bigger
one around it (``found_again``). The ONNX bundle applies both rules too (``fqe_onnx.bundle``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple, Optional, Sequence

import cv2
import numpy as np

from ..session import ModelSource, create_session

DETECTOR_SIZE = (320, 240)  # (width, height)
CONFIDENCE = 0.65
NMS_IOU = 0.4
LANDMARK_SIZE = 64

# -- tiling: the constants live here only (the ONNX bundle imports them) -----------------------------
#: Source pixels per detector pixel of each tile level, finest first: at 2.5 a face 32 px wide is
#: 12.8 detector pixels wide, above what the detector finds reliably.
TILE_SCALES = (2.5, 7.5)
#: A tile level is used when the whole image is shrunk by more than this times the level's scale.
TILE_TRIGGER = 1.2
#: The narrowest face (detector pixels) the detector finds reliably, measured on the demo face.
MIN_FACE_PX = 12
#: Tiles of a level overlap by this times the narrowest face the next coarser level finds, so a
#: face too small for that level lies wholly inside one of these tiles, clear of its edges.
TILE_OVERLAP = 1.25
#: A tile's detection this close (detector pixels) to one of its sides inside the image is a face
#: cut by the tile: dropped, since a neighbouring tile holds all of it.
TILE_EDGE_PX = 2.0
#: A face only a tile saw gets a second look: the detector on a window around it where the face is
#: this share of the window's width (about 80 detector pixels), which must find that face again: a
#: box with IoU >= SECOND_LOOK_IOU (texture and half faces that fire the detector's smallest anchors
#: do not come back) centred on it, within SECOND_LOOK_CENTRE of its width and height. A piece of a
#: face that a tile's side cut comes back as the whole face around it, with an IoU as high as its
#: share of the face (0.34 in a real group photo) but centred beyond it: a piece that is a fraction
#: p of the face's width puts the face's centre (1 - p) / 2p of its width away, 0.5 for a half face.
#: Measured (benchmarks/cut_faces.py, LFW faces across tile sides, in crowds and on textures): the
#: 873 faces only a tile saw were found again centred within 0.18 of their box (95% within 0.08),
#: pieces cut off a side 0.49 to 0.71 away. 0.4 sits between: it refuses pieces under 5/9 of the
#: face (a larger one is most of the face, and the face is not lost).
SECOND_LOOK_SHARE = 0.25
SECOND_LOOK_IOU = 0.3
SECOND_LOOK_CENTRE = 0.4
#: One face seen twice: a tile's piece of a face lies inside the whole face's box that a coarser
#: view found, and NMS keeps both (a small box inside a big one has a low IoU: 0.34 in a real group
#: photo); so does a box shifted a third of a face over another. So when a detection and a more
#: confident one overlap by at least SAME_FACE_INSIDE of the smaller one's area (intersection over
#: its own area, not the union: the smaller lies mostly inside the other), they are one face and the
#: less confident goes, unless the smaller is under SAME_FACE_AREA of the other's area: a real face
#: inside a huge false face that the whole image sees in a texture is no piece of it. Measured
#: (benchmarks/cut_faces.py): pieces overlap their face 0.63 to 1.0 and are 0.059 to 0.79 of its
#: area (the small ones an eye seen as a face); two people's boxes in packed group photos (heads
#: 0.75 to 1.1 face widths apart) overlap at most 0.43, and once 0.55 (a face half hidden by its
#: neighbour, dropped: 1 of 233); real faces inside false faces of textures are 0.007 to 0.035 of
#: their area (6 in 600 frames). Both limits sit between.
SAME_FACE_INSIDE = 0.5
SAME_FACE_AREA = 0.045
#: Detector inputs per runtime call at most (memory stays bounded whatever the photo's size).
DETECTOR_BATCH = 16


def tile_positions(length: int, tile: int, overlap: int) -> list[int]:
    """Starts of the fewest tiles of ``tile`` pixels covering ``length`` with at least ``overlap``
    between neighbours, spread evenly from 0 to ``length - tile``."""
    if tile >= length:
        return [0]
    count = math.ceil((length - tile) / max(tile - overlap, 1)) + 1
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


class View(NamedTuple):
    """One detector view of an image, in image pixels: x, y, w, h, and the widest face it may
    report (a tile leaves wider faces to the coarser views, which find them whole; inf for the whole image)."""

    x: int
    y: int
    w: int
    h: int
    max_face: float = math.inf


def tile_rects(height: int, width: int) -> list[View]:
    """The detector's views of an image of ``height`` x ``width``: the whole image first, then each
    used level's tiles (``TILE_SCALES``: a tile is the detector's input size times the scale,
    clipped to the image), row by row. Neighbouring tiles overlap by the widest face their level
    reports, the narrowest face the next coarser view finds times TILE_OVERLAP. A pure function of the size."""
    det_w, det_h = DETECTOR_SIZE
    whole = max(width / det_w, height / det_h)
    levels = [scale for scale in TILE_SCALES if whole > scale * TILE_TRIGGER]
    rects = [View(0, 0, width, height)]
    for scale, coarser in zip(levels, levels[1:] + [whole]):
        tile_w, tile_h = min(round(det_w * scale), width), min(round(det_h * scale), height)
        overlap = math.ceil(TILE_OVERLAP * MIN_FACE_PX * coarser)
        rects += [
            View(x, y, tile_w, tile_h, float(overlap))
            for y in tile_positions(height, tile_h, overlap)
            for x in tile_positions(width, tile_w, overlap)
        ]
    return rects


def second_look_window(box: tuple[float, float, float, float], width: int, height: int) -> View:
    """The window (detector aspect, the face SECOND_LOOK_SHARE of its width, moved inside the
    image and clipped to it) in which a face only a tile saw must be found again."""
    x1, y1, x2, y2 = box
    window_w = (x2 - x1) / SECOND_LOOK_SHARE
    window_h = window_w * DETECTOR_SIZE[1] / DETECTOR_SIZE[0]
    w, h = max(min(round(window_w), width), 1), max(min(round(window_h), height), 1)
    x = min(max(round((x1 + x2) / 2 - w / 2), 0), width - w)
    y = min(max(round((y1 + y2) / 2 - h / 2), 0), height - h)
    return View(x, y, w, h)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``boxes`` (x1, y1, x2, y2)."""
    inter = np.maximum(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0) * np.maximum(
        np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0
    )
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum((box[2] - box[0]) * (box[3] - box[1]) + areas - inter, 1e-12)


def same_face(boxes: np.ndarray) -> np.ndarray:
    """For detections best first (x1, y1, x2, y2, image pixels): which are a face a more confident one
    already is: one of the two lies mostly inside the other (SAME_FACE_INSIDE of the smaller one's
    area: a piece of a face, or a box shifted over it) and the smaller is not tiny beside the other
    (SAME_FACE_AREA of its area). A pairwise test on a handful of boxes."""
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    inter = np.maximum(np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None]), 0) * np.maximum(
        np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None]), 0
    )
    smaller, larger = np.minimum(areas[:, None], areas[None]), np.maximum(areas[:, None], areas[None])
    inside = inter >= SAME_FACE_INSIDE * smaller  # [i, j]: the smaller of i and j mostly inside the other
    comparable = smaller >= SAME_FACE_AREA * larger
    better = np.tri(len(boxes), k=-1, dtype=bool)  # j before i: more confident
    return (inside & comparable & better).any(axis=1)


def found_again(box: np.ndarray, boxes: np.ndarray, centre: float = SECOND_LOOK_CENTRE) -> bool:
    """Whether a second look's boxes (K, 4) hold the face ``box`` again: one with IoU >= SECOND_LOOK_IOU
    centred within ``centre`` of ``box``'s width and height of its centre (a bigger face around
    ``box``, a piece of it, is centred beyond it)."""
    if not len(boxes):
        return False
    near_x = np.abs(boxes[:, 0] + boxes[:, 2] - (box[0] + box[2])) <= 2 * centre * (box[2] - box[0])
    near_y = np.abs(boxes[:, 1] + boxes[:, 3] - (box[1] + box[3])) <= 2 * centre * (box[3] - box[1])
    return bool(((box_iou(box, boxes) >= SECOND_LOOK_IOU) & near_x & near_y).any())


def inside_tile(boxes: np.ndarray, rect: View, width: int, height: int) -> np.ndarray:
    """Which boxes (image pixels) a view keeps: those no wider than its ``max_face`` and clear of its
    sides that lie inside the image (the others are faces cut by the tile). The whole image keeps all."""
    x, y, w, h, max_face = rect
    margin_x, margin_y = TILE_EDGE_PX * w / DETECTOR_SIZE[0], TILE_EDGE_PX * h / DETECTOR_SIZE[1]
    keep = boxes[:, 2] - boxes[:, 0] <= max_face
    if x > 0:
        keep &= boxes[:, 0] > x + margin_x
    if y > 0:
        keep &= boxes[:, 1] > y + margin_y
    if x + w < width:
        keep &= boxes[:, 2] < x + w - margin_x
    if y + h < height:
        keep &= boxes[:, 3] < y + h - margin_y
    return keep


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
    return np.array(
        [
            p[[37, 38, 40, 41]].mean(axis=0),
            p[[43, 44, 46, 47]].mean(axis=0),
            p[30],
            p[[48, 60]].mean(axis=0),
            p[[54, 64]].mean(axis=0),
        ]
    )


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


def detector_input(bgr: np.ndarray) -> np.ndarray:
    """The detector's input for one BGR image: stretched to 320x240, RGB, (x - 127) / 128, CHW."""
    resized = cv2.resize(bgr, DETECTOR_SIZE, interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    return ((rgb.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)


def landmark_input(bgr: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray:
    """The landmark model's input for one face: its square crop at 64x64, grey, / 256, 1xHxW."""
    left, top, right, bottom = crop
    patch = cv2.resize(bgr[top:bottom, left:right], (LANDMARK_SIZE, LANDMARK_SIZE), interpolation=cv2.INTER_LINEAR)
    return (cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float32) / 256.0)[None]


class FaceDetector:
    """Detector + landmark models; ``detect_batch`` gives each image's confident faces,
    ``landmarks_batch`` 68 points for each (image, face) pair.

    Models with a dynamic batch axis (the zoo's prepared copies) take a whole batch in one call;
    a model fixed at batch 1 is run once per image. ``tiling=False`` looks at each image whole
    only (the behaviour before tiling, for comparisons); ``keep_pieces=True`` keeps the pieces of a
    face that ``same_face`` and ``found_again`` drop (the behaviour before them, for comparisons)."""

    def __init__(
        self,
        detector_model: ModelSource,
        landmark_model: ModelSource,
        device: str = "cpu",
        confidence: float = CONFIDENCE,
        nms_iou: float = NMS_IOU,
        threads: Optional[int] = None,
        tiling: bool = True,
        keep_pieces: bool = False,
    ) -> None:
        self.detector, self.provider = create_session(detector_model, device, threads)
        self.landmarker, _ = create_session(landmark_model, device, threads)
        self.confidence = confidence
        self.nms_iou = nms_iou
        self.tiling = tiling
        self.keep_pieces = keep_pieces

    def views(self, height: int, width: int) -> list[View]:
        """The views of an image the detector looks at: ``tile_rects``, or the whole image only."""
        return tile_rects(height, width) if self.tiling else [View(0, 0, width, height)]

    def detect_batch(
        self, images: Sequence[np.ndarray], views: Optional[Sequence[Sequence[View]]] = None, second_look: bool = True
    ) -> list[list[Detection]]:
        """Per image: the faces above the confidence threshold after NMS, in image pixels, best score
        first. Each image is seen whole and, when large, in tiles (``tile_rects``), or in the
        ``views`` given for it (a video's schedule picks them frame by frame); all the views of all
        the images go through the detector together, in calls of at most DETECTOR_BATCH. A face
        only a part of an image saw gets a second look, unless ``second_look`` is False (windows
        around a face a video already follows)."""
        if not images:
            return []
        per_image = [self.views(*image.shape[:2]) for image in images] if views is None else views
        looks = [(k, view) for k, image_views in enumerate(per_image) for view in image_views]
        found: list[list[tuple[np.ndarray, np.ndarray, bool]]] = [[] for _ in images]
        for (k, view), (boxes, scores) in zip(looks, self._look(images, looks)):
            keep = inside_tile(boxes, view, images[k].shape[1], images[k].shape[0])
            found[k].append((boxes[keep], scores[keep], view.w < images[k].shape[1] or view.h < images[k].shape[0]))
        merged = [self._merged(parts) for parts in found]
        doubtful = [
            (k, i, second_look_window(face.box, images[k].shape[1], images[k].shape[0]))
            for k, faces in enumerate(merged)
            for i, (face, tiled) in enumerate(faces)
            if tiled and second_look
        ]
        lost = set()
        centre = math.inf if self.keep_pieces else SECOND_LOOK_CENTRE
        for (k, i, _), (boxes, _) in zip(doubtful, self._look(images, [(k, window) for k, _, window in doubtful])):
            if not found_again(np.array(merged[k][i][0].box), boxes, centre):
                lost.add((k, i))
        return [[face for i, (face, _) in enumerate(faces) if (k, i) not in lost] for k, faces in enumerate(merged)]

    def _look(
        self, images: Sequence[np.ndarray], views: Sequence[tuple[int, View]]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per (image index, view): the view's confident boxes in image pixels and their scores; the
        detector runs on at most DETECTOR_BATCH views at a time."""
        for start in range(0, len(views), DETECTOR_BATCH):
            part = views[start : start + DETECTOR_BATCH]
            batch = np.stack([detector_input(images[k][v.y : v.y + v.h, v.x : v.x + v.w]) for k, v in part])
            scores, boxes = _run_batch(self.detector, ["scores", "boxes"], batch)
            for (_, view), view_scores, view_boxes in zip(part, scores[:, :, 1], boxes):
                yield confident_boxes(view_scores, view_boxes, view, self.confidence)

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """One image's faces (``detect_batch`` of one)."""
        return self.detect_batch([bgr])[0]

    def _merged(self, parts: list[tuple[np.ndarray, np.ndarray, bool]]) -> list[tuple[Detection, bool]]:
        return merge_views(parts, self.nms_iou, keep_pieces=self.keep_pieces)

    def landmarks_batch(self, faces: Sequence[tuple[np.ndarray, Detection]]) -> list[np.ndarray]:
        """68 (x, y) points in image pixels for each (BGR image, detected face)."""
        if not faces:
            return []
        crops = [landmark_crop(detection.box, bgr.shape[1], bgr.shape[0]) for bgr, detection in faces]
        batch = np.stack([landmark_input(bgr, crop) for (bgr, _), crop in zip(faces, crops)])
        (points,) = _run_batch(self.landmarker, None, batch)
        points = points.reshape(len(faces), 68, 2).astype(np.float64)
        return [p * [right - left, bottom - top] + [left, top] for p, (left, top, right, bottom) in zip(points, crops)]

    def landmarks(self, bgr: np.ndarray, detection: Detection) -> np.ndarray:
        """68 points for one detected face (``landmarks_batch`` of one)."""
        return self.landmarks_batch([(bgr, detection)])[0]


def confident_boxes(
    view_scores: np.ndarray, view_boxes: np.ndarray, view: View, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """One view's detector output (scores (N,), boxes (N, 4) in the view's 0..1 units): the boxes at
    or above ``confidence``, in image pixels (float64), and their scores."""
    confident = view_scores >= confidence
    scaled = view_boxes[confident].astype(np.float64) * [view.w, view.h, view.w, view.h]
    return scaled + [view.x, view.y, view.x, view.y], view_scores[confident]


def merge_views(
    parts: list[tuple[np.ndarray, np.ndarray, bool]], nms_iou: float = NMS_IOU, keep_pieces: bool = False
) -> list[tuple[Detection, bool]]:
    """All views' (boxes, scores, tiled) of one image merged by one NMS, then pieces of a face kept
    beside it dropped (``same_face``), best score first, each with whether only a tile (not the
    whole image) gave it."""
    boxes = np.concatenate([b for b, _, _ in parts]).reshape(-1, 4)
    scores = np.concatenate([s for _, s, _ in parts])
    tiled = np.concatenate([np.full(len(s), t) for _, s, t in parts])
    keep = np.array(nms(boxes, scores, nms_iou), dtype=np.int64)
    if not keep_pieces:
        keep = keep[~same_face(boxes[keep])]
    return [
        (Detection(tuple(float(v) for v in boxes[i]), float(scores[i])), bool(tiled[i]))  # type: ignore[arg-type]  # boxes: (N, 4)
        for i in keep
    ]


def _run_batch(session: Any, outputs: Optional[list[str]], batch: np.ndarray) -> list[np.ndarray]:
    """The session's outputs for a batch: one call when its input takes any batch size, else one
    call per item, concatenated."""
    first = session.get_inputs()[0]
    if not isinstance(first.shape[0], int) or len(batch) == 1:
        return session.run(outputs, {first.name: batch})
    parts = [session.run(outputs, {first.name: batch[i : i + 1]}) for i in range(len(batch))]
    return [np.concatenate(column) for column in zip(*parts)]


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

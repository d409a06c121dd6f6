"""Test photos made from scikit-image's astronaut: the photo itself, large frames with a small face,
and group photos with a face on a tile seam."""

from __future__ import annotations

import cv2
import numpy as np

from fqe_onnx.align.detection import tile_rects


def astronaut() -> np.ndarray:
    """scikit-image's astronaut as BGR uint8 (512x512, a face about 100 px wide): the demo's photo."""
    from fqe_onnx.demo import astronaut_bgr

    return astronaut_bgr()


def large_frame(height: int, width: int, background: str, face: bool) -> np.ndarray:
    """A large frame, plain or textured, with the astronaut's head shrunk to a face about 34 px wide."""
    rng = np.random.default_rng(height + width)
    if background == "plain":
        frame = np.full((height, width, 3), (120, 140, 160), np.uint8)
    else:
        blocks = rng.integers(60, 200, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
        frame = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_LINEAR)
    if face:
        head = cv2.resize(astronaut()[0:300, 100:360], None, fx=0.38, fy=0.38, interpolation=cv2.INTER_AREA)
        y, x = height // 3, width // 2 + 37
        frame[y : y + head.shape[0], x : x + head.shape[1]] = head
    return frame


#: The astronaut's face box in the 512x512 photo (the detector's, rounded) and the head around it
#: that a person is cut from (rows, cols): hair, shoulders and some of the flag behind her.
ASTRONAUT_FACE = np.array([179.0, 63.0, 269.0, 173.0])
HEAD = (slice(0, 300), slice(100, 360))


def people() -> list[tuple[np.ndarray, np.ndarray]]:
    """Four "people" made from the astronaut's head (as it is, mirrored, recoloured, darker and
    mirrored): (head, face box in the head)."""
    head = astronaut()[HEAD]
    box = ASTRONAUT_FACE - [HEAD[1].start, HEAD[0].start] * 2
    mirrored_box = np.array([head.shape[1] - box[2], box[1], head.shape[1] - box[0], box[3]])
    darker = np.clip(head.astype(np.float32) * 0.7 + 20, 0, 255).astype(np.uint8)
    return [
        (head, box),
        (head[:, ::-1].copy(), mirrored_box),
        (head[:, :, [1, 2, 0]].copy(), box),
        (darker[:, ::-1].copy(), mirrored_box),
    ]


def place(frame: np.ndarray, person: tuple[np.ndarray, np.ndarray], width: float, cx: float, cy: float) -> np.ndarray:
    """Paste ``person`` scaled so its face is ``width`` px wide, the face centred at (cx, cy) (the
    head clipped to the frame); returns the face box in the frame."""
    head, box = person
    scale = width / (box[2] - box[0])
    patch = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    face = box * scale
    x, y = int(round(cx - (face[0] + face[2]) / 2)), int(round(cy - (face[1] + face[3]) / 2))
    height, frame_width = frame.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    frame[y0 : y + patch.shape[0], x0 : x + patch.shape[1]] = patch[y0 - y :, x0 - x :][
        : height - y0, : frame_width - x0
    ]
    return face + [x, y, x, y]


def seams(height: int, width: int) -> list[tuple[str, int, str, float]]:
    """Each tile side inside the image: (axis, position, which side of its tile, the tile's max_face)."""
    found = set()
    for view in tile_rects(height, width)[1:]:
        for axis, start, length, size in (("x", view.x, view.w, width), ("y", view.y, view.h, height)):
            if start > 0:
                found.add((axis, start, "start", view.max_face))
            if start + length < size:
                found.add((axis, start + length, "end", view.max_face))
    return sorted(found)


def seam_photo(height: int, width: int, seam: tuple[str, int, str, float], first: int) -> tuple[np.ndarray, list]:
    """A textured frame with two people: one whose face a tile's side cuts, sized so that the coarser
    view finds it whole and the tile sees a piece it may report (a side cutting across the face:
    2.5 times the tile's widest face, the tile holding its widest face of it; a side cutting along:
    the tile's widest face, cut in the middle), and one clear of every seam. Returns the frame and
    the face boxes placed."""
    axis, position, side, max_face = seam
    rng = np.random.default_rng(position)
    blocks = rng.integers(60, 200, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    frame = cv2.resize(blocks, (width, height), interpolation=cv2.INTER_LINEAR)
    crowd = people()
    if axis == "x":
        face_width, piece = 2.5 * max_face, max_face
        cx = position + (piece - face_width / 2 if side == "start" else face_width / 2 - piece)
        centre = (cx, height / 2)
    else:
        face_width = max_face
        centre = (width / 2, position)
    boxes = [place(frame, crowd[first % 4], face_width, *centre)]
    # the other person: on the grid point farthest from every seam, clear of the first one
    lines = [(a, p) for a, p, _, _ in seams(height, width)]
    candidates = [
        (x, y)
        for x in np.linspace(0.15, 0.85, 8) * width
        for y in np.linspace(0.2, 0.8, 7) * height
        if np.hypot(x - centre[0], y - centre[1]) > 3 * face_width
    ]
    clear = max(candidates, key=lambda c: min(abs(c[a == "y"] - p) for a, p in lines))
    boxes.append(place(frame, crowd[(first + 1) % 4], face_width, *clear))
    return frame, boxes


#: Photos with a face cut by each tile side of two sizes: (height, width, seam, first person).
SEAM_PHOTOS = [
    (height, width, seam, k)
    for height, width in [(886, 1280), (1080, 1920)]
    for k, seam in enumerate(seams(height, width))
]

"""Small JPEG thumbnails as data URIs, so the page needs no files beside it and no network."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..decode import read_image
from ..errors import ImageError

SIDE = 112
#: Around a scored face, this much of its box's larger side is kept on each side: enough to see
#: its neighbours, so the frame drawn on it says which face of the photo the row is.
MARGIN = 0.6
#: The frame around the scored face: BGR colour and line width in thumbnail pixels.
MARK_COLOUR, MARK_WIDTH = (0, 200, 255), 2


def thumbnail(image: np.ndarray, side: int = SIDE, box: Optional[tuple[float, ...]] = None) -> np.ndarray:
    """The image (or the part around the face ``box``, x1 y1 x2 y2 in its pixels, with the box
    framed in MARK_COLOUR) shrunk to fit ``side`` x ``side``."""
    left = top = 0
    if box is not None:
        x1, y1, x2, y2 = box
        margin = MARGIN * max(x2 - x1, y2 - y1)
        left, top = max(int(x1 - margin), 0), max(int(y1 - margin), 0)
        right, bottom = min(int(x2 + margin) + 1, image.shape[1]), min(int(y2 + margin) + 1, image.shape[0])
        if right > left and bottom > top:
            image = image[top:bottom, left:right]
        else:
            box, left, top = None, 0, 0
    height, width = image.shape[:2]
    scale = min(side / max(height, width), 1.0)
    if scale < 1:
        image = cv2.resize(
            image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    if box is not None:
        image = np.ascontiguousarray(image)
        corners = [
            (round((x - left) * scale), round((y - top) * scale)) for x, y in ((box[0], box[1]), (box[2], box[3]))
        ]
        cv2.rectangle(image, corners[0], corners[1], MARK_COLOUR, MARK_WIDTH)
    return image


def thumbnail_uri(path: Path, side: int = SIDE, box: Optional[tuple[float, ...]] = None) -> Optional[str]:
    """A data: URI of ``thumbnail`` of the image file (JPEG), or None if it cannot be read."""
    try:
        image = read_image(path)
    except ImageError:
        return None
    ok, data = cv2.imencode(".jpg", thumbnail(image, side, box), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")

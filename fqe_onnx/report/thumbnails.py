"""Small JPEG thumbnails as data URIs, so the page needs no files beside it and no network."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Optional

import cv2

from ..decode import read_image
from ..errors import ImageError

SIDE = 112


def thumbnail_uri(path: Path, side: int = SIDE, box: Optional[tuple[float, ...]] = None) -> Optional[str]:
    """A data: URI of the image (or of the face ``box``, x1 y1 x2 y2 in its pixels, with a margin)
    shrunk to fit ``side`` x ``side`` (JPEG), or None if it cannot be read."""
    try:
        image = read_image(path)
    except ImageError:
        return None
    if box is not None:
        x1, y1, x2, y2 = box
        margin = 0.25 * max(x2 - x1, y2 - y1)
        left, top = max(int(x1 - margin), 0), max(int(y1 - margin), 0)
        right, bottom = min(int(x2 + margin) + 1, image.shape[1]), min(int(y2 + margin) + 1, image.shape[0])
        if right > left and bottom > top:
            image = image[top:bottom, left:right]
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")

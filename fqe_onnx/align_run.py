"""``fqe-onnx align``: aligned crops for every photo under a folder, and a table of what was found."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

import cv2

from .aligner import MODE_ALIGNED, MODE_PASSTHROUGH, FaceAligner
from .decode import read_image
from .errors import ImageError
from .sources import find_images

POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
TABLE_COLUMNS = (
    ("path", "face", "mode", "x1", "y1", "x2", "y2", "score")
    + tuple(f"{name}_{axis}" for name in POINT_NAMES for axis in "xy")
    + ("output", "error")
)


def _write_png(path: Path, image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ImageError("PNG encoding failed")
    path.write_bytes(data.tobytes())


def align_tree(root: str | os.PathLike[str], out: Path, stream: TextIO, *, all_faces: bool = False,
               pass_aligned: bool = False, device: str = "cpu") -> int:
    """Align every image under ``root`` into ``out`` (same relative paths, .png; ``_N`` per face with
    ``all_faces``); write one table row per face or failed image; return the number of failures."""
    aligner = FaceAligner(device=device, pass_aligned=pass_aligned)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    errors = 0
    for source in find_images(root):
        stem = Path(source.name).with_suffix("")
        empty = [""] * (len(TABLE_COLUMNS) - 3)
        try:
            image = read_image(source.path)
            if aligner.is_passthrough(image):
                target = out / stem.with_suffix(".png")
                _write_png(target, image)
                writer.writerow([source.name, "", MODE_PASSTHROUGH] + [""] * 15 + [target.as_posix(), ""])
                continue
            faces = aligner.faces(image, all_faces=all_faces)
        except (ImageError, cv2.error) as exc:
            errors += 1
            writer.writerow([source.name, "", ""] + empty[:-1] + [str(exc)])
            continue
        for face in faces:
            name = f"{stem.name}_{face.face_index}.png" if all_faces else f"{stem.name}.png"
            target = out / stem.parent / name
            _write_png(target, face.crop)
            box = [f"{v:.1f}" for v in face.detection.box]
            points = [f"{v:.2f}" for v in face.points.reshape(-1)]
            writer.writerow([source.name, face.face_index, MODE_ALIGNED, *box, f"{face.detection.score:.4f}",
                             *points, target.as_posix(), ""])
        stream.flush()
    return errors

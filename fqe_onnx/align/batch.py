"""``fqe-onnx align``: crops on a model's template for every photo under a folder, and a table of what was found."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from ..contract import Preprocess
from ..decode import read_image
from ..errors import ImageError
from ..sources import find_images
from .framing import MODE_ALIGNED, MODE_AS_IS, Framer

POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
POINT_COLUMNS = tuple(f"{name}_{axis}" for name in POINT_NAMES for axis in "xy")
TABLE_COLUMNS = ("path", "face", "mode") + BOX_COLUMNS + ("score",) + POINT_COLUMNS + ("output", "error_kind", "error")


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ImageError("PNG encoding failed")
    path.write_bytes(data.tobytes())


def table_row(**values: object) -> list[object]:
    """One table row from named cells; cells not named are empty."""
    unknown = set(values) - set(TABLE_COLUMNS)
    if unknown:
        raise ValueError(f"unknown table columns: {', '.join(sorted(unknown))}")
    return [values.get(column, "") for column in TABLE_COLUMNS]


class Targets:
    """Output paths handed out in one run: ``x.jpg`` and ``x.png`` must not both become ``x.png``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.taken: set[Path] = set()

    def claim(self, relative: Path, suffix: str = "") -> Path:
        """``out/relative`` without its extension, plus ``suffix`` and .png; if another input of this
        run already has that name, its full file name plus .png; ImageError ``name-clash`` if both are taken."""
        for name in (relative.with_suffix("").name + suffix, relative.name + suffix):
            target = self.out / relative.parent / f"{name}.png"
            if target not in self.taken:
                self.taken.add(target)
                return target
        raise ImageError(f"another input already wrote {target.as_posix()}", "name-clash")


def align_tree(
    root: str | os.PathLike[str],
    out: Path,
    stream: TextIO,
    preprocess: Preprocess,
    *,
    all_faces: bool = False,
    align: str = "auto",
    device: str = "cpu",
) -> int:
    """Write every image under ``root`` into ``out`` on the model's template (same relative paths,
    .png; ``_N`` per face with ``all_faces``; never one output over another); one table row per face
    or failed image; returns the number of failures. With ``align`` auto, images already at the
    model's input size are copied as they are (mode ``as-is``)."""
    if align not in ("auto", "always"):
        raise ValueError(f"align takes auto or always, got {align!r}")
    framer = Framer(preprocess, align, device=device)
    targets = Targets(out)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    errors = 0
    for source in find_images(root):
        relative = Path(source.name)
        try:
            if source.error is not None:
                raise source.error
            image = read_image(source.path)
            if framer.mode_for(image) == MODE_AS_IS:
                target = targets.claim(relative)
                _write_png(target, image)
                writer.writerow(table_row(path=source.name, mode=MODE_AS_IS, output=target.as_posix()))
                continue
            faces = framer.aligner.faces(image, all_faces=all_faces, template=framer.template, size_hw=framer.size_hw)
            crops = [
                (aligned, targets.claim(relative, f"_{aligned.face.face_index}" if all_faces else ""))
                for aligned in faces
            ]
        except ImageError as exc:
            errors += 1
            writer.writerow(table_row(path=source.name, error_kind=exc.kind, error=str(exc)))
            continue
        for aligned, target in crops:
            face = aligned.face
            _write_png(target, aligned.crop)
            box = dict(zip(BOX_COLUMNS, (f"{v:.1f}" for v in face.detection.box)))
            points = dict(zip(POINT_COLUMNS, (f"{v:.2f}" for v in face.points.reshape(-1))))
            writer.writerow(
                table_row(
                    path=source.name,
                    face=face.face_index,
                    mode=MODE_ALIGNED,
                    **box,
                    score=f"{face.detection.score:.4f}",
                    **points,
                    output=target.as_posix(),
                )
            )
        stream.flush()
    return errors

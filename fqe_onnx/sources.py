"""Finding the images to score: a folder tree, one file, or a list file; deterministic order."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import FqeError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ImageSource:
    """One image to score: where it is, how the output names it, and its identity (first folder)."""

    path: Path
    name: str
    identity: str


def printable(text: str) -> str:
    """A file name safe to print: bytes that are not UTF-8 become \\xNN escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def source_for(path: Path, relative: str) -> ImageSource:
    """An ImageSource named by its posix path relative to the root; identity is its first folder."""
    parts = relative.split("/")
    identity = parts[0] if len(parts) > 1 else ""
    return ImageSource(path=path, name=printable(relative), identity=printable(identity))


def find_images(root: str | os.PathLike[str]) -> list[ImageSource]:
    """Every .jpg/.jpeg/.png (any letter case) under ``root``, recursively, sorted by relative path.

    ``root`` may also be a single image file (named by its file name, identity empty).
    """
    root_path = Path(root)
    if root_path.is_file():
        return [source_for(root_path, root_path.name)]
    if not root_path.is_dir():
        raise FqeError(f"no such file or folder: {printable(str(root_path))}")
    found = []
    for folder, dirs, files in os.walk(root_path):
        dirs.sort()
        rel_folder = os.path.relpath(folder, root_path)
        for name in files:
            if is_image_name(name):
                relative = name if rel_folder == "." else f"{rel_folder}/{name}".replace(os.sep, "/")
                found.append(source_for(Path(folder, name), relative))
    found.sort(key=lambda s: s.name)
    return found


def read_list(list_file: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> list[ImageSource]:
    """Images named one per line in ``list_file`` (blank lines and # comments skipped), in that order.

    Relative lines are taken from ``base`` (default: the list file's folder); the output names each
    image as written, and its identity is the first folder of that name.
    """
    list_path = Path(list_file)
    try:
        lines = list_path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as exc:
        raise FqeError(f"cannot read list file {list_path}: {exc.strerror or exc}") from exc
    base_path = Path(base) if base is not None else list_path.parent
    sources = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        relative = Path(entry).as_posix()
        sources.append(source_for(base_path / entry, relative))
    return sources

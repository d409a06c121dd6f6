"""Finding the images to score: a folder tree, one file, or a list file; deterministic order."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import FqeError, ImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ImageSource:
    """One image to score: where it is, how the output names it, and its identity (first folder).

    ``error`` is set for an input that is known to be lost before reading (an unreadable folder):
    it becomes an error row like any other."""

    path: Path
    name: str
    identity: str
    error: Optional[ImageError] = None


def printable(text: str) -> str:
    """A file name safe to print and unambiguous: a backslash is written as two backslashes, and
    each byte that is not UTF-8 as \\xNN, so a Latin-1 ``caf\\xe9.png`` and a file literally named
    ``caf\\xe9.png`` (written ``caf\\\\xe9.png``) never print the same."""
    return text.replace("\\", "\\\\").encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def source_for(path: Path, relative: str) -> ImageSource:
    """An ImageSource named by its posix path relative to the root; identity is its first folder."""
    parts = relative.split("/")
    identity = parts[0] if len(parts) > 1 else ""
    return ImageSource(path=path, name=printable(relative), identity=printable(identity))


def find_images(root: str | os.PathLike[str]) -> list[ImageSource]:
    """Every .jpg/.jpeg/.png (any letter case) under ``root``, recursively, sorted by relative path.

    Symlinked folders are followed; each folder is walked once (under the first name met), so a
    link loop ends and no file is listed twice. A folder that cannot be listed becomes an error
    source (kind ``unreadable``, named ``FOLDER/``). ``root`` may also be a single image file
    (named by its file name, identity empty)."""
    root_path = Path(root)
    if not root_path.is_dir():
        if os.path.lexists(root_path):  # a file, or something else with that name: the decoder says what
            return [source_for(root_path, root_path.name)]
        raise FqeError(f"no such file or folder: {printable(str(root_path))}")
    found: list[ImageSource] = []
    visited: set[tuple[int, int]] = set()
    stack = [(root_path, "")]
    while stack:
        folder, relative = stack.pop()
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in visited:
                continue
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            error = ImageError(f"cannot read folder: {exc.strerror or exc}", "unreadable")
            found.append(ImageSource(folder, printable(relative) + "/", printable(relative.split("/")[0]), error))
            continue
        for entry in reversed(entries):  # a stack: reversed keeps the walk in sorted order
            child = f"{relative}/{entry.name}" if relative else entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks; a broken link is not a folder
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((Path(entry.path), child))
            elif is_image_name(entry.name):
                found.append(source_for(Path(entry.path), child))
    found.sort(key=lambda s: s.name)
    return found


def list_identity(entry: str, base: Path) -> str:
    """The identity of a list entry: the first folder of its path under ``base`` (``./a/1.png`` and
    ``a//1.png`` read as ``a/1.png``); for a path outside ``base`` (absolute, or through ``..``),
    the folder that holds the image (ROOT/IDENTITY/IMAGE read from the end)."""
    root = os.path.normpath(os.path.abspath(base))
    full = Path(os.path.normpath(os.path.join(root, entry)))  # an absolute entry replaces root
    try:
        parts = full.relative_to(root).parts
    except ValueError:
        return full.parent.name
    return parts[0] if len(parts) > 1 else ""


def read_list(list_file: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> list[ImageSource]:
    """Images named one per line in ``list_file`` (blank lines and # comments skipped), in that order.

    Relative lines are taken from ``base`` (default: the list file's folder); the output names each
    image exactly as written (surrounding blanks stripped), and its identity is given by
    ``list_identity``.
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
        sources.append(ImageSource(path=base_path / entry, name=printable(entry),
                                   identity=printable(list_identity(entry, base_path))))
    return sources

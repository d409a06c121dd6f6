"""Finding the images to score: a folder tree, one file, or a list file; deterministic order."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from .errors import FqeError, ImageError

#: The extensions of every format the decoder reads (JPEG, PNG, BMP, WebP, TIFF), any letter case.
#: The format itself is sniffed from the bytes, whatever the name says.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: Photo formats met in the wild that this decoder cannot read (phone HEIC/AVIF, JPEG XL and 2000, raw files).
NOT_DECODABLE = frozenset(
    (
        ".heic",
        ".heif",
        ".avif",
        ".jxl",
        ".jp2",
        ".j2k",
        ".dng",
        ".cr2",
        ".cr3",
        ".nef",
        ".arw",
        ".orf",
        ".rw2",
        ".raf",
        ".psd",
    )
)
#: Image formats that are not photos to score (animations, drawings, icons).
NOT_SCORED = frozenset((".gif", ".svg", ".ico", ".eps", ".ai", ".apng"))


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
    ``caf\\xe9.png`` (written ``caf\\\\xe9.png``) never print the same. A NUL (which no path holds,
    but a list file can) is written \\x00: Python's csv module before 3.11 cannot write it, nor
    read it back, so one such line would otherwise end the whole run."""
    escaped = text.replace("\\", "\\\\").replace("\0", "\\x00")
    return escaped.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_image_name(name: str, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> bool:
    """Whether a file name ends with one of ``extensions`` (lower case, with the dot), any letter case."""
    return name.lower().endswith(tuple(extensions))


def extension_of(name: str) -> str:
    """The lower-case extension with its dot ('.heic'), or '' for a name without one."""
    suffix = Path(name).suffix.lower()
    return suffix if suffix != "." else ""


def parse_extensions(text: str) -> tuple[str, ...]:
    """``--ext``: a comma-separated list that replaces the default extensions ('jpg,.PNG'), or, when
    every entry starts with '+', is added to them ('+heic,+jp2'). Dots and letter case are optional."""
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if not entries:
        raise FqeError("--ext needs at least one extension, e.g. --ext jpg,png or --ext +jfif")
    adding = [e.startswith("+") for e in entries]
    if any(adding) and not all(adding):
        raise FqeError(f"--ext {text!r}: either list the extensions to use, or add to the defaults with '+' on each")
    names = tuple("." + e.lstrip("+").lstrip(".").lower() for e in entries)
    if any(n == "." for n in names):
        raise FqeError(f"--ext {text!r} has an empty extension")
    base = IMAGE_EXTENSIONS if all(adding) else ()
    return tuple(dict.fromkeys(base + names))


def skip_reason(extension: str, extensions: Iterable[str] = IMAGE_EXTENSIONS) -> str:
    """Why a file with this extension was left out of a folder's images."""
    if extension in IMAGE_EXTENSIONS and extension not in tuple(extensions):
        return "left out by --ext"
    if extension in NOT_DECODABLE:
        return "not decodable here"
    if extension in NOT_SCORED:
        return "not an image format we score"
    return "not an image extension (--ext +EXT adds one)"


@dataclass(frozen=True)
class Discovery:
    """What a folder walk found: the images to score, and the files left out, counted by extension."""

    sources: list[ImageSource]
    skipped: dict[str, int] = field(default_factory=dict)  # extension ('' for none) -> files left out
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS

    def skipped_summary(self) -> dict[str, dict[str, object]]:
        """For summary files: ``{".heic": {"count": 12, "reason": "not decodable here"}, ...}``."""
        return {
            ext or "(no extension)": {"count": n, "reason": skip_reason(ext, self.extensions)}
            for ext, n in sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))
        }

    def describe_skipped(self) -> str:
        """'12 .heic: not decodable here; 3 .gif: not an image format we score', or '' when none."""
        return "; ".join(f"{v['count']} {ext}: {v['reason']}" for ext, v in self.skipped_summary().items())

    def nothing_found(self, root: str) -> FqeError:
        """The error for a folder without a single image, saying what it holds instead."""
        wanted = " ".join(self.extensions)
        held = self.describe_skipped()
        return FqeError(
            f"no images under {printable(str(root))} (extensions {wanted}); "
            + (f"found instead: {held}" if held else "it holds no files at all")
        )


def source_for(path: Path, relative: str) -> ImageSource:
    """An ImageSource named by its posix path relative to the root; identity is its first folder."""
    parts = relative.split("/")
    identity = parts[0] if len(parts) > 1 else ""
    return ImageSource(path=path, name=printable(relative), identity=printable(identity))


def walk_key(name: str, is_folder: bool) -> str:
    """Where an entry of a folder goes in the walk: its printed name, and a folder's with a '/'
    after it, as its rows' names have. So the walk meets folders in the order their rows sort
    ('photos-2020/' before 'photos/', as '-' sorts before '/'), and of two names of one folder
    the one that sorts first is met first (and is the one it is listed under)."""
    return printable(name) + ("/" if is_folder else "")


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; a broken link is not a folder
    except OSError:
        return False


def find_images(root: str | os.PathLike[str], extensions: Iterable[str] = IMAGE_EXTENSIONS) -> list[ImageSource]:
    """Every image (``IMAGE_EXTENSIONS``, any letter case) under ``root``, recursively, sorted by
    relative path: ``discover(root).sources``."""
    return discover(root, extensions).sources


def discover(root: str | os.PathLike[str], extensions: Iterable[str] = IMAGE_EXTENSIONS) -> Discovery:
    """Every file with one of ``extensions`` (any letter case) under ``root``, recursively, sorted
    by relative path, and the count of the other files by extension.

    Symlinked folders are followed; each folder is walked once, so a link loop ends and no file is
    listed twice. A folder reachable under two names is listed under the one whose rows sort first:
    the walk visits folders in the order of the rows' names (``walk_key``), whatever order the
    file system lists them in. A folder that cannot be listed becomes an error
    source (kind ``unreadable``, named ``FOLDER/``). ``root`` may also be a single image file
    (named by its file name, identity empty)."""
    extensions = tuple(extensions)
    root_path = Path(root)
    if not root_path.is_dir():
        if os.path.lexists(root_path):  # a file, or something else with that name: the decoder says what
            return Discovery([source_for(root_path, root_path.name)], {}, extensions)
        raise FqeError(f"no such file or folder: {printable(str(root_path))}")
    found: list[ImageSource] = []
    skipped: Counter = Counter()
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
                entries = sorted(
                    ((entry, _is_folder(entry)) for entry in listing), key=lambda pair: walk_key(pair[0].name, pair[1])
                )
        except OSError as exc:
            error = ImageError(f"cannot read folder: {exc.strerror or exc}", "unreadable")
            found.append(ImageSource(folder, printable(relative) + "/", printable(relative.split("/")[0]), error))
            continue
        for entry, is_dir in reversed(entries):  # a stack: reversed keeps the walk in sorted order
            child = f"{relative}/{entry.name}" if relative else entry.name
            if is_dir:
                stack.append((Path(entry.path), child))
            elif is_image_name(entry.name, extensions):
                found.append(source_for(Path(entry.path), child))
            else:
                skipped[extension_of(entry.name)] += 1
    found.sort(key=lambda s: s.name)
    return Discovery(found, dict(skipped), extensions)


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
        sources.append(
            ImageSource(
                path=base_path / entry, name=printable(entry), identity=printable(list_identity(entry, base_path))
            )
        )
    return sources

"""File-system helpers shared by every module that writes a file: atomic replacement with the
user's permissions.

A file the tool writes (a score table's side file, report.html, a calibrated model, a zoo file)
appears whole or not at all, and gets the mode any ordinary program would give it: 0666 less the
process umask. ``tempfile.mkstemp`` alone would leave it 0600, so a shared cache or a report
meant for a web folder would be readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterator

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux ``/proc``);
    elsewhere set and restored at once under a lock."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open(path, 'w')`` would give a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_file(path: os.PathLike[str] | str, suffix: str = ".tmp") -> Iterator[Path]:
    """A unique temporary file beside ``path`` (its folder must exist) to write; renamed over
    ``path`` when the block ends without an error, deleted otherwise. Concurrent writers each get
    their own temporary file, and the rename is atomic: readers see the old file or the whole new
    one. The file gets 0666 less the umask (``mkstemp``'s 0600 is only for while it is written)."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        os.chmod(temporary, new_file_mode())  # the writer may have replaced the file: set it last
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: os.PathLike[str] | str, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``atomic_file``."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(data)

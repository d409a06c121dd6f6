"""Turning files, bytes and caller arrays into BGR uint8 images, with a specific error kind for each failure.

Safe on hostile input: only regular files are opened (non-blocking, so a FIFO or a device never
hangs), at most ``max_bytes + 1`` bytes are read, the format is sniffed from magic bytes (not the
file name), the pixel count is read from the header (PNG IHDR, JPEG SOFn, BMP, WebP, TIFF) and checked
before anything is decoded, and completeness is checked by walking the JPEG markers or PNG chunks
(bytes appended after the end of the image, such as a Motion Photo's video, are fine). OpenCV would
otherwise return the top of a truncated JPEG filled with grey, and allocate whatever a header
declares. Files are read as bytes and decoded with ``cv2.imdecode``: ``cv2.imread`` with a str path
crashes on file names that are not UTF-8. libjpeg prints its warnings about damaged compressed data
to stderr itself (OpenCV has no hook for them): they are caught while a JPEG decodes and make that
image a ``corrupt`` error row, so no decoder message reaches stderr without the file's name.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import struct
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Optional, Union

import cv2
import numpy as np

from .errors import ImageError

#: Defaults, documented in docs/reliability.md; ``Limits`` overrides them per scorer (``--max-pixels``).
MAX_PIXELS = 50_000_000
MAX_BYTES = 100 * 1024 * 1024
MIN_SIDE = 16
#: An image whose grey levels have a standard deviation below this has no detail at all.
FLAT_STD = 1.0

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (SOF0..SOF15 without DHT C4, JPG C8 and DAC CC): they carry the size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Markers without a length field: SOI, EOI, RST0..7, TEM.
_STANDALONE = frozenset([0xD8, 0xD9, 0x01]) | frozenset(range(0xD0, 0xD8))
#: How libjpeg's warnings begin (its jerror.h): OpenCV lets libjpeg print them to stderr itself.
#: These say the compressed data is damaged; the decoded image is then partly made up.
_JPEG_CORRUPT = (
    "Corrupt JPEG data",
    "Premature end of JPEG file",
    "Invalid SOS parameters",
    "Inconsistent progression sequence",
    "Application transferred too",
)
#: libjpeg warnings about harmless oddities: logged (debug), the image is used.
_JPEG_HARMLESS = ("Warning: unknown JFIF revision", "Unknown Adobe color transform")
_CAPTURE_LOCK = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What a decoder accepts: file size, pixel count (from the header), smallest side, and whether
    images with no detail at all are refused."""

    max_pixels: int = MAX_PIXELS
    max_bytes: int = MAX_BYTES
    min_side: int = MIN_SIDE
    refuse_flat: bool = True


DEFAULT_LIMITS = Limits()


def sniff(data: bytes) -> str:
    """The image format from magic bytes: jpeg, png, bmp, webp, gif, tiff, or '' if unknown."""
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data.startswith(b"BM") and len(data) >= 26:
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return ""


def _truncated(fmt: str, detail: str) -> ImageError:
    return ImageError(f"truncated {fmt.upper()}: {detail}", "truncated")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG, after walking its markers to the end-of-image marker.

    Raises ImageError ``truncated`` when the stream ends first, ``not-an-image`` when a marker is
    malformed. Entropy-coded data escapes 0xFF as FF 00 and restart markers are FF D0..D7, so the
    next real marker after a scan is the first FF followed by anything else."""
    size: Optional[tuple[int, int]] = None
    pos, end = 2, len(data)
    while True:
        if pos + 2 > end:
            raise _truncated("jpeg", "no end-of-image marker")
        if data[pos] != 0xFF:
            raise ImageError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI: whatever follows is not ours
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > end:
            raise _truncated("jpeg", "a segment header is cut off")
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if length < 2:
            raise ImageError(f"corrupt JPEG: segment length {length} at byte {pos}")
        if pos + 2 + length > end:
            raise _truncated("jpeg", "a segment is cut off")
        if marker in _SOF_MARKERS and length >= 7:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data to the next real marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= end:
                    raise _truncated("jpeg", "no end-of-image marker after the last scan")
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                    continue
                break
    if size is None:
        raise ImageError("corrupt JPEG: no frame header (SOF)")
    return size


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from IHDR, after walking its chunks to IEND (truncated otherwise)."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise (
            _truncated("png", "no IHDR chunk")
            if len(data) < 33
            else ImageError("corrupt PNG: the first chunk is not IHDR")
        )
    width, height = struct.unpack(">II", data[16:24])
    pos = 8
    while True:
        if pos + 8 > len(data):
            raise _truncated("png", "no IEND chunk")
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if pos > len(data):
            raise _truncated("png", f"chunk {kind.decode('latin-1')!r} is cut off")
        if kind == b"IEND":
            return width, height


def tiff_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a TIFF from its first image directory (tags 256 ImageWidth, 257 ImageLength)."""
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        raise _truncated("tiff", "no image directory offset")
    offset = struct.unpack(order + "I", data[4:8])[0]
    if offset < 8 or offset + 2 > len(data):
        raise _truncated("tiff", f"the image directory at byte {offset} is past the end")
    count = struct.unpack(order + "H", data[offset : offset + 2])[0]
    if offset + 2 + 12 * count > len(data):
        raise _truncated("tiff", "the image directory is cut off")
    sizes = {}
    for k in range(count):
        tag, kind = struct.unpack(order + "HH", data[offset + 2 + 12 * k : offset + 6 + 12 * k])
        value = data[offset + 10 + 12 * k : offset + 14 + 12 * k]
        if tag in (256, 257) and kind in (3, 4):  # SHORT or LONG, stored in the entry itself
            sizes[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    if 256 not in sizes or 257 not in sizes:
        raise ImageError("corrupt TIFF: no ImageWidth/ImageLength in the first image directory")
    return sizes[256], sizes[257]


def header_size(data: bytes, fmt: str) -> Optional[tuple[int, int]]:
    """(width, height) from the header, with completeness checked for JPEG and PNG; None when the
    format has no parser here."""
    if fmt == "jpeg":
        return jpeg_size(data)
    if fmt == "png":
        return png_size(data)
    if fmt == "bmp":
        return bmp_size(data)
    if fmt == "webp" and webp_complete(data):
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if fmt == "tiff":
        return tiff_size(data)
    return None


def bmp_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a BMP, from its info header: 16-bit sizes in the OS/2 1.x
    BITMAPCOREHEADER (12 bytes), signed 32-bit ones (negative: top-down) in every later one.
    Raises ImageError ``truncated`` when an uncompressed file is shorter than its pixel rows."""
    header = struct.unpack("<I", data[14:18])[0]
    if header == 12:
        width, height, planes, bits = struct.unpack("<HHHH", data[18:26])
        compression = 0
    else:
        if len(data) < 34:
            raise _truncated("bmp", "the info header is cut off")
        width, height, planes, bits, compression = struct.unpack("<iiHHI", data[18:34])
        width, height = abs(width), abs(height)
    if compression in (0, 3, 6) and 0 < bits <= 32:  # BI_RGB, BI_BITFIELDS: rows of fixed size
        pixels_at = struct.unpack("<I", data[10:14])[0]
        row = (width * bits + 31) // 32 * 4
        if len(data) < pixels_at + row * height:
            raise _truncated("bmp", f"{len(data)} bytes, the pixel rows need {pixels_at + row * height}")
    return width, height


def webp_complete(data: bytes) -> bool:
    """True when a WebP holds the whole RIFF container its header declares (bytes after it are
    fine); raises ImageError ``truncated`` otherwise."""
    if len(data) < 30:
        raise _truncated("webp", "the header is cut off")
    declared = 8 + struct.unpack("<I", data[4:8])[0]
    if len(data) < declared:
        raise _truncated("webp", f"{len(data)} bytes, the RIFF container declares {declared}")
    return True


def check_size(width: int, height: int, limits: Limits) -> None:
    """Refuse images above the pixel limit or below the smallest side, from their declared size."""
    if width * height > limits.max_pixels:
        raise ImageError(
            f"image declares {width}x{height} = {width * height / 1e6:.1f} MP, over the limit of "
            f"{limits.max_pixels / 1e6:g} MP (--max-pixels)",
            "too-large",
        )
    if min(width, height) < limits.min_side:
        raise ImageError(
            f"image is {width}x{height}, below the smallest usable side of {limits.min_side} px", "too-small"
        )


def check_detail(bgr: np.ndarray, limits: Limits) -> None:
    """Refuse an image with no detail at all (one flat colour, to within FLAT_STD grey levels)."""
    if limits.refuse_flat:
        mean, std = cv2.meanStdDev(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))  # in C, without holding the GIL
        if float(std[0, 0]) < FLAT_STD:
            raise ImageError(f"image has no detail (one flat colour, grey level {float(mean[0, 0]):.0f})", "flat")


def decode_image(data: Union[bytes, bytearray, np.ndarray], limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, str]:
    """Decode an encoded image to (HxWx3 BGR uint8, sniffed format): the one decoding path.

    Every other entry point ends here (``load_file`` after reading the file); this is the one
    for bytes that never were a file (a Ray dataset's ``bytes`` column, an upload)."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if not raw:
        raise ImageError("empty file", "empty-file")
    fmt = sniff(raw)
    if not fmt:
        raise ImageError("not an image: the bytes start with no known image signature", "not-an-image")
    try:
        return _decode_known(raw, fmt, limits), fmt
    except ImageError as exc:
        exc.format = fmt
        raise


def _decode_known(raw: bytes, fmt: str, limits: Limits) -> np.ndarray:
    size = header_size(raw, fmt)
    if size is None:
        raise ImageError(f"unsupported image format {fmt} (JPEG, PNG, BMP, WebP and TIFF are decoded)", "not-an-image")
    check_size(*size, limits)
    messages: list[str] = []
    try:
        if fmt == "jpeg":  # libjpeg prints its warnings itself: catch them, they belong to this image
            with decoder_messages(_JPEG_CORRUPT + _JPEG_HARMLESS) as messages:
                image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
        else:
            image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header OpenCV itself refuses
        raise ImageError(f"OpenCV refused to decode the {fmt} image: {exc.err}", "not-an-image") from exc
    damage = [m for m in messages if m.startswith(_JPEG_CORRUPT)]
    if damage:
        raise ImageError(f"corrupt JPEG data (libjpeg: {'; '.join(damage)})", "corrupt")
    for message in messages:
        log.debug("libjpeg: %s", message)
    if image is None:
        raise ImageError(f"not a decodable image (OpenCV could not decode the {fmt} bytes)", "not-an-image")
    check_size(image.shape[1], image.shape[0], limits)
    check_detail(image, limits)
    return image


@contextlib.contextmanager
def decoder_messages(prefixes: tuple[str, ...]) -> Iterator[list[str]]:
    """Collect the lines a C library writes to the process's stderr (fd 2) while the block runs
    and that begin with one of ``prefixes`` (filled in when the block ends); every other line is
    written on to stderr unchanged.

    OpenCV has no hook for libjpeg's warnings, so fd 2 itself is pointed at a temporary file for
    the block. The windows are serialised (a lock), so each line belongs to the one decode that
    was running; a line some other thread writes meanwhile is passed on, not lost."""
    lines: list[str] = []
    with _CAPTURE_LOCK:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):  # no usable Python stderr: fd 2 may still exist
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: nothing can be printed there either
            yield lines
            return
        capture = _capture_file()
        capture.seek(0)
        capture.truncate()
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            passed = []
            for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True):
                if line.startswith(prefixes):
                    lines.append(line.rstrip("\r\n"))
                else:
                    passed.append(line)
            if passed:
                os.write(2, "".join(passed).encode("utf-8", "replace"))


_CAPTURE: dict[int, IO[bytes]] = {}


def _capture_file() -> IO[bytes]:
    """One unnamed temporary file per process, reused by every capture (called under the lock)."""
    pid = os.getpid()
    if pid not in _CAPTURE:  # a forked child gets its own, not its parent's file offset
        _CAPTURE.clear()
        _CAPTURE[pid] = tempfile.TemporaryFile()
    return _CAPTURE[pid]


def read_bytes(path: Union[str, "os.PathLike[str]"], max_bytes: int = MAX_BYTES) -> bytes:
    """Read a regular file's bytes, at most ``max_bytes`` (ImageError ``too-large`` beyond).

    Opened non-blocking and checked with fstat before any read, so a FIFO, socket or device is an
    error row (``not-a-file``) instead of a hang."""
    if "\0" in os.fspath(path):  # refused before os.open, whose message differs between Pythons
        raise ImageError("cannot read file: embedded null byte", "unreadable")
    try:
        fd = os.open(Path(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO or socket with nothing on the other end
            raise ImageError("not a regular file (a FIFO or socket)", "not-a-file") from exc
        raise ImageError(f"cannot read file: {exc.strerror or exc}", "unreadable") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("cannot read file: it is a folder", "unreadable")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError("not a regular file (a FIFO, socket or device)", "not-a-file")
        if info.st_size > max_bytes:
            raise ImageError(
                f"file is {info.st_size / 2**20:.1f} MiB, over the limit of {max_bytes / 2**20:g} MiB", "too-large"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)  # a file that grew since fstat is still bounded
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}", "unreadable") from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ImageError(f"file is over the limit of {max_bytes / 2**20:g} MiB", "too-large")
    return data


def decode_bytes(data: Union[bytes, bytearray, np.ndarray], limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode an encoded image to HxWx3 BGR uint8: ``decode_image`` without the format, for callers
    that only want the pixels (kept as a name because library users and the tests call it)."""
    return decode_image(data, limits)[0]


def load_file(path: Union[str, "os.PathLike[str]"], limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, str]:
    """Read and decode one image file to (HxWx3 BGR uint8, sniffed format): ``read_bytes`` (bounded,
    never blocks) then ``decode_image``. The scorer uses it: the format goes into the output."""
    return decode_image(read_bytes(path, limits.max_bytes), limits)


def read_image(path: Union[str, "os.PathLike[str]"], limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Read and decode one image file to HxWx3 BGR uint8: ``load_file`` without the format, for
    the aligner, the report's thumbnails and the benchmarks, which only want the pixels."""
    return load_file(path, limits)[0]


def as_bgr_image(array: np.ndarray, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Validate a caller's array: HxWx3 BGR uint8, or HxW grey uint8 (converted to BGR)."""
    if not isinstance(array, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(array).__name__}", "bad-array")
    if array.dtype != np.uint8:
        raise ImageError(f"expected dtype uint8, got {array.dtype}", "bad-array")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ImageError(f"expected an HxWx3 BGR or HxW grey image, got shape {array.shape}", "bad-array")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError(f"empty image, shape {array.shape}", "bad-array")
    check_size(array.shape[1], array.shape[0], limits)
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    check_detail(array, limits)
    return array

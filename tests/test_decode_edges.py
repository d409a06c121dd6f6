"""Decoder behaviours that users rely on and no other test pinned: restart markers, the exact pixel
limit, files that lie about their size, WebP/BMP headers, cut-short and corrupt files."""

import os
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import random_face, write_image

from fqe_onnx import decode
from fqe_onnx.decode import Limits, decode_bytes, decode_image, header_size, load_file, read_bytes, read_image
from fqe_onnx.errors import ERROR_KINDS, ImageError

LENIENT = Limits(min_side=1, refuse_flat=False)


def textured(seed=0, size=(120, 160)) -> np.ndarray:
    """Noise over a smooth image: JPEG needs detail to make long entropy-coded scans."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 40, size=(*size, 3))
    return np.clip(random_face(seed, size).astype(int) + noise, 0, 255).astype(np.uint8)


def encode(ext: str, image: np.ndarray, params=()) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


def corrupt_jpeg() -> bytes:
    """A JPEG whose markers are all intact but whose entropy-coded data has bytes flipped."""
    data = bytearray(encode(".jpg", textured(0, (250, 250))))
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    for k in range(start + 200, start + 2000, 37):
        if data[k] != 0xFF and data[k - 1] != 0xFF and data[k] ^ 0x5A != 0xFF:
            data[k] ^= 0x5A
    return bytes(data)


def test_a_jpeg_with_restart_markers_decodes():
    image = textured(1)
    data = encode(".jpg", image, [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])
    assert any(bytes([0xFF, m]) in data for m in range(0xD0, 0xD8))  # the file really has RSTn markers
    decoded = decode_bytes(data)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).mean() < 20


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_exactly_max_pixels_is_accepted_and_one_more_refused(ext):
    data = encode(ext, textured(2, (40, 50)))
    assert decode_bytes(data, Limits(max_pixels=2000)).shape == (40, 50, 3)
    with pytest.raises(ImageError, match="over the limit") as error:
        decode_bytes(data, Limits(max_pixels=1999))
    assert error.value.kind == "too-large"


def test_a_file_reporting_size_0_but_holding_more_is_too_large_not_cut():
    assert os.stat("/proc/self/maps").st_size == 0  # procfs: a regular file whose size says nothing
    with pytest.raises(ImageError, match="over the limit") as error:
        read_bytes("/proc/self/maps", max_bytes=64)
    assert error.value.kind == "too-large"
    assert len(read_bytes("/proc/self/maps", max_bytes=1 << 20)) > 64  # read whole when allowed


def test_a_file_of_exactly_max_bytes_is_read(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"a" * 100)
    assert read_bytes(path, max_bytes=100) == b"a" * 100
    with pytest.raises(ImageError, match="over the limit"):
        read_bytes(path, max_bytes=99)


def test_vp8x_webp_header_size_equals_its_decoded_size():
    bgra = np.dstack([textured(3, (37, 53)), np.full((37, 53), 200, np.uint8)])
    data = encode(".webp", bgra, [cv2.IMWRITE_WEBP_QUALITY, 90])  # lossy with alpha: VP8X + ALPH + VP8
    assert data[12:16] == b"VP8X"
    image, fmt = decode_image(data, LENIENT)
    assert fmt == "webp" and header_size(data, "webp") == (53, 37) == (image.shape[1], image.shape[0])


@pytest.mark.parametrize(
    "params, chunk", [([cv2.IMWRITE_WEBP_QUALITY, 80], b"VP8 "), ([cv2.IMWRITE_WEBP_QUALITY, 101], b"VP8L")]
)
def test_simple_webp_header_sizes(params, chunk):
    data = encode(".webp", textured(4, (37, 53)), params)
    assert data[12:16] == chunk and header_size(data, "webp") == (53, 37)


def test_the_size_is_checked_again_after_decoding(monkeypatch):
    """A header parser that under-reads (or a header that lies) is caught by the decoded size."""
    data = encode(".png", textured(5, (40, 50)))
    monkeypatch.setattr(decode, "header_size", lambda raw, fmt: (20, 20))
    with pytest.raises(ImageError, match="50x40") as error:
        decode_bytes(data, Limits(max_pixels=1999))
    assert error.value.kind == "too-large"
    with pytest.raises(ImageError, match="below the smallest usable side") as error:
        decode_bytes(data, Limits(min_side=41))
    assert error.value.kind == "too-small"


def os2_bmp(image: np.ndarray) -> bytes:
    """An OS/2 1.x BMP (BITMAPCOREHEADER: 12 bytes, 16-bit sizes), 24 bits, bottom-up."""
    height, width = image.shape[:2]
    row = (width * 3 + 3) // 4 * 4
    pixels = b"".join(image[y].tobytes().ljust(row, b"\0") for y in range(height - 1, -1, -1))
    header = struct.pack("<IHHHH", 12, width, height, 1, 24)
    return b"BM" + struct.pack("<IHHI", 26 + len(pixels), 0, 0, 26) + header + pixels


def test_an_os2_bmp_is_decoded_not_refused_as_a_bomb():
    image = textured(6, (30, 41))
    data = os2_bmp(image)
    assert header_size(data, "bmp") == (41, 30)
    decoded, fmt = decode_image(data, LENIENT)
    assert fmt == "bmp"
    np.testing.assert_array_equal(decoded, image)


def test_a_windows_bmp_top_down_size():
    data = bytearray(encode(".bmp", textured(7, (30, 41))))
    data[22:26] = struct.pack("<i", -30)  # top-down rows: a negative height
    assert header_size(bytes(data), "bmp") == (41, 30)


@pytest.mark.parametrize(
    "ext, params", [(".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])]
)
def test_cut_short_bmp_and_webp_are_truncated(ext, params):
    data = encode(ext, textured(8), params)
    for cut in (len(data) - 1, len(data) // 2, 29):
        with pytest.raises(ImageError, match=f"truncated {ext[1:].upper()}") as error:
            decode_bytes(data[:cut])
        assert error.value.kind == "truncated" and error.value.format == ext[1:]
    assert decode_bytes(data + b"appended").shape == (120, 160, 3)  # bytes after the end are fine


def test_a_cut_short_os2_bmp_is_truncated():
    data = os2_bmp(textured(9, (30, 41)))
    with pytest.raises(ImageError) as error:
        decode_bytes(data[:-1], LENIENT)
    assert error.value.kind == "truncated"


def test_a_jpeg_with_corrupt_data_is_a_corrupt_error():
    assert "corrupt" in ERROR_KINDS
    with pytest.raises(ImageError, match="corrupt JPEG data .libjpeg: Corrupt JPEG data") as error:
        decode_bytes(corrupt_jpeg())
    assert error.value.kind == "corrupt" and error.value.format == "jpeg"


def test_decoder_messages_pass_other_lines_on(capfd):
    with decode.decoder_messages(("Corrupt",)) as lines:
        os.write(2, b"Corrupt JPEG data: x\nsomething else\n")
    assert lines == ["Corrupt JPEG data: x"]
    assert capfd.readouterr().err == "something else\n"


def test_no_decoder_message_reaches_stderr_without_the_file_name(tmp_path, model_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(corrupt_jpeg())
    write_image(folder / "fine.png", random_face(1))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fqe_onnx",
            "score",
            str(folder),
            "--align",
            "never",
            "--model",
            str(model_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert "Corrupt JPEG" not in result.stderr and "libjpeg" not in result.stderr
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    broken = next(r for r in rows if r[0] == "broken.jpg")
    assert broken[6] == "corrupt" and "Corrupt JPEG data" in ",".join(broken[7:])
    assert "2 images, 1 errors" in result.stderr


def test_the_file_entry_points_are_one_path(tmp_path):
    path = write_image(tmp_path / "a.png", random_face(2))
    data = path.read_bytes()
    from_file, fmt = load_file(path)
    np.testing.assert_array_equal(from_file, read_image(path))
    np.testing.assert_array_equal(from_file, decode_bytes(data))
    np.testing.assert_array_equal(from_file, decode_image(data)[0])
    assert fmt == "png"


# -- every refusal, with its exact kind and message (what a pipeline and a reader act on) -------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A complete PNG container (IHDR, IEND) that declares a size and holds no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def jpeg_parts():
    data = encode(".jpg", textured(10))
    sos = data.find(b"\xff\xda")
    return data, sos


def byte_cases():
    jpeg, sos = jpeg_parts()
    png = encode(".png", textured(11))
    bmp = encode(".bmp", textured(12, (20, 30)))
    webp = encode(".webp", textured(13, (20, 30)), [cv2.IMWRITE_WEBP_QUALITY, 80])
    riff = struct.unpack("<I", webp[4:8])[0]
    return [
        ("empty", b"", "empty-file", "empty file"),
        ("text", b"hello, not an image", "not-an-image", "not an image: the bytes start with no known image signature"),
        (
            "gif",
            b"GIF89a" + b"\0" * 40,
            "not-an-image",
            "unsupported image format gif (JPEG, PNG, BMP, WebP and TIFF are decoded)",
        ),
        ("jpeg-soi-only", b"\xff\xd8", "truncated", "truncated JPEG: no end-of-image marker"),
        ("jpeg-no-marker", b"\xff\xd8\x00\x00\x00\x00", "not-an-image", "corrupt JPEG: expected a marker at byte 2"),
        ("jpeg-fill-bytes", b"\xff\xd8\xff\xff\xff\xd9", "not-an-image", "corrupt JPEG: no frame header (SOF)"),
        (
            "jpeg-bad-length",
            b"\xff\xd8\xff\xe0\x00\x01\x00\x00",
            "not-an-image",
            "corrupt JPEG: segment length 1 at byte 2",
        ),
        ("jpeg-header-cut", b"\xff\xd8\xff\xe0\x00", "truncated", "truncated JPEG: a segment header is cut off"),
        ("jpeg-segment-cut", jpeg[: sos + 6], "truncated", "truncated JPEG: a segment is cut off"),
        (
            "jpeg-scan-cut",
            jpeg[: len(jpeg) - 2],
            "truncated",
            "truncated JPEG: no end-of-image marker after the last scan",
        ),
        ("png-short", png[:20], "truncated", "truncated PNG: no IHDR chunk"),
        ("png-not-ihdr", png[:12] + b"IDAT" + png[16:], "not-an-image", "corrupt PNG: the first chunk is not IHDR"),
        ("png-no-iend", png[:33], "truncated", "truncated PNG: no IEND chunk"),
        ("png-chunk-cut", png[:-20], "truncated", "truncated PNG: chunk 'IDAT' is cut off"),
        (
            "png-no-pixels",
            png_header_only(30, 20),
            "not-an-image",
            "not a decodable image (OpenCV could not decode the png bytes)",
        ),
        (
            "png-bomb",
            png_header_only(5000, 4000),
            "too-large",
            "image declares 5000x4000 = 20.0 MP, over the limit of 0.5 MP (--max-pixels)",
        ),
        ("png-tiny", png_header_only(15, 40), "too-small", "image is 15x40, below the smallest usable side of 16 px"),
        ("bmp-cut", bmp[:-7], "truncated", f"truncated BMP: {len(bmp) - 7} bytes, the pixel rows need {len(bmp)}"),
        ("bmp-info-cut", bmp[:30], "truncated", "truncated BMP: the info header is cut off"),
        ("webp-short", webp[:29], "truncated", "truncated WEBP: the header is cut off"),
        (
            "webp-cut",
            webp[:-3],
            "truncated",
            f"truncated WEBP: {len(webp) - 3} bytes, the RIFF container declares {riff + 8}",
        ),
        (
            "flat",
            encode(".png", np.full((20, 30, 3), 77, np.uint8)),
            "flat",
            "image has no detail (one flat colour, grey level 77)",
        ),
    ]


@pytest.mark.parametrize("name, data, kind, message", byte_cases(), ids=[c[0] for c in byte_cases()])
def test_every_refusal_of_bytes_has_its_kind_and_message(name, data, kind, message):
    with pytest.raises(ImageError) as error:
        decode_image(data, Limits(max_pixels=500_000))
    assert (error.value.kind, str(error.value)) == (kind, message)
    assert error.value.format == ("" if kind == "empty-file" or name == "text" else decode.sniff(data))


def test_every_refusal_of_a_path_has_its_kind_and_message(tmp_path):
    import socket

    def refusal(path, max_bytes=decode.MAX_BYTES):
        with pytest.raises(ImageError) as error:
            read_bytes(path, max_bytes)
        return error.value.kind, str(error.value)

    assert refusal(tmp_path / "missing.jpg") == ("unreadable", "cannot read file: No such file or directory")
    assert refusal(tmp_path) == ("unreadable", "cannot read file: it is a folder")
    assert refusal("/dev/null") == ("not-a-file", "not a regular file (a FIFO, socket or device)")
    os.mkfifo(tmp_path / "fifo.jpg")  # nobody writes to it: opened non-blocking, refused at once
    assert refusal(tmp_path / "fifo.jpg") == ("not-a-file", "not a regular file (a FIFO, socket or device)")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.jpg"))
        assert refusal(tmp_path / "s.jpg") == ("not-a-file", "not a regular file (a FIFO or socket)")
    assert refusal(str(tmp_path / "a\0b.jpg")) == ("unreadable", "cannot read file: embedded null byte")
    (tmp_path / "big.jpg").write_bytes(b"\xff" * (3 * 2**19))
    assert refusal(tmp_path / "big.jpg", 2**20) == ("too-large", "file is 1.5 MiB, over the limit of 1 MiB")
    assert refusal("/proc/self/maps", 2**9) == ("too-large", "file is over the limit of 0.000488281 MiB")


def test_files_are_opened_non_blocking_and_close_on_exec(tmp_path, monkeypatch):
    (tmp_path / "a.bin").write_bytes(b"x")
    flags = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flag, *rest: flags.append(flag) or real_open(path, flag, *rest))
    read_bytes(tmp_path / "a.bin")
    assert flags == [os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC]


@pytest.mark.parametrize(
    "array, message",
    [
        ([[1]], "expected a numpy array, got list"),
        (np.zeros((5, 6, 3), np.float32), "expected dtype uint8, got float32"),
        (np.zeros((5, 6, 4), np.uint8), "expected an HxWx3 BGR or HxW grey image, got shape (5, 6, 4)"),
        (np.zeros((2, 3, 4, 3), np.uint8), "expected an HxWx3 BGR or HxW grey image, got shape (2, 3, 4, 3)"),
        (np.zeros((5,), np.uint8), "expected an HxWx3 BGR or HxW grey image, got shape (5,)"),
        (np.zeros((0, 6, 3), np.uint8), "empty image, shape (0, 6, 3)"),
        (np.zeros((6, 0), np.uint8), "empty image, shape (6, 0)"),
        (np.zeros((15, 40, 3), np.uint8), "image is 40x15, below the smallest usable side of 16 px"),
        (np.full((20, 30), 9, np.uint8), "image has no detail (one flat colour, grey level 9)"),
    ],
)
def test_every_refusal_of_an_array_has_its_message(array, message):
    with pytest.raises(ImageError) as error:
        decode.as_bgr_image(array)
    assert (error.value.kind, str(error.value)) == (
        {"image is": "too-small", "image ha": "flat"}.get(message[:8], "bad-array"),
        message,
    )


def test_arrays_at_the_limits_are_accepted():
    grey = textured(14, (16, 16))[:, :, 0]
    converted = decode.as_bgr_image(grey)
    assert converted.shape == (16, 16, 3) and np.array_equal(converted[:, :, 2], grey)
    assert decode.as_bgr_image(textured(15, (16, 40)), Limits(max_pixels=640)).shape == (16, 40, 3)
    with pytest.raises(ImageError, match="over the limit"):
        decode.as_bgr_image(textured(15, (16, 40)), Limits(max_pixels=639))
    almost_flat = np.full((20, 30), 100, np.uint8)
    almost_flat[::2, ::2] = 103  # a standard deviation of 1.3 grey levels: some detail
    assert decode.as_bgr_image(almost_flat).shape == (20, 30, 3)
    assert decode.as_bgr_image(np.full((20, 30), 9, np.uint8), Limits(refuse_flat=False)).shape == (20, 30, 3)


def test_sniffing_reads_magic_bytes_only():
    assert [
        decode.sniff(d)
        for d in (
            b"\xff\xd8\xff",
            b"\x89PNG\r\n\x1a\n",
            b"BM" + b"\0" * 24,
            b"BM" + b"\0" * 23,
            b"RIFF\0\0\0\0WEBP",
            b"RIFF\0\0\0\0WAVE",
            b"GIF87a",
            b"GIF89a",
            b"GIF88a",
            b"II*\x00",
            b"MM\x00*",
            b"\x89PNG\r\n\x1a",
        )
    ] == ["jpeg", "png", "bmp", "", "webp", "", "gif", "gif", "", "tiff", "tiff", ""]


# -- the header walkers on hand-made streams ------------------------------------------------------------


def sof(width: int, height: int, length: int = 11) -> bytes:
    """A start-of-frame segment (SOF0) of ``length`` declaring the size (one component)."""
    body = struct.pack(">BHH", 8, height, width) + b"\x01\x01\x11\x00"
    return b"\xff\xc0" + struct.pack(">H", length) + body[: length - 2]


SCAN = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"  # a start-of-scan header; entropy-coded data follows


@pytest.mark.parametrize(
    "stream, size",
    [
        (b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\x34\xff\xd9", (33, 44)),
        (b"\xff\xd8\xff\xff\xff" + sof(33, 44)[1:] + SCAN + b"\x12\xff\xd9", (33, 44)),  # fill bytes before a marker
        (b"\xff\xd8\xff\x01\xff\xd0" + sof(33, 44) + SCAN + b"\x12\xff\xd9", (33, 44)),  # standalone TEM, RST0
        (b"\xff\xd8\xff\xfe\x00\x02" + sof(33, 44) + SCAN + b"\x12\xff\xd9", (33, 44)),  # an empty comment segment
        (b"\xff\xd8" + sof(33, 44, length=7) + SCAN + b"\x12\xff\xd9", (33, 44)),  # the shortest SOF with a size
        (b"\xff\xd8" + sof(40_000, 50_000) + SCAN + b"\x12\xff\xd9", (40_000, 50_000)),  # sizes are unsigned
        (b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\xff\x00\xff\xd9", (33, 44)),  # a stuffed FF 00 right before EOI
        (b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\xff\xd7\x00\xff\xd9", (33, 44)),  # RST7 inside the scan
        (b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\xff\xd9\xff\xe1\x00", (33, 44)),  # a trailer holding FF: not ours
        (b"\xff\xd8" + sof(99, 99) + sof(33, 44) + SCAN + b"\x12\xff\xd9", (33, 44)),  # the last frame header wins
    ],
)
def test_jpeg_size_walks_markers_to_the_end(stream, size):
    assert decode.jpeg_size(stream) == size


@pytest.mark.parametrize(
    "stream, message",
    [
        (b"\xff\xd8\xff\xe0\x00\x10", "truncated JPEG: a segment is cut off"),  # header complete, body missing
        (b"\xff\xd8\xff\xfe\x00\x04ab", "truncated JPEG: no end-of-image marker"),  # segment ends at the end
        (b"\xff\xd8\xff\xe0\x80\x00" + b"\0" * 10, "truncated JPEG: a segment is cut off"),  # a length over 32767
        (b"\xff\xd8\xff\xe0\x00\x02" + b"\xff", "truncated JPEG: no end-of-image marker"),
        (b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\xff", "truncated JPEG: no end-of-image marker after the last scan"),
        (
            b"\xff\xd8" + sof(33, 44) + SCAN + b"\x12\xff\xd8\x34\xff\xd9",
            f"corrupt JPEG: expected a marker at byte {2 + 13 + 10 + 3}",
        ),  # SOI is no restart
        (b"\xff\xd8" + sof(33, 44, length=6) + SCAN + b"\x12\xff\xd9", "corrupt JPEG: no frame header (SOF)"),
    ],
)
def test_jpeg_size_refuses_broken_streams(stream, message):
    with pytest.raises(ImageError) as error:
        decode.jpeg_size(stream)
    assert str(error.value) == message


def test_png_walker_edges():
    assert decode.png_size(png_header_only(2**31, 20)) == (2**31, 20)  # sizes are unsigned
    with pytest.raises(ImageError, match="over the limit") as error:
        decode_image(png_header_only(2**31, 20))
    assert error.value.kind == "too-large"
    cut_crc = png_header_only(30, 20)[:-4]  # IEND's length and type are there, its CRC is not
    with pytest.raises(ImageError) as error:
        decode.png_size(cut_crc)
    assert str(error.value) == "truncated PNG: chunk 'IEND' is cut off"
    huge = png_header_only(30, 20)[:33] + struct.pack(">I", 0xFFFFFFF0) + b"tEXt" + b"\0" * 20
    with pytest.raises(ImageError) as error:
        decode.png_size(huge)  # a chunk length over 2**31 is not negative
    assert str(error.value) == "truncated PNG: chunk 'tEXt' is cut off"


def palette_bmp(width: int, height: int, bits: int, compression: int = 0, pixels: bytes = b"") -> bytes:
    """A Windows BMP (40-byte info header) with a grey palette; uncompressed rows unless given."""
    colours = 2**bits if bits <= 8 else 0
    palette = b"".join(bytes([v, v, v, 0]) for v in np.linspace(0, 255, colours).astype(int)) if colours else b""
    if not pixels:
        row = (width * bits + 31) // 32 * 4
        rng = np.random.default_rng(bits)
        pixels = rng.integers(0, 256, row * height, dtype=np.uint8).tobytes()
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, len(pixels), 2835, 2835, colours, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


@pytest.mark.parametrize("bits", [1, 8, 24, 32])
def test_bmp_row_sizes_for_every_bit_depth(bits):
    data = palette_bmp(37, 20, bits)
    assert header_size(data, "bmp") == (37, 20)
    assert decode_image(data, LENIENT)[0].shape == (20, 37, 3)
    with pytest.raises(ImageError, match="truncated BMP") as error:
        decode_image(data[:-1], LENIENT)
    assert error.value.kind == "truncated"


@pytest.mark.parametrize("compression", [3, 6])
def test_a_cut_bitfields_bmp_is_truncated(compression):
    data = bytearray(palette_bmp(37, 20, 32))
    data[30:34] = struct.pack("<I", compression)
    with pytest.raises(ImageError, match="truncated BMP: 3010 bytes, the pixel rows need 3014"):
        header_size(bytes(data[:-4]), "bmp")


def test_an_rle_bmp_is_not_measured_by_rows():
    rle = b"".join(bytes([37, 128, 0, 0]) for _ in range(20)) + b"\x00\x01"  # 37 pixels of grey 128 a row
    data = palette_bmp(37, 20, 8, compression=1, pixels=rle)
    assert header_size(data, "bmp") == (37, 20)  # far shorter than 20 uncompressed rows: fine


def test_bmp_header_edges():
    wide = os2_bmp(np.zeros((1, 40_000, 3), np.uint8))
    assert header_size(wide, "bmp") == (40_000, 1)  # OS/2 sizes are unsigned 16-bit
    data = encode(".bmp", textured(12, (20, 30)))
    with pytest.raises(ImageError) as error:
        header_size(data[:34], "bmp")  # the whole info header, no rows
    assert str(error.value) == f"truncated BMP: 34 bytes, the pixel rows need {len(data)}"


def test_webp_container_edges():
    canvas = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4 + (29).to_bytes(3, "little") + (19).to_bytes(3, "little")
    minimal = b"RIFF" + struct.pack("<I", 4 + len(canvas)) + b"WEBP" + canvas  # 30 bytes, complete, no image
    assert len(minimal) == 30 and header_size(minimal, "webp") == (30, 20)
    with pytest.raises(ImageError) as error:
        decode_image(minimal, LENIENT)
    assert error.value.kind == "not-an-image" and "truncated" not in str(error.value)
    huge = b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + minimal[8:]
    with pytest.raises(ImageError) as error:
        header_size(huge, "webp")
    assert str(error.value) == "truncated WEBP: 30 bytes, the RIFF container declares 4294967288"


def test_the_pixel_limit_message_has_the_sizes_in_mp():
    with pytest.raises(ImageError) as error:
        decode_image(png_header_only(1050, 1000), Limits(max_pixels=1_000_000))
    assert str(error.value) == "image declares 1050x1000 = 1.1 MP, over the limit of 1 MP (--max-pixels)"


def test_detail_is_measured_on_grey_and_exactly_1_grey_level_is_enough():
    rng = np.random.default_rng(3)
    green = np.dstack(
        [
            np.full((20, 30), 100, np.uint8),
            rng.integers(0, 256, (20, 30), dtype=np.uint8),
            np.full((20, 30), 100, np.uint8),
        ]
    )  # flat blue, textured green
    assert decode.as_bgr_image(green).shape == (20, 30, 3)
    halves = np.full((20, 30), 100, np.uint8)
    halves[:, 15:] = 102  # a standard deviation of exactly 1 grey level
    assert decode.as_bgr_image(halves).shape == (20, 30, 3)


def test_one_pixel_wide_or_high_arrays_are_images():
    assert decode.as_bgr_image(np.zeros((1, 30, 3), np.uint8), LENIENT).shape == (1, 30, 3)
    assert decode.as_bgr_image(np.zeros((30, 1), np.uint8), LENIENT).shape == (30, 1, 3)


def test_an_array_of_encoded_bytes_need_not_be_contiguous():
    data = encode(".png", textured(16))
    strided = np.repeat(np.frombuffer(data, np.uint8)[:, None], 2, axis=1)[:, 0]
    assert not strided.flags["C_CONTIGUOUS"]
    assert decode_image(strided)[1] == "png"


def test_the_file_entry_points_honour_the_limits(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encode(".png", textured(17, (40, 50))))
    for entry in (load_file, read_image):
        with pytest.raises(ImageError, match="over the limit of 0.0019 MP"):
            entry(path, Limits(max_pixels=1900))
        with pytest.raises(ImageError, match="file is .* MiB, over the limit"):
            entry(path, Limits(max_bytes=100))


def test_a_harmless_libjpeg_warning_is_logged_and_the_image_used(caplog):
    data = bytearray(encode(".jpg", textured(18)))
    app0 = data.find(b"JFIF\x00")
    data[app0 + 5] = 3  # JFIF version 3.01: libjpeg warns that it does not know it
    with caplog.at_level("DEBUG", logger="fqe_onnx.decode"):
        assert decode_bytes(bytes(data)).shape == (120, 160, 3)
    assert [r.getMessage() for r in caplog.records] == ["libjpeg: Warning: unknown JFIF revision number 3.01"]


# -- TIFF headers, byte by byte -------------------------------------------------------------------


def _tiff(entries: list[tuple[int, int, bytes]], *, offset: int = 8, order: str = "<", cut: int = 0) -> bytes:
    """A TIFF header and its first image directory: entries of (tag, type, 4 value bytes)."""
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", offset)
    directory = struct.pack(order + "H", len(entries)) + b"".join(
        struct.pack(order + "HHI", tag, kind, 1) + value for tag, kind, value in entries
    )
    data = head + b"\x00" * (offset - 8) + directory
    return data[: len(data) - cut]


def _refusal(data: bytes) -> tuple[str, str]:
    with pytest.raises(ImageError) as error:
        decode.tiff_size(data)
    return error.value.kind, str(error.value)


def test_tiff_sizes_are_read_from_short_and_long_entries_in_either_byte_order():
    width, height = (256, 3, struct.pack("<HH", 640, 0)), (257, 4, struct.pack("<I", 2**31 + 5))
    assert decode.tiff_size(_tiff([width, height])) == (640, 2**31 + 5)  # LONG is unsigned
    big = [(256, 4, struct.pack(">I", 70)), (257, 3, struct.pack(">HH", 40, 0))]
    assert decode.tiff_size(_tiff(big, order=">", offset=12)) == (70, 40)
    other = (258, 3, struct.pack("<HH", 8, 0))  # BitsPerSample, before and between the sizes
    assert decode.tiff_size(_tiff([other, width, other, height])) == (640, 2**31 + 5)


def test_tiff_header_refusals_at_each_boundary_word_for_word():
    entry = (256, 3, struct.pack("<HH", 9, 0))
    truncated = "truncated TIFF: "
    assert _refusal(b"II*\x00" + b"\x08\x00\x00") == ("truncated", truncated + "no image directory offset")
    # 8 bytes hold the offset, but not the directory's entry count at byte 8
    assert _refusal(b"II*\x00" + struct.pack("<I", 8)) == (
        "truncated",
        truncated + "the image directory at byte 8 is past the end",
    )
    assert _refusal(_tiff([entry], offset=8)[:9]) == (
        "truncated",
        truncated + "the image directory at byte 8 is past the end",
    )
    assert _refusal(b"II*\x00" + struct.pack("<I", 4) + b"\x00" * 40) == (  # inside the header itself
        "truncated",
        truncated + "the image directory at byte 4 is past the end",
    )
    assert _refusal(b"II*\x00" + struct.pack("<I", 2**31) + b"\x00" * 40) == (  # an unsigned offset
        "truncated",
        truncated + "the image directory at byte 2147483648 is past the end",
    )
    # the count is there, the entries are one byte short; an unsigned count of 32768 entries
    assert _refusal(_tiff([entry], cut=1)) == ("truncated", truncated + "the image directory is cut off")
    assert _refusal(b"II*\x00" + struct.pack("<IH", 8, 32768) + b"\x00" * 40) == (
        "truncated",
        truncated + "the image directory is cut off",
    )
    corrupt = ("not-an-image", "corrupt TIFF: no ImageWidth/ImageLength in the first image directory")
    assert _refusal(_tiff([])) == corrupt  # exactly the count, no entries: complete, and no sizes
    assert _refusal(_tiff([entry])) == corrupt  # a width and no height
    assert _refusal(_tiff([(257, 3, struct.pack("<HH", 9, 0))])) == corrupt  # a height and no width
    assert _refusal(_tiff([(256, 5, b"\x00" * 4), (257, 3, b"\x09\x00\x00\x00")])) == corrupt  # a RATIONAL width

import os

import cv2
import numpy as np
import pytest

from conftest import random_face, write_image

from fqe_onnx.decode import Limits, as_bgr_image, decode_bytes, read_image
from fqe_onnx.errors import ImageError

LENIENT = Limits(min_side=1, refuse_flat=False)


def jpeg_bytes(seed=0) -> bytes:
    ok, data = cv2.imencode(".jpg", random_face(seed))
    return data.tobytes()


def png_bytes(seed=0) -> bytes:
    ok, data = cv2.imencode(".png", random_face(seed))
    return data.tobytes()


def test_round_trip_png_is_lossless(tmp_path):
    image = random_face(1)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "a.png", image)), image)


def test_truncated_jpeg_is_an_error_not_a_grey_image():
    # OpenCV 4 decodes this to a grey-filled image with only a warning; the check runs first.
    data = jpeg_bytes()
    with pytest.raises(ImageError, match="truncated JPEG"):
        decode_bytes(data[: len(data) // 2])


def test_jpeg_with_trailing_bytes_after_the_end_marker_is_fine():
    assert decode_bytes(jpeg_bytes() + b"\x00" * 100 + b"trailer").shape == (250, 250, 3)


def test_truncated_png_is_an_error():
    data = png_bytes()
    with pytest.raises(ImageError, match="truncated PNG|not a decodable image"):
        decode_bytes(data[: len(data) - 20])


@pytest.mark.parametrize("data, message", [(b"", "empty file"), (b"hello, not an image", "no known image signature")])
def test_garbage_bytes(data, message):
    with pytest.raises(ImageError, match=message):
        decode_bytes(data)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="cannot read file"):
        read_image(tmp_path / "nope.jpg")


def test_non_utf8_file_name_decodes(tmp_path):
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not valid UTF-8
    path = tmp_path / name
    path.write_bytes(png_bytes(2))
    assert read_image(path).shape == (250, 250, 3)


def test_array_validation():
    assert as_bgr_image(np.zeros((5, 6), np.uint8), LENIENT).shape == (5, 6, 3)
    with pytest.raises(ImageError, match="image is 6x5, below the smallest usable side of 16 px"):
        as_bgr_image(np.zeros((5, 6), np.uint8))
    with pytest.raises(ImageError, match="no detail"):
        as_bgr_image(np.zeros((50, 60), np.uint8))
    with pytest.raises(ImageError, match="expected dtype uint8, got float32"):
        as_bgr_image(np.zeros((5, 6, 3), np.float32))
    with pytest.raises(ImageError, match=r"got shape \(5, 6, 4\)"):
        as_bgr_image(np.zeros((5, 6, 4), np.uint8))
    with pytest.raises(ImageError, match="empty image"):
        as_bgr_image(np.zeros((0, 6, 3), np.uint8))
    with pytest.raises(ImageError, match="expected a numpy array, got list"):
        as_bgr_image([[1]])


@pytest.mark.parametrize(
    "image",
    [
        np.full((20, 30), 77, np.uint8),  # grey
        np.full((20, 30, 4), 77, np.uint8),  # with alpha
        np.full((20, 30, 3), 77 * 257, np.uint16),  # 16-bit
    ],
    ids=["grey", "rgba", "16-bit"],
)
def test_every_png_flavour_decodes_to_bgr_uint8(image):
    ok, data = cv2.imencode(".png", image)
    decoded = decode_bytes(data.tobytes(), LENIENT)
    assert decoded.shape == (20, 30, 3) and decoded.dtype == np.uint8
    assert int(decoded[0, 0, 0]) == 77

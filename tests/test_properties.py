"""Property-based: decoding and preprocessing never fail any other way than with an ImageError."""

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import random_face

from fqe_onnx.contract import SEED_CONTRACT, with_overrides
from fqe_onnx.decode import as_bgr_image, decode_image
from fqe_onnx.errors import ImageError
from fqe_onnx.preprocess import prepare

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = [
    cv2.imencode(ext, random_face(i, (40, 48)))[1].tobytes() for i, ext in enumerate([".jpg", ".png", ".bmp", ".webp"])
]
SIGNATURES = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a", b""]


def check_decoded(data: bytes) -> None:
    try:
        image, fmt = decode_image(data)
    except ImageError as exc:
        assert exc.kind and str(exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and fmt


@BOUNDED
@given(prefix=st.sampled_from(SIGNATURES), body=st.binary(max_size=3000))
def test_random_bytes_decode_or_raise_image_error(prefix, body):
    check_decoded(prefix + body)


@BOUNDED
@given(
    which=st.integers(0, len(VALID) - 1),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
)
def test_damaged_real_images_decode_or_raise_image_error(which, cut, flips):
    data = bytearray(VALID[which][: max(1, int(len(VALID[which]) * cut))] if cut < 0.98 else VALID[which])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    check_decoded(bytes(data))


GEOMETRY = st.sampled_from(["seed", "ofiq", "aligned112"])


@BOUNDED
@given(
    height=st.integers(0, 300),
    width=st.integers(0, 300),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
    geometry=GEOMETRY,
    order=st.sampled_from(["BGR", "RGB", "GRAY"]),
    seed=st.integers(0, 2**16),
)
def test_random_arrays_prepare_or_raise_image_error(height, width, channels, dtype, geometry, order, seed):
    shape = (height, width) if channels is None else (height, width, channels)
    array = np.random.default_rng(seed).integers(0, 256, size=shape).astype(dtype)
    pre = with_overrides(SEED_CONTRACT, geometry=geometry, channel_order=order).preprocess
    try:
        bgr = as_bgr_image(array)
    except ImageError as exc:
        assert exc.kind in ("bad-array", "too-small", "flat")
        return
    tensor = prepare(bgr, pre)
    assert tensor.dtype == np.float32 and tensor.shape == (pre.channels, 112, 112) and np.isfinite(tensor).all()

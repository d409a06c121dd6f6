import cv2
import numpy as np
import pytest

from conftest import random_face
from reference import seed_preprocess

from fqe_onnx.contract import SEED_CONTRACT, with_overrides
from fqe_onnx.preprocess import prepare


@pytest.mark.parametrize("shape", [(250, 250), (192, 192), (480, 360), (100, 150), (112, 112)])
def test_seed_pipeline_matches_the_plain_reference_exactly(shape):
    image = np.random.default_rng(sum(shape)).integers(0, 256, size=shape + (3,), dtype=np.uint8)
    ours = prepare(image, SEED_CONTRACT.preprocess)
    assert ours.dtype == np.float32 and ours.shape == (3, 112, 112)
    np.testing.assert_array_equal(ours, seed_preprocess(image))


def test_rgb_mean_scale_and_custom_crop():
    image = random_face(3, (200, 180))
    pre = with_overrides(
        SEED_CONTRACT,
        channel_order="RGB",
        mean=(127.0,),
        scale=(128.0,),
        resize=(150, 140),
        crop=(10, 20, 112, 112),
        interpolation="area",
    ).preprocess
    resized = cv2.resize(image, (140, 150), interpolation=cv2.INTER_AREA)[10:122, 20:132]
    expected = ((resized[:, :, ::-1].astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)
    np.testing.assert_array_equal(prepare(image, pre), expected)


def test_per_channel_mean_and_scale_apply_in_model_channel_order():
    image = np.full((112, 112, 3), (10, 20, 30), dtype=np.uint8)  # B, G, R
    pre = with_overrides(
        SEED_CONTRACT, geometry="aligned112", channel_order="RGB", mean=(1, 2, 3), scale=(1, 2, 4)
    ).preprocess
    tensor = prepare(image, pre)
    assert tensor[:, 0, 0].tolist() == [(30 - 1) / 1, (20 - 2) / 2, (10 - 3) / 4]


def test_gray_and_nhwc():
    image = random_face(5, (112, 112))
    pre = with_overrides(SEED_CONTRACT, geometry="aligned112", channel_order="GRAY", layout="NHWC").preprocess
    tensor = prepare(image, pre)
    assert tensor.shape == (112, 112, 1)
    expected = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    np.testing.assert_array_equal(tensor[:, :, 0], expected)


def test_aligned112_does_not_resample_an_already_aligned_image():
    image = random_face(6, (112, 112))
    pre = with_overrides(SEED_CONTRACT, geometry="aligned112").preprocess
    np.testing.assert_array_equal(prepare(image, pre), image.astype(np.float32).transpose(2, 0, 1) / 255.0)


def test_ofiq_geometry_crops_rows_33_to_145():
    image = np.zeros((192, 192, 3), dtype=np.uint8)
    image[:, :, 0] = np.arange(192, dtype=np.uint8)[:, None]  # blue = row index
    image[:, :, 1] = np.arange(192, dtype=np.uint8)[None, :]  # green = column index
    tensor = prepare(image, with_overrides(SEED_CONTRACT, geometry="ofiq").preprocess) * 255.0
    assert tensor[0, 0, 0] == 33 and tensor[0, -1, 0] == 144
    assert tensor[1, 0, 0] == 40 and tensor[1, 0, -1] == 151

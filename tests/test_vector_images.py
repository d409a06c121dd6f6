"""The conformance vectors' image steps (fqe_onnx/bundle/vector_images.py): integer arithmetic with
values known in closed form, and close to the OpenCV operations they stand in for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform
from fqe_onnx.bundle import vector_images as vi

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("seed", range(5))
def test_the_closed_form_similarity_is_umeyamas(seed):
    rng = np.random.default_rng(seed)
    angle, scale = rng.uniform(-1, 1), rng.uniform(0.3, 3)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = ARCFACE_TEMPLATE_112 @ rotation.T + rng.uniform(-100, 300, 2) + rng.normal(0, 2, (5, 2))
    np.testing.assert_allclose(
        vi.similarity_matrix(points, ARCFACE_TEMPLATE_112),
        similarity_transform(points, ARCFACE_TEMPLATE_112),
        rtol=0,
        atol=1e-9,
    )
    matrix = vi.similarity_matrix(points, ARCFACE_TEMPLATE_112)
    inverse = vi.invert_similarity(matrix)
    np.testing.assert_allclose(np.vstack([inverse, [0, 0, 1]]) @ np.vstack([matrix, [0, 0, 1]]), np.eye(3), atol=1e-12)


def test_an_identity_or_whole_pixel_map_copies_pixels_and_replicates_the_border():
    image = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(vi.remap_affine(image, np.array([[1.0, 0, 0], [0, 1.0, 0]]), (20, 30)), image)
    shifted = vi.remap_affine(image, np.array([[1.0, 0, 5], [0, 1.0, -3]]), (20, 30))  # reads (x + 5, y - 3)
    assert np.array_equal(shifted[3:, :25], image[:17, 5:])
    assert np.array_equal(shifted[:3, :25], np.repeat(image[:1, 5:], 3, axis=0))  # rows above: the top row
    assert np.array_equal(shifted[3:, 25:], np.repeat(image[:17, 29:], 5, axis=1))  # columns past: the last one


def test_a_half_pixel_shift_is_the_mean_of_two_pixels_rounded_half_up():
    image = np.array([[[10], [21], [40]]], np.uint8)
    out = vi.remap_affine(image, np.array([[1.0, 0, 0.5], [0, 1.0, 0]]), (1, 3))
    assert out[..., 0].tolist() == [[16, 31, 40]]  # 15.5 -> 16, 30.5 -> 31, the edge replicated


@pytest.mark.parametrize("seed", range(3))
def test_the_warp_is_within_a_level_of_cv2_warp_affine(seed):
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 2)
    points = ARCFACE_TEMPLATE_112 * rng.uniform(0.8, 2.0) + rng.uniform(20, 200, 2)
    matrix = vi.similarity_matrix(points, ARCFACE_TEMPLATE_112)
    ours = vi.warp(image, matrix, (112, 112)).astype(int)
    theirs = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    difference = np.abs(ours - theirs)
    # positions on a 1/256 px grid against OpenCV's float32 ones: a level at a rounding edge
    assert difference.max() <= 1 and (difference > 0).mean() < 0.05


def test_area_resize_is_the_exact_mean_of_each_area():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 9
    halved = vi.area_resize(image, (2, 2))
    blocks = image.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4).astype(int)
    assert halved[..., 0].tolist() == ((blocks.sum(axis=2) * 2 + 4) // 8).tolist()  # mean, half up
    three = np.array([[[0], [90], [255]]], np.uint8)
    assert vi.area_resize(three, (1, 2))[..., 0].tolist() == [
        [30, 200]
    ]  # (0 + 90/2) / 1.5 = 30, (45 + 255) / 1.5 = 200
    assert np.array_equal(vi.area_resize(np.full((7, 9, 3), 77, np.uint8), (3, 4)), np.full((3, 4, 3), 77, np.uint8))


@pytest.mark.parametrize(
    "source_hw, size_hw", [((280, 280), (250, 250)), ((384, 512), (240, 320)), ((100, 60), (33, 20))]
)
def test_area_resize_is_within_a_level_of_cv2_inter_area(source_hw, size_hw):
    image = RNG.integers(0, 256, source_hw + (3,), dtype=np.uint8)
    ours = vi.area_resize(image, size_hw).astype(int)
    theirs = cv2.resize(image, size_hw[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(ours - theirs).max() <= 1


def test_the_binomial_blur_of_a_point_is_its_kernel():
    image = np.zeros((9, 9, 1), np.uint8)
    image[4, 4] = 255
    out = vi.binomial_blur(image, 2)[..., 0]
    # [1 2 1] x [1 2 1] / 16 of 255: 63.75, 31.875, 15.9375, each rounded half up
    assert out[3:6, 3:6].tolist() == [[16, 32, 16], [32, 64, 32], [16, 32, 16]]
    assert out.sum() == out[3:6, 3:6].sum()
    assert np.array_equal(vi.binomial_blur(np.full((5, 6, 3), 200, np.uint8), 24), np.full((5, 6, 3), 200, np.uint8))
    with pytest.raises(ValueError, match="even"):
        vi.binomial_blur(image, 3)


def test_gain_noise_occlusion_and_downscale():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    assert vi.gain(levels, 1, 4)[0, :4, 0].tolist() == [0, 0, 1, 1]  # 0.5 and 0.75 round up
    assert vi.gain(levels, 5, 2).max() == 255 and vi.gain(levels, 5, 2)[0, 3, 0] == 8  # 7.5 -> 8
    flat = np.full((40, 40, 3), 128, np.uint8)
    noisy = vi.uniform_noise(flat, 52)
    assert np.array_equal(noisy, vi.uniform_noise(flat, 52)) and noisy.min() == 128 - 52 and noisy.max() == 128 + 52
    occluded = vi.occlude_from_bottom(levels, 5)
    assert (occluded[11:] == 128).all() and np.array_equal(occluded[:11], levels[:11])
    assert np.array_equal(vi.downscale(np.full((112, 112, 3), 90, np.uint8), 4), np.full((112, 112, 3), 90, np.uint8))
    with pytest.raises(ValueError, match="divisible"):
        vi.downscale(flat, 3)


def test_the_set_is_made_of_its_thirteen_images():
    from fqe_onnx.demo import ASTRONAUT_POINTS, astronaut_bgr

    images = vi.vector_images(astronaut_bgr(), ASTRONAUT_POINTS, ARCFACE_TEMPLATE_112, (112, 112))
    assert len(images) == 13 and all(image.dtype == np.uint8 for image in images.values())
    assert images["frame-250"].shape == (250, 250, 3) and images["photo-320x240"].shape == (240, 320, 3)
    assert images["tiny"].shape == (12, 12, 3)
    assert all(len(np.unique(images["flat"][..., channel])) == 1 for channel in range(3))

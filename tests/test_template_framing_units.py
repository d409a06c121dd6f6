"""The template maths and the framer's wiring, without the detector models (fakes stand in)."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from fqe_onnx.align.framing import (
    ALIGNED_TOLERANCE_PX,
    MODE_ALIGNED,
    MODE_AS_IS,
    MODE_GEOMETRY,
    Framer,
    alignment_offsets,
    check_align,
    geometry_warning,
)
from fqe_onnx.align.template import model_template, resize_points, similarity_transform, warp_to_template
from fqe_onnx.contract import Geometry, Preprocess
from fqe_onnx.errors import FqeError, ImageError
from fqe_onnx.preprocess import prepare, prepare_crop

POINTS = np.array([[30.0, 40.0], [70.0, 38.0], [50.0, 60.0], [35.0, 80.0], [66.0, 81.0]])


def test_resize_points_scales_x_by_width_and_y_by_height():
    moved = resize_points([[0.0, 0.0], [9.5, 19.5]], (20, 10), (40, 30))  # 20 high x 10 wide -> 40 x 30
    np.testing.assert_allclose(moved, [[(0.5 * 3) - 0.5, (0.5 * 2) - 0.5], [30 - 0.5, 40 - 0.5]])


def similarity(angle_deg, scale, shift):
    a = np.deg2rad(angle_deg)
    rotation = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([rotation, np.asarray(shift, float)[:, None]])


def test_a_known_similarity_with_a_shift_is_recovered():
    matrix = similarity(30, 2.0, (5.0, -3.0))
    dst = POINTS @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(similarity_transform(POINTS, dst), matrix, atol=1e-9)
    two = similarity_transform([[0, 0], [1, 0]], [[3, 3], [3, 5]])  # two points are enough
    np.testing.assert_allclose(two, similarity(90, 2.0, (3.0, 3.0)), atol=1e-9)
    unit = similarity_transform([[-1, 0], [1, 0]], [[-1, 0], [1, 0]])  # source variance exactly 1
    np.testing.assert_allclose(unit, similarity(0, 1.0, (0, 0)), atol=1e-12)


def test_a_mirrored_face_gets_the_best_rotation_not_a_reflection():
    mirrored = POINTS * [-1, 1] + [100, 0]
    matrix = similarity_transform(POINTS, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0 and matrix[0, 0] == pytest.approx(matrix[1, 1])

    def residual(m):
        return float(np.sum((POINTS @ m[:, :2].T + m[:, 2] - mirrored) ** 2))

    centred_src, centred_dst = POINTS - POINTS.mean(0), mirrored - mirrored.mean(0)
    best = np.inf
    for angle in np.deg2rad(np.arange(0, 360, 0.05)):
        r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        scale = max(np.sum(centred_dst * (centred_src @ r.T)) / np.sum(centred_src**2), 0)
        m = np.hstack([scale * r, (mirrored.mean(0) - scale * r @ POINTS.mean(0))[:, None]])
        best = min(best, residual(m))
    assert residual(matrix) <= best + 1e-6


@pytest.mark.parametrize(
    "src, dst, message",
    [
        (POINTS, POINTS[:4], "need matching (K, 2) point arrays with K >= 2, got (5, 2) and (4, 2)"),
        (np.zeros((3, 3)), np.zeros((3, 3)), "need matching (K, 2) point arrays with K >= 2, got (3, 3) and (3, 3)"),
        (np.zeros(4), np.zeros(4), "need matching (K, 2) point arrays with K >= 2, got (4,) and (4,)"),
        (np.zeros((1, 2)), np.zeros((1, 2)), "need matching (K, 2) point arrays with K >= 2, got (1, 2) and (1, 2)"),
        (np.ones((3, 2)), POINTS[:3], "the source points are all the same point"),
    ],
)
def test_similarity_transform_refusals(src, dst, message):
    with pytest.raises(ValueError) as error:
        similarity_transform(src, dst)
    assert str(error.value) == message


def photo(height=300, width=400):
    rng = np.random.default_rng(1)
    return cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)


def test_a_face_at_the_crop_scale_is_warped_once_with_replicated_borders():
    image = photo()
    points = POINTS + [300, 200]  # near the corner: the crop reaches outside the image
    template = POINTS * 0.9 + 5
    crop = warp_to_template(image, points, template, (112, 96))
    matrix = similarity_transform(points, template)
    expected = cv2.warpAffine(image, matrix, (96, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert crop.shape == (112, 96, 3) and np.array_equal(crop, expected)


def test_a_face_far_larger_than_the_crop_is_area_shrunk_first():
    image = photo(600, 900)  # not square: both axes must scale by their own size
    points = POINTS * 4 + [50, 30]
    template = POINTS * 0.5 + 20
    factor = 2 * 0.125  # the similarity scale is 1/8: shrink to twice the crop's scale
    size = (round(900 * factor), round(600 * factor))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    matrix = similarity_transform(points * [size[0] / 900, size[1] / 600], template)
    expected = cv2.warpAffine(small, matrix, (100, 90), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(warp_to_template(image, points, template, (90, 100)), expected)


def test_a_contract_template_is_float64_points():
    pre = Preprocess(geometry=Geometry(resize=(112, 112)), template=POINTS.tolist())
    template = model_template(pre)
    assert template.dtype == np.float64 and np.array_equal(template, POINTS)


def test_check_align():
    assert [check_align(v) for v in (True, False, "auto", "always", "never")] == [
        "always",
        "never",
        "auto",
        "always",
        "never",
    ]
    with pytest.raises(FqeError) as error:
        check_align("sometimes")
    assert str(error.value) == "align must be one of auto, always, never, got 'sometimes'"


class FakeAligner:
    """Finds one face per image whose crop is the top-left corner; records how it was asked."""

    def __init__(self, offsets=()):
        self.calls = []
        self.offsets = list(offsets)

    def faces_batch(self, images, **kwargs):
        self.calls.append(kwargs)
        height, width = kwargs["size_hw"]
        return [
            ImageError("no face", "no-face")
            if image.mean() < 1
            else [SimpleNamespace(face=None, crop=image[:height, :width])]
            for image in images
        ]

    def locate(self, crop):
        offset = self.offsets.pop(0)
        if offset is None:
            raise ImageError("no face", "no-face")
        return [SimpleNamespace(points=model_template(PRE) + [offset, 0])]


PRE = Preprocess(geometry=Geometry(resize=(150, 120), crop_size=(112, 96)))


def test_the_framer_defaults_and_its_wiring():
    framer = Framer(PRE)
    assert (framer.align, framer.device, framer.threads, framer.size_hw) == ("auto", "cpu", None, (112, 96))
    assert np.array_equal(framer.template, model_template(PRE))
    fake = FakeAligner()
    framer = Framer(PRE, "always", aligner=fake, threads=3)
    assert framer.threads == 3 and framer.aligner is fake
    image = photo()
    tensor = framer.tensor(image, MODE_ALIGNED)
    assert np.array_equal(tensor, prepare_crop(image[:112, :96], PRE))
    assert fake.calls[0]["size_hw"] == (112, 96) and np.array_equal(fake.calls[0]["template"], model_template(PRE))
    with pytest.raises(ImageError, match="no face"):
        framer.tensor(np.zeros((200, 200, 3), np.uint8), MODE_ALIGNED)
    assert np.array_equal(framer.tensor(image, MODE_GEOMETRY), prepare(image, PRE))
    assert np.array_equal(framer.tensor(image[:112, :96], MODE_AS_IS), prepare_crop(image[:112, :96], PRE))
    assert framer.mode_for(image[:112, :96]) == MODE_ALIGNED  # always: even at the crop size
    assert Framer(PRE, "never").mode_for(image[:112, :96]) == MODE_GEOMETRY


def test_offsets_skip_crops_without_a_face_and_take_the_median_distance():
    crops = [photo()[:112, :96]] * 3
    assert alignment_offsets(FakeAligner([3.0, None, 4.0]), crops, model_template(PRE)) == [3.0, 4.0]
    assert alignment_offsets(FakeAligner([-2.0, None, None]), crops, model_template(PRE)) == [2.0]


@pytest.mark.parametrize(
    "offsets, warns",
    [([ALIGNED_TOLERANCE_PX] * 3, False), ([ALIGNED_TOLERANCE_PX + 0.5] * 3, True), ([None] * 3, False)],
)
def test_the_geometry_warning_fires_only_beyond_the_tolerance(offsets, warns):
    images = [photo(150, 120)] * 3
    message = geometry_warning(images, PRE, FakeAligner(offsets))
    assert (message is not None) == warns
    if warns:
        assert message.startswith("with --align never, the images do not look aligned")
        assert message.endswith("use the default --align auto, or --geometry/--crop to match your framing")
    assert geometry_warning(images, PRE, None) is None


def test_a_face_exactly_twice_the_crop_is_warped_without_a_pre_shrink():
    """The pre-shrink starts only when the face is MORE than twice the crop's scale (scale < 0.5)."""
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform, warp_to_template

    image = np.random.default_rng(3).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    points = ARCFACE_TEMPLATE_112 * np.nextafter(2.0, 0.0)  # (at 2.0 itself the SVD gives 0.5 - 1 ulp)
    matrix = similarity_transform(points, ARCFACE_TEMPLATE_112)
    assert np.hypot(matrix[0, 0], matrix[0, 1]) == 0.5  # exactly on the boundary
    direct = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(warp_to_template(image, points, ARCFACE_TEMPLATE_112, (112, 112)), direct)
    assert not np.array_equal(
        warp_to_template(image, points * 1.01, ARCFACE_TEMPLATE_112, (112, 112)),
        cv2.warpAffine(
            image,
            similarity_transform(points * 1.01, ARCFACE_TEMPLATE_112),
            (112, 112),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ),
    )


def test_a_mirrored_stretched_face_gets_the_best_proper_similarity():
    """For mirrored points the weakest axis is flipped: the result is a rotation (no reflection) and
    fits at least as well as every rotation angle on a fine grid (each with its best scale and shift)."""
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform

    src = (ARCFACE_TEMPLATE_112 - ARCFACE_TEMPLATE_112.mean(axis=0)) * [-3.0, 0.7] + [
        200.0,
        150.0,
    ]  # mirrored, stretched
    dst = ARCFACE_TEMPLATE_112
    matrix = similarity_transform(src, dst)
    assert np.linalg.det(matrix[:, :2]) > 0

    def residual(m):
        return float((((src @ m[:, :2].T + m[:, 2]) - dst) ** 2).sum())

    src_c, dst_c = src - src.mean(axis=0), dst - dst.mean(axis=0)
    best = np.inf
    for theta in np.linspace(-np.pi, np.pi, 20001):
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        rotated = src_c @ rotation.T
        scale = max(0.0, float((rotated * dst_c).sum() / (rotated**2).sum()))
        m = np.hstack([scale * rotation, (dst.mean(axis=0) - scale * rotation @ src.mean(axis=0))[:, None]])
        best = min(best, residual(m))
    assert residual(matrix) <= best + 1e-6


@pytest.mark.parametrize("shape", [(3, 400, 3), (400, 3, 3)])
def test_the_pre_shrink_keeps_a_side_of_one_pixel(shape):
    """A thin strip shrunk by the pre-shrink keeps its short side at 1 px (round(3 x 0.2) = 1), and
    the warp reads that shrunk image: the documented rule, done by hand, gives the same crop."""
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform, warp_to_template

    image = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    points = ARCFACE_TEMPLATE_112 * 10.0  # scale 0.1: shrink by 0.2
    height, width = shape[:2]
    size = (max(1, round(width * 0.2)), max(1, round(height * 0.2)))
    assert 1 in size
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    matrix = similarity_transform(points * [size[0] / width, size[1] / height], ARCFACE_TEMPLATE_112)
    expected = cv2.warpAffine(small, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(warp_to_template(image, points, ARCFACE_TEMPLATE_112, (112, 112)), expected)

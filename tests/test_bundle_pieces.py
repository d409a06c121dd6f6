"""Each bundle step run in ONNX Runtime beside the NumPy/OpenCV function of the Python path it mirrors.

Exact equality is asserted only where both sides are defined to the bit on every CPU: integer
arithmetic (OpenCV's fixed-point resize and grey conversion; the bundle's, in int32 or in float32
where every value is an integer under 2^24, exact in any order, fused or not), data movement
(casts, gathers, channel order), and float64 steps that are the same single IEEE operations on both
sides (box scaling, IoU, thresholds). Where OpenCV itself computes in float with SIMD code chosen
by the CPU (OpenCV 5's warpAffine: float32 positions and weights, vector width and FMA by CPU), the
test allows one level on a small share of pixels: an AVX2 and an AVX-512 machine round differently
at exact halves, so bit equality with one CPU's OpenCV is not a property we can promise.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fqe_onnx.bundle import pixels
from fqe_onnx.bundle.builder import run_piece
from fqe_onnx.decode import DEFAULT_LIMITS, check_detail, check_size
from fqe_onnx.errors import ImageError

RNG = np.random.default_rng(7)
ANY = object()  # any count of second looks refused


def _python_refuses(bgr: np.ndarray) -> str:
    try:
        check_size(bgr.shape[1], bgr.shape[0], DEFAULT_LIMITS)
        check_detail(bgr, DEFAULT_LIMITS)
    except ImageError as exc:
        return exc.kind
    return ""


def test_levels_are_the_uint8_values_in_float32():
    photo = RNG.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    photo[0, 0], photo[0, 1] = 0, 255
    (out,) = run_piece(lambda g, x: pixels.levels(g, x), {"photo": photo})
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, photo.astype(np.float32))


@pytest.mark.parametrize("layout", pixels.PIXEL_LAYOUTS)
def test_to_bgr_matches_cv2_channel_order(layout):
    bgr = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    given = {"bgr": bgr, "rgb": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgba": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)}[
        layout
    ]
    (out,) = run_piece(lambda g, x: pixels.to_bgr(g, x, layout), {"image": given})
    np.testing.assert_array_equal(out, bgr.astype(np.float32))


def test_grey_is_cv2_bit_for_bit():
    bgr = RNG.integers(0, 256, (400, 500, 3), dtype=np.uint8)  # 200,000 random pixels and the corners
    bgr[0, :8] = [
        [0, 0, 0],
        [255, 255, 255],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [1, 2, 3],
        [128, 128, 128],
        [127, 128, 129],
    ]
    (out,) = run_piece(lambda g, x: pixels.grey(g, x), {"bgr": bgr.astype(np.float32)})
    np.testing.assert_array_equal(out[..., 0], cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32))


@pytest.mark.parametrize("layout", pixels.PIXEL_LAYOUTS)
def test_grey_and_flat_read_every_layout_in_place(layout):
    """The photo is never reordered to BGR: its grey levels (and so the flat check) come from weights
    placed for its layout, and equal cv2's grey of the BGR photo; alpha counts for nothing."""
    bgr = RNG.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    given = {"bgr": bgr, "rgb": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgba": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)}[
        layout
    ]
    if layout == "rgba":
        given[..., 3] = RNG.integers(0, 256, given.shape[:2])
    (out,) = run_piece(lambda g, x: pixels.grey_plane(g, x, layout), {"image": given.astype(np.float32)})
    np.testing.assert_array_equal(out, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32))
    flat_photo = np.dstack([np.full((50, 50), v, np.uint8) for v in (10, 200, 90, 0)[: given.shape[2]]])
    flat_photo[..., 3:] = RNG.integers(0, 256, (50, 50, given.shape[2] - 3))  # detail in alpha alone: still flat
    (flat,) = run_piece(lambda g, x: pixels.flat(g, x, layout), {"image": flat_photo.astype(np.float32)})
    assert bool(flat)


@pytest.mark.parametrize("case", ["fine", "tiny", "narrow", "black", "white", "nearly-flat", "just-detailed"])
def test_too_small_and_flat_agree_with_decode(case):
    bgr = {
        "fine": RNG.integers(0, 256, (40, 30, 3), dtype=np.uint8),
        "tiny": RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8),
        "narrow": RNG.integers(0, 256, (200, 15, 3), dtype=np.uint8),
        "black": np.zeros((50, 50, 3), np.uint8),
        "white": np.full((50, 50, 3), 255, np.uint8),
        "nearly-flat": np.full((50, 50, 3), 100, np.uint8),
        "just-detailed": np.full((50, 50, 3), 100, np.uint8),
    }[case]
    if case == "nearly-flat":
        bgr[::7, ::7] = 101  # std about 0.34: still flat
    if case == "just-detailed":
        bgr[::2] = 103  # std 1.5: has detail
    small, flat = run_piece(lambda g, x: (pixels.too_small(g, x), pixels.flat(g, x)), {"bgr": bgr.astype(np.float32)})
    got = "too-small" if small else "flat" if flat else ""
    assert got == _python_refuses(bgr)


@pytest.mark.parametrize("height, width", [(15, 200), (200, 15), (16, 16), (16, 200), (200, 16), (15, 15), (1, 1)])
def test_too_small_reads_both_sides_at_the_limit(height, width):
    """A side of decode.MIN_SIDE passes, one under it is refused, whichever side it is; the flag is a
    bool scalar (the bundle's refusal test), as is flat's."""
    bgr = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    small, flat = run_piece(lambda g, x: (pixels.too_small(g, x), pixels.flat(g, x)), {"bgr": bgr.astype(np.float32)})
    assert small.shape == () and small.dtype == np.bool_ and flat.shape == () and flat.dtype == np.bool_
    try:
        check_size(width, height, DEFAULT_LIMITS)
        refused = False
    except ImageError as exc:
        refused = exc.kind == "too-small"
    assert bool(small) == refused == (min(height, width) < 16)


@pytest.mark.parametrize("low, high, rows", [(100, 102, 2), (100, 101, 2), (40, 43, 3), (7, 7, 1)])
def test_flat_at_its_limit_is_cv2_mean_std_dev(low, high, rows):
    """Standard deviations of exactly 1.0 (not flat: the limit is ``<``), 0.5, sqrt(2) and 0, as
    cv2.meanStdDev gives them for the Python path's check."""
    bgr = np.full((60, 40, 3), low, np.uint8)
    bgr[::rows] = high
    (flat,) = run_piece(lambda g, x: pixels.flat(g, x), {"bgr": bgr.astype(np.float32)})
    std = float(cv2.meanStdDev(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))[1][0, 0])
    assert flat.shape == () and bool(flat) == (std < 1.0) == (_python_refuses(bgr) == "flat")
    if (low, high, rows) == (100, 102, 2):
        assert std == 1.0 and not bool(flat)


def test_an_unknown_layout_is_refused_by_name_and_bgr_is_never_reordered():
    from fqe_onnx.bundle.builder import Graph

    with pytest.raises(ValueError, match=r"^pixels must be one of bgr, rgb, rgba, got 'bgra'$"):
        pixels.check_layout("bgra")
    for step in (lambda g: pixels.to_bgr(g, "x", "bgra"), lambda g: pixels.grey_plane(g, "x", "BGR")):
        with pytest.raises(ValueError, match="pixels must be one of"):
            step(Graph())
    g = Graph()
    assert pixels.to_bgr(g, "photo", "bgr") == "photo" and g.nodes == []  # no copy of the photo at all


def _astronaut() -> np.ndarray:
    from frames import astronaut

    return astronaut()


@pytest.mark.parametrize(
    "source_hw, size_hw",
    [
        ((512, 512), (240, 320)),  # the detector's input from a photo (down in both)
        ((250, 250), (240, 320)),  # an LFW frame (up in width)
        ((37, 91), (240, 320)),  # up in both: the vertical border rows
        ((150, 150), (64, 64)),  # a landmark crop
        ((480, 640), (240, 320)),  # an exact halving: OpenCV's 2x2 mean
        ((250, 250), (192, 192)),  # the seed geometry
        ((300, 1400), (64, 64)),  # over 4x wider than the output: by pixels, not column-major
        ((1200, 300), (64, 256)),  # down by more than two in height: only the rows read are gathered
    ],
)
def test_resize_is_cv2_linear_bit_for_bit(source_hw, size_hw):
    from fqe_onnx.bundle import resize

    image = cv2.resize(_astronaut(), source_hw[::-1], interpolation=cv2.INTER_AREA)
    image[::5, ::3] = RNG.integers(0, 256, image[::5, ::3].shape, dtype=np.uint8)  # edges at every scale
    (out,) = run_piece(
        lambda g, x: resize.resize_linear_hwc(g, x, resize.size_const(g, *size_hw)), {"x": image.astype(np.float32)}
    )
    expected = cv2.resize(image, size_hw[::-1], interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize(
    "window, size_hw",
    [
        ((40, 70, 150, 150), (64, 64)),  # a landmark patch inside the photo
        ((0, 0, 480, 640), (240, 320)),  # a tile at the corner, an exact halving
        ((100, 37, 333, 500), (240, 320)),  # a tile inside, downscaled by less than two
        ((3, 5, 20, 30), (240, 320)),  # a small window, upscaled
        ((0, 100, 512, 412), (64, 64)),  # downscaled by more than two: only the rows read are gathered
    ],
)
def test_a_window_resizes_as_cv2_resizes_its_crop(window, size_hw):
    from fqe_onnx.bundle import resize

    image = cv2.resize(_astronaut(), (700, 600), interpolation=cv2.INTER_AREA)
    image[::5, ::3] = RNG.integers(0, 256, image[::5, ::3].shape, dtype=np.uint8)
    top, left, height, width = window
    (out,) = run_piece(
        lambda g, x, o, s: resize.resize_linear_hwc(g, x, resize.size_const(g, *size_hw), (o, s)),
        {"x": image.astype(np.float32), "o": np.array(window[:2], np.int64), "s": np.array(window[2:], np.int64)},
    )
    expected = cv2.resize(image[top : top + height, left : left + width], size_hw[::-1], interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize("hw", [(480, 640), (2, 2), (6, 10), (250, 98)])
def test_the_halving_shortcut_is_what_the_linear_path_gives(hw):
    """An exact halving takes the 2x2 mean; the fixed-point bilinear gives the same there (every
    position a half, weights 1024 and 1024), so the shortcut saves work and changes nothing."""
    from fqe_onnx.bundle import resize

    image = RNG.integers(0, 256, hw + (3,), dtype=np.uint8)
    size = (hw[0] // 2, hw[1] // 2)
    linear, shortcut = run_piece(
        lambda g, x: (
            resize._linear(g, x, g.const([0, 0], np.int64), g.shape_dims(x, 0, 2), resize.size_const(g, *size), False),
            resize.resize_linear_hwc(g, x, resize.size_const(g, *size)),
        ),
        {"x": image.astype(np.float32)},
        2,
    )
    expected = cv2.resize(image, size[::-1], interpolation=cv2.INTER_LINEAR).astype(np.float32)
    np.testing.assert_array_equal(shortcut, expected)
    np.testing.assert_array_equal(linear, expected)


@pytest.mark.parametrize("channels", [1, 4])
@pytest.mark.parametrize(
    "source_hw, size_hw, window",
    [
        ((9, 1), (9, 17), None),  # one column, widened
        ((7, 3), (64, 200), None),  # tiny and odd, up in both
        ((61, 83), (30, 41), None),  # odd, down by about two (not exactly)
        ((101, 67), (101, 67), None),  # the same size
        ((100, 90), (33, 200), (51, 47, 49, 43)),  # a window at the bottom-right corner, up in width, down in height
    ],
)
def test_resize_of_one_or_four_channels_is_cv2_linear(channels, source_hw, size_hw, window):
    from fqe_onnx.bundle import resize

    image = RNG.integers(0, 256, source_hw + (channels,), dtype=np.uint8)
    if window is None:
        (out,) = run_piece(
            lambda g, x: resize.resize_linear_hwc(g, x, resize.size_const(g, *size_hw)), {"x": image.astype(np.float32)}
        )
        crop = image
    else:
        (out,) = run_piece(
            lambda g, x, o, s: resize.resize_linear_hwc(g, x, resize.size_const(g, *size_hw), (o, s)),
            {"x": image.astype(np.float32), "o": np.array(window[:2], np.int64), "s": np.array(window[2:], np.int64)},
        )
        top, left, height, width = window
        crop = np.ascontiguousarray(image[top : top + height, left : left + width])
    expected = cv2.resize(crop, size_hw[::-1], interpolation=cv2.INTER_LINEAR).reshape(size_hw + (channels,))
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_float_resize_would_differ():
    """Why resize.py is in integers: ONNX's float Resize, rounded, misses cv2 on many pixels."""
    image = _astronaut()
    (out,) = run_piece(
        lambda g, x: g.op("Round", [g.op("Resize", [x, "", "", g.const([240, 320, 3], np.int64)], mode="linear")]),
        {"x": image.astype(np.float32)},
    )
    expected = cv2.resize(image, (320, 240), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    assert (out != expected).mean() > 0.05


def _python_faces(scores: np.ndarray, boxes: np.ndarray, width: int, height: int):
    """The Python path's faces for the whole image seen as one view (no tiles)."""
    from fqe_onnx.align.detection import View, confident_boxes, merge_views

    found = confident_boxes(scores, boxes, View(0, 0, width, height))
    return [face for face, _ in merge_views([(*found, False)])]


def test_detector_input_is_detection_detector_input():
    from fqe_onnx.align.detection import detector_input as python_input
    from fqe_onnx.bundle import detector

    image = cv2.resize(_astronaut(), (300, 200), interpolation=cv2.INTER_AREA)
    (out,) = run_piece(lambda g, x: detector.detector_input(g, x), {"x": image.astype(np.float32)})
    np.testing.assert_array_equal(out[0], python_input(image))


@pytest.mark.parametrize("seed", range(4))
def test_post_processing_and_main_face_match_the_python_path(seed):
    from fqe_onnx.align.detection import select_main_face
    from fqe_onnx.bundle import detector

    rng = np.random.default_rng(seed)
    k, width, height = 300, 640, 480
    centres = rng.uniform(0.1, 0.9, (k, 2))
    sizes = rng.uniform(0.05, 0.4, (k, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1).astype(np.float32)[None]
    face = rng.uniform(0, 1, k).astype(np.float32)
    face[:3] = [0.65, 0.6499999, 0.99]  # at the threshold, just under, and a clear best
    scores = np.stack([1 - face, face], axis=1)[None]

    def build(g, s, b):
        scale = g.const([[width, height, width, height]], np.float64)
        face_scores, pixel_boxes = detector.candidates(g, s, b, scale, g.const(np.zeros((1, 4)), np.float64))
        kept_scores, kept_boxes = detector.confident_faces(g, face_scores, pixel_boxes)
        index, found = detector.main_face(g, kept_boxes, g.const([width, height], np.float64))
        return kept_scores, kept_boxes, index, found

    kept_scores, kept_boxes, index, found = run_piece(build, {"scores": scores, "boxes": boxes})
    expected = _python_faces(scores[0, :, 1], boxes[0], width, height)
    np.testing.assert_array_equal(kept_scores, [d.score for d in expected])
    np.testing.assert_allclose(kept_boxes, [d.box for d in expected], rtol=0, atol=1e-9)
    assert bool(found) and int(index) == select_main_face(expected, width, height)


def test_no_confident_face_is_not_found():
    from fqe_onnx.bundle import detector

    scores = np.tile(np.array([[0.9, 0.1]], np.float32), (50, 1))[None]
    boxes = np.tile(np.array([[0.1, 0.1, 0.5, 0.5]], np.float32), (50, 1))[None]

    def build(g, s, b):
        face_scores, pixel_boxes = detector.candidates(
            g, s, b, g.const([[100, 100, 100, 100]], np.float64), g.const(np.zeros((1, 4)), np.float64)
        )
        _, kept = detector.confident_faces(g, face_scores, pixel_boxes)
        return detector.main_face(g, kept, g.const([100, 100], np.float64))

    _, found = run_piece(build, {"scores": scores, "boxes": boxes})
    assert not bool(found) and _python_faces(scores[0, :, 1], boxes[0], 100, 100) == []


@pytest.mark.parametrize("layout", pixels.PIXEL_LAYOUTS)
@pytest.mark.parametrize("window", [None, (17, 31, 151, 203), (0, 0, 480, 640)])
def test_detector_input_reads_every_layout_and_window(layout, window):
    """The detector's input from a photo in each layout (alpha dropped), whole or a window of it
    (odd, and an exact halving), is ``detector_input`` of the BGR crop."""
    from fqe_onnx.align.detection import detector_input as python_input
    from fqe_onnx.bundle import detector

    bgr = cv2.resize(_astronaut(), (700, 500), interpolation=cv2.INTER_AREA)
    bgr[::3, ::7] = RNG.integers(0, 256, bgr[::3, ::7].shape, dtype=np.uint8)
    given = {"bgr": bgr, "rgb": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgba": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)}[
        layout
    ]
    if layout == "rgba":
        given[..., 3] = RNG.integers(0, 256, given.shape[:2])
    if window is None:
        (out,) = run_piece(lambda g, x: detector.detector_input(g, x, pixels=layout), {"x": given.astype(np.float32)})
        crop = bgr
    else:
        top, left, height, width = window
        (out,) = run_piece(
            lambda g, x, o, s: detector.detector_input(g, x, (o, s), pixels=layout),
            {"x": given.astype(np.float32), "o": np.array(window[:2], np.int64), "s": np.array(window[2:], np.int64)},
        )
        crop = bgr[top : top + height, left : left + width]
    assert out.shape == (1, 3, 240, 320)
    np.testing.assert_array_equal(out[0], python_input(np.ascontiguousarray(crop)))


def test_whole_image_item_scales_boxes_by_width_and_height():
    from fqe_onnx.bundle import detector

    scale, offset = run_piece(lambda g, x: detector.whole_image_item(g, x), {"x": np.zeros((37, 91, 4), np.float32)}, 2)
    assert scale.dtype == np.float64 and offset.dtype == np.float64
    np.testing.assert_array_equal(scale, [[91, 37, 91, 37]])
    np.testing.assert_array_equal(offset, np.zeros((1, 4)))


def _post_process(scores: np.ndarray, boxes: np.ndarray, width: int, height: int, scale=None):
    """The whole-image post-processing on detector outputs scores [1, K, 2] and boxes [1, K, 4]."""
    from fqe_onnx.bundle import detector

    scale = [[width, height, width, height]] if scale is None else scale

    def build(g, s, b):
        face_scores, pixel_boxes = detector.candidates(
            g, s, b, g.const(scale, np.float64), g.const(np.zeros((1, 4)), np.float64)
        )
        kept_scores, kept_boxes = detector.confident_faces(g, face_scores, pixel_boxes)
        index, found = detector.main_face(g, kept_boxes, g.const([width, height], np.float64))
        return face_scores, pixel_boxes, kept_scores, kept_boxes, index, found

    return run_piece(build, {"scores": scores, "boxes": boxes}, 6)


def test_candidates_put_two_views_boxes_in_image_pixels():
    from fqe_onnx.bundle import detector

    rng = np.random.default_rng(11)
    boxes = rng.uniform(0, 1, (2, 5, 4)).astype(np.float32)
    face = rng.uniform(0, 1, (2, 5)).astype(np.float32)
    scores = np.stack([1 - face, face], axis=2)
    scale, offset = (
        np.array([[640.0, 480, 640, 480], [320, 240, 320, 240]]),
        np.array([[0.0, 0, 0, 0], [100, 50, 100, 50]]),
    )
    got_scores, got_boxes = run_piece(
        lambda g, s, b: detector.candidates(g, s, b, g.const(scale, np.float64), g.const(offset, np.float64)),
        {"scores": scores, "boxes": boxes},
        2,
    )
    np.testing.assert_array_equal(got_scores, face.reshape(-1))
    np.testing.assert_array_equal(
        got_boxes, (boxes.astype(np.float64) * scale[:, None] + offset[:, None]).reshape(-1, 4)
    )


def test_confidence_at_the_threshold_and_nms_at_the_iou_limit_are_the_python_paths():
    """A score of exactly CONFIDENCE is kept, the float32 just under it dropped; a box whose IoU with
    a better one is exactly NMS_IOU passes NMS, one just over it goes (boxes in pixels, scale 1), and
    same_face then drops the first too (a pair at IoU 0.4 always has the smaller box mostly inside
    the other)."""
    from fqe_onnx.align.detection import CONFIDENCE, NMS_IOU, nms

    boxes = np.array(
        [
            [0, 0, 10, 10],
            [0, 0, 10, 25],  # IoU 100 / 250 = 0.4 exactly: kept by NMS
            [200, 0, 210, 10],
            [200, 0, 210, 24.9],  # IoU over 0.4: suppressed
            [400, 0, 420, 20],
            [500, 0, 520, 20],
            [600, 0, 620, 20],
        ],
        np.float32,
    )[None]
    face = np.array([0.9, 0.8, 0.9, 0.8, CONFIDENCE, np.nextafter(np.float32(CONFIDENCE), 0), 0.3], np.float32)
    scores = np.stack([1 - face, face], axis=1)[None]
    _, _, kept_scores, kept_boxes, index, found = _post_process(scores, boxes, 1, 1, scale=[[1, 1, 1, 1]])
    expected = _python_faces(face, boxes[0], 1, 1)
    confident = face >= CONFIDENCE
    after_nms = nms(boxes[0][confident].astype(np.float64), face[confident], NMS_IOU)
    assert [tuple(b) for b in boxes[0][confident][after_nms]] == [
        (0, 0, 10, 10),
        (200, 0, 210, 10),
        (0, 0, 10, 25),
        (400, 0, 420, 20),
    ]
    assert [d.box for d in expected] == [(0, 0, 10, 10), (200, 0, 210, 10), (400, 0, 420, 20)]
    assert NMS_IOU == 0.4
    np.testing.assert_array_equal(kept_scores, [d.score for d in expected])
    np.testing.assert_array_equal(kept_boxes, [d.box for d in expected])
    assert kept_scores.dtype == np.float32 and kept_boxes.dtype == np.float64


@pytest.mark.parametrize("case", ["tie", "far-outside", "centre-beats-size", "size-beats-centre"])
def test_main_face_is_select_main_face(case):
    """Equal merits go to the first face; a centre beyond the half diagonal weighs 0.5 (the cap at 1);
    closeness to the centre against area, both ways. The index is an int64 scalar, the flag a bool one."""
    from fqe_onnx.align.detection import select_main_face

    width, height = 400, 300
    boxes = {
        "tie": [[50, 50, 150, 150], [250, 150, 350, 250], [180, 130, 200, 150]],  # mirror images about the centre
        "far-outside": [[150, 100, 200, 150], [-900, -900, -700, -700], [10, 10, 40, 40]],
        "centre-beats-size": [[0, 0, 110, 110], [150, 100, 250, 200], [390, 290, 400, 300]],
        "size-beats-centre": [[0, 0, 150, 150], [150, 100, 250, 200], [390, 290, 400, 300]],
    }[case]
    boxes = np.array(boxes, np.float64)
    from fqe_onnx.align.detection import Detection

    faces = [Detection(tuple(float(v) for v in b), 0.9) for b in boxes]
    expected = select_main_face(faces, width, height)
    from fqe_onnx.bundle import detector

    index, found = run_piece(
        lambda g, b: detector.main_face(g, b, g.const([width, height], np.float64)), {"boxes": boxes}, 2
    )
    assert index.shape == () and index.dtype == np.int64 and found.shape == () and found.dtype == np.bool_
    assert bool(found) and int(index) == expected
    assert expected == {"tie": 0, "far-outside": 1, "centre-beats-size": 1, "size-beats-centre": 0}[case]
    (empty_index, empty_found) = run_piece(
        lambda g, b: detector.main_face(g, b, g.const([width, height], np.float64)), {"boxes": np.zeros((0, 4))}, 2
    )
    assert not bool(empty_found) and int(empty_index) == 0


def test_merit_is_the_area_weighted_by_the_distance_to_the_centre_over_the_half_diagonal():
    """Boxes placed 0, 150, 100, 250 and 500 px from the centre of a 400x300 image, whose half
    diagonal is 250: weights 1, 0.7, 0.8, 0.5 and 0.5 (capped), exact in float64."""
    from fqe_onnx.bundle import detector

    boxes = np.array(
        [
            [150, 100, 250, 200],  # 100x100 at the centre
            [300, 100, 400, 200],  # 100x100, 150 px right of it
            [250, 220, 270, 240],  # 20x20, 100 px away (60, 80)
            [390, 290, 410, 310],  # 20x20, at the half diagonal (200, 150)
            [-210, -160, -190, -140],  # 20x20, twice as far: the weight stays 0.5
        ],
        np.float64,
    )
    (merits,) = run_piece(lambda g, b: detector.merit(g, b, g.const([400, 300], np.float64)), {"boxes": boxes})
    np.testing.assert_allclose(merits, [10000, 7000, 320, 200, 200], rtol=1e-12)


def test_one_face_is_found():
    from fqe_onnx.bundle import detector

    boxes = np.array([[10.0, 20.0, 60.0, 90.0]])
    index, found = run_piece(
        lambda g, b: detector.main_face(g, b, g.const([100, 100], np.float64)), {"boxes": boxes}, 2
    )
    assert bool(found) and int(index) == 0


def test_nms_with_index_never_cuts_faces_and_without_keeps_at_most_max_faces():
    """More confident, disjoint candidates than MAX_FACES: the tiles' NMS (``with_index``) keeps them
    all, as the Python path's NMS does, with their rows; the one-view NMS stops at MAX_FACES."""
    from fqe_onnx.align.detection import nms
    from fqe_onnx.bundle import detector

    n = detector.MAX_FACES + 80
    corners = np.stack(np.divmod(np.arange(n), 100), axis=1)[:, ::-1] * 10.0  # a 100-wide grid of 5 px boxes
    boxes = np.concatenate([corners, corners + 5], axis=1)
    scores = np.random.default_rng(2).uniform(0.7, 1.0, n).astype(np.float32)
    expected = nms(boxes, scores, 0.4)
    assert len(expected) == n
    kept_scores, kept_boxes, index = run_piece(
        lambda g, s, b: detector.confident_faces(g, s, b, with_index=True), {"scores": scores, "boxes": boxes}, 3
    )
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(kept_boxes, boxes[expected])
    np.testing.assert_array_equal(kept_scores, scores[expected])
    capped, _ = run_piece(lambda g, s, b: detector.confident_faces(g, s, b), {"scores": scores, "boxes": boxes}, 2)
    np.testing.assert_array_equal(capped, scores[expected[: detector.MAX_FACES]])


def test_landmark_crop_and_input_match_the_python_path():
    from fqe_onnx.align.detection import landmark_crop as python_crop, landmark_input as python_input
    from fqe_onnx.bundle import landmarks

    image = cv2.resize(_astronaut(), (300, 260), interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    for box in [
        (90.3, 20.7, 170.2, 121.5),
        (-10.0, -5.0, 60.0, 80.5),
        (250.0, 200.0, 330.0, 290.0),
        (5.0, 5.0, 5.2, 5.3),
    ]:
        crop, net_input = run_piece(
            lambda g, x, b: (lambda c: (c, landmarks.landmark_input(g, x, c)))(
                landmarks.landmark_crop(g, b, g.const([width, height], np.float64))
            ),
            {"x": image.astype(np.float32), "box": np.array(box, np.float64)},
        )
        expected = python_crop(box, width, height)
        assert tuple(crop) == expected
        np.testing.assert_array_equal(net_input[0], python_input(image, expected))


def test_five_points_match_detection_five_points():
    from fqe_onnx.align.detection import five_points as python_five
    from fqe_onnx.bundle import landmarks

    output = RNG.uniform(0, 1, (1, 136)).astype(np.float32)
    crop = np.array([12.0, 30.0, 112.0, 130.0])
    (points,) = run_piece(lambda g, o, c: landmarks.five_points(g, o, c), {"output": output, "crop": crop})
    pixels = output.reshape(68, 2).astype(np.float64) * [100, 100] + [12, 30]
    np.testing.assert_allclose(points, python_five(pixels), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_similarity_is_umeyama(seed):
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform
    from fqe_onnx.bundle.similarity import similarity

    rng = np.random.default_rng(seed)
    angle, scale = rng.uniform(-1, 1), rng.uniform(0.2, 3)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = ARCFACE_TEMPLATE_112 @ rotation.T + rng.uniform(-200, 200, 2) + rng.normal(0, 4, (5, 2))
    if seed == 5:
        points[:, 0] = -points[:, 0]  # a mirrored face: Umeyama rules out the reflection
    (matrix,) = run_piece(lambda g, p, t: similarity(g, p, t), {"points": points, "template": ARCFACE_TEMPLATE_112})
    np.testing.assert_allclose(matrix, similarity_transform(points, ARCFACE_TEMPLATE_112), rtol=0, atol=1e-9)


#: OpenCV 5's warpAffine against the bundle's, one level apart: on an AVX2 machine 8 values of 43,008
#: ("rotated", 4 channels: 0.019%) and 1 ("shrunk", 4 channels); on an AVX-512 one 4 ("rotated") and
#: 0 ("shrunk"). Held to 0.1%.
WARP_SHARE_OFF = 1e-3


def assert_within_a_level_of_opencvs_warp(ours: np.ndarray, opencv: np.ndarray) -> None:
    """One level at most, on at most WARP_SHARE_OFF of the values: float rounding at exact halves,
    which differs with the CPU's SIMD width and FMA (see the module docstring)."""
    difference = np.abs(ours.astype(np.float64) - opencv.astype(np.float64))
    assert difference.max() <= 1 and (difference > 0).mean() <= WARP_SHARE_OFF, (
        difference.max(),
        (difference > 0).mean(),
    )


@pytest.mark.parametrize("seed", range(4))
def test_warp_matches_cv2_warp_affine(seed):
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, similarity_transform
    from fqe_onnx.bundle.warp import warp

    rng = np.random.default_rng(seed)
    image = cv2.resize(_astronaut(), (400, 360), interpolation=cv2.INTER_AREA)
    points = ARCFACE_TEMPLATE_112 * rng.uniform(0.6, 1.9) + rng.uniform(-60, 330, 2) + rng.normal(0, 3, (5, 2))
    matrix = similarity_transform(points, ARCFACE_TEMPLATE_112)
    (crop,) = run_piece(lambda g, x, m: warp(g, x, m, 112, 112), {"x": image.astype(np.float32), "m": matrix})
    expected = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert_within_a_level_of_opencvs_warp(crop, expected)


@pytest.mark.parametrize("case", ["inside-out", "rotated", "shrunk", "mirrored"])
@pytest.mark.parametrize("channels", [4, 3, 1])
def test_warp_replicates_every_border_in_any_layout(case, channels):
    """A crop (112 high, 96 wide) reaching past every side of a small image: the taps clamp to the
    edge rows and columns as BORDER_REPLICATE does, for 4, 3 and 1 channels alike."""
    from fqe_onnx.bundle.warp import warp

    image = np.random.default_rng(3).integers(0, 256, (50, 60, channels), dtype=np.uint8)
    matrix = {
        "inside-out": np.array([[1.0, 0, 26], [0, 1.0, 31]]),  # the whole image, a margin on every side
        "rotated": cv2.getRotationMatrix2D((30, 25), 37, 1.3) + [[0, 0, 26], [0, 0, 31]],
        "shrunk": np.array([[0.4, 0.1, 40], [-0.1, 0.4, 45]]),
        "mirrored": np.array([[-0.9, 0.2, 90], [0.3, 1.1, 2]]),
    }[case]
    (crop,) = run_piece(lambda g, x, m: warp(g, x, m, 112, 96), {"x": image.astype(np.float32), "m": matrix})
    expected = cv2.warpAffine(image, matrix, (96, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    expected = expected.reshape(112, 96, channels).astype(np.float32)
    assert crop.shape == expected.shape and crop.dtype == np.float32
    assert_within_a_level_of_opencvs_warp(crop, expected)


def test_clip_levels_saturates_as_uint8():
    from fqe_onnx.bundle.resize import clip_levels

    values = np.array([-300.0, -1.0, -0.0, 0.0, 17.0, 254.0, 255.0, 256.0, 255.5, 1e9], np.float32)
    (out,) = run_piece(lambda g, x: clip_levels(g, x), {"x": values})
    np.testing.assert_array_equal(out, np.clip(values, 0, 255))
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "channel_order, layout, mean, scale",
    [
        ("BGR", "NCHW", (0.0,), (255.0,)),
        ("RGB", "NHWC", (127.5, 127.0, 126.0), (128.0, 127.0, 1.0)),
        ("GRAY", "NCHW", (127.0,), (128.0,)),
    ],
)
def test_model_input_is_prepare_crop(channel_order, layout, mean, scale):
    from fqe_onnx.bundle.head import model_input
    from fqe_onnx.contract import Geometry, Preprocess
    from fqe_onnx.preprocess import prepare_crop

    preprocess = Preprocess(
        channel_order=channel_order, layout=layout, mean=mean, scale=scale, geometry=Geometry(resize=(112, 112))
    )
    crop = RNG.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    (out,) = run_piece(lambda g, x: model_input(g, x, preprocess), {"crop": crop.astype(np.float32)})
    np.testing.assert_array_equal(out[0], prepare_crop(crop, preprocess))


def test_norm_and_score_match_quality():
    from fqe_onnx.bundle.head import norm, score
    from fqe_onnx.contract import Calibration
    from fqe_onnx.quality import embedding_norms, norm_to_score

    calibration = Calibration(x0=2.5, w=0.4)
    embeddings = RNG.normal(0, 0.2, (200, 1, 128)).astype(np.float32)
    # q values whose Q sits exactly on a half, where round-half-to-even would differ
    for row in embeddings:
        (q, score_q) = run_piece(
            lambda g, e: (lambda norm_q: (norm_q, score(g, norm_q, calibration)))(norm(g, e, "embedding")),
            {"embedding": row},
        )
        expected_q = float(embedding_norms(row)[0])
        assert abs(float(q) - expected_q) <= 1e-12 * expected_q
        assert int(score_q) == norm_to_score(expected_q, calibration)
    seed = Calibration()
    half = np.log(0.425 / 0.575)  # 100 * sigmoid(q) = 42.5 exactly: Q 43, not 42
    (score_half,) = run_piece(lambda g, q: score(g, q, seed), {"q": np.array(half)})
    assert int(score_half) == norm_to_score(half, seed) == 43


@pytest.mark.parametrize("factor", [1.1, 2.0, 3.7, 6.0])
def test_pre_shrink_and_warp_match_warp_to_template(factor):
    from fqe_onnx.align.template import ARCFACE_TEMPLATE_112, warp_to_template
    from fqe_onnx.bundle import shrink
    from fqe_onnx.bundle.warp import warp

    big = cv2.resize(_astronaut(), None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    points = (np.array([[215, 175], [280, 177], [250, 215], [222, 252], [276, 253]], np.float64) + 0.5) * factor - 0.5

    def build(g, x, p, t):
        window, matrix = shrink.shrink_for_warp(g, x, p, t, 112, 112)
        return warp(g, window, matrix, 112, 112), shrink.needs_shrink(g, p, t)

    crop, needed = run_piece(build, {"x": big.astype(np.float32), "points": points, "template": ARCFACE_TEMPLATE_112})
    expected = warp_to_template(big, points, ARCFACE_TEMPLATE_112, (112, 112))
    from fqe_onnx.align.template import similarity_transform

    matrix = similarity_transform(points, ARCFACE_TEMPLATE_112)
    assert bool(needed) == (np.hypot(matrix[0, 0], matrix[0, 1]) < 0.5)
    # measured: one level on 0.005% to 0.04% of the pixels (OpenCV's INTER_AREA pre-shrink sums floats
    # in another order than the bundle's, and its warp rounds as above)
    assert_within_a_level_of_opencvs_warp(crop, expected)


def test_a_norm_output_is_q_itself_and_q_clips_at_both_ends_of_the_scale():
    """A model that outputs its norm (OFIQ's MagFace file) gives q as it is; a calibration whose
    curve leaves 0..100 (h = 150, a = -0.2) clips as ``norm_to_score`` does."""
    from fqe_onnx.bundle.head import norm, score
    from fqe_onnx.contract import Calibration
    from fqe_onnx.quality import norm_to_score

    (q,) = run_piece(lambda g, out: norm(g, out, "norm"), {"output": np.array([[23.75]], np.float32)})
    assert q.shape == () and float(q) == 23.75
    wide = Calibration(h=150.0, a=-0.2, x0=0.0, w=1.0)
    for value in (-8.0, -1.0, 0.3, 2.0, 8.0):
        (got,) = run_piece(lambda g, v: score(g, v, wide), {"q": np.array(value)})
        assert int(got) == norm_to_score(value, wide)
    assert {norm_to_score(-8.0, wide), norm_to_score(8.0, wide)} == {0, 100}


# -- tiled detection (fqe_onnx/bundle/tiles.py) beside fqe_onnx.align.detection ------------------------

VIEW_SIZES = [
    (250, 250),
    (480, 640),
    (1080, 1920),
    (2000, 3000),
    (4000, 6000),
    (720, 960),
    (721, 961),
    (719, 2161),
    (2161, 3),
    (3, 5000),
    (1999, 2999),
    (4321, 777),
    (7001, 9999),
    (600, 2880),
    (2401, 3201),
    (1, 1),
    (241, 321),
    (5472, 3648),
    (12000, 9000),
]


@pytest.mark.parametrize("height, width", VIEW_SIZES)
def test_view_rects_are_tile_rects(height, width):
    from fqe_onnx.align.detection import tile_rects
    from fqe_onnx.bundle import tiles

    out, tiled = run_piece(
        lambda g, s: (tiles.view_rects(g, s), tiles.has_tiles(g, s)), {"hw": np.array([height, width], np.int64)}, 2
    )
    expected = np.array([list(view) for view in tile_rects(height, width)], np.float64)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    assert bool(tiled) == (len(expected) > 1)  # the bundle's If between the tiled and whole-image paths
    if (height, width) in [(250, 250), (480, 640)]:
        assert len(out) == 1  # the whole image alone: the bundle takes its path without tiles


def test_inside_tile_second_look_window_and_iou_match_the_python_path():
    from fqe_onnx.align.detection import box_iou, inside_tile, second_look_window, tile_rects
    from fqe_onnx.bundle import tiles

    height, width = 2000, 3000
    rng = np.random.default_rng(3)
    centres = rng.uniform(-50, [width + 50, height + 50], (400, 2))
    sizes = rng.uniform(2, 400, (400, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    for view in tile_rects(height, width):
        (keep,) = run_piece(
            lambda g, b, r: tiles.inside_tile(
                g, b, r, g.const(float(width), np.float64), g.const(float(height), np.float64)
            ),
            {"boxes": boxes, "rect": np.array(list(view), np.float64)},
        )
        np.testing.assert_array_equal(keep, inside_tile(boxes, view, width, height))
    for box in boxes[:60]:
        window, iou = run_piece(
            lambda g, b, o: (
                tiles.second_look_window(g, b, g.const(float(width), np.float64), g.const(float(height), np.float64)),
                tiles.box_iou(g, b, o),
            ),
            {"box": box, "others": boxes},
            2,
        )
        assert tuple(window) == tuple(second_look_window(tuple(box), width, height))[:4]
        np.testing.assert_array_equal(iou, box_iou(box, boxes))


def _pieces(rng: np.random.Generator, n: int) -> np.ndarray:
    """Boxes of faces and of pieces of them (a part cut off one side, or a smaller box inside), some at
    the limits of ``same_face`` (SAME_FACE_INSIDE of a box inside, SAME_FACE_AREA of the other's area)."""
    from fqe_onnx.align.detection import SAME_FACE_AREA, SAME_FACE_INSIDE

    faces = np.concatenate([rng.uniform(0, 900, (n, 2)), np.zeros((n, 2))], axis=1)
    faces[:, 2:] = faces[:, :2] + rng.uniform(20, 200, (n, 2))
    w, h = faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]
    cut = faces.copy()
    cut[:, 2] = faces[:, 0] + w * rng.uniform(0.3, 0.7, n)  # the left part of each face
    limit = faces.copy()
    limit[:, 0] = faces[:, 2] - w * SAME_FACE_INSIDE  # half of it past the face's right side ...
    limit[:, 2] = limit[:, 0] + w  # ... so exactly SAME_FACE_INSIDE of it inside
    tiny = faces.copy()
    tiny[:, 2:] = faces[:, :2] + np.stack([w, h], 1) * np.sqrt(SAME_FACE_AREA)  # exactly SAME_FACE_AREA of the area
    jitter = faces + rng.normal(0, 8, faces.shape)
    boxes = np.concatenate([faces, cut, limit, tiny, jitter])
    return boxes[rng.permutation(len(boxes))]


@pytest.mark.parametrize("seed", range(3))
def test_same_face_and_found_again_are_the_python_rules(seed):
    """``detector.same_face`` and ``tiles.found_again`` beside ``detection.same_face`` and
    ``found_again``: the same boxes dropped and the same second looks taken, at their limits too."""
    from fqe_onnx.align.detection import SECOND_LOOK_CENTRE, found_again, same_face
    from fqe_onnx.bundle import detector, tiles

    rng = np.random.default_rng(seed)
    boxes = _pieces(rng, 40)
    (dropped,) = run_piece(lambda g, b: detector.same_face(g, b), {"boxes": boxes})
    expected = same_face(boxes)
    np.testing.assert_array_equal(dropped, expected)
    assert 10 < expected.sum() < len(boxes) - 40
    (none,) = run_piece(lambda g, b: detector.same_face(g, b), {"boxes": np.zeros((0, 4))})
    assert none.shape == (0,)
    taken = []
    for box in boxes[:40]:
        w, h = box[2] - box[0], box[3] - box[1]
        shift = SECOND_LOOK_CENTRE * np.array([w, h])
        for found in [
            box + rng.normal(0, 0.1, (3, 4)) * [w, h, w, h],
            box + rng.normal(0, 0.5, (3, 4)) * [w, h, w, h],
            np.stack([box + [shift[0], 0, shift[0], 0], box - [0, shift[1], 0, shift[1]]]),  # centre at the limit
            (box + [0, 0, w, 0])[None],
        ]:  # twice as wide: a bigger face around it
            confident = rng.uniform(0, 1, len(found)) < 0.8
            (again,) = run_piece(
                lambda g, b, f, c: tiles.found_again(g, b, f, c), {"box": box, "found": found, "confident": confident}
            )
            taken.append(found_again(box, found[confident]))
            assert bool(again) == taken[-1], (box, found, confident)
    assert 30 < sum(taken) < len(taken) - 30


def _fake_detector(seed: int, central: int = 3, k: int = 60, around: bool = False):
    """A stand-in for the face detector with its I/O ([N, 3, 240, 320] -> scores [N, K, 2], boxes
    [N, K, 4]): fixed small priors (``central`` of them where a second look finds its face; with
    ``around``, a bigger face around it, off to one side) scored by a random function of the 8x8
    mean-pooled input. It fires on many views, so the tiles, the NMS over views and the second looks
    (confirmed and refused) are all exercised."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    centre, size = rng.uniform(0.05, 0.95, (k, 2)), rng.uniform(0.02, 0.1, (k, 2))
    centre[:central] = 0.5 + rng.normal(0, 0.05, (central, 2))
    size[:central] = [0.25, 0.33] + rng.normal(0, 0.05, (central, 2))
    if around:  # the face a quarter of the window wide, this box about twice its size, centred 0.45 of it away
        centre[:central, 0] += 0.11
        size[:central] *= 1.6
    consts = {
        "priors": np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)[None],
        "w": (3 * rng.normal(0, 1, (192, k))).astype(np.float32),
        "b": np.full(k, -1.0, np.float32),
        "axis2": np.array([2], np.int64),
        "one": np.array([1.0], np.float32),
        "k4": np.array([k, 4], np.int64),
    }
    node = helper.make_node
    nodes = [
        node("AveragePool", ["input"], ["pool"], kernel_shape=[30, 40], strides=[30, 40]),
        node("Flatten", ["pool"], ["flat"]),
        node("MatMul", ["flat", "w"], ["mm"]),
        node("Add", ["mm", "b"], ["logit"]),
        node("Sigmoid", ["logit"], ["p"]),
        node("Sub", ["one", "p"], ["q"]),
        node("Unsqueeze", ["p", "axis2"], ["p3"]),
        node("Unsqueeze", ["q", "axis2"], ["q3"]),
        node("Concat", ["q3", "p3"], ["scores"], axis=2),
        node("Shape", ["input"], ["n"], start=0, end=1),
        node("Concat", ["n", "k4"], ["shape"], axis=0),
        node("Expand", ["priors", "shape"], ["boxes"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_detector",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 240, 320])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", k, 2]),
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", k, 4]),
        ],
        [numpy_helper.from_array(v, n) for n, v in consts.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


@pytest.mark.parametrize(
    "seed, whole, central, looked, around",
    [
        (18, False, 3, 2, False),  # tiles only: the two faces of best merit are refused by their second look
        (45, False, 3, 1, False),  # one refused before the main face (same_face changed the merged faces)
        (5, True, 3, 0, False),  # with the whole image: its face is the main one, no second look needed
        (7, False, 0, None, False),  # no second look can confirm a face: no face at all
        # second looks that find a bigger face around the tile's face: refused (the rule before took them)
        (3, False, 3, ANY, True),
        (4, False, 3, ANY, True),
    ],
)
def test_tiled_main_face_is_the_python_paths(tmp_path, seed, whole, central, looked, around):
    """``tiles.tiled_main_face`` with a stand-in detector beside ``FaceDetector.detect`` (tiles, merge,
    every second look) and ``select_main_face`` with the same model: the same face, box and score."""
    import math

    import onnx

    from fqe_onnx.align import detection
    from fqe_onnx.bundle import tiles
    from fqe_onnx.bundle.assemble import inline
    from fqe_onnx.bundle.detector import detector_input
    from fqe_onnx.zoo import aligner_models

    model = _fake_detector(seed, central, around=around)
    onnx.save(model, tmp_path / "fake.onnx")
    first = 0 if whole else 1
    height, width = 1000, 1400
    rng = np.random.default_rng(seed)
    image = cv2.resize(
        rng.integers(0, 256, (height // 60 + 1, width // 60 + 1, 3), dtype=np.uint8),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    found = {}
    for keep_pieces in (True, False):
        python = detection.FaceDetector(
            str(tmp_path / "fake.onnx"), str(aligner_models()[1]), threads=1, keep_pieces=keep_pieces
        )
        python.views = lambda h, w: detection.tile_rects(h, w)[first:]
        faces = python.detect(image)
        main = detection.select_main_face(faces, width, height)
        found[keep_pieces] = None if main is None else faces[main].box
    if around:
        assert found[True] != found[False]  # the second look refused what the rule before took
    copies = iter(range(3))

    def detect(g, image, window):
        return inline(g, model, f"fake{next(copies)}", detector_input(g, image, window))

    def build(g, x):
        views = tiles.view_rects(g, g.shape_dims(x, 0, 2))
        views = g.op("Slice", [views, g.const([first], np.int64), g.const([1 << 30], np.int64)])
        return tiles.tiled_main_face(g, x, detect, views)

    box, score, found = run_piece(build, {"x": image.astype(np.float32)}, 3)
    views = [(0, v) for v in python.views(height, width)]
    parts = []
    for (_, view), (boxes, scores) in zip(views, python._look([image], views)):
        keep = detection.inside_tile(boxes, view, width, height)
        parts.append((boxes[keep], scores[keep], view.w < width or view.h < height))
    merged = detection.merge_views(parts)
    assert len(merged) > 20 and sum(tiled for _, tiled in merged) > 20  # many faces, many only a tile saw
    assert bool(found) == (main is not None) == (looked is not None)
    if main is None:
        return
    np.testing.assert_allclose(box, faces[main].box, rtol=0, atol=1e-6)
    assert abs(float(score) - faces[main].score) < 1e-6

    def merit(d):
        off = math.hypot((d.box[0] + d.box[2] - width) / 2, (d.box[1] + d.box[3] - height) / 2) / (
            math.hypot(width, height) / 2
        )
        return d.width * d.height * (1 - 0.5 * min(off, 1))

    assert dict((d.box, tiled) for d, tiled in merged)[faces[main].box] == (not whole)  # whole: the whole image saw it
    # how many faces of better merit the second look refused before the main one
    by_merit = sorted((d for d, _ in merged), key=merit, reverse=True)
    assert [d.box for d in by_merit].index(faces[main].box) == looked or looked is ANY

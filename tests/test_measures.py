"""The ISO/IEC 29794-5 measures (fqe_onnx.measures) on hand-made inputs whose values are known in
closed form, and every mapping at its midpoint and ends."""

import math

import cv2
import numpy as np
import pytest

from fqe_onnx import measure_catalog as catalog
from fqe_onnx.align.template import OFIQ_SIZE
from fqe_onnx.measures import colour, compute, eyes_mouth, geometry, mapping, pixels, sharpness
from fqe_onnx.measures.compute import empty_columns, measure_face
from fqe_onnx.measures.face3d import FACE_68_3D
from fqe_onnx.measures.frame import (
    FRAME_REFERENCE,
    AlignedFace,
    Cheek,
    align,
    cheeks,
    face_mask,
    ofiq_matrix,
    reference_points,
    warp,
    window,
)
from fqe_onnx.measures.parts import MIRROR, as_points, cheek_regions
from fqe_onnx.measures.pose import euler_angles, fit_rotation, head_pose, rotation_from_angles
from fqe_onnx.records import COLUMNS, Record, columns

IED = 60.0  # eye centre to eye centre of the synthetic faces, in pixels


def projected(yaw=0.0, pitch=0.0, roll=0.0, scale=IED, centre=(120.0, 150.0)) -> np.ndarray:
    """The generic face under weak perspective: 68 points whose pose is known exactly."""
    rotated = FACE_68_3D @ rotation_from_angles(yaw, pitch, roll).T
    return scale * rotated[:, :2] + np.asarray(centre)


def srgb_luminance(grey: int) -> int:
    """OFIQ's luminance of a grey pixel, written out: sRGB linearised, times 255, rounded."""
    x = grey / 255
    linear = ((x + 0.055) / 1.055) ** 2.4 if x > 0.04045 else x / 12.92
    return math.floor(linear * 255 + 0.5)


# -- mappings: each at its midpoint and both ends ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(mapping.SIGMOIDS))
def test_each_sigmoid_at_its_midpoint_and_ends(name):
    s = mapping.SIGMOIDS[name]
    assert s(s.x0) == mapping.clamp_round(s.h * (s.a + s.s * 0.5))
    assert s(s.x0 - 1000 * s.w) == mapping.clamp_round(s.h * s.a)
    assert s(s.x0 + 1000 * s.w) == mapping.clamp_round(s.h * (s.a + s.s))


def test_the_sigmoid_values_ofiq_gives():
    assert mapping.SIGMOIDS["inter_eye_distance"](70) == 50 and mapping.SIGMOIDS["inter_eye_distance"](0) == 3
    assert mapping.SIGMOIDS["under_exposure_prevention"](0.92) == 40  # 120 (0.832 - 0.5) = 39.84
    assert (
        mapping.SIGMOIDS["under_exposure_prevention"](0.0) == 100
        and mapping.SIGMOIDS["under_exposure_prevention"](1.0) == 0
    )
    assert mapping.SIGMOIDS["mouth_closed"](0.2) == 50 and mapping.SIGMOIDS["mouth_closed"](0.0) == 97
    assert mapping.SIGMOIDS["natural_colour"](0.0) == 100 and mapping.SIGMOIDS["natural_colour"](10 * math.log(3)) == 50
    assert (
        mapping.head_size_score(0.45) == 100
        and mapping.head_size_score(0.95) == 0
        and mapping.head_size_score(-0.05) == 0
    )


def test_the_other_mappings_at_their_midpoints_and_ends():
    assert [mapping.head_pose_score(a) for a in (0, 45, -45, 90, 180)] == [100, 50, 50, 0, 0]
    assert [mapping.over_exposure_score(r) for r in (0.0, 0.01, 0.99)] == [100, 50, 1]
    assert [mapping.dynamic_range_score(h) for h in (0.0, 4.0, 8.0, 9.0)] == [0, 50, 100, 100]
    assert [mapping.luminance_mean_score(m) for m in (0.0, 0.2, 0.5, 0.8, 1.0)] == [2, 50, 100, 50, 2]  # 100/(1+e^4)
    assert mapping.luminance_mean_score(0.25) == 73  # 100 sigmoid(1) = 73.1, the other factor 1 - 2e-5
    assert [mapping.luminance_variance_score(v) for v in (0.0, 1 / 300, 1 / 60, 1 / 12, 1e9)] == [0, 50, 100, 50, 0]
    assert [mapping.illumination_uniformity_score(x) for x in (0.0, 0.5 ** (1 / 0.3), 1.0)] == [0, 50, 100]
    assert [mapping.single_face_score(f) for f in (0.0, 0.5, 1.0)] == [100, 50, 0]


def test_clamp_round_rounds_halves_away_from_zero_and_clamps():
    assert [mapping.clamp_round(v) for v in (2.5, 3.49, -0.5, -7.0, 100.4, 250.0)] == [3, 3, 0, 0, 100, 100]
    assert [mapping.clamp_round(v) for v in (0.0, 0.49, 0.5, 0.7, 1.0)] == [0, 0, 1, 1, 1]  # below 1 too


# -- the catalog and the columns -----------------------------------------------------------------------


def test_every_measure_has_a_floor_a_family_and_two_columns_in_order():
    assert len(catalog.MEASURES) == 20 and set(catalog.FLOORS) == set(catalog.MEASURES)
    assert catalog.MEASURE_COLUMNS[:4] == (
        "single_face_present",
        "single_face_present_raw",
        "head_pose_yaw",
        "head_pose_yaw_raw",
    )
    assert catalog.MEASURE_COLUMNS[-1] == "measures_below_floor" and len(catalog.MEASURE_COLUMNS) == 41
    assert columns() == COLUMNS and columns(True) == COLUMNS + catalog.MEASURE_COLUMNS


def test_below_floor_names_the_worst_first_and_skips_what_was_not_assessed():
    values = dict.fromkeys(catalog.MEASURES, 90)
    values.update(head_pose_yaw=30, luminance_mean=10, sharpness=30, eyes_open=None, dynamic_range=50)
    assert catalog.below_floor(values) == ["luminance_mean", "head_pose_yaw", "sharpness"]
    assert catalog.below_floor(values, {"sharpness": 31}) == ["sharpness"]


def test_a_record_gives_its_measure_cells_only_when_asked():
    cells = {c: None for c in catalog.MEASURE_COLUMNS} | {"sharpness": 40, "measures_below_floor": "sharpness"}
    record = Record("a.png", "", 1.0, 50, measures=cells)
    assert list(record.as_dict()) == list(COLUMNS)
    row = record.as_dict(measures=True)
    assert list(row) == list(columns(True)) and row["sharpness"] == 40
    assert Record("b.png", "", None, None, error_kind="no-face").as_dict(True)["sharpness"] is None
    assert empty_columns() == dict.fromkeys(catalog.MEASURE_COLUMNS)


# -- pose -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (25, -10, 5), (-40, 15, -20), (10, 30, 60)])
def test_the_pose_of_the_projected_generic_face_is_recovered_exactly(yaw, pitch, roll):
    pose = head_pose(projected(yaw, pitch, roll))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((yaw, pitch, roll), abs=1e-6)
    assert pose.residual < 1e-9


@pytest.mark.parametrize("angle", [-30, -7.5, 12, 30])
def test_an_in_plane_rotation_of_the_points_changes_the_roll_by_exactly_its_angle(angle):
    points = projected(yaw=15, pitch=-5, roll=3)
    matrix = cv2.getRotationMatrix2D((125.0, 140.0), angle, 1.0)  # OpenCV: counter-clockwise as shown
    turned = head_pose(points @ matrix[:, :2].T + matrix[:, 2])
    assert (turned.yaw, turned.pitch, turned.roll) == pytest.approx((15, -5, 3 + angle), abs=1e-6)


def test_a_mirrored_face_has_the_opposite_yaw_and_roll():
    points = projected(yaw=20, pitch=8, roll=-6)
    mirrored = points[list(MIRROR)] * [-1, 1] + [500, 0]
    pose = head_pose(mirrored)
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx((-20, 8, 6), abs=1e-6)


def test_the_generic_face_is_mirror_symmetric_with_its_eyes_one_apart():
    assert np.array_equal(FACE_68_3D[list(MIRROR)] * [-1, 1, 1], FACE_68_3D)
    eyes = [FACE_68_3D[[36, 39]].mean(axis=0), FACE_68_3D[[42, 45]].mean(axis=0)]
    assert np.linalg.norm(eyes[1] - eyes[0]) == pytest.approx(1, abs=1e-3)
    assert FACE_68_3D[30, 2] < FACE_68_3D[[36, 45], 2].min()  # the nose tip is nearer the camera than the eyes


def test_euler_angles_invert_rotation_from_angles():
    for angles in [(1.0, 2.0, 3.0), (-70.0, 20.0, -150.0)]:
        assert euler_angles(rotation_from_angles(*angles)) == pytest.approx(angles, abs=1e-9)


# -- pixels: a flat grey face -----------------------------------------------------------------------------


def flat_face(grey: int, points: np.ndarray | None = None) -> AlignedFace:
    points = projected(centre=(100, 110)) if points is None else points
    return AlignedFace(np.full((220, 200, 3), grey, np.uint8), points, face_mask(points, (220, 200)))


@pytest.mark.parametrize("grey", [0, 10, 60, 128, 200, 255])
def test_a_flat_grey_face_has_its_exact_luminance_no_entropy_and_no_variance(grey):
    face = flat_face(grey)
    level = srgb_luminance(grey)
    assert np.all(pixels.luminance(face.bgr) == level)
    stats = pixels.luminance_stats(pixels.histogram(pixels.luminance(face.bgr), face.mask))
    assert stats.mean == level / 255 and stats.variance == 0 and stats.entropy_bits == 0
    assert stats.dark_share == (1.0 if level <= 25 else 0.0) and stats.bright_share == (1.0 if level >= 247 else 0.0)
    values = pixels.pixel_measures(stats)
    assert values["dynamic_range"] == (0, 0.0) and values["luminance_variance"] == (0, 0.0)
    assert values["luminance_mean"] == (mapping.luminance_mean_score(level / 255), level / 255)


def test_luminance_weights_the_linear_channels_709():
    assert pixels.luminance(np.array([[[0, 0, 255]]], np.uint8))[0, 0] == math.floor(0.2126 * 255 + 0.5)  # red
    assert pixels.luminance(np.array([[[0, 255, 0]]], np.uint8))[0, 0] == math.floor(0.7152 * 255 + 0.5)  # green
    assert pixels.luminance(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == math.floor(0.0722 * 255 + 0.5)  # blue


def test_two_equal_luminance_levels_give_one_bit_and_their_spread():
    counts = np.zeros(256)
    counts[[20, 220]] = 500
    stats = pixels.luminance_stats(counts)
    assert stats.entropy_bits == 1.0 and stats.mean == pytest.approx(120 / 255)
    assert stats.variance == pytest.approx((100 / 255) ** 2) and stats.dark_share == 0.5 and stats.bright_share == 0
    assert pixels.luminance_stats(np.zeros(256)) is None


def test_the_linear_table_is_srgbs_decoding_curve():
    table = pixels._linear_table()  # built once at import; called here so that a test sees its arithmetic
    assert table.shape == (256,)
    assert [math.floor(v * 255 + 0.5) for v in table] == [srgb_luminance(g) for g in range(256)]
    assert table[10] == pytest.approx(10 / 255 / 12.92, rel=1e-12)  # below the knee at 0.04045: linear
    assert table[11] == pytest.approx(((11 / 255 + 0.055) / 1.055) ** 2.4, rel=1e-12)  # above it: the power
    assert table[0] == 0 and table[255] == pytest.approx(1.0, rel=1e-12)


def test_an_empty_image_has_an_empty_luminance():
    empty = pixels.luminance(np.zeros((0, 4, 3), np.uint8))
    assert empty.shape == (0, 4) and empty.dtype == np.uint8


def test_the_histogram_counts_only_the_pixels_inside_the_mask():
    values = np.zeros((4, 6), np.uint8)
    values[:, 3:] = 200
    mask = np.zeros((4, 6), bool)
    mask[1:3, 4:] = True
    inside, everywhere = pixels.histogram(values, mask), pixels.histogram(values)
    assert inside[200] == 4 and inside.sum() == 4 and inside.dtype == np.float64
    assert everywhere[0] == 12 and everywhere[200] == 12 and everywhere.shape == (256,)


@pytest.mark.parametrize(
    "level,dark,bright", [(0, 1, 0), (25, 1, 0), (26, 0, 0), (246, 0, 0), (247, 0, 1), (255, 0, 1)]
)
def test_the_dark_and_bright_ranges_are_ofiqs_inclusive_ranges(level, dark, bright):
    counts = np.zeros(256)
    counts[level] = 1  # one pixel is a region too
    stats = pixels.luminance_stats(counts)
    assert (stats.dark_share, stats.bright_share, stats.mean) == (dark, bright, level / 255)
    assert math.copysign(1.0, stats.entropy_bits) == 1.0  # one level: 0 bits, and not -0.0


def test_the_pixel_measures_of_known_statistics():
    stats = pixels.LuminanceStats(dark_share=0.3, bright_share=0.02, entropy_bits=6.0, mean=0.4, variance=0.01)
    assert pixels.pixel_measures(stats) == {
        "under_exposure_prevention": (mapping.SIGMOIDS["under_exposure_prevention"](0.3), 0.3),
        "over_exposure_prevention": (mapping.over_exposure_score(0.02), 0.02),
        "dynamic_range": (75, 6.0),
        "luminance_mean": (mapping.luminance_mean_score(0.4), 0.4),
        "luminance_variance": (mapping.luminance_variance_score(0.01), 0.01),
    }
    assert pixels.pixel_measures(None) == dict.fromkeys(pixels.pixel_measures(stats))


def test_the_face_region_is_the_filled_hull_of_the_points():
    square = np.array([[10, 10], [30, 10], [30, 20], [10, 20]] + [[20, 15]] * 64, dtype=float)
    mask = face_mask(square, (40, 40))
    assert mask.sum() == 21 * 11 and mask[10, 10] and mask[20, 30] and not mask[9, 10] and not mask[21, 30]


# -- colour and illumination ------------------------------------------------------------------------------


def test_cheek_regions_follow_ofiqs_arithmetic():
    points = projected(centre=(100, 110))
    (lx, ly, lw, lh), (rx, ry, rw, rh) = cheek_regions(points)
    left, right = np.floor(points[[36, 39]].mean(0) + 0.5), np.floor(points[[42, 45]].mean(0) + 0.5)
    zone = int(0.3 * np.linalg.norm(right - left))
    assert (lw, lh, rw, rh) == (zone,) * 4 and (lx, rx + zone) == (left[0], right[0])
    drop = int(np.linalg.norm((left + right) / 2 - points[[62, 66]].mean(0)) / 2)
    assert (ly, ry) == (left[1] + drop, right[1] + drop)


def cheek(grey=(128, 128, 128), size=33, masked_rows=0) -> Cheek:
    """A uniform cheek region; its first ``masked_rows`` rows outside the landmarked region."""
    mask = np.ones((size, size), bool)
    mask[:masked_rows] = False
    return Cheek(np.full((size, size, 3), grey, np.uint8), mask)


def test_illumination_uniformity_is_1_for_an_even_face_and_0_when_the_sides_differ():
    assert colour.illumination_uniformity([cheek(), cheek()]) == 1.0
    assert colour.illumination_uniformity([cheek((60,) * 3), cheek((200,) * 3)]) == 0.0
    # a quarter of one region lies outside the landmarked region: black there, as in OFIQ
    assert colour.illumination_uniformity([cheek(size=32), cheek(size=32, masked_rows=8)]) == 0.75
    assert colour.illumination_uniformity([cheek(size=32, masked_rows=8), cheek(size=32)]) == 0.75  # either side
    assert colour.illumination_uniformity([cheek(size=32), cheek(size=16)]) == 1.0  # shares, not counts
    assert colour.colour_measures([cheek(), cheek((60,) * 3)], True)["illumination_uniformity"] == (0, 0.0)
    assert colour.colour_measures(None, True) == {"illumination_uniformity": None, "natural_colour": None}


def test_the_cheeks_are_cut_on_ofiqs_616_frame():
    points = projected(scale=40, centre=(125, 125))
    regions = cheeks(np.full((250, 250, 3), 90, np.uint8), points)
    assert regions is not None
    matrix = ofiq_matrix(points)
    (x, y, w, h), _ = cheek_regions(points @ matrix[:, :2].T + matrix[:, 2])
    # the face on OFIQ's frame, eye centres about 113 px apart: regions of about 34 px, not 17 (308 frame)
    assert regions[0].bgr.shape == (h, w, 3) and 30 <= w <= 38
    assert regions[0].mask.all() and np.all(regions[0].bgr == 90)
    gaping = points.copy()
    gaping[[62, 66]] += [0, 300]  # an inner lip far below the face: the regions fall off the frame
    assert cheeks(np.zeros((250, 250, 3), np.uint8), gaping) is None


def test_natural_colour_distance_from_the_skin_box():
    assert colour.colour_distance(10, 20) == 0 and colour.colour_distance(30, 20) == 5
    assert colour.colour_distance(30, 40) == pytest.approx(math.hypot(5, 5)) and colour.colour_distance(2, 1) == 5
    assert colour.colour_distance(-1, 10) == 100 and colour.colour_distance(10, -0.1) == 100
    # 0 is not negative: a and b of 0 are 5 below the box; 0.5 is 4.5 below
    assert colour.colour_distance(0, 20) == 5 and colour.colour_distance(10, 0) == 5
    assert colour.colour_distance(0.5, 20) == 4.5 and colour.colour_distance(10, 0.5) == 4.5
    a, b = colour.lab_ab(np.array([128.0, 128.0, 128.0]))
    assert a == pytest.approx(0, abs=1e-3) and b == pytest.approx(0, abs=1e-3)  # grey is neutral under D50


@pytest.mark.parametrize(
    "bgr,ab",
    [
        ((0, 0, 255), (80.8117, 69.8851)),  # sRGB red, green and blue in CIELAB under D50 (Bradford):
        ((0, 255, 0), (-79.2850, 80.9928)),  # the published values of the sRGB primaries
        ((255, 0, 0), (68.3011, -112.0295)),
        ((255, 255, 255), (0.0, 0.0)),
    ],
)
def test_cielab_of_the_srgb_primaries_under_d50(bgr, ab):
    assert colour.lab_ab(np.array(bgr, float)) == pytest.approx(ab, abs=2e-3)


def test_the_piecewise_curves_meet_at_their_knees():
    """sRGB's decoding curve (linear below 0.04045) and CIELAB's f (linear below (6/29)^3) are
    continuous, with their textbook values at 0, 1 and on each side."""
    knee = 0.04045
    assert colour._srgb_linear(knee) == pytest.approx(colour._srgb_linear(knee + 1e-12), rel=1e-6)
    assert colour._srgb_linear(knee) == pytest.approx(0.0031308, rel=1e-4)
    assert colour._srgb_linear(0.02) == 0.02 / 12.92 and colour._srgb_linear(1.0) == 1.0
    assert colour._srgb_linear(0.5) == pytest.approx(0.21404, rel=1e-4)
    eps = 216 / 24389
    assert colour._cube(eps) == pytest.approx(6 / 29, rel=2e-3)  # OFIQ's k (24289/27) is 0.4 % off 24389/27
    assert colour._cube(eps * (1 + 1e-9)) == pytest.approx(6 / 29, rel=1e-8)
    assert colour._cube(0.0) == pytest.approx(16 / 116) and colour._cube(1.0) == 1.0
    assert colour._cube(0.5) == pytest.approx(0.5 ** (1 / 3))
    assert colour._cube(eps / 2) == pytest.approx((24289 / 27 * eps / 2 + 16) / 116)


def test_both_colour_curves_take_their_linear_part_at_the_knee_itself():
    """sRGB's decoding is linear up to 0.04045 and CIELAB's f (OFIQ's k) up to 216/24389, both ends
    included: the two parts differ there by 2e-9 and 3e-4."""
    assert colour._srgb_linear(0.04045) == 0.04045 / 12.92
    eps = 216 / 24389
    assert colour._cube(eps) == (24289 / 27 * eps + 16) / 116


def test_a_dark_colour_is_measured_on_the_linear_parts_of_both_curves():
    """sRGB (R 60, G 60, B 0): its red and green are above sRGB's knee, and its Z is under CIELAB's,
    so b takes f's linear part; (R 10, G 5, B 2) lies under both knees."""
    a, b = colour.lab_ab(np.array([0.0, 60.0, 60.0]))
    linear = ((60 / 255 + 0.055) / 1.055) ** 2.4
    x, y, z = 0.82113 * linear / 0.964221, 0.93938 * linear, 0.11103 * linear / 0.825211
    fz = (24289 / 27 * z + 16) / 116
    assert z < 216 / 24389 < y
    assert (a, b) == pytest.approx((500 * (x ** (1 / 3) - y ** (1 / 3)), 200 * (y ** (1 / 3) - fz)), rel=1e-4)
    a, b = colour.lab_ab(np.array([2.0, 5.0, 10.0]))
    r, g, bl = 10 / 255 / 12.92, 5 / 255 / 12.92, 2 / 255 / 12.92
    x = (0.43605 * r + 0.38508 * g + 0.14309 * bl) / 0.964221
    y = 0.22249 * r + 0.71689 * g + 0.06062 * bl
    z = (0.01393 * r + 0.09710 * g + 0.71419 * bl) / 0.825211
    k = 24289 / 27 / 116
    assert (a, b) == pytest.approx((500 * k * (x - y), 200 * k * (y - z)), rel=1e-6)


def test_a_grey_face_is_natural_and_a_coloured_one_is_measured():
    skin = (60, 110, 200)  # a warm skin tone, BGR
    assert colour.natural_colour([cheek(skin), cheek(skin)], coloured=False) == 0.0
    a, b = colour.lab_ab(np.array(skin, float))
    assert colour.natural_colour([cheek(skin), cheek(skin)]) == pytest.approx(colour.colour_distance(a, b))
    assert colour.natural_colour([cheek((200, 110, 60)), cheek((200, 110, 60))]) == 100.0  # blue: b < 0
    assert colour.is_coloured(np.full((4, 4, 3), skin, np.uint8)) and not colour.is_coloured(
        np.full((4, 4, 3), 7, np.uint8)
    )
    # one channel apart is enough: blue alone, or red alone, on one pixel
    for odd in ((9, 7, 7), (7, 7, 9)):
        image = np.full((4, 4, 3), 7, np.uint8)
        image[2, 1] = odd
        assert colour.is_coloured(image)
    values = colour.colour_measures([cheek(skin), cheek(skin)], True)
    assert values["natural_colour"] == (
        mapping.SIGMOIDS["natural_colour"](colour.colour_distance(a, b)),
        pytest.approx(colour.colour_distance(a, b)),
    )
    assert colour.colour_measures([cheek(skin), cheek(skin)], False)["natural_colour"] == (100, 0.0)


# -- sharpness ------------------------------------------------------------------------------------------------


def test_sharpness_of_one_pixel_stripes_is_four_and_a_flat_face_has_none():
    face = flat_face(0)
    face.bgr[:, 0::2] = 255  # |Laplacian| = 2 x 255 everywhere, grey-level spread 127.5
    assert sharpness.sharpness(face) == pytest.approx(4.0)
    assert sharpness.sharpness(flat_face(90)) is None
    assert sharpness.sharpness_measure(face) == (sharpness.SHARPNESS(4.0), pytest.approx(4.0))
    assert sharpness.sharpness_measure(flat_face(90)) is None


def test_sharpness_is_the_same_whatever_the_contrast_and_only_inside_the_face():
    faint = flat_face(0)
    faint.bgr[:, 0::2] = 1  # stripes one grey level apart: a standard deviation of 0.5
    assert sharpness.sharpness(faint) == pytest.approx(4.0)
    noisy = flat_face(0)
    noisy.bgr[:, 0::2] = 255
    assert not noisy.mask[:20, :20].any()
    noisy.bgr[:20, :20] = np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)  # outside the face
    assert sharpness.sharpness(noisy) == pytest.approx(4.0)


def test_blur_lowers_sharpness():
    rng = np.random.default_rng(0)
    face = flat_face(0)
    face.bgr[:] = cv2.resize(
        rng.integers(0, 256, (55, 50, 3), dtype=np.uint8), (200, 220), interpolation=cv2.INTER_NEAREST
    )
    values = [
        sharpness.sharpness(
            AlignedFace(cv2.GaussianBlur(face.bgr, (0, 0), s) if s else face.bgr, face.points, face.mask)
        )
        for s in (0, 1, 2, 4)
    ]
    assert values == sorted(values, reverse=True) and values[-1] < values[0] / 3


# -- geometry: points placed by hand --------------------------------------------------------------------------


def hand_points() -> np.ndarray:
    """Eye corners at (80, 100), (100, 100) and (140, 100), (160, 100): eye centres (90, 100) and
    (150, 100), 60 apart; chin (120, 190), 90 below the eye midpoint (120, 100)."""
    points = np.tile([120.0, 150.0], (68, 1))
    points[[36, 39, 42, 45]] = [[80, 100], [100, 100], [140, 100], [160, 100]]
    points[8] = [120, 190]
    points[[37, 41, 38, 40]] = [[87, 97], [87, 103], [93, 96], [93, 104]]  # left eye open 6 and 8
    points[[43, 47, 44, 46]] = [[147, 98], [147, 102], [153, 97.5], [153, 102.5]]  # right eye open 4 and 5
    points[[61, 67, 62, 66, 63, 65]] = [[115, 160], [115, 163], [120, 159], [120, 168], [125, 160], [125, 162]]
    return points


def test_crops_margins_and_head_size_of_points_placed_by_hand():
    points = hand_points()
    assert geometry.crops(points, 240, 300) == {
        "leftward_crop": 150 / 60,
        "rightward_crop": (240 - 90) / 60,
        "margin_above": 100 / 90,
        "margin_below": 200 / 90,
    }
    assert geometry.head_size(points, 300) == 90 / 300
    assert geometry.inter_eye_distance(points, 0.0) == 60 and geometry.inter_eye_distance(
        points, 60.0
    ) == pytest.approx(120)
    assert geometry.inter_eye_distance(points, 90.0) is None
    values = geometry.geometry_measures(points, [(0, 0, 100, 100)], 240, 300, 0.0)
    assert values["head_size"] == (mapping.head_size_score(0.3), 0.3)
    assert values["leftward_crop"] == (mapping.SIGMOIDS["leftward_crop"](2.5), 2.5)
    assert values["inter_eye_distance"] == (mapping.SIGMOIDS["inter_eye_distance"](60), 60)
    turned = geometry.geometry_measures(points, [(0, 0, 100, 100)], 240, 300, 60.0)["inter_eye_distance"]
    assert turned[0] == mapping.SIGMOIDS["inter_eye_distance"](turned[1]) and turned[1] == pytest.approx(120)
    # no pose (yaw unknown) or a face seen side on (cos(yaw) = 0): inter-eye distance not assessed
    assert geometry.geometry_measures(points, [], 240, 300, None)["inter_eye_distance"] is None
    assert geometry.geometry_measures(points, [], 240, 300, 90.0)["inter_eye_distance"] is None


def test_crops_and_margins_are_ratios_whatever_the_face_size():
    """A face a hundred times smaller (eye centres 0.6 px apart) has the same crop and margin
    ratios: no distance is too small to measure, only a distance of 0."""
    small = geometry.crops(hand_points() * 0.01, 240, 300)
    assert small["leftward_crop"] == pytest.approx(150 / 60) and small["margin_above"] == pytest.approx(100 / 90)
    assert small["rightward_crop"] == pytest.approx((240 - 0.9) / 0.6)
    assert small["margin_below"] == pytest.approx((300 - 1.0) / 0.9)


def test_crops_and_margins_of_a_distance_of_zero_are_not_assessed():
    points = hand_points()
    points[[36, 39, 42, 45]] = [120, 100]  # both eye centres on one point: eye distance 0
    values = geometry.geometry_measures(points, [(0, 0, 100, 100)], 240, 300, 0.0)
    assert values["leftward_crop"] is None and values["rightward_crop"] is None
    assert values["margin_above"] == (mapping.SIGMOIDS["margin_above"](100 / 90), 100 / 90)  # the chin 90 below
    points[8] = [120, 100]  # the chin on the eye midpoint: eye-to-chin distance 0
    values = geometry.geometry_measures(points, [(0, 0, 100, 100)], 240, 300, 0.0)
    assert values["margin_above"] is None and values["margin_below"] is None


def test_eyes_open_and_mouth_closed_of_points_placed_by_hand():
    points = hand_points()
    assert eyes_mouth.eyes_open(points) == 5 / 90  # the right eye's wider pair, the smaller eye
    assert eyes_mouth.mouth_closed(points) == 9 / 90
    assert eyes_mouth.eyes_mouth_measures(points) == {
        "eyes_open": (mapping.SIGMOIDS["eyes_open"](5 / 90), 5 / 90),
        "mouth_closed": (mapping.SIGMOIDS["mouth_closed"](9 / 90), 9 / 90),
    }
    # a face a hundred times smaller: the same ratios (any eye-to-chin distance above 0 will do)
    assert eyes_mouth.eyes_open(points * 0.01) == pytest.approx(5 / 90)
    assert eyes_mouth.mouth_closed(points * 0.01) == pytest.approx(9 / 90)
    points[8] = [120, 100]  # the chin on the eye midpoint: nothing to divide by, not assessed
    assert eyes_mouth.eyes_mouth_measures(points) == {"eyes_open": None, "mouth_closed": None}


def test_single_face_present_is_the_second_face_over_the_first():
    assert geometry.single_face_ratio([(0, 0, 10, 10)]) == 0.0
    assert geometry.single_face_ratio([(0, 0, 10, 5), (5, 5, 25, 15), (0, 0, 1, 1)]) == 0.25
    assert geometry.single_face_ratio([]) is None
    # a box without area (no width or no height) is no face; neither is a largest box without area
    assert geometry.single_face_ratio([(0, 0, 10, 10), (20, 0, 20, 8)]) == 0.0
    assert geometry.single_face_ratio([(0, 0, 10, 10), (20, 0, 26, 0)]) == 0.0
    assert geometry.single_face_ratio([(5, 5, 5, 5), (7, 7, 7, 9)]) == 0.0
    assert geometry.single_face_ratio([(0, 0, 1, 1), (0, 0, 0.5, 1)]) == 0.5  # areas under 1 px count too
    assert geometry.geometry_measures(hand_points(), [], 240, 300, 0.0)["single_face_present"] is None
    values = geometry.geometry_measures(hand_points(), [(0, 0, 20, 20), (0, 0, 20, 20)], 240, 300, 0.0)
    assert values["single_face_present"] == (0, 1.0)


# -- one face, end to end --------------------------------------------------------------------------------------


def test_the_aligned_window_puts_the_five_points_on_ofiqs_reference():
    points = projected(yaw=5, roll=10, scale=80, centre=(200, 180))
    face = align(np.zeros((400, 400, 3), np.uint8), points)
    in_frame = reference_points(face.points + face.origin)
    assert np.abs(in_frame - FRAME_REFERENCE).max() < 6  # a least-squares fit of a slightly turned face
    assert face.mask.shape == face.bgr.shape[:2] and face.mask.any()


def test_a_flat_grey_frontal_face_end_to_end():
    points = projected(centre=(120, 150))
    image = np.full((300, 240, 3), 128, np.uint8)
    result = measure_face(image, points, [(60, 80, 180, 230)])
    level = srgb_luminance(128) / 255
    assert result.raw["luminance_mean"] == round(level, 6) and result.raw["luminance_variance"] == 0
    assert result.raw["dynamic_range"] == 0 and result.values["dynamic_range"] == 0
    assert result.raw["illumination_uniformity"] == 1 and result.raw["natural_colour"] == 0
    assert result.raw["sharpness"] is None and result.values["sharpness"] is None
    for angle in ("yaw", "pitch", "roll"):
        assert (
            result.raw[f"head_pose_{angle}"] == pytest.approx(0, abs=1e-6)
            and result.values[f"head_pose_{angle}"] == 100
        )
    assert result.raw["single_face_present"] == 0 and result.values["single_face_present"] == 100
    left, right = points[[36, 39]].mean(0), points[[42, 45]].mean(0)
    assert result.raw["leftward_crop"] == pytest.approx(right[0] / np.linalg.norm(right - left), rel=1e-5)
    assert result.below_floor[0] == "dynamic_range" and "sharpness" not in result.below_floor
    cells = result.columns()
    assert list(cells) == list(catalog.MEASURE_COLUMNS) and cells["measures_below_floor"] == ";".join(
        result.below_floor
    )


def test_a_face_beyond_the_photo_reads_black_there():
    points = projected(centre=(20, 150))  # the left half of the face lies beyond the photo's left edge
    result = measure_face(np.full((300, 240, 3), 200, np.uint8), points, [(0, 80, 80, 230)])
    assert result.raw["under_exposure_prevention"] > 0.3  # OFIQ's frame is black outside the photo
    assert result.raw["leftward_crop"] < 1.0 and result.values["leftward_crop"] < 50


def test_bad_landmarks_are_refused_with_their_shape():
    with pytest.raises(ValueError, match=r"68 \(x, y\) landmarks, got an array of shape \(5, 2\)"):
        measure_face(np.zeros((10, 10, 3), np.uint8), np.zeros((5, 2)), [])


def test_landmarks_given_as_integers_or_float32_are_taken_as_float64():
    for dtype in (np.int32, np.float32):
        assert as_points(np.zeros((68, 2), dtype)).dtype == np.float64


# -- the pose fit on noisy points and other models -------------------------------------------------------------


def pose_fit_gradient(points: np.ndarray, model: np.ndarray = FACE_68_3D) -> np.ndarray:
    """The gradient of the fit's mean squared distance over its six unknowns (a rotation
    increment, the scale, the shift), by central differences at the fit's answer."""
    rotation, scale, shift, _ = fit_rotation(points, model)
    centred = model - model.mean(axis=0)

    def cost(change: np.ndarray) -> float:
        turned = rotation @ cv2.Rodrigues(change[:3].reshape(3, 1))[0]
        fitted = (scale + change[3]) * (centred @ turned.T)[:, :2] + shift + change[4:]
        return float(np.mean(np.sum((fitted - points) ** 2, axis=1)))

    return np.array([(cost(step) - cost(-step)) / 2e-6 for step in np.eye(6) * 1e-6])


def test_the_pose_fit_is_the_least_squares_optimum_for_noisy_points():
    """Gauss-Newton's end: no small change of the rotation, scale or shift lowers the mean squared
    distance (its gradient is about 0; the closed-form start's is about 1)."""
    noisy = projected(20, 5, -3) + np.random.default_rng(0).normal(scale=2.0, size=(68, 2))
    assert np.abs(pose_fit_gradient(noisy)).max() < 1e-3
    rotation, scale, shift, rms = fit_rotation(noisy)
    fitted = scale * ((FACE_68_3D - FACE_68_3D.mean(axis=0)) @ rotation.T)[:, :2] + shift
    assert rms == pytest.approx(math.sqrt(np.mean(np.sum((fitted - noisy) ** 2, axis=1))), rel=1e-12)  # per point
    assert rotation @ rotation.T == pytest.approx(np.eye(3), abs=1e-12) and np.linalg.det(rotation) > 0


def test_the_pose_of_another_3d_model_is_fitted_with_its_own_derivatives():
    model = (FACE_68_3D + [0.5, -0.3, 0.2]) * [1.0, 1.3, 0.7]  # another shape, not centred
    truth = rotation_from_angles(25, -10, 5)
    exact = 50 * (model @ truth.T)[:, :2] + [200.0, 180.0]
    rotation, scale, _, rms = fit_rotation(exact, model)
    assert rotation == pytest.approx(truth, abs=1e-6) and scale == pytest.approx(50) and rms < 1e-8
    noisy = exact + np.random.default_rng(2).normal(scale=2.0, size=(68, 2))
    assert np.abs(pose_fit_gradient(noisy, model)).max() < 1e-3
    copy = projected(25, -10, 5) + np.random.default_rng(2).normal(scale=2.0, size=(68, 2))
    assert np.abs(pose_fit_gradient(copy, FACE_68_3D.copy())).max() < 1e-3  # the generic face, given as a copy


def test_the_residual_is_a_share_of_the_face_whatever_its_size():
    noisy = projected(10, 0, 0) + np.random.default_rng(1).normal(scale=1.5, size=(68, 2))
    residuals = [head_pose(noisy * k).residual for k in (1.0, 3.0, 0.005)]  # 0.005: a face under a pixel
    assert residuals == pytest.approx([residuals[0]] * 3, rel=1e-6) and 0.01 < residuals[0] < 0.1


def test_a_yaw_a_rounding_error_past_90_degrees_is_90_not_an_error():
    for sign in (1, -1):
        rotation = np.array([[0.0, 0.0, -sign], [0.0, 1.0, 0.0], [sign * (1 + 2e-16), 0.0, 0.0]])
        yaw, _, _ = euler_angles(rotation)
        assert yaw == pytest.approx(sign * 90.0)


# -- the aligned frame -----------------------------------------------------------------------------------------


def frame_points_of(points: np.ndarray, matrix_616: np.ndarray) -> np.ndarray:
    """Where OFIQ's 616 frame puts the points, on the frame at half its size: pixel centres kept
    ((x + 0.5) / 2 - 0.5)."""
    return ((points @ matrix_616[:, :2].T + matrix_616[:, 2]) + 0.5) / 2 - 0.5


def test_the_half_size_frame_is_ofiqs_frame_with_its_pixel_centres_kept():
    points = projected(yaw=5, roll=10, scale=80, centre=(200, 180))
    face = align(np.zeros((400, 400, 3), np.uint8), points)
    assert face.points + face.origin == pytest.approx(frame_points_of(points, ofiq_matrix(points)), abs=1e-9)
    shifted = ofiq_matrix(points) + [[0, 0, 40], [0, 0, -30]]  # a matrix given is the one used
    face = align(np.zeros((400, 400, 3), np.uint8), points, shifted)
    assert face.points + face.origin == pytest.approx(frame_points_of(points, shifted), abs=1e-9)


def test_the_window_holds_the_rounded_hull_and_a_margin_inside_the_frame():
    points = np.array([[10.4, 20.5], [50.6, 30.2], [30.0, 25.0]])
    assert window(points) == (8, 19, 46, 14)  # x 10..51 and y 21..30 rounded, 2 px around
    assert window(np.array([[1.0, 0.2], [20.0, 307.0]])) == (0, 0, 23, 308)  # clipped to the frame
    assert window(np.array([[400.0, 500.0], [410.0, 520.0]])) == (398, 498, 1, 1)  # beyond it: 1 px


def large_face_photo(content: np.ndarray, eye_distance: float) -> tuple[np.ndarray, np.ndarray]:
    k = eye_distance / 100
    photo = cv2.resize(content, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    return photo, projected(scale=eye_distance, centre=(200 * k, 210 * k))


def test_a_large_face_is_shrunk_before_the_warp_without_moving_it():
    """Eye centres 300 px apart: more than twice the frame's scale, so the photo is shrunk first;
    a linear gradient survives both steps, so every pixel of the window shows the gradient at its
    place in the photo."""
    points = projected(scale=300, centre=(600, 620))
    ys, xs = np.mgrid[0:1240, 0:1200].astype(np.float64)
    photo = np.dstack([xs, ys, 0.5 * xs + 0.25 * ys]).astype(np.float32)
    face = align(photo, points)
    inverse = np.linalg.inv(np.vstack([ofiq_matrix(points), [0, 0, 1]]))
    v, u = np.mgrid[0 : face.bgr.shape[0], 0 : face.bgr.shape[1]]
    on_616 = np.stack([2 * (u + face.origin[0]) + 0.5, 2 * (v + face.origin[1]) + 0.5, np.ones(u.shape)], -1)
    x, y, _ = np.moveaxis(on_616 @ inverse.T, -1, 0)
    assert np.abs(face.bgr - np.dstack([x, y, 0.5 * x + 0.25 * y])).max() < 0.2


def test_fine_texture_of_a_large_face_is_averaged_not_aliased():
    ys, xs = np.mgrid[0:1240, 0:1200]
    checker = np.repeat(((xs + ys) % 2 * 255).astype(np.uint8)[..., None], 3, axis=2)  # one-pixel squares
    face = align(checker, projected(scale=300, centre=(600, 620)))
    inside = face.bgr[face.mask].astype(float)
    assert abs(inside.mean() - 127.5) < 3 and inside.std() < 6  # sampled directly: a std of about 40


def test_the_aligned_face_looks_the_same_whatever_the_photos_resolution():
    """A fine texture (4 px grain at eye centres 100 px apart) photographed at 1, 1.4, 2 and 4 times
    the resolution: shrunk to twice the frame's scale, then warped, it keeps its sharpness to 0.5 %
    (shrinking further blurs it: 14 % less; warping directly from 1.4 times aliases: 2 % more)."""
    texture = cv2.resize(
        np.random.default_rng(3).integers(0, 256, (100, 100, 3), dtype=np.uint8),
        (400, 400),
        interpolation=cv2.INTER_CUBIC,
    )
    values = [sharpness.sharpness(align(*large_face_photo(texture, ied))) for ied in (100, 140, 200, 400)]
    assert values == pytest.approx([values[0]] * 4, rel=0.005)


def test_the_cheeks_are_the_regions_warped_from_the_photo():
    points = projected(scale=40, centre=(125, 125))
    ys, xs = np.mgrid[0:250, 0:250]
    photo = np.dstack([xs, ys, (xs + ys) // 2]).astype(np.uint8)
    for matrix, passed in ((ofiq_matrix(points), False), (ofiq_matrix(points) * 1.1, True)):
        # a matrix given is the one used (here: one that makes the face 10 % larger on the frame)
        rects = cheek_regions(points @ matrix[:, :2].T + matrix[:, 2])
        regions = cheeks(photo, points, matrix if passed else None)
        assert regions is not None
        assert [r.bgr.shape[:2] for r in regions] == [(h, w) for _, _, w, h in rects]
        assert all(np.array_equal(r.bgr, warp(photo, matrix, rect)) for r, rect in zip(regions, rects))


def test_a_cheek_region_one_pixel_wide_is_a_region_and_none_wide_is_not():
    """Eyes drawn together (toward the nose) narrow the regions: int(0.3 x the eye gap) on OFIQ's frame."""
    points = projected(scale=40, centre=(125, 125))
    photo = np.zeros((250, 250, 3), np.uint8)
    by_width = {}
    for pull in np.linspace(0, 1, 401):
        squeezed = points.copy()
        for eye in ([36, 37, 38, 39, 40, 41], [42, 43, 44, 45, 46, 47]):
            squeezed[eye] += pull * (points[27] - points[eye].mean(axis=0))
        matrix = ofiq_matrix(squeezed)
        width = cheek_regions(squeezed @ matrix[:, :2].T + matrix[:, 2])[0][2]
        by_width.setdefault(width, squeezed)
    assert cheeks(photo, by_width[1]) is not None and cheeks(photo, by_width[0]) is None


def test_a_cheek_region_may_end_on_the_frames_last_row_not_past_it():
    points = projected(scale=40, centre=(125, 125))
    matrix = ofiq_matrix(points)
    photo = np.zeros((250, 250, 3), np.uint8)
    bottoms = {}
    for drop in np.arange(0, 200, 0.25):  # the inner lip lowered: the regions go down with it
        gaping = points.copy()
        gaping[[62, 66]] += [0, drop]
        bottom = max(y + h for _, y, _, h in cheek_regions(gaping @ matrix[:, :2].T + matrix[:, 2]))
        bottoms.setdefault(bottom, gaping)
    assert cheeks(photo, bottoms[OFIQ_SIZE]) is not None
    assert cheeks(photo, bottoms[OFIQ_SIZE + 1]) is None
    far = min(b for b in bottoms if b > OFIQ_SIZE + 20)  # the region's top still inside the frame
    assert cheeks(photo, bottoms[far]) is None


@pytest.mark.parametrize("edge", ["left", "top", "right"])
def test_a_cheek_region_may_touch_the_frames_other_edges_not_cross_them(edge):
    """As on the last row: a region on the frame's first column, first row or last column is cut,
    one pixel further out it is not (the face moved on the frame by whole pixels)."""
    points = projected(scale=40, centre=(125, 125))
    photo = np.zeros((250, 250, 3), np.uint8)
    step = {"left": (-1, 0), "top": (0, -1), "right": (1, 0)}[edge]

    def moved_by(pixels: int) -> np.ndarray:
        return ofiq_matrix(points) + [[0, 0, pixels * step[0]], [0, 0, pixels * step[1]]]

    def reach(matrix: np.ndarray) -> int:  # how many pixels the regions reach past that edge
        (lx, ly, _, _), (rx, ry, rw, _) = cheek_regions(points @ matrix[:, :2].T + matrix[:, 2])
        return {"left": -lx, "top": -min(ly, ry), "right": rx + rw - OFIQ_SIZE}[edge]

    touching = -reach(moved_by(0))
    for beyond in (0, 1):
        matrix = moved_by(touching + beyond)
        assert reach(matrix) == beyond
        assert (cheeks(photo, points, matrix) is None) == (beyond == 1)


# -- one face's measures put together ---------------------------------------------------------------------------


def test_the_pixel_measures_read_the_face_region_not_its_window():
    points = projected(centre=(120, 150))
    photo = np.full((300, 240, 3), 255, np.uint8)  # white around the face
    hull = cv2.convexHull(np.floor(points + 0.5).astype(np.int32))
    cv2.fillConvexPoly(photo, hull, (128, 128, 128))
    result = measure_face(photo, points, [(60, 80, 180, 230)])
    assert result.raw["over_exposure_prevention"] < 0.03  # the window's corners, white, are a fifth of it


def test_a_coloured_face_has_its_colour_measured():
    skin = (60, 110, 200)
    result = measure_face(np.full((300, 240, 3), skin, np.uint8), projected(centre=(120, 150)), [(60, 80, 180, 230)])
    a, b = colour.lab_ab(np.array(skin, float))
    assert result.raw["natural_colour"] == pytest.approx(colour.colour_distance(a, b), rel=1e-4)
    assert result.raw["natural_colour"] > 0


def test_floors_given_are_the_ones_used():
    face = (np.full((300, 240, 3), 128, np.uint8), projected(centre=(120, 150)), [(60, 80, 180, 230)])
    assert "dynamic_range" in measure_face(*face).below_floor  # the default floors: 50 each
    assert measure_face(*face, {"luminance_mean": 101}).below_floor == ["luminance_mean"]


def test_raw_values_keep_six_significant_digits_and_no_negative_zero():
    assert compute._raw(1.23456789) == 1.23457 and compute._raw(-0.000123456789) == -0.000123457
    assert math.copysign(1.0, compute._raw(-0.0)) == 1.0 and math.copysign(1.0, compute._raw(-1e-300)) == -1.0


def test_measures_equally_short_of_their_floors_are_named_in_catalog_order():
    values = dict.fromkeys(catalog.MEASURES, 90)
    values.update(head_pose_yaw=30, dynamic_range=30)  # catalog order: yaw before dynamic range
    assert catalog.below_floor(values) == ["head_pose_yaw", "dynamic_range"]

"""Non-square geometry (a swapped height and width must show), contract edges, and faces far larger
than the crop."""

import json

import cv2
import numpy as np
import pytest

from fqe_onnx.align.framing import MODE_ALIGNED, MODE_AS_IS, Framer
from fqe_onnx.contract import (
    KEY_PREPROCESS,
    KEY_SCHEMA,
    SEED_CONTRACT,
    Contract,
    ContractError,
    Geometry,
    Preprocess,
    contract_from_metadata,
    with_overrides,
)
from fqe_onnx.diagnostics import score_warning
from fqe_onnx.preprocess import apply_geometry, prepare_crop

#: A geometry in which no size equals another: resize 200 high x 150 wide, crop 100 high x 80 wide.
TALL = Geometry(resize=(200, 150), crop_size=(100, 80))


def coordinates(height, width) -> np.ndarray:
    """An image whose pixel (i, j) holds (i, j, 0): where a crop came from can be read off it."""
    i, j = np.mgrid[0:height, 0:width]
    return np.dstack([i, j, np.zeros_like(i)]).astype(np.uint8)


def test_the_centre_crop_of_a_non_square_resize():
    assert TALL.crop_box() == (50, 35, 100, 80)
    crop = apply_geometry(coordinates(200, 150), TALL)  # already at the resize size: only cut
    assert crop.shape == (100, 80, 3)
    assert (crop[0, 0, 0], crop[0, 0, 1]) == (50, 35) and (crop[-1, -1, 0], crop[-1, -1, 1]) == (149, 114)


def test_a_non_square_resize_has_height_and_width_in_order():
    image = coordinates(100, 75)  # half the resize size, same aspect
    crop = apply_geometry(image, Geometry(resize=(200, 150), crop_size=(200, 150), interpolation="nearest"))
    assert crop.shape == (200, 150, 3)
    assert crop[-1, 0, 0] == 99 and crop[0, -1, 1] == 74


def test_a_crop_box_that_fits_only_when_transposed_is_refused():
    Geometry(resize=(200, 150), crop_size=(200, 150))
    with pytest.raises(ContractError, match="does not fit"):
        Geometry(resize=(200, 150), crop_size=(150, 200))
    with pytest.raises(ContractError, match="does not fit"):
        Geometry(resize=(200, 150), crop_size=(100, 80), crop_top_left=(0, 71))  # 71 + 80 > 150 wide
    Geometry(resize=(200, 150), crop_size=(100, 80), crop_top_left=(100, 70))


def test_the_template_bounds_check_uses_width_for_x_and_height_for_y():
    def template(x, y):
        return [[10, 10], [20, 10], [15, 20], [12, 30], [18, 30]][:4] + [[x, y]]

    Preprocess(geometry=TALL, template=template(80, 100))  # on the far corner: inside
    with pytest.raises(ContractError, match="outside the 100x80 model input"):
        Preprocess(geometry=TALL, template=template(81, 50))
    with pytest.raises(ContractError, match="outside"):
        Preprocess(geometry=TALL, template=template(40, 101))
    Preprocess(geometry=TALL, template=template(40, 95))  # y beyond the width but within the height


def test_auto_aligns_a_crop_sized_image_that_is_transposed():
    framer = Framer(Preprocess(geometry=TALL), align="auto")
    assert framer.mode_for(np.zeros((100, 80, 3), np.uint8)) == MODE_AS_IS
    assert framer.mode_for(np.zeros((80, 100, 3), np.uint8)) == MODE_ALIGNED
    tensor = prepare_crop(np.zeros((100, 80, 3), np.uint8), framer.preprocess)
    assert tensor.shape == (3, 100, 80)
    with pytest.raises(ValueError, match="crop is 100x80, the model takes 80x100"):
        prepare_crop(np.zeros((80, 100, 3), np.uint8), framer.preprocess)


def test_a_hand_set_calibration_is_marked_as_set_by_hand():
    utility = Contract(calibration_info={"method": "utility", "fmr": 1e-3})
    changed = with_overrides(utility, calibration={"x0": 2.0, "w": 3.0})
    assert changed.calibration_info == {"method": "set by hand", "fields": ["w", "x0"]}
    assert with_overrides(utility).calibration_info == utility.calibration_info  # untouched otherwise
    kept = with_overrides(utility, calibration={"x0": 2.0}, calibration_info={"method": "quantile"})
    assert kept.calibration_info == {"method": "quantile"}
    # the collapse warning then speaks of framing and calibration, not of match probabilities
    top = [100] * 30
    assert "match-probability" in score_warning(top, utility.calibration_info["method"])
    assert "match-probability" not in score_warning(top, changed.calibration_info["method"])


@pytest.mark.parametrize("version", ["0", "2", "true", "1.0", '"1"'])
def test_only_schema_version_1_itself_is_read(version):
    with pytest.raises(ContractError, match="schema version .* is not supported"):
        contract_from_metadata({KEY_SCHEMA: version, KEY_PREPROCESS: "{}"})
    assert contract_from_metadata({KEY_SCHEMA: "1", KEY_PREPROCESS: "{}"})[1]


POINTS = [[38.0, 51.5], [73.5, 51.5], [56.0, 71.5], [41.5, 92.0], [70.5, 92.0]]


@pytest.mark.parametrize(
    "template",
    [
        POINTS,
        np.array(POINTS),
        np.array(POINTS).reshape(-1),
        np.array(POINTS, np.float32),
        [np.array(p) for p in POINTS],
        sum(POINTS, []),
    ],
    ids=["pairs", "array-5x2", "array-flat", "float32", "list-of-arrays", "flat"],
)
def test_template_as_pairs_or_ten_numbers_lists_or_arrays(template):
    contract = with_overrides(SEED_CONTRACT, geometry="aligned112", template=template)
    assert contract.preprocess.template == tuple(tuple(p) for p in POINTS)
    json.dumps(contract.to_json())  # plain floats, writable into the model


# -- on the real models -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aligner():
    from fqe_onnx.align.aligner import FaceAligner

    return FaceAligner(device="cpu")


def test_a_face_far_larger_than_the_crop_gives_the_crop_of_the_photo(aligner):
    """The astronaut scaled up 4x: the warp pre-shrinks it, so the crop (and the embedding) stays
    that of the 1x photo instead of an aliased one (measured: 2.9 grey levels apart with the
    pre-shrink, 4.9 without; cosine 0.994)."""
    from fqe_onnx.demo import astronaut_bgr
    from fqe_onnx.session import EmbeddingModel
    from fqe_onnx.zoo import resolve_model

    photo = astronaut_bgr()
    big = cv2.resize(photo, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    (small_crop,), (big_crop,) = ([f.crop for f in aligner.faces(image)] for image in (photo, big))
    assert np.abs(big_crop.astype(float) - small_crop).mean() < 3.8
    model = EmbeddingModel(resolve_model(None), device="cpu")
    a, b = model.run(np.stack([prepare_crop(c, model.contract.preprocess) for c in (small_crop, big_crop)]))
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.99

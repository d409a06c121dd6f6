"""Every refusal of a malformed contract, with its exact message (what a model author reads)."""

import json

import pytest

from fqe_onnx.contract import (
    KEY_CALIBRATION_INFO,
    KEY_OUTPUT,
    KEY_PREPROCESS,
    KEY_SCHEMA,
    SEED_CONTRACT,
    Calibration,
    Contract,
    ContractError,
    Geometry,
    OutputSpec,
    Preprocess,
    contract_from_metadata,
    with_overrides,
)

FIVE = [[38.0, 51.5], [73.5, 51.5], [56.0, 71.5], [41.5, 92.0], [70.5, 92.0]]
NAMES = "left eye, right eye, nose tip, left mouth corner, right mouth corner"


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Geometry(resize=(192,)), "resize must be a pair of integers (h, w), got (192,)"),
        (lambda: Geometry(resize=5), "resize must be a pair of integers (h, w), got 5"),
        (lambda: Geometry(resize=(192, 0)), "resize must hold positive integers, got (192, 0)"),
        (lambda: Geometry(resize=(192, True)), "resize must hold positive integers, got (192, True)"),
        (lambda: Geometry(resize=(192, 1.5)), "resize must hold positive integers, got (192, 1.5)"),
        (lambda: Geometry(crop_size=(112, -1)), "crop size must hold positive integers, got (112, -1)"),
        (lambda: Geometry(crop_top_left=(1,)), "crop top_left must be a pair of integers (top, left), got (1,)"),
        (lambda: Geometry(crop_top_left=5), "crop top_left must be a pair of integers (top, left), got 5"),
        (
            lambda: Geometry(crop_top_left=(1, True)),
            "crop top_left must be a pair of integers (top, left), got (1, True)",
        ),
        (
            lambda: Geometry(crop_top_left=(1, 2.0)),
            "crop top_left must be a pair of integers (top, left), got (1, 2.0)",
        ),
        (
            lambda: Geometry(interpolation="bicubic"),
            "interpolation must be one of nearest, linear, area, cubic, lanczos, got 'bicubic'",
        ),
        (
            lambda: Geometry(resize=(200, 150), crop_size=(100, 80), crop_top_left=(-1, 0)),
            "crop box (top=-1, left=0, h=100, w=80) does not fit inside the resized image 200x150",
        ),
        (
            lambda: Geometry(resize=(200, 150), crop_size=(100, 80), crop_top_left=(0, -1)),
            "crop box (top=0, left=-1, h=100, w=80) does not fit inside the resized image 200x150",
        ),
        (
            lambda: Geometry(resize=(200, 150), crop_size=(100, 80), crop_top_left=(101, 0)),
            "crop box (top=101, left=0, h=100, w=80) does not fit inside the resized image 200x150",
        ),
        (lambda: Preprocess(channel_order="YUV"), "channel order must be one of BGR, RGB, GRAY, got 'YUV'"),
        (lambda: Preprocess(layout="CHW"), "layout must be one of NCHW, NHWC, got 'CHW'"),
        (lambda: Preprocess(mean=(1, 2)), "mean must be one number or one per channel, got (1, 2)"),
        (lambda: Preprocess(scale="x"), "scale must be one number or one per channel, got 'x'"),
        (lambda: Preprocess(scale=True), "scale must be one number or one per channel, got True"),
        (lambda: Preprocess(mean=("a", 1, 2)), "mean must hold numbers, got ('a', 1, 2)"),
        (lambda: Preprocess(channel_order="GRAY", scale=(1, 2, 3)), "scale has 3 values; a GRAY model takes 1"),
        (lambda: Preprocess(mean=(float("nan"),)), "mean must hold finite numbers, got [nan]"),
        (lambda: Preprocess(scale=(1.0, 0.0, 1.0)), "scale must not be zero"),
        (lambda: Preprocess(template=FIVE[:4]), f"template must list 5 (x, y) points ({NAMES}), got {FIVE[:4]!r}"),
        (lambda: Preprocess(template="abcde"), f"template must list 5 (x, y) points ({NAMES}), got 'abcde'"),
        (
            lambda: Preprocess(template=FIVE[:4] + [[1.0]]),
            "template right mouth corner must be a pair of finite numbers (x, y), got [1.0]",
        ),
        (
            lambda: Preprocess(template=FIVE[:4] + [5]),
            "template right mouth corner must be a pair of finite numbers (x, y), got 5",
        ),
        (
            lambda: Preprocess(template=FIVE[:4] + [[True, 1.0]]),
            "template right mouth corner must be a pair of finite numbers (x, y), got [True, 1.0]",
        ),
        (
            lambda: Preprocess(template=FIVE[:4] + [[float("inf"), 1.0]]),
            "template right mouth corner must be a pair of finite numbers (x, y), got [inf, 1.0]",
        ),
        (
            lambda: Preprocess(template=FIVE[:4] + [[-0.5, 1.0]]),
            "template right mouth corner (-0.5, 1) lies outside the 112x112 model input",
        ),
        (
            lambda: Preprocess(template=FIVE[:4] + [[1.0, -0.5]]),
            "template right mouth corner (1, -0.5) lies outside the 112x112 model input",
        ),
        (lambda: OutputSpec(kind="logits"), "output kind must be one of embedding, norm, got 'logits'"),
        (lambda: OutputSpec(dim=0), "embedding dim must be a positive integer, got 0"),
        (lambda: OutputSpec(dim=True), "embedding dim must be a positive integer, got True"),
        (lambda: OutputSpec(dim=2.0), "embedding dim must be a positive integer, got 2.0"),
        (lambda: Calibration(x0=float("inf")), "calibration x0 must be a finite number, got inf"),
        (lambda: Calibration(h="1"), "calibration h must be a finite number, got '1'"),
        (lambda: Calibration(a=True), "calibration a must be a finite number, got True"),
        (lambda: Calibration(w=0), "calibration w must not be zero"),
        (lambda: Calibration.from_json({"k": 1, "j": 2}), "unknown calibration fields: j, k"),
        (
            lambda: with_overrides(SEED_CONTRACT, geometry="foo"),
            "unknown geometry 'foo'; known: seed, ofiq, aligned112",
        ),
        (lambda: with_overrides(SEED_CONTRACT, calibration={"k": 1, "j": 2}), "unknown calibration fields: j, k"),
        (lambda: Geometry.from_json({"crop": 5}), "preprocess geometry crop must be a JSON object, got 5"),
        (lambda: Preprocess.from_json({"geometry": []}), "preprocess geometry must be a JSON object, got []"),
    ],
)
def test_every_refusal_has_its_message(build, message):
    with pytest.raises(ContractError) as error:
        build()
    assert str(error.value) == message


def metadata(**sections):
    return {KEY_SCHEMA: "1", **{k: json.dumps(v) for k, v in sections.items()}}


@pytest.mark.parametrize(
    "data, message",
    [
        ({KEY_PREPROCESS: "{}"}, f"model carries {KEY_PREPROCESS} but no {KEY_SCHEMA}"),
        (
            {KEY_SCHEMA: "2", KEY_OUTPUT: "{}"},
            "contract schema version 2 is not supported (this fqe-onnx reads 1); upgrade fqe-onnx",
        ),
        (
            {KEY_SCHEMA: "1", KEY_CALIBRATION_INFO: "[1]"},
            f"metadata {KEY_CALIBRATION_INFO} must be a JSON object, got [1]",
        ),
    ],
)
def test_metadata_refusals(data, message):
    with pytest.raises(ContractError) as error:
        contract_from_metadata(data)
    assert str(error.value) == message


def test_round_trips_keep_every_field():
    pre = Preprocess(
        channel_order="RGB",
        geometry=Geometry((200, 150), (100, 80), (3, 4), "area"),
        mean=(1, 2, 3),
        scale=(4, 5, 6),
        layout="NHWC",
        template=[[x * 0.7, y * 0.8] for x, y in FIVE],
    )
    contract = Contract(pre, OutputSpec("embedding", 128), Calibration(90, 1, 2, 3, 4), "src", "MIT", {"method": "x"})
    back, carried = contract_from_metadata(contract.to_metadata())
    assert carried and back == contract
    assert OutputSpec("norm").to_json() == {"kind": "norm"}
    assert OutputSpec("embedding", 7).to_json() == {"kind": "embedding", "dim": 7}
    assert OutputSpec.from_json({"dim": 7}) == OutputSpec("embedding", 7)
    assert OutputSpec.from_json({"kind": "norm"}).kind == "norm"
    assert Preprocess().to_json()["template"] is None and Preprocess.from_json({}).template is None
    with pytest.raises(ValueError):
        Contract(calibration_info={"x": float("nan")}).to_metadata()  # JSON has no NaN


def test_override_details():
    c = with_overrides(SEED_CONTRACT, crop=(1, 2, 100, 90))
    assert c.preprocess.geometry.crop_size == (100, 90) and c.preprocess.geometry.crop_top_left == (1, 2)
    assert with_overrides(SEED_CONTRACT, embedding_dim=64).output.dim == 64
    for field in ("h", "a", "s", "x0", "w"):
        assert getattr(with_overrides(SEED_CONTRACT, calibration={field: 0.5}).calibration, field) == 0.5


def test_one_number_is_one_value_for_every_channel():
    pre = Preprocess(mean=5, scale=2.5)
    assert pre.mean == (5.0,) and pre.scale == (2.5,)

import json

import onnx
import pytest

from fqe_onnx.contract import (
    GEOMETRIES,
    KEY_CALIBRATION,
    KEY_PREPROCESS,
    KEY_SCHEMA,
    SEED_CONTRACT,
    Calibration,
    Contract,
    Geometry,
    OutputSpec,
    Preprocess,
    contract_from_metadata,
    with_overrides,
)
from fqe_onnx.errors import ContractError
from fqe_onnx.modelfile import load_model_proto, proto_contract, save_with_contract
from fqe_onnx.session import EmbeddingModel


def test_default_contract_is_the_seed_pipeline():
    c = SEED_CONTRACT
    assert c.preprocess.channel_order == "BGR"
    assert c.preprocess.geometry.resize == (192, 192)
    assert c.preprocess.geometry.interpolation == "linear"
    assert c.preprocess.geometry.crop_box() == (40, 40, 112, 112)
    assert c.preprocess.mean == (0.0,) and c.preprocess.scale == (255.0,)
    assert c.preprocess.layout == "NCHW"
    assert c.output == OutputSpec("embedding", 512)
    assert c.calibration == Calibration(100, 0, 1, 0, 1)


def test_named_geometries():
    assert GEOMETRIES["seed"].crop_box() == (40, 40, 112, 112)
    # OFIQ: rows 33..145, cols 40..152 of the 192x192 image
    assert GEOMETRIES["ofiq"].crop_box() == (33, 40, 112, 112)
    assert GEOMETRIES["aligned112"].resize == (112, 112)
    assert GEOMETRIES["aligned112"].crop_box() == (0, 0, 112, 112)


def test_no_metadata_means_seed_defaults():
    contract, present = contract_from_metadata({"producer": "x"})
    assert contract == SEED_CONTRACT and present is False


def full_contract() -> Contract:
    return Contract(
        preprocess=Preprocess(
            "RGB", Geometry((128, 120), (112, 100), (5, 7), "area"), (127.0,), (128.0, 127.0, 126.0), "NHWC"
        ),
        output=OutputSpec("norm"),
        calibration=Calibration(h=90, a=0.1, s=0.9, x0=23, w=2.6),
        source="unit test",
        license="MIT",
    )


def test_metadata_round_trip():
    c = full_contract()
    metadata = c.to_metadata()
    assert all(k.startswith("fqe_onnx.") for k in metadata)
    assert json.loads(metadata[KEY_SCHEMA]) == 1
    assert json.loads(metadata[KEY_CALIBRATION]) == {"h": 90.0, "a": 0.1, "s": 0.9, "x0": 23.0, "w": 2.6}
    back, present = contract_from_metadata(metadata)
    assert present and back == c


def test_file_round_trip_read_by_onnxruntime(model_path, tmp_path):
    c = with_overrides(
        SEED_CONTRACT,
        geometry="ofiq",
        channel_order="RGB",
        mean=(127.5,),
        scale=(127.5,),
        calibration={"x0": 23, "w": 2.6},
        source="s",
        license="l",
    )
    out = save_with_contract(load_model_proto(model_path), c, tmp_path / "with.onnx")
    assert proto_contract(onnx.load(str(out))) == (c, True)
    loaded = EmbeddingModel(out, device="cpu")  # read through session.get_modelmeta()
    assert loaded.has_contract and loaded.contract == c


def test_rewriting_replaces_old_keys_and_keeps_foreign_ones(model_path, tmp_path):
    proto = load_model_proto(model_path)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "author", "someone"
    first = save_with_contract(proto, with_overrides(SEED_CONTRACT, calibration={"x0": 1}), tmp_path / "a.onnx")
    second = save_with_contract(load_model_proto(first), SEED_CONTRACT, tmp_path / "b.onnx")
    props = {p.key: p.value for p in onnx.load(str(second)).metadata_props}
    assert props["author"] == "someone"
    assert sum(k == KEY_CALIBRATION for k in props) == 1
    assert contract_from_metadata(props)[0] == SEED_CONTRACT


def test_partial_contract_keeps_seed_defaults_elsewhere():
    contract, present = contract_from_metadata({KEY_SCHEMA: "1", KEY_CALIBRATION: '{"x0": 23, "w": 2.6}'})
    assert present
    assert contract.preprocess == SEED_CONTRACT.preprocess
    assert contract.calibration == Calibration(x0=23, w=2.6)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({KEY_CALIBRATION: "{}"}, "no fqe_onnx.schema_version"),
        ({KEY_SCHEMA: "2"}, "schema version 2 is not supported"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: "{not json"}, "not valid JSON"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: "[1]"}, "must be a JSON object"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: '{"channel_order": "BRG"}'}, "channel order must be one of"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: '{"geometry": {"resize": [100, 100]}}'}, "does not fit"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: '{"scale": [0]}'}, "scale must not be zero"),
        ({KEY_SCHEMA: "1", KEY_PREPROCESS: '{"mean": [1, 2]}'}, "mean must be one number or one per channel"),
        ({KEY_SCHEMA: "1", KEY_CALIBRATION: '{"w": 0}'}, "w must not be zero"),
        ({KEY_SCHEMA: "1", KEY_CALIBRATION: '{"k": 1}'}, "unknown calibration fields: k"),
        ({KEY_SCHEMA: "1", "fqe_onnx.output": '{"kind": "logits"}'}, "output kind must be one of"),
    ],
)
def test_bad_contracts_are_rejected_with_the_reason(metadata, message):
    with pytest.raises(ContractError, match=message):
        contract_from_metadata(metadata)


def test_overrides_compose_geometry_then_fields():
    c = with_overrides(SEED_CONTRACT, geometry="ofiq", crop=(100, 100), interpolation="area")
    assert c.preprocess.geometry == Geometry((192, 192), (100, 100), None, "area")
    c = with_overrides(SEED_CONTRACT, crop=(1, 2, 112, 112), resize=(120, 120))
    assert c.preprocess.geometry.crop_box() == (1, 2, 112, 112)
    c = with_overrides(SEED_CONTRACT, calibration={"x0": 23}, output_kind="norm")
    assert c.calibration == Calibration(x0=23) and c.output.kind == "norm"
    assert with_overrides(SEED_CONTRACT) == SEED_CONTRACT
    with pytest.raises(ContractError, match="unknown geometry 'foo'"):
        with_overrides(SEED_CONTRACT, geometry="foo")
    with pytest.raises(ContractError, match="crop takes"):
        with_overrides(SEED_CONTRACT, crop=(1, 2, 3))
    with pytest.raises(ContractError, match="mean has 3 values; a GRAY model takes 1$"):
        with_overrides(SEED_CONTRACT, channel_order="GRAY", mean=(1, 2, 3))

"""The contract's JSON Schema (fqe_onnx/contract.schema.json) against every zoo model and a bundle."""

from __future__ import annotations

import json

import jsonschema
import pytest

from fqe_onnx import zoo
from fqe_onnx.contract import KEY_PREFIX, SEED_CONTRACT, json_schema
from fqe_onnx.modelfile import load_model_proto


def _parsed(model) -> dict:
    return {p.key: json.loads(p.value) for p in model.metadata_props if p.key.startswith(KEY_PREFIX)}


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_zoo_model_meets_the_schema(default_model, name):
    metadata = _parsed(load_model_proto(zoo.pull(name)))
    assert "fqe_onnx.preprocess" in metadata
    jsonschema.validate(metadata, json_schema())


def test_the_seed_contract_and_a_bundle_meet_it_and_bad_ones_do_not(default_model):
    from fqe_onnx.bundle.api import make_bundle

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    seed = {key: json.loads(text) for key, text in SEED_CONTRACT.to_metadata().items()}
    jsonschema.validate(seed, schema)
    jsonschema.validate(_parsed(make_bundle(default_model, pixels="rgb")), schema)
    for key, bad in (
        ("fqe_onnx.schema_version", 2),
        ("fqe_onnx.preprocess", {"layout": "CHW"}),
        ("fqe_onnx.output", {"kind": "logits"}),
        ("fqe_onnx.calibration", {"w": 0}),
        ("fqe_onnx.preprocess", {"template": [[1, 2]] * 4}),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**seed, key: bad}, schema)

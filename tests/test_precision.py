"""fp16 models and IO binding: the CUDA-side options, checked here on the CPU provider (which runs a
float16 graph through casts, so these tests check the plumbing and the converted model; the GPU's
own float16 arithmetic is checked by benchmarks/cuda_check.py)."""

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from conftest import random_face
from fqe_onnx import Scorer
from fqe_onnx.cli import main
from fqe_onnx.demo import FAMILIES, demo_face
from fqe_onnx.errors import DeviceError, ModelError
from fqe_onnx.precision import to_float16
from fqe_onnx.session import EmbeddingModel


def ladder():
    face = demo_face()
    return [face] + [family.apply(face, level) for family in FAMILIES for level in family.levels]


def spearman(a, b):
    ranks = [np.argsort(np.argsort(x)) for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def test_the_fp16_model_keeps_float32_io_and_the_contract(default_model):
    converted = onnx.load_model_from_string(to_float16(onnx.load(str(default_model))))
    float16 = onnx.TensorProto.FLOAT16
    assert all(
        i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        for i in list(converted.graph.input) + list(converted.graph.output)
    )
    weights = [i for i in converted.graph.initializer if len(i.dims) == 4]
    assert weights and all(i.data_type == float16 for i in weights)
    original = {p.key: p.value for p in onnx.load(str(default_model)).metadata_props}
    assert {p.key: p.value for p in converted.metadata_props} == original


def test_fp16_ranks_the_demo_ladder_as_fp32_does(default_model):
    images = ladder()
    with Scorer(default_model, device="cpu") as full, Scorer(default_model, device="cpu", precision="fp16") as half:
        assert half.model.precision == "fp16" and half.contract == full.contract
        q32 = np.array([r.q for r in full.score_arrays(images)])
        q16 = np.array([r.q for r in half.score_arrays(images)])
    assert spearman(q16, q32) >= 0.999
    assert np.max(np.abs(q16 - q32) / q32) < 0.02  # weights rounded to 11 significant bits
    assert not np.array_equal(q16, q32)  # it really ran the converted model


def test_io_binding_gives_the_same_numbers(default_model, model_path):
    images = [random_face(i) for i in range(6)]
    for model, overrides in ((default_model, {}), (model_path, {"align": "never"})):
        with (
            Scorer(model, device="cpu", **overrides) as plain,
            Scorer(model, device="cpu", io_binding=True, **overrides) as bound,
        ):
            assert bound.model.io_binding
            assert [r.q for r in bound.score_arrays(images)] == [r.q for r in plain.score_arrays(images)]


def test_precision_is_checked_and_fp16_is_not_offered_on_openvino(default_model):
    with pytest.raises(ModelError, match="precision must be one of fp32, fp16"):
        EmbeddingModel(default_model, device="cpu", precision="int8")
    with pytest.raises(DeviceError, match="OpenVINO runs fp32 arrays"):
        EmbeddingModel(default_model, device="openvino", precision="fp16")
    with pytest.raises(DeviceError, match="OpenVINO runs fp32 arrays"):
        EmbeddingModel(default_model, device="openvino", io_binding=True)
    with pytest.raises(ModelError, match="cannot read ONNX model <bytes>"):
        EmbeddingModel(b"not a model", device="cpu", precision="fp16")


def test_score_precision_option_and_resume_keeps_it(tmp_path, default_model):
    from conftest import write_image

    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", random_face(i))
    out = tmp_path / "q.csv"
    args = [
        "score",
        str(tmp_path / "in"),
        "-m",
        str(default_model),
        "--align",
        "never",
        "-o",
        str(out),
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(main, args + ["--precision", "fp16"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 4
    resumed = CliRunner().invoke(main, args + ["--resume"])  # fp32 now: the rows would not be comparable
    assert resumed.exit_code == 2 and "precision" in resumed.stderr

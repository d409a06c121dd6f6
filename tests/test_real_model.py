"""The default zoo model, fetched for real with npm (CI fetches it first; no skipping when absent)."""

import logging
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from fqe_onnx import Scorer
from fqe_onnx.cli import main
from fqe_onnx.demo import FAMILIES, demo_face, run_demo
from fqe_onnx.errors import ModelFetchError
from fqe_onnx.modelfile import load_model_proto, proto_contract
from fqe_onnx.modelprep.graph import check_batch_equivalence
from fqe_onnx import zoo


@pytest.fixture(scope="session")
def raw_feature_model(default_model):
    return zoo.raw_file(zoo.FR_FEATURE)


def test_cached_model_carries_the_contract(default_model):
    contract, present = proto_contract(load_model_proto(default_model))
    assert present
    pre = contract.preprocess
    assert (pre.channel_order, pre.mean, pre.scale, pre.layout) == ("RGB", (127.0,), (128.0,), "NCHW")
    assert pre.geometry.resize == (112, 112) and pre.geometry.crop_box() == (0, 0, 112, 112)
    assert contract.output.kind == "embedding" and contract.output.dim == 512
    assert "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581" in contract.source
    assert contract.license.startswith("MIT")
    assert contract.calibration.w > 0 and contract.calibration.x0 > 0  # fitted, not the seed's 0/1


def test_batch_axis_is_dynamic_and_batches_equal_single_runs(default_model, raw_feature_model):
    assert zoo.sha256_of(raw_feature_model) == zoo.FR_FEATURE.sha256
    # the original (fixed batch 1), one image at a time, against the normalised model on a batch of 7
    assert check_batch_equivalence(str(raw_feature_model), str(default_model), (3, 112, 112), n=7) <= 1e-5
    faces = [np.roll(demo_face(), shift, axis=1) for shift in range(0, 35, 5)]
    with (
        Scorer(default_model, device="cpu", batch_size=1) as one,
        Scorer(default_model, device="cpu", batch_size=7) as many,
    ):
        q_one = [r.q for r in one.score_arrays(faces)]
        q_many = [r.q for r in many.score_arrays(faces)]
    np.testing.assert_allclose(q_many, q_one, rtol=1e-6)
    with Scorer(
        raw_feature_model, device="cpu", channel_order="RGB", mean=(127,), scale=(128,), geometry="aligned112"
    ) as raw:
        np.testing.assert_allclose([r.q for r in raw.score_arrays(faces)], q_one, rtol=1e-5)


def test_denormal_weights_are_flushed_and_the_host_thread_is_left_alone(default_model, raw_feature_model):
    import onnx
    from onnx import numpy_helper

    from fqe_onnx.modelprep.graph import denormal_mask

    def count(path):
        return sum(
            int(denormal_mask(numpy_helper.to_array(i)).sum())
            for i in onnx.load(str(path)).graph.initializer
            if i.data_type == onnx.TensorProto.FLOAT
        )

    assert count(raw_feature_model) == 8938 and count(default_model) == 0
    with Scorer(default_model, device="cpu") as scorer:
        scorer.score_array(demo_face())
    assert np.float32(1e-40) != 0  # no denormals-are-zero leaked into the caller's thread


def test_contract_cli_can_flush_denormals(raw_feature_model, tmp_path):
    out = tmp_path / "flushed.onnx"
    result = CliRunner().invoke(
        main,
        [
            "contract",
            str(raw_feature_model),
            "-o",
            str(out),
            "--flush-denormals",
            "--channel-order",
            "RGB",
            "--mean",
            "127",
            "--scale",
            "128",
            "--geometry",
            "aligned112",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "flushed 8938 denormal weights to zero" in result.stderr


def test_demo_score_falls_with_every_asserted_degradation(default_model):
    result = run_demo(str(default_model), device="cpu")
    assert result.provider == "CPUExecutionProvider"
    assert 2.5 < result.clean_q < 5.0  # measured 3.42 on this model
    asserted = {f.name for f in FAMILIES if f.asserted}
    assert asserted == {"blur", "noise", "downscale", "jpeg", "underexposure", "overexposure"}
    for family in result.families:
        if family.family.name not in asserted:
            continue
        assert len(family.q) >= 6
        rho = spearmanr(range(len(family.q)), family.q)[0]
        assert rho <= -0.8, (family.family.name, family.q)
        assert result.clean_q > family.q[-1], family.family.name


def test_demo_cli_writes_images_and_tables(default_model, tmp_path):
    result = CliRunner().invoke(
        main, ["demo", "--model", str(default_model), "--device", "cpu", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    for family in FAMILIES:
        assert f"{family.name}: {family.parameter}" in result.stdout
        assert len(list((tmp_path / "d" / family.name).glob("*.png"))) == len(family.levels)
    assert (tmp_path / "d" / "clean.png").is_file()


def test_zoo_name_is_pulled_on_first_use_with_a_note(default_model, raw_feature_model, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("FQE_ONNX_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "raw").mkdir(parents=True)
    shutil.copyfile(raw_feature_model, tmp_path / "home" / "raw" / "fr_feature.onnx")  # no second npm run
    with caplog.at_level(logging.WARNING, logger="fqe_onnx.zoo"):
        path = zoo.resolve_model(None)
    assert path == zoo.model_file(zoo.DEFAULT_MODEL) and path.is_file()
    assert path.parent == tmp_path / "home" and path.name.startswith("faceplugin-mobilefacenet-r")
    assert "is not in" in caplog.text and "pulling it" in caplog.text
    assert path.read_bytes() == default_model.read_bytes()  # same build from the same verified file


def test_a_tampered_raw_file_is_refused(raw_feature_model, tmp_path, monkeypatch):
    monkeypatch.setenv("FQE_ONNX_HOME", str(tmp_path / "home"))
    bad = tmp_path / "fr_feature.onnx"
    data = bytearray(raw_feature_model.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFetchError, match="sha256 mismatch .* expected 87aacdfe"):
        zoo.pull(zoo.DEFAULT_MODEL, from_file=bad)
    assert not zoo.model_file(zoo.DEFAULT_MODEL).exists()


def test_pull_from_file_and_missing_npm(raw_feature_model, tmp_path, monkeypatch):
    monkeypatch.setenv("FQE_ONNX_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(zoo.shutil, "which", lambda name: None)
    with pytest.raises(
        ModelFetchError, match="the npm client is needed .* install Node.js with npm .* --from-file fr_feature.onnx"
    ):
        zoo.pull(zoo.DEFAULT_MODEL)
    result = CliRunner().invoke(main, ["models", "pull", zoo.DEFAULT_MODEL, "--from-file", str(raw_feature_model)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(zoo.model_file(zoo.DEFAULT_MODEL))
    listing = CliRunner().invoke(main, ["models", "list"]).stdout
    assert "faceplugin-mobilefacenet (default)  [cached]" in listing


def test_unknown_zoo_name(tmp_path):
    result = CliRunner().invoke(main, ["models", "pull", "nope"])
    assert result.exit_code == 2 and "no zoo model named 'nope'" in result.stderr


def test_prelu_rewrite_gives_the_same_embeddings(raw_feature_model, default_model, tmp_path):
    import onnx

    from fqe_onnx.modelprep.graph import rewrite_prelu

    model = onnx.load(str(raw_feature_model))
    assert rewrite_prelu(model) == 33
    assert not [n for n in model.graph.node if n.op_type == "PRelu"]
    assert not [n for n in onnx.load(str(default_model)).graph.node if n.op_type == "PRelu"]  # the zoo model has it
    rng = np.random.default_rng(3)
    batch = rng.uniform(-1, 1, size=(6, 3, 112, 112)).astype(np.float32)
    from fqe_onnx.session import create_session

    original, _ = create_session(str(raw_feature_model), "cpu")
    rewritten, _ = create_session(model.SerializeToString(), "cpu")
    a = np.concatenate([original.run(None, {"input": batch[i : i + 1]})[0] for i in range(6)])
    b = np.concatenate([rewritten.run(None, {"input": batch[i : i + 1]})[0] for i in range(6)])
    assert np.abs(a - b).max() <= 1e-6
    out = tmp_path / "optimized.onnx"
    result = CliRunner().invoke(
        main,
        [
            "contract",
            str(raw_feature_model),
            "-o",
            str(out),
            "--optimize",
            "--channel-order",
            "RGB",
            "--mean",
            "127",
            "--scale",
            "128",
            "--geometry",
            "aligned112",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "PRelu nodes rewritten: 33" in result.stderr and "denormal weights flushed: 8938" in result.stderr
    assert "check: embeddings equal the unedited model's: max |diff| 0\n" in result.stderr

"""The export side on real weights: the default model's trained MobileFaceNet, back and forth."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import export as export_cli  # noqa: E402  (after the sys.path insert above)
import zoo_checkpoint  # noqa: E402  (after the sys.path insert above)
from fqe_export.exporter import ExportError, export_model  # noqa: E402  (after the sys.path insert above)
from fqe_export.onnx_weights import MappingError, load_folded_onnx  # noqa: E402  (after the sys.path insert above)
from fqe_export.networks import build_architecture  # noqa: E402  (after the sys.path insert above)
from fqe_export.twin import build_twin, ladder_difference, ladder_tensors  # noqa: E402  (after the sys.path insert above)

from fqe_onnx.contract import SEED_CONTRACT  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.modelfile import load_model_proto, proto_contract  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.session import EmbeddingModel  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.zoo import DEFAULT_MODEL, pull  # noqa: E402  (after the sys.path insert above)


@pytest.fixture(scope="module")
def twin():
    return build_twin()


def test_the_twin_equals_the_onnx_file_on_the_demo_ladder(twin):
    network, raw, counts = twin
    assert counts == {"convolutions": 50, "prelus": 33}
    assert ladder_difference(network, raw) <= 1e-5  # measured 9e-7


def test_checkpoint_cli_then_export_gives_the_zoo_models_q(tmp_path):
    checkpoint = tmp_path / "mfn.pth"
    made = CliRunner().invoke(zoo_checkpoint.main, ["-o", str(checkpoint)])
    assert made.exit_code == 0, made.output
    assert "max |diff|" in made.stderr and torch.load(checkpoint, weights_only=True)
    out = tmp_path / "mfn.onnx"
    exported = CliRunner().invoke(
        export_cli.main,
        [
            "--arch",
            "mobilefacenet",
            "--checkpoint",
            str(checkpoint),
            "--preset",
            "arcface",
            "--mean",
            "127",
            "--scale",
            "128",
            "-o",
            str(out),
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert "dynamo exporter, opset 18" in exported.stdout
    contract, _ = proto_contract(load_model_proto(out))
    assert contract.preprocess.mean == (127.0,) and contract.preprocess.scale == (128.0,)
    batch = ladder_tensors()
    ours = EmbeddingModel(out, device="cpu").norms(batch)
    zoo = EmbeddingModel(pull(DEFAULT_MODEL), device="cpu").norms(batch)
    np.testing.assert_allclose(ours, zoo, rtol=1e-5)


def test_a_layout_that_does_not_match_is_refused(twin):
    _, raw, _ = twin
    with pytest.raises(MappingError, match="the ONNX graph has 50 Conv and 33 PRelu nodes; the network has"):
        load_folded_onnx(build_architecture("iresnet18"), raw)


TUPLE_AND_DICT = """
import torch
from torch import nn

class Both(nn.Module):
    def __init__(self, kind):
        super().__init__()
        torch.manual_seed(2)
        self.conv = nn.Conv2d(3, 16, 3, stride=4)
        self.fc = nn.Linear(16, 32)
        self.kind = kind

    def forward(self, x):
        embedding = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1), 1))
        norm = torch.linalg.vector_norm(embedding, dim=1, keepdim=True)
        if self.kind == "dict":
            return {"norm": norm, "embedding": embedding}
        return embedding / norm, norm

def build(kind="tuple"):
    return Both(kind).eval()
"""


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_tuple_and_dict_outputs(tmp_path, monkeypatch, exporter):
    (tmp_path / "both_net.py").write_text(TUPLE_AND_DICT)
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(tmp_path))
    import both_net

    batch = ladder_tensors()[:4]
    for kind, option, value, pick in (
        ("tuple", "--output-index", "0", lambda out: out[0]),
        ("dict", "--output-name", "embedding", lambda out: out["embedding"]),
    ):
        out = tmp_path / f"{kind}.onnx"
        result = CliRunner().invoke(
            export_cli.main,
            [
                "--module",
                "both_net:build",
                "--kwargs",
                f'{{"kind": "{kind}"}}',
                option,
                value,
                "--exporter",
                exporter,
                "-o",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        with torch.no_grad():
            expected = pick(both_net.build(kind)(torch.from_numpy(batch))).numpy()
        got = EmbeddingModel(out, device="cpu", overrides={"embedding_dim": 32}).run(batch)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    unchosen = CliRunner().invoke(export_cli.main, ["--module", "both_net:build", "-o", str(tmp_path / "x.onnx")])
    assert unchosen.exit_code != 0 and "returns 2 outputs: choose the embedding with --output-index" in unchosen.output
    with pytest.raises(ExportError, match="--output-name embedding: the network returned tuple"):
        export_model(both_net.build("tuple"), SEED_CONTRACT, tmp_path / "y.onnx", output_name="embedding")

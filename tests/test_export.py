"""tools/: PyTorch -> ONNX export with the contract, parity, checkpoint loading (needs torch)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import export as export_cli  # noqa: E402  (after the sys.path insert above)
from fqe_export.checkpoints import CheckpointError, load_weights  # noqa: E402  (after the sys.path insert above)
from fqe_export.exporter import OPSETS, export_model  # noqa: E402  (after the sys.path insert above)
from fqe_export.networks import build_architecture  # noqa: E402  (after the sys.path insert above)
from fqe_export.presets import PRESETS, with_template  # noqa: E402  (after the sys.path insert above)

from conftest import random_face, write_image  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.cli import main as fqe_main  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.contract import SEED_CONTRACT  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.modelfile import load_model_proto, opset_versions, proto_contract  # noqa: E402  (after the sys.path insert above)
from fqe_onnx.preprocess import prepare  # noqa: E402  (after the sys.path insert above)


def seeded(name):
    torch.manual_seed(0)
    network = build_architecture(name).eval()
    with torch.no_grad():  # non-trivial BN statistics, so outputs are not near zero
        for module in network.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return network


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    for i in range(5):
        write_image(root / f"id{i % 2}" / f"{i}.png", random_face(i, (150, 130)))
    return root


def cli_scores(model, root, *extra):
    result = CliRunner().invoke(
        fqe_main, ["score", str(root), "-m", str(model), "--device", "cpu", "--align", "never", *extra]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    return {r[0]: float(r[2]) for r in rows}


def torch_q(network, root, contract):
    """The torch network + the same preprocessing, in Python: the reference for the scorer's q."""
    from fqe_onnx.decode import read_image

    out = {}
    for path in sorted(root.rglob("*.png")):
        x = torch.from_numpy(prepare(read_image(path), contract.preprocess)[None])
        with torch.no_grad():
            out[path.relative_to(root).as_posix()] = float(np.linalg.norm(network(x).numpy().astype(np.float64)))
    return out


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("arch, preset", [("iresnet18", "magface"), ("mobilefacenet", "arcface")])
def test_builtin_export_parity_and_scoring_equal_torch(arch, preset, exporter, images, tmp_path):
    network = seeded(arch)
    result = export_model(network, PRESETS[preset], tmp_path / f"{arch}.onnx", exporter=exporter)
    assert result.exporter == exporter
    assert all(p.passed for p in result.parity) and len(result.parity) == 2
    assert all(p.min_cosine > 0.999999 for p in result.parity)
    contract, present = proto_contract(load_model_proto(result.path))
    assert present and contract == result.contract
    assert contract.preprocess == with_template(PRESETS[preset]).preprocess and contract.preprocess.template is not None
    assert contract.calibration == PRESETS[preset].calibration
    assert opset_versions(load_model_proto(result.path))["ai.onnx"] == OPSETS[exporter]
    scored = cli_scores(result.path, images)
    expected = torch_q(network, images, contract)
    assert scored.keys() == expected.keys()
    for key in expected:
        assert scored[key] == pytest.approx(expected[key], rel=1e-5)


def test_fixed_batch_export_scores_like_dynamic(images, tmp_path):
    network = seeded("mobilefacenet")
    dynamic = export_model(network, SEED_CONTRACT, tmp_path / "dyn.onnx")
    fixed = export_model(network, SEED_CONTRACT, tmp_path / "fixed.onnx", fixed_batch=True)
    inspect = CliRunner().invoke(fqe_main, ["inspect", str(fixed.path)]).stdout
    assert (
        "batch: fixed 1" in inspect
        and "['N', 3, 112, 112]" in CliRunner().invoke(fqe_main, ["inspect", str(dynamic.path)]).stdout
    )
    a, b = cli_scores(dynamic.path, images, "--batch-size", "4"), cli_scores(fixed.path, images)
    assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-6) for k in a)


def test_fp16_export_within_its_stated_tolerance(tmp_path):
    result = export_model(seeded("mobilefacenet"), SEED_CONTRACT, tmp_path / "half.onnx", fp16=True)
    assert all(p.passed and p.tolerance.min_cosine == 0.999 for p in result.parity)
    weights = [i for i in load_model_proto(result.path).graph.initializer if i.data_type == 10]  # FLOAT16
    assert weights, "no fp16 weights in the fp16 export"


def state_dict_variants(sd):
    head = {"weight": torch.randn(10, 512)}
    return {
        "bare": dict(sd),
        "dataparallel": {f"module.{k}": v for k, v in sd.items()},
        "nested": {"epoch": 3, "state_dict": dict(sd)},
        "magface": {"state_dict": {**{f"features.module.{k}": v for k, v in sd.items()}, "fc.weight": head["weight"]}},
        "backbone+head": {
            "model": {**{f"backbone.{k}": v for k, v in sd.items()}, "head.kernel": torch.randn(512, 10)}
        },
    }


@pytest.mark.parametrize("style", ["bare", "dataparallel", "nested", "magface", "backbone+head"])
def test_checkpoint_styles_load(style, tmp_path):
    source = seeded("iresnet18")  # has its own 'features' and 'fc' modules: prefixes must not be confused with them
    sd = source.state_dict()
    path = tmp_path / "ckpt.pth"
    torch.save(state_dict_variants(sd)[style], path)
    target = build_architecture("iresnet18")
    report = load_weights(target, path)
    for key, value in target.state_dict().items():
        assert torch.equal(value, sd[key]), key
    assert report.loaded == len(sd)
    if style in ("magface", "backbone+head"):
        assert report.unexpected == (["fc.weight"] if style == "magface" else ["head.kernel"])


def test_missing_weight_is_named(tmp_path):
    sd = seeded("mobilefacenet").state_dict()
    del sd["conv_sep.conv.weight"]
    with pytest.raises(CheckpointError, match="lacks weights the network needs: conv_sep.conv.weight"):
        load_weights(build_architecture("mobilefacenet"), {"state_dict": sd})


CUSTOM = """
import torch
from torch import nn

class Tiny(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, dim)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))

def build(dim=64):
    torch.manual_seed(1)
    return Tiny(dim).eval()
"""


def test_custom_module_factory_exports_and_scores(images, tmp_path, monkeypatch):
    (tmp_path / "custom_net.py").write_text(CUSTOM)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "custom.onnx"
    result = CliRunner().invoke(
        export_cli.main,
        [
            "--module",
            "custom_net:build",
            "--kwargs",
            '{"dim": 96}',
            "-o",
            str(out),
            "--geometry",
            "seed",
            "--calibration",
            "x0=1,w=0.5",
            "--license",
            "test",
        ],
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"sha256 [0-9a-f]{64}", result.stderr)
    assert result.stdout.startswith("### custom.onnx") and "96-D embedding" in result.stdout
    report = json.loads(CliRunner().invoke(fqe_main, ["inspect", str(out), "--json"]).stdout)
    assert report["contract"]["output"] == {"kind": "embedding", "dim": 96}
    assert report["contract"]["calibration"]["x0"] == 1.0 and report["contract"]["license"] == "test"
    assert report["check"] == "ok"
    sys.path.insert(0, str(tmp_path))
    import custom_net

    contract, _ = proto_contract(load_model_proto(out))
    expected = torch_q(custom_net.build(96), images, contract)
    scored = cli_scores(out, images)
    assert all(scored[k] == pytest.approx(expected[k], rel=1e-5) for k in expected)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "iresnet18"], "needs --checkpoint"),
        (["--arch", "iresnet18", "--module", "x:y", "--random-init"], "exactly one of --arch or --module"),
        (["--arch", "iresnet18", "--random-init", "--preset", "nope"], "unknown preset 'nope'"),
        (["--arch", "resnet9", "--random-init"], "unknown architecture 'resnet9'"),
        (["--arch", "mobilefacenet", "--random-init", "--crop", "100,100"], "exports take 3-channel 112x112 inputs"),
    ],
)
def test_export_usage_errors(args, message, tmp_path):
    result = CliRunner().invoke(export_cli.main, args + ["-o", str(tmp_path / "x.onnx")])
    assert result.exit_code != 0 and message in result.output


def test_runtime_package_never_imports_torch():
    offenders = [
        str(p)
        for p in (ROOT / "fqe_onnx").rglob("*.py")
        if re.search(r"^\s*(import torch|from torch)", p.read_text(), re.M)
    ]
    assert offenders == []

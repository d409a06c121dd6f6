"""The OpenVINO backend (the openvino extra; scripts/test.sh installs it, so this always runs there)."""

import numpy as np
from click.testing import CliRunner

from fqe_onnx import Scorer
from fqe_onnx.backends.openvino import openvino_available
from fqe_onnx.cli import main
from fqe_onnx.demo import FAMILIES, demo_face


def ladder():
    face = demo_face()
    return [face] + [family.apply(face, level) for family in FAMILIES for level in family.levels]


def test_the_extra_is_installed_for_the_test_suite():
    assert openvino_available(), "pip install openvino (the openvino extra; scripts/test.sh installs it)"


def test_openvino_agrees_with_the_cpu_provider_on_the_demo_ladder():
    images = ladder()
    with Scorer(device="cpu") as cpu, Scorer(device="openvino") as ov:
        assert ov.provider == "OpenVINO"
        q_cpu = np.array([r.q for r in cpu.score_arrays(images)])
        q_ov = np.array([r.q for r in ov.score_arrays(images)])
        Q_cpu = [r.Q for r in cpu.score_arrays(images)]
        Q_ov = [r.Q for r in ov.score_arrays(images)]
    assert len(q_cpu) == 43
    np.testing.assert_allclose(q_ov, q_cpu, rtol=1e-5)
    assert sum(a != b for a, b in zip(Q_cpu, Q_ov)) <= 1  # a q on a rounding edge may move Q by one


def test_openvino_is_used_when_asked_and_aligns_like_the_cpu_provider(tmp_path):
    from conftest import write_image
    from fqe_onnx.demo import astronaut_bgr

    write_image(tmp_path / "in" / "astro.png", astronaut_bgr())
    result = CliRunner().invoke(main, ["score", str(tmp_path / "in"), "--device", "openvino"])
    assert result.exit_code == 0, result.output
    assert "on OpenVINO" in result.stderr and "mode: aligned 1" in result.stderr
    with Scorer(device="cpu") as cpu:
        (expected,) = cpu.score_paths([tmp_path / "in" / "astro.png"])
    q = float(result.stdout.splitlines()[1].split(",")[2])
    assert abs(q - expected.q) / expected.q < 1e-4
    with Scorer(device="openvino") as ov:  # the detector stays on ONNX Runtime's CPU provider
        assert ov.framer.aligner.detector.provider == "CPUExecutionProvider"
    inspected = CliRunner().invoke(main, ["inspect"])
    assert "OpenVINO" in inspected.stdout.splitlines()[-1]


def test_auto_runs_on_the_cpu_provider_even_with_openvino_installed(tmp_path):
    # measured faster end to end on the zoo models (benchmarks/speed.py), so auto does not pick OpenVINO
    with Scorer() as auto:
        assert auto.provider == "CPUExecutionProvider"

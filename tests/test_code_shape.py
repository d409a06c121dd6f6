"""The code's shape, checked by the tools made for it (the lint extra): the import layers and
circles (import-linter), lint and format (ruff), types (mypy). Their settings are in pyproject.toml.

Each tool runs as CI runs it and its findings are the failure message. A contract that checked
nothing would pass as well, so one test breaks a copy of the package on purpose and asserts that
each contract notices.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ("layers", "cli", "cli-group", "acyclic", "runtime")
#: Where the repository's own Python lives (node_modules and the virtual environment are not ours).
PYTHON_DIRS = ("fqe_onnx", "tests", "tools", "benchmarks", "examples", "scripts")
SUPPRESSION = re.compile(r"#\s*(noqa\b|type:\s*ignore\b)(?P<rest>.*)$")
#: A suppression names its codes, then says why: the codes, then "(why)" for ruff's, "# why" for mypy's
#: (mypy reads nothing else after its codes).
EXPLAINED = re.compile(
    r"^(?:: ?[A-Z]+[0-9]+(?:, ?[A-Z]+[0-9]+)*|\[[a-z-]+(?:, ?[a-z-]+)*\])\s+(?:\(|#)[^a-zA-Z]*[a-zA-Z]"
)


def tool(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool of this interpreter's environment; a missing tool fails (pip install -e '.[lint]')."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def lint_imports(cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return tool(
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache",
        "--no-logo",
        cwd=cwd,
        env=env,
    )


def test_lint_imports_keeps_every_contract():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout, result.stdout


def test_each_import_contract_catches_what_it_forbids(tmp_path):
    """A copy of the package with one breach per contract: every contract reports it."""
    shutil.copytree(ROOT / "fqe_onnx", tmp_path / "fqe_onnx", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    package = tmp_path / "fqe_onnx"
    with open(package / "errors.py", "a", encoding="utf-8") as handle:  # the core reaching up, and to torch
        handle.write("\n\ndef _breach():\n    import torch\n    from .serve import app\n")
    with open(
        package / "cli" / "score.py", "a", encoding="utf-8"
    ) as handle:  # a command importing another, and the group
        handle.write("\n\ndef _breach():\n    from . import main\n    from .calibrate import calibrate\n")
    with open(package / "bundle" / "builder.py", "a", encoding="utf-8") as handle:  # a circle inside a package
        handle.write("\n\ndef _breach():\n    from .assemble import OPSET\n")
    (package / "unplaced.py").write_text('"""A module no layer names."""\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))  # the copy, ahead of the installed package
    result = lint_imports(cwd=tmp_path, env=env)
    assert f"Contracts: 0 kept, {len(CONTRACTS)} broken." in result.stdout, result.stdout + result.stderr
    for expected in (
        "fqe_onnx.errors is not allowed to import fqe_onnx.serve",
        "fqe_onnx.unplaced",  # the layers contract is exhaustive
        "fqe_onnx.cli.score is not allowed to import fqe_onnx.cli.calibrate",
        "fqe_onnx.cli.score -> fqe_onnx.cli (l.",
        "fqe_onnx.errors -> torch",
        "No cycles are allowed in fqe_onnx.bundle.",
    ):
        assert expected in result.stdout, (expected, result.stdout)


def test_ruff_check_finds_nothing():
    result = tool("-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_would_change_nothing():
    result = tool("-m", "ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = tool("-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def python_files() -> list[Path]:
    return sorted(
        p for d in PYTHON_DIRS if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py") if "node_modules" not in p.parts
    )


def test_every_suppression_names_its_codes_and_says_why():
    unexplained = []
    for path in python_files():
        if path == Path(__file__).resolve():  # its examples of unexplained ones are strings
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = SUPPRESSION.search(line)
            if found and not EXPLAINED.match(found["rest"]):
                unexplained.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)


@pytest.mark.parametrize(
    "line, explained",
    [
        ("import x  # noqa: E402  (after the sys.path insert above)", True),
        ("y = f()  # type: ignore[misc]  # rows all have Q", True),
        ("import x  # noqa: E402", False),
        ("import x  # noqa", False),
        ("y = f()  # type: ignore", False),
        ("y = f()  # type: ignore[misc]", False),
    ],
)
def test_the_suppression_rule_itself(line, explained):
    found = SUPPRESSION.search(line)
    assert found is not None
    assert bool(EXPLAINED.match(found["rest"])) is explained


def test_help_imports_none_of_the_heavy_packages():
    """`fqe-onnx --help` stays fast: the commands import NumPy, OpenCV and ONNX only when they run."""
    code = (
        "import sys\nfrom fqe_onnx.cli import main\nmain(['--help'], standalone_mode=False)\n"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnx', 'onnxruntime', 'torch') if m in sys.modules))\n"
    )
    result = tool("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

"""The README documents every command and option (sqlite-utils style): a new flag cannot go unmentioned."""

import sys
from pathlib import Path

import click
import pytest

from fqe_onnx.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: the README and the pages under docs/ (a command documented on its own page counts)
DOCS = "\n".join([README] + [page.read_text() for page in sorted((ROOT / "docs").rglob("*.md"))])


def commands(group, prefix=()):
    for name, command in group.commands.items():
        path = prefix + (name,)
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


ALL = list(commands(main))


@pytest.mark.parametrize("path, command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_command_and_its_options_are_in_the_readme(path, command):
    assert f"fqe-onnx {' '.join(path)}" in DOCS
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in DOCS, f"{' '.join(path)} {opt} is not documented"


def test_export_tool_options_are_in_the_readme():
    sys.path.insert(0, str(ROOT / "tools"))
    import export

    for param in export.main.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in README, f"tools/export.py {opt} is not documented"


def test_models_md_names_every_pinned_file():
    from fqe_onnx.zoo import PINNED_FILES

    text = (ROOT / "models.md").read_text()
    for pinned in PINNED_FILES:
        assert pinned.sha256 in text and pinned.member in text


def test_readme_lists_every_error_kind_and_mode():
    from fqe_onnx.align.framing import ALIGN_MODES, MODES
    from fqe_onnx.errors import ERROR_KINDS

    for kind in ERROR_KINDS:
        assert f"| `{kind}` |" in README, f"error kind {kind} is not in the README's table"
    for mode in MODES + ALIGN_MODES:
        assert f"`{mode}`" in README, f"mode {mode} is not documented"

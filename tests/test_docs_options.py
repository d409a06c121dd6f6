"""The written docs (sqlite-utils style) mention every command and option, give each option's choices
exactly as --help does, and name the columns as the code does.

The text checked is what people wrote: README.md, models.md and docs/, less the parts cog generates
(the CLI reference is --help itself, so it would document every option by construction); those
parts are checked by tests/test_docs_site.py (`cog --check`).
"""

import re
import sys
from pathlib import Path

import click
import pytest

from fqe_onnx.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "models.md"] + sorted((ROOT / "docs").rglob("*.md"))
GENERATED = re.compile(r"\[\[\[cog.*?\[\[\[end\]\]\]", re.S)
WRITTEN = "\n".join(GENERATED.sub("", page.read_text()) for page in PAGES)
EVERYTHING = "\n".join(page.read_text() for page in PAGES)
# '--format csv|jsonl|parquet', '--device auto|cpu|cuda|cuda:N|openvino' (pipes escaped in tables too)
DOCUMENTED = re.findall(r"(--[a-z][a-z0-9-]*) ([A-Za-z0-9:]+(?:\|[A-Za-z0-9:]+)+)", WRITTEN.replace("\\|", "|"))


def commands(group, prefix=()):
    for name, command in group.commands.items():
        path = prefix + (name,)
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path)


ALL = list(commands(main))


def export_tool():
    sys.path.insert(0, str(ROOT / "tools"))
    import export

    return export.main


def test_the_written_text_leaves_out_the_generated_parts():
    assert "[[[cog" in EVERYTHING and "[[[cog" not in WRITTEN
    assert len(WRITTEN) > 100_000  # the guides and references are there


@pytest.mark.parametrize("path, command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_command_and_its_options_are_in_the_written_docs(path, command):
    assert f"fqe-onnx {' '.join(path)}" in WRITTEN
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in WRITTEN, f"{' '.join(path)} {opt} is not documented"


def test_export_tool_options_are_in_the_written_docs():
    for param in export_tool().params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in WRITTEN, f"tools/export.py {opt} is not documented"


def test_models_md_names_every_pinned_file():
    from fqe_onnx.zoo import PINNED_FILES

    text = (ROOT / "models.md").read_text()
    for pinned in PINNED_FILES:
        assert pinned.sha256 in text and pinned.member in text


def test_the_docs_list_every_error_kind_and_mode():
    from fqe_onnx.align.framing import ALIGN_MODES, MODES
    from fqe_onnx.errors import ERROR_KINDS

    for kind in ERROR_KINDS:
        assert f"| `{kind}` |" in EVERYTHING, f"error kind {kind} is not in the error kinds' table"
    for mode in MODES + ALIGN_MODES:
        assert f"`{mode}`" in WRITTEN, f"mode {mode} is not documented"


def test_every_field_list_in_the_docs_is_the_records_columns():
    from fqe_onnx.records import COLUMNS
    from fqe_onnx.table import ENGINE_NAMES

    text = " ".join(WRITTEN.split())  # line breaks inside sentences do not matter
    lists = re.findall(r"(?:columns|Record\(|CSV's `)\s*(path, identity(?:, [A-Za-z_]+)*)", text)
    assert len(lists) >= 3, lists
    assert all(found == ", ".join(COLUMNS) for found in lists), lists
    engine = ", ".join(ENGINE_NAMES[c] for c in COLUMNS)
    assert text.count(f"`{engine}`") >= 2  # the score guide and the Ray guide name the Parquet columns


def documented(option):
    return {frozenset(choices.split("|")) for name, choices in DOCUMENTED if name == option}


def help_choices(text):
    """'auto, cpu, cuda, cuda:N or openvino.' -> ('auto', 'cpu', 'cuda', 'cuda:N', 'openvino')."""
    listed = text.split(";")[0].rstrip(".")
    return tuple(c.strip() for c in re.split(r",| or ", listed) if c.strip())


def test_every_choice_option_is_documented_with_exactly_its_choices():
    checked = 0
    for path, command in ALL:
        for param in command.params:
            if isinstance(param.type, click.Choice) and param.opts[0].startswith("--"):
                assert frozenset(param.type.choices) in documented(param.opts[0]), (
                    f"{' '.join(path)} {param.opts[0]}: docs {documented(param.opts[0])}, --help {param.type.choices}"
                )
                checked += 1
    assert checked >= 10


def test_every_documented_choice_list_belongs_to_an_option():
    options = {}
    for _, command in ALL + [(("tools/export.py",), export_tool())]:
        for param in command.params:
            if isinstance(param.type, click.Choice):
                options.setdefault(param.opts[0], set()).add(frozenset(param.type.choices))
            elif param.help and ": " in param.help:  # "Built-in architecture: iresnet18, ..., mobilefacenet."
                options.setdefault(param.opts[0], set()).add(frozenset(help_choices(param.help.split(": ", 1)[1])))
            elif param.help:  # "auto, cpu, cuda, cuda:N or openvino."
                options.setdefault(param.opts[0], set()).add(frozenset(help_choices(param.help)))
    for name, choices in DOCUMENTED:
        assert frozenset(choices.split("|")) in options.get(name, set()), f"docs: {name} {choices}"


def test_device_help_lists_the_documented_devices():
    written = documented("--device")
    assert written == {frozenset(("auto", "cpu", "cuda", "cuda:N", "openvino"))}
    for path, command in ALL:
        for param in command.params:
            if param.opts[0] == "--device":
                assert frozenset(help_choices(param.help)) == next(iter(written)), f"{' '.join(path)}: {param.help}"

"""--help and the README agree on the choices of every option (a newcomer reads both)."""

import re
from pathlib import Path

import click

from test_docs import ALL

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text().replace("\\|", "|")
# '--format csv|jsonl|parquet', '--device auto|cpu|cuda|cuda:N|openvino' (pipes escaped in tables too)
DOCUMENTED = re.findall(r"(--[a-z][a-z0-9-]*) ([A-Za-z0-9:]+(?:\|[A-Za-z0-9:]+)+)", README)


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
                assert frozenset(param.type.choices) in documented(param.opts[0]), \
                    f"{' '.join(path)} {param.opts[0]}: README {documented(param.opts[0])}, --help {param.type.choices}"
                checked += 1
    assert checked >= 10


def test_every_documented_choice_list_belongs_to_an_option():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import export

    options = {}
    for _, command in ALL + [(("tools/export.py",), export.main)]:
        for param in command.params:
            if isinstance(param.type, click.Choice):
                options.setdefault(param.opts[0], set()).add(frozenset(param.type.choices))
            elif param.help and ": " in param.help:  # "Built-in architecture: iresnet18, ..., mobilefacenet."
                options.setdefault(param.opts[0], set()).add(frozenset(help_choices(param.help.split(": ", 1)[1])))
            elif param.help:  # "auto, cpu, cuda, cuda:N or openvino."
                options.setdefault(param.opts[0], set()).add(frozenset(help_choices(param.help)))
    for name, choices in DOCUMENTED:
        assert frozenset(choices.split("|")) in options.get(name, set()), f"README: {name} {choices}"


def test_device_help_lists_the_documented_devices():
    readme = documented("--device")
    assert readme == {frozenset(("auto", "cpu", "cuda", "cuda:N", "openvino"))}
    for path, command in ALL:
        for param in command.params:
            if param.opts[0] == "--device":
                assert frozenset(help_choices(param.help)) == next(iter(readme)), f"{' '.join(path)}: {param.help}"

"""What cog writes into the docs: the parts of a page that the code already says.

Run from the repository root (``scripts/docs.sh`` does, and ``tests/test_docs_site.py`` checks):

    cog -I scripts -r README.md docs/reference/*.md     # regenerate
    cog -I scripts --check README.md docs/reference/*.md  # fails when a page is stale

Each function prints Markdown with ``cog.outl``: the command line's ``--help`` texts (from the click
commands themselves), the output columns (``fqe_onnx.records.COLUMNS`` and the Parquet names of
``fqe_onnx.table.ENGINE_NAMES``), the error kinds (``fqe_onnx.errors.ERROR_KINDS``) and the model
zoo (``fqe_onnx.zoo.ZOO``). Where a page adds words to a constant's entries (what a column means,
what to do about an error kind), the page passes them in and the function refuses a set of entries
that differs from the code's, so a new column, kind or model cannot go undocumented.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import click

#: The help texts are formatted for this width, whatever the terminal that runs cog.
HELP_WIDTH = 80


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


def all_commands() -> list[tuple[str, ...]]:
    """Every command path of ``fqe-onnx``, sub-commands of groups included, in sorted order."""
    from fqe_onnx.cli import main

    return [path for path, _ in _commands(main)]


def help_text(path: Sequence[str]) -> str:
    """``fqe-onnx PATH --help`` as a user sees it at a terminal of ``HELP_WIDTH`` columns."""
    from click.testing import CliRunner

    from fqe_onnx.cli import main

    result = CliRunner().invoke(main, [*path, "--help"], prog_name="fqe-onnx", terminal_width=HELP_WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"fqe-onnx {' '.join(path)} --help failed: {result.output}")
    return result.stdout.rstrip() + "\n"


def cli_reference() -> None:
    """A section per command: a heading and its ``--help`` in a text block."""
    import cog  # the module cogapp provides while it runs

    for path in [()] + all_commands():
        cog.outl(f"## `fqe-onnx{''.join(' ' + p for p in path)}`\n")
        cog.outl("```text")
        cog.out(help_text(path))
        cog.outl("```\n")


def _same_keys(what: str, documented: Mapping[str, object], defined: Sequence[str]) -> None:
    missing = [key for key in defined if key not in documented]
    extra = [key for key in documented if key not in defined]
    if missing or extra:
        raise ValueError(
            f"{what}: the page documents {sorted(documented)}; the code defines {list(defined)} "
            f"(undocumented: {missing}, no longer defined: {extra})"
        )


def columns_table(meanings: Mapping[str, str]) -> None:
    """The output columns in ``COLUMNS`` order, with their Parquet names and the page's meanings."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.records import COLUMNS
    from fqe_onnx.table import ENGINE_NAMES

    _same_keys("output columns", meanings, COLUMNS)
    cog.outl("| column | Parquet and Ray name | meaning |")
    cog.outl("| --- | --- | --- |")
    for column in COLUMNS:
        cog.outl(f"| `{column}` | `{ENGINE_NAMES[column]}` | {meanings[column]} |")


def column_list(engine: bool = False) -> None:
    """The columns in one line, as CSV headers or, with ``engine``, by their Parquet names."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.records import COLUMNS
    from fqe_onnx.table import ENGINE_NAMES

    cog.outl("`" + ", ".join(ENGINE_NAMES[c] if engine else c for c in COLUMNS) + "`")


def error_kinds_table(details: Mapping[str, tuple[str, str]]) -> None:
    """The error kinds in ``ERROR_KINDS`` order: what happened and what a curation job does (the
    page's words), and the library's own one-line text."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.errors import ERROR_KINDS

    _same_keys("error kinds", details, list(ERROR_KINDS))
    cog.outl("| `error_kind` | what happened | what a curation job does |")
    cog.outl("| --- | --- | --- |")
    for kind in ERROR_KINDS:
        happened, action = details[kind]
        cog.outl(f"| `{kind}` | {happened} | {action} |")


def error_kinds_texts() -> None:
    """The library's own text for each kind (``fqe_onnx.ERROR_KINDS``), verbatim."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.errors import ERROR_KINDS

    for kind, text in ERROR_KINDS.items():
        cog.outl(f"- `{kind}`: {text}")


def zoo_table() -> None:
    """The zoo: each model's name, what it is, and the pinned file it is made from."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.zoo import DEFAULT_MODEL, ZOO

    cog.outl("| `--model` | what it is | made from (sha256-pinned) |")
    cog.outl("| --- | --- | --- |")
    for name, model in ZOO.items():
        default = " (the default)" if name == DEFAULT_MODEL else ""
        cog.outl(f"| `{name}`{default} | {model.description} | `{model.raw.member}` of `{model.raw.package}` |")


def pinned_files() -> None:
    """Every file the zoo fetches, with its sha256 (``fqe_onnx.zoo.PINNED_FILES``)."""
    import cog  # the module cogapp provides while it runs

    from fqe_onnx.zoo import PINNED_FILES

    cog.outl("| file | npm package | sha256 |")
    cog.outl("| --- | --- | --- |")
    for pinned in PINNED_FILES:
        cog.outl(f"| `{pinned.member}` | `{pinned.package}` | `{pinned.sha256}` |")

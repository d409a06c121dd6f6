"""The ``fqe-onnx`` command line: a thin layer over the Python API.

Data goes to stdout or ``--output``; progress, warnings and the summary go to stderr.
Exit codes: 0 every image scored, 1 some image failed (its row is still written), 2 usage or model error.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from typing import Any, Callable, Optional

import click

from . import __version__
from .contract import CHANNEL_ORDERS, GEOMETRIES, INTERPOLATIONS, LAYOUTS, OUTPUT_KINDS
from .errors import FqeError


class UsageOrModelError(click.ClickException):
    """A model, device or usage problem: 'Error: ...' and exit status 2."""

    exit_code = 2


def fail(exc: FqeError) -> UsageOrModelError:
    return UsageOrModelError(str(exc))


class NumberList(click.ParamType):
    """Comma-separated numbers, e.g. '192,192' or '127.5'."""

    def __init__(self, kind: type, lengths: tuple[int, ...]) -> None:
        self.kind = kind
        self.lengths = lengths
        self.name = f"{kind.__name__} list"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple:
        if isinstance(value, tuple):
            return value
        try:
            numbers = tuple(self.kind(v) for v in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of {self.kind.__name__}s", param, ctx)
        if len(numbers) not in self.lengths:
            self.fail(f"{value!r} has {len(numbers)} values; expected {' or '.join(map(str, self.lengths))}", param, ctx)
        return numbers


class Assignments(click.ParamType):
    """'x0=23,w=2.6' -> {'x0': 23.0, 'w': 2.6}."""

    name = "key=value list"

    def convert(self, value: Any, param: Any, ctx: Any) -> dict[str, float]:
        if isinstance(value, dict):
            return value
        result = {}
        for item in str(value).split(","):
            key, sep, number = item.partition("=")
            try:
                result[key.strip()] = float(number)
            except ValueError:
                sep = ""
            if not sep:
                self.fail(f"{item!r} is not key=number", param, ctx)
        return result


def contract_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that override a model's contract; the command gets them as ``overrides``."""
    options = [
        click.option("--geometry", type=click.Choice(list(GEOMETRIES)), help="Named resize/crop geometry."),
        click.option("--resize", type=NumberList(int, (2,)), help="Resize to H,W."),
        click.option("--crop", type=NumberList(int, (2, 4)), help="Crop H,W (centred) or TOP,LEFT,H,W."),
        click.option("--interpolation", type=click.Choice(INTERPOLATIONS), help="Resize interpolation."),
        click.option("--channel-order", type=click.Choice(CHANNEL_ORDERS), help="Channel order the model takes."),
        click.option("--mean", type=NumberList(float, (1, 3)), help="Per-channel mean: x = (pixel - mean) / scale."),
        click.option("--scale", type=NumberList(float, (1, 3)), help="Per-channel scale."),
        click.option("--layout", type=click.Choice(LAYOUTS), help="Input tensor layout."),
        click.option("--output-kind", type=click.Choice(OUTPUT_KINDS), help="Model output: embedding or norm."),
        click.option("--embedding-dim", type=click.IntRange(min=1), help="Embedding dimension D."),
        click.option("--calibration", type=Assignments(), help="Mapping fields, e.g. 'x0=23,w=2.6' (h,a,s,x0,w)."),
    ]
    names = ("geometry", "resize", "crop", "interpolation", "channel_order", "mean", "scale", "layout",
             "output_kind", "embedding_dim", "calibration")

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in names}
        overrides = {name: value for name, value in given.items() if value is not None}
        return command(*args, overrides=overrides, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


model_option = click.option(
    "--model", "-m", "model", help="ONNX model file, or a zoo name (default: the default zoo model)."
)
device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fqe-onnx")
def main() -> None:
    """Face image quality from the norm of a face-recognition embedding, on ONNX Runtime."""


@main.command()
@click.argument("root", required=False, type=click.Path(path_type=str))
@model_option
@device_option
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Images per inference call (models with a dynamic batch axis).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Output file (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--from-list", type=click.Path(exists=True, dir_okay=False),
              help="Score the images listed in FILE, one path per line, relative to ROOT (or to FILE's folder).")
@click.option("--workers", type=click.IntRange(min=0), help="Decoding threads (default: up to 4).")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@contract_options
def score(root: Optional[str], model: Optional[str], device: str, batch_size: int, output: Optional[str],
          fmt: str, from_list: Optional[str], workers: Optional[int], progress: bool,
          overrides: dict[str, Any]) -> None:
    """Score every .jpg/.jpeg/.png under ROOT (or the single image ROOT); rows as they are scored."""
    from .output import RecordWriter
    from .scorer import Scorer, collapse_message
    from .sources import find_images, read_list
    from .zoo import resolve_model

    if root is None and from_list is None:
        raise click.UsageError("give ROOT, or --from-list FILE")
    try:
        sources = read_list(from_list, root) if from_list else find_images(root)
        scorer = Scorer(resolve_model(model), device=device, batch_size=batch_size, workers=workers, **overrides)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(f"scoring {len(sources)} images on {scorer.provider}", err=True)
    stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    writer = RecordWriter(stream, fmt)
    scores, errors, started = [], 0, time.perf_counter()
    try:
        bar = click.progressbar(length=len(sources), file=sys.stderr, label="scoring") if progress else None
        with scorer, (bar or contextlib.nullcontext()):
            for record in scorer.score_sources(sources):
                writer.write(record)
                if record.ok:
                    scores.append(record.Q)
                else:
                    errors += 1
                if bar is not None:
                    bar.update(1)
                if (len(scores) + errors) % batch_size == 0:
                    writer.flush()
    except FqeError as exc:
        raise fail(exc) from exc
    finally:
        writer.flush()
        if output:
            stream.close()
    elapsed = time.perf_counter() - started
    total = len(scores) + errors
    click.echo(
        f"{total} images, {errors} errors, {total / elapsed if elapsed > 0 else 0:.1f} images/s, "
        f"{scorer.provider}", err=True)
    message = collapse_message(scores)
    if message:
        click.echo(f"warning: {message}", err=True)
    sys.exit(1 if errors else 0)


@main.command()
@click.argument("model", required=False)
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def inspect(model: Optional[str], device: str, as_json: bool) -> None:
    """Show a model's inputs, outputs, opset, contract and the execution providers available."""
    from .inspection import inspect_model
    from .zoo import resolve_model

    try:
        report = inspect_model(resolve_model(model), device=device)
    except FqeError as exc:
        raise fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"model: {report['model']}")
    for kind in ("inputs", "outputs"):
        click.echo(f"{kind}:")
        for t in report[kind]:
            click.echo(f"  {t['name']}  {t['type']}  {t['shape']}")
    click.echo("opset: " + ", ".join(f"{d} {v}" for d, v in report["opset"].items()))
    click.echo(f"batch: {report['batch']}")
    if report["has_contract"]:
        click.echo("contract:")
        click.echo("  " + json.dumps(report["contract"], indent=2).replace("\n", "\n  "))
    else:
        click.echo("contract: none: seed defaults")
    click.echo(f"check: {report['check']}")
    click.echo("execution providers available: " + ", ".join(report["providers_available"]))


@main.command()
@click.argument("model")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model.")
@click.option("--source", help="Free text: where the model comes from.")
@click.option("--license", "license_", help="Free text: the model's license.")
@contract_options
def contract(model: str, out: str, source: Optional[str], license_: Optional[str], overrides: dict[str, Any]) -> None:
    """Write a contract into a copy of MODEL: its current one (or the seed's) plus the given options."""
    from .contract import with_overrides
    from .modelfile import load_model_proto, proto_contract, save_with_contract
    from .session import EmbeddingModel
    from .zoo import resolve_model

    try:
        proto = load_model_proto(resolve_model(model))
        current, _ = proto_contract(proto)
        updated = with_overrides(current, source=source, license=license_, **overrides)
        path = save_with_contract(proto, updated, out)
        EmbeddingModel(path, device="cpu")  # the written model must load and pass the I/O checks
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(json.dumps(updated.to_json(), indent=2))
    click.echo(f"wrote {path}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

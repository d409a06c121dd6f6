"""``fqe-onnx evaluate``: the EDC evaluation of q (and other qualities) on ROOT/IDENTITY/IMAGE."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Optional

import click

from ..errors import FqeError
from .options import align_option, build_scorers, contract_options, device_option, fail, fr_model_option, model_option


@click.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@model_option
@fr_model_option
@click.option(
    "--quality-csv",
    "quality_csvs",
    multiple=True,
    help="Another quality to evaluate: a CSV with a path column (as score writes it) and, after a colon, "
    "the column to use (default q). Repeatable.",
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default="fqe-evaluation",
    show_default=True,
    help="Folder for summary.json, curves.csv and edc.png.",
)
@click.option(
    "--pairs-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every comparison used: path_a, path_b, mated, similarity, quality_a, quality_b.",
)
@click.option(
    "--mated-cap",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Mated pairs per identity at most (a seeded sample beyond it).",
)
@click.option(
    "--non-mated",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="Non-mated pairs sampled across identities.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair samples and the random quality.")
@click.option(
    "--target-fnmr", type=click.FloatRange(min=0, max=1), help="Print the lowest Q cut whose FNMR is at most this."
)
@click.option(
    "--max-discard",
    type=click.FloatRange(min=0),
    help="Print the cut with the lowest FNMR that drops at most "
    "this many images (below 1: a share of the images, e.g. 0.05).",
)
@device_option
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Images per inference call (default: 4 on CPU, 32 on CUDA)."
)
@align_option
@contract_options
def evaluate(
    root: str,
    model: Optional[str],
    fr_model: Optional[str],
    quality_csvs: tuple,
    out: Path,
    pairs_out: Optional[Path],
    mated_cap: int,
    non_mated: int,
    seed: int,
    target_fnmr: Optional[float],
    max_discard: Optional[float],
    device: str,
    batch_size: int,
    align: str,
    overrides: dict[str, Any],
) -> None:
    """EDC evaluation on ROOT/IDENTITY/IMAGE: how much discarding the lowest-quality images lowers the
    false non-match rate at a fixed threshold (ISO/IEC 29794-1), for q and every other quality given."""
    from ..evaluation.plot import PLOT_HINT
    from ..evaluation.cuts import format_cuts
    from ..evaluation.run import format_evaluation, run_evaluation, write_outputs, write_pairs

    try:
        scorer, fr_scorer = build_scorers(model, fr_model, device, batch_size, align, overrides)
        with scorer, fr_scorer or contextlib.nullcontext():
            evaluation, records, similarity, pairs, qualities = run_evaluation(
                root,
                scorer,
                fr_scorer,
                quality_csvs,
                mated_cap,
                non_mated,
                seed,
                target_fnmr=target_fnmr,
                max_discard=max_discard,
            )
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

"""``fqe-onnx calibrate``: fit the score mapping on a reference set and write it into a copy of the model."""

from __future__ import annotations

import contextlib
from typing import Any, Optional

import click

from ..errors import FqeError
from .options import (
    NumberList,
    align_option,
    build_scorers,
    contract_options,
    device_option,
    fail,
    fr_model_option,
    model_option,
    warn_if_misframed,
)

fmr_option = click.option(
    "--fmr",
    type=click.FloatRange(min=0, min_open=True, max=0.5),
    default=1e-3,
    show_default=True,
    help="Target false match rate that fixes the comparison threshold.",
)


@click.command()
@click.argument("root", type=click.Path(exists=True))
@model_option
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False), help="Calibrated model to write.")
@device_option
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Images per inference call (default: 4 on CPU, 32 on CUDA)."
)
@click.option(
    "--method",
    type=click.Choice(["quantile", "utility"]),
    default="quantile",
    show_default=True,
    help="quantile: spread the reference set over the scale; utility: Q/100 estimates the match probability.",
)
@click.option(
    "--quantiles",
    type=NumberList(float, (2,)),
    default="0.05,0.95",
    show_default=True,
    help="(quantile) Quantiles of the reference q ...",
)
@click.option(
    "--scores",
    type=NumberList(float, (2,)),
    default="10,90",
    show_default=True,
    help="(quantile) ... and the scores they map to.",
)
@fmr_option
@click.option(
    "--references",
    help="(utility) Glob on the path or file name of the reference images (default: each person's other images).",
)
@fr_model_option
@align_option
@contract_options
def calibrate(
    root: str,
    model: Optional[str],
    out: str,
    device: str,
    batch_size: int,
    method: str,
    quantiles: tuple,
    scores: tuple,
    fmr: float,
    references: Optional[str],
    fr_model: Optional[str],
    align: str,
    overrides: dict[str, Any],
) -> None:
    """Fit x0 and w on the images under ROOT and write them into a copy of the model.

    quantile: the given quantiles of q map to the given scores. utility (ROOT/IDENTITY/IMAGE):
    Q/100 estimates the probability that an image, compared with a reference image of the same
    person, is accepted at the FMR's threshold. The copy's contract is the one used for scoring
    ROOT with the new calibration and a record of how it was made."""
    import dataclasses

    from ..calibration import describe_distribution, fit_calibration, score_histogram
    from ..diagnostics import score_warning, tally
    from ..modelfile import load_model_proto, save_with_contract
    from ..quality import norm_to_score
    from ..sources import find_images

    try:
        scorer, fr_scorer = build_scorers(model, fr_model, device, batch_size, align, overrides)
        sources = find_images(root)
        with scorer, fr_scorer or contextlib.nullcontext():
            if method == "utility":
                from ..evaluation.utility import format_reliability, utility_calibration

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
        click.echo(
            f"utility calibration: {info['probes']} probes of {info['identities']} identities, "
            f"{info['comparisons']} comparisons with references, threshold {info['threshold']:.4f} at FMR {fmr:g}"
        )
        click.echo(format_reliability(result.rows, result.ece))
    else:
        click.echo(
            f"reference: {len(q)} images scored, {len(records) - len(q)} errors "
            f"({tally(r.error_kind for r in records)})"
        )
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

"""``fqe-onnx evaluate``: how much discarding low-quality images cuts recognition errors.

ROOT holds one folder per identity. Each image is framed and embedded once by the quality model
(and once more by a separate FR model, if one is given); comparison scores are cosine similarities
of the FR embeddings. Every quality source (the model's q, each ``--quality-csv``, a seeded random
quality, and the variance of the Laplacian on the same model-input crops) gets the same EDC.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from ..errors import FqeError
from ..records import Record
from ..sources import ImageSource, discover
from .cuts import CSV_COLUMNS as CUT_COLUMNS, csv_row, threshold_cuts
from .edc import MIN_FALSE_MATCHES, edc_curve, edc_summary, fmr_supported, threshold_at_fmr
from .pairs import MATED_CAP, NON_MATED, Pairs, comparison_pairs, cosine_similarities

FMRS = (1e-3, 1e-4)
LOWEST = -np.inf  # the quality of an image that failed: discarded first


def laplacian_variance(tensor: np.ndarray, layout: str) -> float:
    """Variance of the Laplacian of the model-input crop, channels averaged: a classic sharpness
    measure. The input is ``(pixel - mean) / scale``, which only scales it by a constant per run."""
    grey = tensor.mean(axis=0 if layout == "NCHW" else 2).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@dataclass
class Embedded:
    """What one pass of a model over the images gave: records, embeddings (None if failed), and the
    Laplacian variance of each model-input crop."""

    records: list[Record] = field(default_factory=list)
    embeddings: list[Optional[np.ndarray]] = field(default_factory=list)
    laplacian: list[float] = field(default_factory=list)


def embed(scorer: Any, sources: Sequence[ImageSource]) -> Embedded:
    out = Embedded()
    layout = scorer.contract.preprocess.layout
    for item in scorer.embed_sources(sources):
        out.records.append(item.record)
        out.embeddings.append(item.embedding)
        out.laplacian.append(laplacian_variance(item.tensor, layout) if item.tensor is not None else LOWEST)
    return out


def read_quality_csv(spec: str, names: Sequence[str]) -> tuple[str, np.ndarray, int]:
    """``FILE`` or ``FILE:COLUMN``: (source name, quality per image, images it has no value for).

    Rows are matched on a ``path`` column (relative to ROOT, as ``fqe-onnx score`` writes it). The
    column defaults to ``q``, else the only numeric column besides the path."""
    path, _, column = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise FqeError(f"cannot read --quality-csv {path}: {exc.strerror or exc}") from exc
    if not rows or "path" not in rows[0]:
        raise FqeError(f"--quality-csv {path} needs a header with a 'path' column")
    if not column:
        numeric = [c for c in rows[0] if c != "path" and _is_number(rows[0][c])]
        column = "q" if "q" in rows[0] else (numeric[0] if len(numeric) == 1 else "")
        if not column:
            raise FqeError(
                f"--quality-csv {path}: name the quality column as {path}:COLUMN (columns: {', '.join(rows[0])})"
            )
    if column not in rows[0]:
        raise FqeError(f"--quality-csv {path} has no column {column!r} (columns: {', '.join(rows[0])})")
    values = {r["path"]: float(r[column]) for r in rows if _is_number(r[column])}
    quality = np.array([values.get(name, LOWEST) for name in names], dtype=np.float64)
    return f"{Path(path).name}:{column}", quality, int(np.sum(~np.isfinite(quality)))


def _is_number(text: Optional[str]) -> bool:
    try:
        return math.isfinite(float(text))  # type: ignore[arg-type]  # None: the TypeError below
    except (TypeError, ValueError):
        return False


@dataclass
class Evaluation:
    summary: dict[str, Any]
    curves: list[tuple[str, str, float, float]]  # (source, fmr, discarded fraction, FNMR)
    cut_rows: list = field(default_factory=list)  # (source, fmr, cuts.Cut): the complete Q-cut tables


def evaluate_qualities(
    qualities: dict[str, np.ndarray], similarity: np.ndarray, pairs: Pairs, fmrs: Sequence[float] = FMRS
) -> Evaluation:
    """EDC summaries and curves of every quality source at every supported FMR."""
    non_mated = similarity[~pairs.mated]
    mated_a, mated_b, mated_sim = pairs.a[pairs.mated], pairs.b[pairs.mated], similarity[pairs.mated]
    by_fmr: dict[str, Any] = {}
    curves = []
    for fmr in fmrs:
        key = f"{fmr:g}"
        if not fmr_supported(len(non_mated), fmr):
            by_fmr[key] = {
                "supported": False,
                "reason": f"{len(non_mated)} non-mated comparisons; FMR {fmr:g} needs "
                f"at least {math.ceil(MIN_FALSE_MATCHES / fmr)}",
            }
            continue
        threshold = threshold_at_fmr(non_mated, fmr)
        sources = {}
        for name, quality in qualities.items():
            curve = edc_curve(np.minimum(quality[mated_a], quality[mated_b]), mated_sim, threshold)
            sources[name] = edc_summary(curve)
            curves += [(name, key, float(d), float(f)) for d, f in zip(curve.discard, curve.fnmr)]
        by_fmr[key] = {
            "supported": True,
            "threshold": threshold,
            "fmr_observed": float(np.mean(non_mated >= threshold)),
            "sources": sources,
        }
    return Evaluation({"fmr": by_fmr}, curves)


def run_evaluation(
    root: str,
    scorer: Any,
    fr_scorer: Any = None,
    quality_csvs: Sequence[str] = (),
    cap: int = MATED_CAP,
    non_mated: int = NON_MATED,
    seed: int = 0,
    fmrs: Sequence[float] = FMRS,
    target_fnmr: Optional[float] = None,
    max_discard: Optional[float] = None,
) -> tuple[Evaluation, list[Record], np.ndarray, Pairs, dict[str, np.ndarray]]:
    """Score and embed ROOT's images once, build the pairs, and evaluate every quality source.

    Returns the evaluation, the quality model's records, the similarities, the pairs and the
    per-image qualities by source."""
    found = discover(root)
    sources = [s for s in found.sources if s.identity]
    if not sources:
        raise FqeError(f"no images in identity folders under {root}: evaluate needs ROOT/IDENTITY/IMAGE")
    quality_pass = embed(scorer, sources)
    fr_pass = embed(fr_scorer, sources) if fr_scorer is not None else quality_pass
    identities = [s.identity for s in sources]
    pairs = comparison_pairs(identities, cap, non_mated, seed)
    similarity = cosine_similarities(fr_pass.embeddings, pairs)
    names = [s.name for s in sources]
    failed = np.array([r.q is None for r in quality_pass.records])
    model_q = np.array([LOWEST if r.q is None else r.q for r in quality_pass.records])
    random_q = np.random.default_rng(seed + 2).random(len(sources))
    random_q[failed] = LOWEST
    qualities = {
        "q": model_q,
        f"random (seed {seed})": random_q,
        "laplacian variance": np.array(quality_pass.laplacian),
    }
    missing = {}
    scales = {"Q": np.array([LOWEST if r.Q is None else r.Q for r in quality_pass.records], dtype=np.float64)}
    for spec in quality_csvs:
        name, values, absent = read_quality_csv(spec, names)
        qualities[name], missing[name], scales[name] = values, absent, values
    evaluation = evaluate_qualities(qualities, similarity, pairs, fmrs)
    cuts, evaluation.cut_rows = threshold_cuts(
        scales, similarity, pairs, evaluation.summary["fmr"], target_fnmr, max_discard
    )
    for key, by_source in cuts.items():
        evaluation.summary["fmr"][key]["cuts"] = by_source
    kinds: dict[str, int] = {}
    for record in quality_pass.records:
        if record.error_kind:
            kinds[record.error_kind] = kinds.get(record.error_kind, 0) + 1
    fr_failed = sum(e is None for e in fr_pass.embeddings)
    evaluation.summary = {
        "root": str(root),
        "images": len(sources),
        "identities": len(set(identities)),
        "failed_images": {
            "count": int(failed.sum()),
            "by_kind": kinds,
            "fr_model_failed": fr_failed,
            "rule": "failed images take the lowest quality and are discarded first; their "
            "comparisons count as non-matches",
        },
        "comparisons": {
            "mated": int(pairs.mated.sum()),
            "non_mated": int((~pairs.mated).sum()),
            "mated_cap_per_identity": cap,
            "non_mated_requested": non_mated,
            "seed": seed,
        },
        "quality_csv_images_without_value": missing,
        "files_left_out": found.skipped_summary(),
        **evaluation.summary,
    }
    return evaluation, quality_pass.records, similarity, pairs, qualities


def write_outputs(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """summary.json, curves.csv, cuts.csv and (with matplotlib) edc.png in ``out_dir``; returns what
    was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "summary.json", out_dir / "curves.csv", out_dir / "cuts.csv"]
    written[0].write_text(json.dumps(evaluation.summary, indent=2) + "\n", encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source", "fmr", "discarded", "fnmr"])
        writer.writerows((s, f, repr(d), repr(v)) for s, f, d, v in evaluation.curves)
    with open(written[2], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CUT_COLUMNS)
        writer.writerows(csv_row(source, fmr, cut) for source, fmr, cut in evaluation.cut_rows)
    from .plot import plot_edc

    png = plot_edc(evaluation, out_dir / "edc.png")
    return written + ([png] if png else [])


def write_pairs(
    path: Path, records: Sequence[Record], similarity: np.ndarray, pairs: Pairs, quality: np.ndarray
) -> None:
    """Every comparison used: path_a, path_b, mated, similarity, quality_a, quality_b (the model's q)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path_a", "path_b", "mated", "similarity", "quality_a", "quality_b"])
        for a, b, mated, sim in zip(pairs.a.tolist(), pairs.b.tolist(), pairs.mated.tolist(), similarity.tolist()):
            writer.writerow(
                [
                    records[a].path,
                    records[b].path,
                    int(mated),
                    repr(sim),
                    repr(float(quality[a])),
                    repr(float(quality[b])),
                ]
            )


def format_evaluation(summary: dict[str, Any]) -> str:
    """A compact text table per supported FMR."""
    c, f = summary["comparisons"], summary["failed_images"]
    lines = [
        f"{summary['images']} images, {summary['identities']} identities, {f['count']} failed "
        f"({', '.join(f'{k} {v}' for k, v in f['by_kind'].items()) or 'none'}); "
        f"{c['mated']} mated and {c['non_mated']} non-mated comparisons"
    ]
    for fmr, result in summary["fmr"].items():
        if not result["supported"]:
            lines.append(f"FMR {fmr}: not evaluated ({result['reason']})")
            continue
        lines.append(f"FMR {fmr}: threshold {result['threshold']:.4f} (observed FMR {result['fmr_observed']:.2g})")
        lines.append(
            f"  {'quality':<24} {'FNMR@0%':>8} {'@5%':>7} {'@10%':>7} {'@20%':>7} {'@30%':>7}"
            f" {'pAUC20 norm':>11} {'pAUC30 norm':>11}"
        )
        for name, s in result["sources"].items():
            fnmr, pauc = s["fnmr"], s["pauc"]
            norm = [pauc[k]["normalised"] for k in ("0.2", "0.3")]
            lines.append(
                f"  {name:<24} "
                + " ".join(f"{fnmr[k]:>{8 if k == '0' else 7}.4f}" for k in fnmr)
                + "".join(f" {'n/a' if v is None else f'{v:.3f}':>11}" for v in norm)
            )
    return "\n".join(lines)

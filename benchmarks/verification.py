"""Shared measures for the LFW benchmarks: embeddings, FNMR at a fixed FMR, and the EDC curve.

Run from the repository root; the data is ../shared/data/lfw-dev (never needed by tests).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from fqe_onnx.decode import read_image
from fqe_onnx.preprocess import prepare
from fqe_onnx.session import EmbeddingModel

#: The development faces: $FQE_LFW_DEV, else ../shared/data/lfw-dev beside the repository.
LFW_DEV = Path(
    os.environ.get("FQE_LFW_DEV") or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw-dev"
)


def lfw_items(root: Path = LFW_DEV) -> list[tuple[Path, str]]:
    """(image path, identity) for every row of the set's labels.csv."""
    if not (root / "labels.csv").is_file():
        raise SystemExit(f"no LFW development set at {root} (labels.csv missing): set FQE_LFW_DEV to its folder")
    with open(root / "labels.csv", newline="") as handle:
        return [(root / row["path"], row["identity"]) for row in csv.DictReader(handle)]


def embed_images(model: EmbeddingModel, images: Iterable[np.ndarray], batch: int = 64) -> np.ndarray:
    """Raw embeddings (N, D) for BGR uint8 images under the model's contract."""
    tensors = [prepare(image, model.contract.preprocess) for image in images]
    return np.concatenate([model.run(np.stack(tensors[i : i + batch])) for i in range(0, len(tensors), batch)])


def load_images(items: list[tuple[Path, str]]) -> list[np.ndarray]:
    return [read_image(path) for path, _ in items]


def pair_scores(embeddings: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cosine similarity of every unordered pair; returns (sims, genuine mask, index i, index j)."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sims = unit @ unit.T
    i, j = np.triu_indices(len(labels), k=1)
    ids = np.asarray(labels)
    return sims[i, j], ids[i] == ids[j], i, j


def threshold_at_fmr(sims: np.ndarray, genuine: np.ndarray, fmr: float) -> float:
    impostor = np.sort(sims[~genuine])
    return float(impostor[int(np.ceil((1 - fmr) * len(impostor))) - 1])


def fnmr_at_fmr(sims: np.ndarray, genuine: np.ndarray, fmr: float = 1e-3) -> tuple[float, float]:
    """(FNMR, threshold) with the threshold set so that the share of impostor pairs above it is fmr."""
    threshold = threshold_at_fmr(sims, genuine, fmr)
    return float(np.mean(sims[genuine] <= threshold)), threshold


def edc_pauc(
    q: np.ndarray,
    sims: np.ndarray,
    genuine: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    fmr: float = 1e-3,
    max_reject: float = 0.2,
    steps: int = 41,
) -> float:
    """Error-versus-discard: reject the lowest-quality fraction of images (a pair's quality is the
    minimum of its two), recompute FNMR at the fixed threshold, and return the area under FNMR over
    discard 0..max_reject, normalised by FNMR(0) * max_reject (1.0 = quality does not help; lower is better)."""
    threshold = threshold_at_fmr(sims, genuine, fmr)
    pair_q = np.minimum(q[i], q[j])[genuine]
    false_non_match = sims[genuine] <= threshold
    order = np.argsort(pair_q)
    fractions = np.linspace(0, max_reject, steps)
    curve = []
    for fraction in fractions:
        kept = order[int(round(fraction * len(order))) :]
        curve.append(false_non_match[kept].mean() if len(kept) else 0.0)
    area = float(np.sum((np.array(curve[1:]) + np.array(curve[:-1])) / 2 * np.diff(fractions)))
    return area / (curve[0] * max_reject) if curve[0] > 0 else float("nan")


def summary(values: Any) -> str:
    v = np.asarray(values, dtype=float)
    p = np.percentile(v, [0, 5, 25, 50, 75, 95, 100])
    return "min {:.2f} p5 {:.2f} p25 {:.2f} median {:.2f} p75 {:.2f} p95 {:.2f} max {:.2f}".format(*p)

"""Proof that the ONNX file computes what torch computes, on the same inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fqe_onnx.session import create_session


@dataclass(frozen=True)
class Tolerance:
    """Limits for one comparison; ``max_abs`` is relative to the largest |torch output|."""

    max_abs: float
    min_cosine: float
    rel_norm: float


#: fp32: the two runtimes differ only in summation order. fp16 weights carry ~3 significant digits.
FP32 = Tolerance(max_abs=1e-4, min_cosine=1 - 1e-6, rel_norm=1e-5)
FP16 = Tolerance(max_abs=5e-2, min_cosine=0.999, rel_norm=1e-2)


@dataclass(frozen=True)
class ParityResult:
    inputs: str
    max_abs: float  # largest |onnx - torch|, absolute
    max_abs_relative: float  # the same over max |torch|
    min_cosine: float  # worst per-sample cosine similarity
    max_rel_norm: float  # worst per-sample | ||onnx|| - ||torch|| | / ||torch||
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        t = self.tolerance
        return (
            self.max_abs_relative <= t.max_abs and self.min_cosine >= t.min_cosine and self.max_rel_norm <= t.rel_norm
        )

    def describe(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        t = self.tolerance
        return (
            f"{self.inputs}: max |diff| {self.max_abs:.3g} ({self.max_abs_relative:.3g} of max |torch|, limit {t.max_abs:g}), "
            f"cosine >= {self.min_cosine:.9f} (limit {t.min_cosine:.9f}), rel. norm diff <= {self.max_rel_norm:.3g} "
            f"(limit {t.rel_norm:g}): {verdict}"
        )


def torch_embeddings(network: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = network(torch.from_numpy(batch))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the network must return one tensor, it returned {type(out).__name__}")
    return out.detach().cpu().numpy().reshape(len(batch), -1).astype(np.float64)


def onnx_embeddings(model: bytes, batch: np.ndarray, fixed_batch: bool) -> np.ndarray:
    session, _ = create_session(model, "cpu")
    name = session.get_inputs()[0].name
    dtype = np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32
    chunks = [batch[i : i + 1] for i in range(len(batch))] if fixed_batch else [batch]
    outs = [session.run(None, {name: c.astype(dtype)})[0] for c in chunks]
    return np.concatenate(outs).reshape(len(batch), -1).astype(np.float64)


def compare(name: str, reference: np.ndarray, candidate: np.ndarray, tolerance: Tolerance) -> ParityResult:
    if reference.shape != candidate.shape:
        raise ValueError(f"{name}: torch output {reference.shape} vs ONNX output {candidate.shape}")
    diff = np.abs(candidate - reference)
    ref_norm = np.linalg.norm(reference, axis=1)
    cand_norm = np.linalg.norm(candidate, axis=1)
    cosine = (reference * candidate).sum(axis=1) / (ref_norm * cand_norm)
    return ParityResult(
        inputs=name,
        max_abs=float(diff.max()),
        max_abs_relative=float(diff.max() / np.abs(reference).max()),
        min_cosine=float(cosine.min()),
        max_rel_norm=float((np.abs(cand_norm - ref_norm) / ref_norm).max()),
        tolerance=tolerance,
    )

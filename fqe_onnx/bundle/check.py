"""``fqe-onnx bundle --check``: the bundle against the Python path (``Scorer``) on a folder's images."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy as np

from .assemble import STATUS_CODES


@dataclass
class Comparison:
    """Per image seen by both paths: the two statuses and q values; files neither can decode are counted."""

    names: list[str] = field(default_factory=list)
    python_status: list[str] = field(default_factory=list)
    bundle_status: list[str] = field(default_factory=list)
    python_q: list[Optional[float]] = field(default_factory=list)
    bundle_q: list[Optional[float]] = field(default_factory=list)
    undecodable: int = 0

    def agreement(self) -> float:
        """The share of images given the same status."""
        same = sum(a == b for a, b in zip(self.python_status, self.bundle_status))
        return same / len(self.names) if self.names else 1.0

    def relative_q(self) -> np.ndarray:
        """|q_bundle - q_python| / q_python where both scored the image."""
        pairs = [(p, b) for p, b in zip(self.python_q, self.bundle_q) if p is not None and b is not None]
        return np.array([abs(b - p) / abs(p) for p, b in pairs]) if pairs else np.zeros(0)

    def disagreeing(self) -> list[str]:
        """Lines naming each image whose status differs."""
        return [
            f"{n}: python {p}, bundle {b}"
            for n, p, b in zip(self.names, self.python_status, self.bundle_status)
            if p != b
        ]


def python_status(record: Any) -> str:
    """The Python path's record as a bundle status word (its mode, or its error kind)."""
    return record.error_kind or record.mode


def compare(paths: Iterable[tuple[str, "os.PathLike[str]"]], bundle: Any, align: str, model: Any = None) -> Comparison:
    """Run both paths on each (name, path); the bundle gets the decoded pixels (no size or flat check
    in the decoder: it makes those itself)."""
    from ..decode import Limits, read_image
    from ..errors import ImageError
    from ..scorer import Scorer
    from .api import BundleSession

    session = BundleSession(bundle)
    result = Comparison()
    raw = Limits(min_side=1, refuse_flat=False)
    with Scorer(model, align=align, threads=1, batch_size=1) as scorer:
        for name, path in paths:
            try:
                bgr = read_image(path, raw)
            except ImageError:
                result.undecodable += 1
                continue
            record = next(scorer.score_paths([path]))
            try:
                out = session.run(bgr)
                status, q = STATUS_CODES[int(out["status"])], float(out["q"])
            except Exception as exc:  # ONNX Runtime's errors have no common base: one image's failure, reported
                status, q = f"model-error ({type(exc).__name__})", float("nan")
            result.names.append(name)
            result.python_status.append(python_status(record))
            result.bundle_status.append(status)
            result.python_q.append(record.q)
            result.bundle_q.append(q if np.isfinite(q) else None)
    return result


def format_comparison(result: Comparison) -> str:
    """The report ``--check`` prints."""
    rel = result.relative_q()
    lines = [
        f"images: {len(result.names)} (not decodable, left out: {result.undecodable})",
        f"status agreement: {result.agreement():.4f} ({len(result.names) - len(result.disagreeing())} of {len(result.names)})",
    ]
    if rel.size:
        lines.append(
            f"relative q difference over {rel.size} images scored by both: median {np.median(rel):.3g}, "
            f"p99 {np.quantile(rel, 0.99):.3g}, max {rel.max():.3g}"
        )
    disagreeing = result.disagreeing()
    lines.append(f"disagreeing images: {len(disagreeing)}")
    lines += ["  " + line for line in disagreeing]
    return "\n".join(lines) + "\n"

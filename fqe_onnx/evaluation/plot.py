"""The EDC plot as a PNG, with matplotlib (the ``plot`` extra); without it, a hint and no plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

PLOT_HINT = "no EDC plot: pip install matplotlib (the plot extra) to get edc.png"


def plot_edc(evaluation: Any, path: Path) -> Optional[Path]:
    """One curve per quality source at the first supported FMR, with its normalised pAUC(0..20%);
    None (and no file) without matplotlib or without a supported FMR."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    supported = [k for k, v in evaluation.summary["fmr"].items() if v["supported"]]
    if not supported:
        return None
    fmr = supported[0]
    result = evaluation.summary["fmr"][fmr]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    top = max(f for s, k, d, f in evaluation.curves if k == fmr and d <= 0.3)
    for name, summary in result["sources"].items():
        points = [(d, f) for s, k, d, f in evaluation.curves if s == name and k == fmr]
        x = [d for d, _ in points]
        y = [f for _, f in points]
        norm = summary["pauc"]["0.2"]["normalised"]
        label = f"{name} (pAUC20 {'n/a' if norm is None else f'{norm:.3f}'})"
        axes.step(x, y, where="post", label=label)
    axes.set_xlim(0, 0.3)
    axes.set_ylim(0, top * 1.15 or 1.0)
    axes.set_xlabel("fraction of comparisons discarded (lowest quality first)")
    axes.set_ylabel("FNMR")
    axes.set_title(f"Error versus discard, threshold at FMR {fmr} ({result['threshold']:.3f})")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path

"""The EDC plot as a PNG, with matplotlib (the ``plot`` extra); without it, a hint and no plot.

Two panels at the first supported FMR: the EDC of every quality source (FNMR against the fraction
of comparisons discarded) and, on a Q axis, the FNMR left after each Q cut with the cuts that
``--target-fnmr`` and ``--max-discard`` chose. Legends sit below the axes, off the curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

PLOT_HINT = "no EDC plot: pip install matplotlib (the plot extra) to get edc.png"


def pauc_label(name: str, normalised: Optional[float]) -> str:
    """A legend entry that says which area it is: 'q (normalised pAUC 0-20%: 0.509)'."""
    return f"{name} (normalised pAUC 0-20%: {'n/a' if normalised is None else f'{normalised:.3f}'})"


def edc_figure(evaluation: Any) -> Any:
    """The matplotlib figure (see the module's docstring), or None without a supported FMR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    supported = [k for k, v in evaluation.summary["fmr"].items() if v["supported"]]
    if not supported:
        return None
    fmr = supported[0]
    result = evaluation.summary["fmr"][fmr]
    cuts = result.get("cuts", {})
    q_sources = [name for name, entry in cuts.items() if entry["integer_scale"]]
    figure, panels = plt.subplots(
        1, 2 if q_sources else 1, figsize=(12 if q_sources else 7, 5.2), dpi=110, squeeze=False, constrained_layout=True
    )
    axes = panels[0][0]
    top = max(f for s, k, d, f in evaluation.curves if k == fmr and d <= 0.3)
    for name, summary in result["sources"].items():
        points = [(d, f) for s, k, d, f in evaluation.curves if s == name and k == fmr]
        axes.step(
            [d for d, _ in points],
            [f for _, f in points],
            where="post",
            label=pauc_label(name, summary["pauc"]["0.2"]["normalised"]),
        )
    axes.set_xlim(0, 0.3)
    axes.set_ylim(0, top * 1.15 or 1.0)
    axes.set_xlabel("fraction of comparisons discarded (lowest quality first)")
    axes.set_ylabel("FNMR")
    axes.set_title(f"Error versus discard at FMR {fmr} (threshold {result['threshold']:.3f})", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    if q_sources:
        _q_panel(panels[0][1], evaluation, fmr, cuts, q_sources)
    return figure


def _q_panel(axes: Any, evaluation: Any, fmr: str, cuts: dict[str, Any], names: list[str]) -> None:
    """FNMR after each cut on a Q axis, the chosen cuts marked."""
    for index, name in enumerate(names):
        rows = [c for s, k, c in evaluation.cut_rows if s == name and k == fmr and c.fnmr is not None]
        (line,) = axes.step(
            [c.cut for c in rows],
            [c.fnmr for c in rows],
            where="post",
            label=f"FNMR, cuts on {name}",
            linestyle="-" if index == 0 else "--",
        )
        for option, marker, text in (("target_fnmr", "v", "--target-fnmr"), ("max_discard", "o", "--max-discard")):
            chosen = cuts[name].get(option, {}).get("cut")
            if chosen and chosen["fnmr"] is not None:
                given = cuts[name][option]["target" if option == "target_fnmr" else "max_discard"]
                axes.plot(
                    [chosen["cut"]],
                    [chosen["fnmr"]],
                    marker=marker,
                    color=line.get_color(),
                    markersize=8,
                    linestyle="none",
                    label=f"{text} {given:g} ({name}): drop Q < {chosen['cut']}, "
                    f"{chosen['images_below']} images ({100 * chosen['images_share']:.1f}%)",
                )
    axes.set_xlim(0, 101)
    axes.set_ylim(bottom=0)
    axes.set_xlabel("Q cut: images with Q below it are dropped")
    axes.set_ylabel("FNMR of the comparisons kept")
    axes.set_title(f"FNMR against the Q cut at FMR {fmr}", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)


def plot_edc(evaluation: Any, path: Path) -> Optional[Path]:
    """Write ``edc_figure`` to ``path``; None (and no file) without matplotlib or a supported FMR."""
    try:
        import matplotlib  # noqa: F401  (only whether it is installed)
    except ImportError:
        return None
    figure = edc_figure(evaluation)
    if figure is None:
        return None
    import matplotlib.pyplot as plt

    figure.savefig(path)
    plt.close(figure)
    return path

"""Small inline SVG charts (no network): a histogram, a scatter plot, step curves, and the small
histograms of the measures.

Every label stays inside the frame: the left margin is sized from the longest y tick label, the
axis title sits left of the ticks, and the legend of the step curves is a list below the x axis,
off the plot area (``rect.plot-area``), so it never covers a curve. Axes run between round values
and are ticked at round steps (1, 2 or 5 times a power of ten: counts 0, 500, 1000, ...; q 2, 2.5, 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import NamedTuple, Optional, Sequence

WIDTH, PLOT_HEIGHT = 560, 200
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
#: Width of one character of the 11 px chart font, generously estimated (sans-serif digits are ~6 px).
CHAR_WIDTH = 7.0
TITLE_ROW, TICK_ROW, LABEL_ROW, LEGEND_ROW = 24, 22, 18, 15


@dataclass(frozen=True)
class Box:
    """The plot area in SVG pixels, and the whole chart's height."""

    left: float
    top: float
    right: float
    bottom: float
    height: float

    def x(self, value: float, low: float, high: float) -> float:
        return self.left + (value - low) / ((high - low) or 1) * (self.right - self.left)

    def y(self, value: float, low: float, high: float) -> float:
        return self.bottom - (value - low) / ((high - low) or 1) * (self.bottom - self.top)


class Axis(NamedTuple):
    """An axis from ``low`` to ``high`` (both round), ticked every ``step`` at ``ticks``."""

    low: float
    high: float
    step: float
    ticks: tuple[float, ...]

    def text(self, value: float) -> str:
        """A tick's label with just the decimals its step needs: '2.5', '1000', '0.05'."""
        decimals = max(0, -math.floor(math.log10(self.step) + 1e-9)) if self.step < 1 else 0
        return f"{value:.{decimals}f}"


def round_step(span: float, count: int = 5, integer: bool = False) -> float:
    """The smallest of 1, 2, 5 x 10^k at least span / count (at least 1 for counts)."""
    raw = span / count if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return max(step, 1.0) if integer else step


def round_axis(low: float, high: float, count: int = 5, integer: bool = False) -> Axis:
    """The axis with round ends around ``low`` .. ``high`` and about ``count`` round steps."""
    if not high > low:
        low, high = (low - 0.5, high + 0.5) if not integer else (low, low + 1)
    step = round_step(high - low, count, integer)
    start, stop = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = tuple(round(i * step, 10) + 0.0 for i in range(start, stop + 1))
    return Axis(ticks[0], ticks[-1], step, ticks)


def layout(y_axis: Axis, legend_rows: int = 0, width: float = WIDTH, plot_height: float = PLOT_HEIGHT) -> Box:
    """Margins that fit the y tick labels and the axis title, and room for the legend below."""
    widest = max(len(y_axis.text(v)) for v in y_axis.ticks)
    left = 6 + 14 + 8 + widest * CHAR_WIDTH + 6  # edge, axis title, gap, tick labels, gap
    top = TITLE_ROW + 8
    bottom = top + plot_height
    height = bottom + TICK_ROW + LABEL_ROW + legend_rows * LEGEND_ROW + 8
    return Box(left, top, width - 16, bottom, height)


def _frame(box: Box, title: str, body: str, x_label: str, y_label: str, legend: str = "", width: float = WIDTH) -> str:
    middle = (box.top + box.bottom) / 2
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{box.height:.0f}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<text x="{width / 2}" y="16" text-anchor="middle" class="title">{escape(title)}</text>'
        f'<rect class="plot-area" x="{box.left:.1f}" y="{box.top:.1f}" width="{box.right - box.left:.1f}" '
        f'height="{box.bottom - box.top:.1f}" fill="none" stroke="none"/>{body}'
        f'<line x1="{box.left:.1f}" y1="{box.bottom:.1f}" x2="{box.right:.1f}" y2="{box.bottom:.1f}" class="axis"/>'
        f'<line x1="{box.left:.1f}" y1="{box.top:.1f}" x2="{box.left:.1f}" y2="{box.bottom:.1f}" class="axis"/>'
        f'<text x="{(box.left + box.right) / 2:.1f}" y="{box.bottom + TICK_ROW + LABEL_ROW - 4:.1f}" '
        f'text-anchor="middle" class="axis-title">{escape(x_label)}</text>'
        f'<text x="16" y="{middle:.1f}" transform="rotate(-90 16 {middle:.1f})" text-anchor="middle" '
        f'class="axis-title">{escape(y_label)}</text>{legend}</svg>'
    )


def _ticks(box: Box, axis: Axis, which: str) -> str:
    out = []
    for value in axis.ticks:
        text = axis.text(value)
        if which == "x":
            out.append(
                f'<text x="{box.x(value, axis.low, axis.high):.1f}" y="{box.bottom + 19:.1f}" '
                f'text-anchor="middle" class="tick">{text}</text>'
            )
        else:
            out.append(
                f'<text x="{box.left - 6:.1f}" y="{box.y(value, axis.low, axis.high) + 4:.1f}" '
                f'text-anchor="end" class="tick">{text}</text>'
            )
    return "".join(out)


#: The 0-100 axis of Q and of the measures: 0, 20, ..., 100.
PERCENT_AXIS = round_axis(0, 100)


def _bars(counts: list[int], box: Box, y_axis: Axis, label: str, band: int) -> str:
    bar = (box.right - box.left) / len(counts)
    return "".join(
        f'<rect x="{box.left + i * bar + 1:.1f}" y="{box.y(c, y_axis.low, y_axis.high):.1f}" width="{bar - 2:.1f}" '
        f'height="{box.bottom - box.y(c, y_axis.low, y_axis.high):.1f}" class="bar" data-band="{band * i}">'
        f"<title>{escape(label)} {band * i}-{band * i + band - 1 if i < len(counts) - 1 else 100}: {c}</title></rect>"
        for i, c in enumerate(counts)
    )


def _band_counts(values: Sequence[float], bands: int) -> list[int]:
    counts = [0] * bands
    width = 100 // bands
    for value in values:
        counts[min(max(int(value), 0) // width, bands - 1)] += 1
    return counts


def histogram(scores: Sequence[int], title: str = "Q histogram") -> str:
    """Counts of Q in bands of 5 (0-4, ..., 95-100)."""
    counts = _band_counts(scores, 20)
    y_axis = round_axis(0, max(counts) or 1, integer=True)
    box = layout(y_axis)
    return _frame(
        box,
        title,
        _bars(counts, box, y_axis, "Q", 5) + _ticks(box, PERCENT_AXIS, "x") + _ticks(box, y_axis, "y"),
        "Q",
        "images",
    )


#: The small histograms of the measures: width and plot height in SVG pixels.
SMALL_WIDTH, SMALL_PLOT_HEIGHT = 280, 80


def small_histogram(values: Sequence[Optional[int]], title: str, floor: Optional[int] = None) -> str:
    """A measure's 0-100 values in bands of 10, with its floor as a dashed line; the faces
    without a value are counted in the title."""
    present = [v for v in values if v is not None]
    counts = _band_counts(present, 10)
    y_axis = round_axis(0, max(counts) or 1, count=2, integer=True)
    box = layout(y_axis, width=SMALL_WIDTH, plot_height=SMALL_PLOT_HEIGHT)
    body = _bars(counts, box, y_axis, title, 10)
    if floor is not None:
        x = box.x(floor, 0, 100)
        body += (
            f'<line x1="{x:.1f}" y1="{box.top:.1f}" x2="{x:.1f}" y2="{box.bottom:.1f}" class="floor" '
            f'stroke="#d62728" stroke-dasharray="3,3"><title>floor {floor}</title></line>'
        )
    missing = len(values) - len(present)
    label = title + (f" ({missing} not assessed)" if missing else "")
    return _frame(
        box,
        label,
        body + _ticks(box, PERCENT_AXIS, "x") + _ticks(box, y_axis, "y"),
        "value",
        "faces",
        width=SMALL_WIDTH,
    )


def scatter(xs: Sequence[float], ys: Sequence[float], title: str, x_label: str, y_label: str) -> str:
    box = layout(PERCENT_AXIS)
    if not xs:
        return _frame(box, title, "", x_label, y_label)
    x_axis = round_axis(min(xs), max(xs))
    dots = "".join(
        f'<circle cx="{box.x(x, x_axis.low, x_axis.high):.1f}" cy="{box.y(y, 0, 100):.1f}" r="1.6" class="dot"/>'
        for x, y in zip(xs, ys)
    )
    return _frame(box, title, dots + _ticks(box, x_axis, "x") + _ticks(box, PERCENT_AXIS, "y"), x_label, y_label)


def step_curves(curves: dict[str, list[tuple[float, float]]], title: str, limit: float = 0.3) -> str:
    """EDC step curves (discarded fraction, FNMR) up to ``limit``, one colour per source, with a
    legend below the axis."""
    visible = [f for points in curves.values() for d, f in points if d <= limit]
    y_axis = round_axis(0, (max(visible) if visible else 1.0) * 1.15 or 1.0)
    x_axis = round_axis(0, limit)
    box = layout(y_axis, legend_rows=len(curves))
    body, legend = [], []
    for index, (name, points) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        path, previous = [], None
        for d, f in points:
            if d > limit:
                break
            x, y = box.x(d, x_axis.low, x_axis.high), box.y(f, y_axis.low, y_axis.high)
            path.append(f"M{x:.1f},{y:.1f}" if previous is None else f"H{x:.1f}V{y:.1f}")
            previous = y
        path.append(f"H{box.x(limit, x_axis.low, x_axis.high):.1f}")
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        row = box.bottom + TICK_ROW + LABEL_ROW + (index + 1) * LEGEND_ROW - 2
        legend.append(
            f'<line x1="{box.left:.1f}" y1="{row - 4:.1f}" x2="{box.left + 18:.1f}" y2="{row - 4:.1f}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{box.left + 24:.1f}" y="{row:.1f}" '
            f'class="legend">{escape(name)}</text>'
        )
    return _frame(
        box,
        title,
        "".join(body) + _ticks(box, x_axis, "x") + _ticks(box, y_axis, "y"),
        "fraction of comparisons discarded",
        "FNMR",
        "".join(legend),
    )

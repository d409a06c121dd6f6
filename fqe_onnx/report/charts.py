"""Small inline SVG charts (no network): a histogram, a scatter plot and step curves.

Every label stays inside the frame: the left margin is sized from the longest y tick label, the
axis title sits left of the ticks, and the legend of the step curves is a list below the x axis,
off the plot area (``rect.plot-area``), so it never covers a curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

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


def tick_values(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / count for i in range(count + 1)]


def tick_text(value: float) -> str:
    return f"{value:.3g}"


def layout(y_low: float, y_high: float, legend_rows: int = 0) -> Box:
    """Margins that fit the y tick labels and the axis title, and room for the legend below."""
    widest = max(len(tick_text(v)) for v in tick_values(y_low, y_high))
    left = 6 + 14 + 8 + widest * CHAR_WIDTH + 6  # edge, axis title, gap, tick labels, gap
    top = TITLE_ROW + 8
    bottom = top + PLOT_HEIGHT
    height = bottom + TICK_ROW + LABEL_ROW + legend_rows * LEGEND_ROW + 8
    return Box(left, top, WIDTH - 16, bottom, height)


def _frame(box: Box, title: str, body: str, x_label: str, y_label: str, legend: str = "") -> str:
    middle = (box.top + box.bottom) / 2
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{box.height:.0f}" '
            f'role="img" aria-label="{escape(title)}">'
            f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" class="title">{escape(title)}</text>'
            f'<rect class="plot-area" x="{box.left:.1f}" y="{box.top:.1f}" width="{box.right - box.left:.1f}" '
            f'height="{box.bottom - box.top:.1f}" fill="none" stroke="none"/>{body}'
            f'<line x1="{box.left:.1f}" y1="{box.bottom:.1f}" x2="{box.right:.1f}" y2="{box.bottom:.1f}" class="axis"/>'
            f'<line x1="{box.left:.1f}" y1="{box.top:.1f}" x2="{box.left:.1f}" y2="{box.bottom:.1f}" class="axis"/>'
            f'<text x="{(box.left + box.right) / 2:.1f}" y="{box.bottom + TICK_ROW + LABEL_ROW - 4:.1f}" '
            f'text-anchor="middle" class="axis-title">{escape(x_label)}</text>'
            f'<text x="16" y="{middle:.1f}" transform="rotate(-90 16 {middle:.1f})" text-anchor="middle" '
            f'class="axis-title">{escape(y_label)}</text>{legend}</svg>')


def _ticks(box: Box, low: float, high: float, axis: str) -> str:
    out = []
    for value in tick_values(low, high):
        text = tick_text(value)
        if axis == "x":
            out.append(f'<text x="{box.x(value, low, high):.1f}" y="{box.bottom + 19:.1f}" text-anchor="middle" '
                       f'class="tick">{text}</text>')
        else:
            out.append(f'<text x="{box.left - 6:.1f}" y="{box.y(value, low, high) + 4:.1f}" text-anchor="end" '
                       f'class="tick">{text}</text>')
    return "".join(out)


def histogram(scores: Sequence[int], title: str = "Q histogram") -> str:
    """Counts of Q in bands of 5 (0-4, ..., 95-100)."""
    counts = [0] * 20
    for value in scores:
        counts[min(int(value) // 5, 19)] += 1
    top = max(counts) or 1
    box = layout(0, top)
    bar = (box.right - box.left) / 20
    bars = "".join(
        f'<rect x="{box.left + i * bar + 1:.1f}" y="{box.y(c, 0, top):.1f}" width="{bar - 2:.1f}" '
        f'height="{box.bottom - box.y(c, 0, top):.1f}" class="bar" data-band="{5 * i}"><title>Q {5 * i}-'
        f'{5 * i + 4 if i < 19 else 100}: {c}</title></rect>' for i, c in enumerate(counts))
    return _frame(box, title, bars + _ticks(box, 0, 100, "x") + _ticks(box, 0, top, "y"), "Q", "images")


def scatter(xs: Sequence[float], ys: Sequence[float], title: str, x_label: str, y_label: str) -> str:
    box = layout(0, 100)
    if not xs:
        return _frame(box, title, "", x_label, y_label)
    low_x, high_x = min(xs), max(xs)
    dots = "".join(f'<circle cx="{box.x(x, low_x, high_x):.1f}" cy="{box.y(y, 0, 100):.1f}" r="1.6" class="dot"/>'
                   for x, y in zip(xs, ys))
    return _frame(box, title, dots + _ticks(box, low_x, high_x, "x") + _ticks(box, 0, 100, "y"), x_label, y_label)


def step_curves(curves: dict[str, list[tuple[float, float]]], title: str, limit: float = 0.3) -> str:
    """EDC step curves (discarded fraction, FNMR) up to ``limit``, one colour per source, with a
    legend below the axis."""
    visible = [f for points in curves.values() for d, f in points if d <= limit]
    top = (max(visible) if visible else 1.0) * 1.15 or 1.0
    box = layout(0, top, legend_rows=len(curves))
    body, legend = [], []
    for index, (name, points) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        path, previous = [], None
        for d, f in points:
            if d > limit:
                break
            x, y = box.x(d, 0, limit), box.y(f, 0, top)
            path.append(f"M{x:.1f},{y:.1f}" if previous is None else f"H{x:.1f}V{y:.1f}")
            previous = y
        path.append(f"H{box.x(limit, 0, limit):.1f}")
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        row = box.bottom + TICK_ROW + LABEL_ROW + (index + 1) * LEGEND_ROW - 2
        legend.append(f'<line x1="{box.left:.1f}" y1="{row - 4:.1f}" x2="{box.left + 18:.1f}" y2="{row - 4:.1f}" '
                      f'stroke="{colour}" stroke-width="2"/><text x="{box.left + 24:.1f}" y="{row:.1f}" '
                      f'class="legend">{escape(name)}</text>')
    return _frame(box, title, "".join(body) + _ticks(box, 0, limit, "x") + _ticks(box, 0, top, "y"),
                  "fraction of comparisons discarded", "FNMR", "".join(legend))

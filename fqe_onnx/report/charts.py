"""Small inline SVG charts (no scripts, no network): a histogram, a scatter plot and step curves."""

from __future__ import annotations

from html import escape
from typing import Sequence

WIDTH, HEIGHT, PAD = 560, 260, 40
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _frame(title: str, body: str, x_label: str, y_label: str) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 30}" '
            f'role="img" aria-label="{escape(title)}">'
            f'<text x="{WIDTH / 2}" y="14" text-anchor="middle" class="title">{escape(title)}</text>'
            f'<g transform="translate(0,20)">{body}'
            f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" class="axis"/>'
            f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>'
            f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" text-anchor="middle">'
            f'{escape(y_label)}</text></g></svg>')


def _x(value: float, low: float, high: float) -> float:
    return PAD + (value - low) / ((high - low) or 1) * (WIDTH - PAD - 10)


def _y(value: float, low: float, high: float) -> float:
    return HEIGHT - PAD - (value - low) / ((high - low) or 1) * (HEIGHT - PAD - 10)


def _ticks(low: float, high: float, axis: str, count: int = 5) -> str:
    out = []
    for i in range(count + 1):
        value = low + (high - low) * i / count
        text = f"{value:.3g}"
        if axis == "x":
            x = _x(value, low, high)
            out.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" class="tick">{text}</text>')
        else:
            y = _y(value, low, high)
            out.append(f'<text x="{PAD - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{text}</text>')
    return "".join(out)


def histogram(scores: Sequence[int], title: str = "Q histogram") -> str:
    """Counts of Q in bands of 5 (0-4, ..., 95-100)."""
    counts = [0] * 20
    for value in scores:
        counts[min(int(value) // 5, 19)] += 1
    top = max(counts) or 1
    bar = (WIDTH - PAD - 10) / 20
    bars = "".join(
        f'<rect x="{PAD + i * bar + 1:.1f}" y="{_y(c, 0, top):.1f}" width="{bar - 2:.1f}" '
        f'height="{HEIGHT - PAD - _y(c, 0, top):.1f}" class="bar"><title>Q {5 * i}-{5 * i + 4 if i < 19 else 100}: '
        f'{c}</title></rect>' for i, c in enumerate(counts))
    return _frame(title, bars + _ticks(0, 100, "x") + _ticks(0, top, "y"), "Q", "images")


def scatter(xs: Sequence[float], ys: Sequence[float], title: str, x_label: str, y_label: str) -> str:
    if not xs:
        return _frame(title, "", x_label, y_label)
    low_x, high_x = min(xs), max(xs)
    dots = "".join(f'<circle cx="{_x(x, low_x, high_x):.1f}" cy="{_y(y, 0, 100):.1f}" r="1.6" class="dot"/>'
                   for x, y in zip(xs, ys))
    return _frame(title, dots + _ticks(low_x, high_x, "x") + _ticks(0, 100, "y"), x_label, y_label)


def step_curves(curves: dict[str, list[tuple[float, float]]], title: str, limit: float = 0.3) -> str:
    """EDC step curves (discarded fraction, FNMR) up to ``limit``, one colour per source, with a legend."""
    visible = [f for points in curves.values() for d, f in points if d <= limit]
    top = (max(visible) if visible else 1.0) * 1.15 or 1.0
    body = []
    for index, (name, points) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        path, previous = [], None
        for d, f in points:
            if d > limit:
                break
            x, y = _x(d, 0, limit), _y(f, 0, top)
            path.append(f"M{x:.1f},{y:.1f}" if previous is None else f"H{x:.1f}V{y:.1f}")
            previous = y
        path.append(f"H{_x(limit, 0, limit):.1f}")
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        body.append(f'<text x="{WIDTH - 14}" y="{24 + 14 * index}" text-anchor="end" fill="{colour}" class="legend">'
                    f'{escape(name)}</text>')
    return _frame(title, "".join(body) + _ticks(0, limit, "x") + _ticks(0, top, "y"),
                  "fraction of comparisons discarded", "FNMR")

"""Bar charts as SVG, drawn by the server: no chart library, no script, nothing for the browser to fetch.

Colours come from classes the console's stylesheet fills in (a series' class is `series-<name>`), so the markup
carries no inline style and passes the console's Content-Security-Policy. Each chart has a title for screen
readers; the page shows the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 48
ROW = 26  # a horizontal bar's height, gap included


@dataclass(frozen=True)
class Series:
    name: str  # css class suffix, e.g. "emergency"
    label: str
    values: tuple[float | None, ...]


def nice_max(value: float, ticks: int = 4) -> float:
    """The axis's top: `ticks` steps of 1, 2 or 5 times a power of ten, at or above `value` (so counts get whole
    numbers on the axis)."""
    wanted = max(value / ticks, 1)
    power = 10 ** math.floor(math.log10(wanted))
    return float(ticks * next(step * power for step in (1, 2, 5, 10) if step * power >= wanted))


def columns(title: str, categories: Sequence[str], series: Sequence[Series], *, stacked: bool = False) -> str:
    """Vertical bars per category (a week): side by side, or stacked."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(categories))]
    peak = max(totals if stacked else [v or 0 for s in series for v in s.values], default=0)
    top = nice_max(peak)
    slot = plot_w / max(len(categories), 1)
    per_bar = slot * 0.8 / (1 if stacked else max(len(series), 1))
    parts = [_open(title), *_y_axis(top, plot_w, plot_h)]
    for i, category in enumerate(categories):
        x0 = LEFT + i * slot + slot * 0.1
        base = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = plot_h * value / top
            x = x0 if stacked else x0 + j * per_bar
            y = TOP + plot_h - h - (plot_h * base / top if stacked else 0)
            parts.append(
                f'<rect class="bar series-{escape(s.name)}" x="{x:.1f}" y="{y:.1f}" width="{per_bar:.1f}" '
                f'height="{h:.1f}"><title>{escape(category)}: {escape(s.label)} {_number(value)}</title></rect>'
            )
            base += value if stacked else 0
        if len(categories) <= 13 or i % math.ceil(len(categories) / 13) == 0:
            cx = LEFT + i * slot + slot / 2
            parts.append(f'<text class="tick" x="{cx:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                         f"{escape(category)}</text>")  # fmt: skip
    if len(series) > 1:
        parts.append(_legend(series, TOP + plot_h + 34))
    parts.append("</svg>")
    return "".join(parts)


def rows(title: str, items: Sequence[tuple[str, float]], series: str = "count") -> str:
    """Horizontal bars, one a row, labelled on the left."""
    height = TOP + BOTTOM // 2 + ROW * max(len(items), 1)
    label_w = 260
    plot_w = WIDTH - label_w - RIGHT - 40
    top = nice_max(max((v for _, v in items), default=0))
    parts = [_open(title, height)]
    for i, (label, value) in enumerate(items):
        y = TOP + i * ROW
        w = plot_w * value / top
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + ROW / 2 + 4:.1f}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar series-{escape(series)}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{ROW - 8}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + ROW / 2 + 4:.1f}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    )


def _y_axis(top: float, plot_w: float, plot_h: float) -> list[str]:
    parts = []
    for n in range(5):
        value = top * n / 4
        y = TOP + plot_h - plot_h * n / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    return parts


def _legend(series: Sequence[Series], y: float) -> str:
    parts, x = [], float(LEFT)
    for s in series:
        parts.append(
            f'<rect class="bar series-{escape(s.name)}" x="{x:.1f}" y="{y - 9}" width="10" height="10"/>'
            f'<text class="legend" x="{x + 14:.1f}" y="{y}">{escape(s.label)}</text>'
        )
        x += 24 + 7 * len(s.label)
    return "".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"

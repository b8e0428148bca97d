"""The manager view's charts as inline SVG, drawn on the server: no chart library, no CDN,
no script, and a page that shows its figures even before (or without) JavaScript.

Every chart is a standalone `<svg>` with a `<title>` (what a screen reader says) and
`viewBox` coordinates, so CSS scales it to its column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from agent.web.rendering import Markup

WIDTH, HEIGHT = 560, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 12, 30
_INK = "#1d1d1f"
_GRID = "#d8d8dc"


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


def _svg(chart_id: str, title: str, body: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" class="chart" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>{body}</svg>'
    )


def _nice_top(value: float) -> float:
    """A round axis top at or above ``value`` (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def heatmap(
    chart_id: str, title: str, rows: Sequence[Sequence[int]], day_names: Sequence[str]
) -> Markup:
    """Entries by hour of week: one row per weekday, one cell per hour, darker = more."""
    top = max((v for row in rows for v in row), default=0)
    cell_w, cell_h = (WIDTH - _LEFT - _RIGHT) / 24, (HEIGHT - _TOP - _BOTTOM) / 7
    parts: list[str] = []
    for weekday, row in enumerate(rows):
        y = _TOP + weekday * cell_h
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + cell_h * 0.68:.1f}" text-anchor="end" '
            f'font-size="12" fill="{_INK}">{escape(day_names[weekday])}</text>'
        )
        for hour, value in enumerate(row):
            strength = value / top if top else 0.0
            # White for nobody, then from a pale to a deep blue: zero stays visibly empty.
            fill = "#f4f5f7" if value == 0 else f"rgba(24,82,196,{0.12 + 0.88 * strength:.3f})"
            parts.append(
                f'<rect x="{_LEFT + hour * cell_w:.1f}" y="{y:.1f}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1:.1f}" fill="{fill}"><title>{escape(day_names[weekday])} '
                f"{hour:02d}h: {value}</title></rect>"
            )
    parts.extend(
        f'<text x="{_LEFT + (hour + 0.5) * cell_w:.1f}" y="{HEIGHT - 10}" font-size="11" '
        f'text-anchor="middle" fill="{_INK}">{hour:02d}h</text>'
        for hour in range(0, 24, 3)
    )
    return _svg(chart_id, title, "".join(parts))


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    top: float | None = None,
) -> Markup:
    """Bars per day; several series stack. A missing value (no data that day) draws no bar,
    which is not the same as a zero (a thin mark on the axis)."""
    count = max(1, len(labels))
    totals = [sum(s.values[i] or 0.0 for s in series) for i in range(len(labels))]
    axis_top = top if top is not None else _nice_top(max(totals, default=0.0))
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / count
    parts: list[str] = []
    for tick in range(5):
        value = axis_top * tick / 4
        y = _TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{_INK}">{value:g}{escape(unit)}</text>'
        )
    for i, label in enumerate(labels):
        base = float(_TOP + plot_h)
        x = _LEFT + i * slot + slot * 0.15
        for s in series:
            bar = s.values[i]
            if bar is None:
                continue
            value = float(bar)
            h = max(1.0, plot_h * min(value, axis_top) / axis_top)
            base -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{s.colour}"><title>{escape(label)} {escape(s.name)}: '
                f"{value:g}{escape(unit)}</title></rect>"
            )
        if count <= 10 or i % max(1, count // 6) == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - 10}" font-size="11" '
                f'text-anchor="middle" fill="{_INK}">{escape(label[5:])}</text>'
            )
    legend_x = _LEFT + 4
    for s in series if len(series) > 1 else ():
        parts.append(
            f'<rect x="{legend_x}" y="2" width="10" height="10" fill="{s.colour}"/>'
            f'<text x="{legend_x + 14}" y="11" font-size="11" fill="{_INK}">{escape(s.name)}</text>'
        )
        legend_x += 24 + 7 * len(s.name)
    return _svg(chart_id, title, "".join(parts))

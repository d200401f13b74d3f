"""Inline SVG bar charts for the audit report: no JavaScript, no external asset."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PALETTE = ("#2f6db5", "#d9822b", "#3a9b5b", "#b5443b", "#7a5cb0", "#8c8c8c", "#c2a23a")


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True, slots=True)
class StackedChart:
    """Bars per day, stacked by series; the template draws the rectangles and the legend."""

    width: int
    height: int
    bars: Sequence[Bar]
    legend: Sequence[tuple[str, str]]
    days: Sequence[tuple[float, str]]
    peak: int


def stacked_by_day(counts: Mapping[tuple[str, str], int], *, width: int = 720, height: int = 220) -> StackedChart:
    """`counts[(day, series)]` → one stacked bar per day (days sorted), series coloured consistently."""
    days = sorted({day for day, _ in counts})
    series = sorted({name for _, name in counts})
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    totals = {day: sum(n for (d, _), n in counts.items() if d == day) for day in days}
    peak = max(totals.values(), default=0)
    plot_height, left, bottom = height - 40, 40, height - 24
    step = (width - left - 10) / max(len(days), 1)
    bars: list[Bar] = []
    for index, day in enumerate(days):
        stacked = 0
        for name in series:
            value = counts.get((day, name), 0)
            if not value:
                continue
            bar_height = plot_height * value / peak
            top = bottom - plot_height * (stacked + value) / peak
            bars.append(Bar(left + index * step + 2, top, min(max(step - 4, 1), 48), bar_height, colours[name],
                            f"{day} {name}: {value}"))
            stacked += value
    labels = [(left + i * step + step / 2, day[5:]) for i, day in enumerate(days)]
    every = max(1, len(labels) // 12)  # at most a dozen date labels under the axis
    return StackedChart(width, height, bars, [(n, colours[n]) for n in series], labels[::every], peak)

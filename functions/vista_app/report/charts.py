"""The report's charts laid out: where each bar, dot and tick goes, in SVG user units.

No plotting library in a Lambda: the page draws these as inline SVG (report.html.j2's macros),
so it stays one file that opens offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    y: int
    width: float
    colour: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one row per label; values scaled to `maximum`."""

    kind: ClassVar[str] = "bars"
    title: str
    label_width: int
    bar_width: int
    row_height: int
    bars: tuple[Bar, ...]

    @property
    def width(self) -> int:
        return self.label_width + self.bar_width + 90

    @property
    def height(self) -> int:
        return 40 + self.row_height * len(self.bars)


def bar_chart(
    rows: list[tuple[str, float, str]],
    *,
    title: str,
    maximum: float = 1.0,
    percent: bool = True,
    label_width: int = 260,
    bar_width: int = 420,
) -> BarChart:
    """(label, value, colour) per row."""
    row_height = 26
    bars = tuple(
        Bar(
            label=label,
            shown=f"{value:.1%}" if percent else f"{value:,.4g}",
            y=30 + i * row_height,
            width=0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * bar_width,
            colour=colour,
        )
        for i, (label, value, colour) in enumerate(rows)
    )
    return BarChart(title=title, label_width=label_width, bar_width=bar_width, row_height=row_height, bars=bars)


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str
    anchor: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    best: bool


@dataclass(frozen=True)
class Scatter:
    """One dot per trial: the objective (y) against one tuned value (x)."""

    kind: ClassVar[str] = "scatter"
    x_label: str
    y_label: str
    log_x: bool
    ticks: tuple[Tick, ...]
    dots: tuple[Dot, ...]
    width: int = 340
    height: int = 220
    pad: int = 44


def scatter(
    points: list[tuple[float, float]], *, x_label: str, y_label: str, log_x: bool = False, maximize: bool = True
) -> Scatter | None:
    """Objective against one hyperparameter; the best trial (highest, or lowest for a loss) marked."""
    if not points:
        return None
    width, height, pad = Scatter.width, Scatter.height, Scatter.pad
    xs = [math.log10(x) if log_x else x for x, _ in points]
    ys = [y for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 0.01)
    best = (max if maximize else min)(range(len(points)), key=lambda i: ys[i])
    ticks = (
        Tick(pad, height - pad + 14, f"{10**x0 if log_x else x0:.3g}", "start"),
        Tick(width - pad, height - pad + 14, f"{10**x1 if log_x else x1:.3g}", "end"),
        Tick(pad - 4, height - pad + 4, f"{y0:.3g}", "end"),
        Tick(pad - 4, pad + 4, f"{y1:.3g}", "end"),
    )
    dots = tuple(
        Dot(
            x=pad + (x - x0) / (x1 - x0) * (width - 2 * pad),
            y=height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad),
            best=i == best,
        )
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    )
    return Scatter(x_label=x_label, y_label=y_label, log_x=log_x, ticks=ticks, dots=dots)

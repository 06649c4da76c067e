"""Every chart Vista draws, as SVG markup: the report page's and the console's (the API sends them
beside the data they show). `figures` composes them; this module only draws.

One engine in the standard library, no plotting library in a Lambda: ElementTree builds the
markup, so every label is escaped. Each chart styles itself with presentation attributes, so it
looks the same inline in the report, in the console (whose Content-Security-Policy refuses style
attributes, not these) or opened on its own, and shrinks to a narrow container through its viewBox.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

BLUE = "#1f5fae"
PALETTE = ("#1f5fae", "#d1495b", "#2a9d8f", "#e9a03b", "#7b5ea7", "#5c946e")
INK, MUTED, GRID, TRACK = "#1b2430", "#5b6675", "#e3e8ee", "#eef1f5"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    colour: str = BLUE
    strong: bool = False  # its label in bold: the champion, the top answer


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    colour: str
    dashed: bool = False


def _number(value: float) -> str:
    return format(round(value, 1), "g")


def _chart(width: float, height: float, title: str, ident: str | None = None) -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {_number(width)} {_number(height)}",
            # Its own size, so a page shrinks it to fit (max-width: 100%) but never blows it up.
            "width": _number(width),
            "height": _number(height),
            "role": "img",
            "aria-label": title,
            "class": "chart",
            "font-family": FONT,
            "font-size": "12",
            "fill": INK,
        }
        | ({"id": ident} if ident else {}),
    )
    ET.SubElement(root, "title").text = title
    return root


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: float | str) -> ET.Element:
    """A child element; `text_anchor` is written text-anchor and `class_` class."""
    element = ET.SubElement(
        parent,
        tag,
        {
            key.rstrip("_").replace("_", "-"): _number(value) if isinstance(value, float | int) else value
            for key, value in attributes.items()
        },
    )
    element.text = text
    return element


def _markup(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def _shown(value: float, percent: bool) -> str:
    return f"{value:.1%}" if percent else f"{value:,.4g}"


def bars(
    rows: Sequence[Bar],
    *,
    title: str,
    maximum: float = 1.0,
    percent: bool = True,
    label_width: int | None = 150,
    bar_width: int = 260,
    ident: str | None = None,
) -> str:
    """Horizontal bars, one row per label, scaled to `maximum`. `label_width` None puts each label
    above its bar, so long labels fit a phone's width."""
    stacked = label_width is None
    left = 0 if label_width is None else label_width
    row_height, bar_top, bar_height, top = (40, 20, 14, 26) if stacked else (26, 5, 16, 26)
    root = _chart(left + bar_width + 70, top + row_height * len(rows) + 4, title, ident)
    _add(root, "text", title, x=0, y=16, font_weight="600")
    for i, bar in enumerate(rows):
        y = top + i * row_height
        share = 0.0 if maximum <= 0 else max(0.0, min(1.0, bar.value / maximum))
        place = {"x": 0, "y": y + 14} if stacked else {"x": left - 8, "y": y + 17, "text_anchor": "end"}
        label = _add(root, "text", bar.label, class_="bar-name", **place)
        if bar.strong:
            label.set("font-weight", "600")
        _add(root, "rect", x=left, y=y + bar_top, width=bar_width, height=bar_height, rx=3, fill=TRACK)
        _add(root, "rect", x=left, y=y + bar_top, width=share * bar_width, height=bar_height, rx=3, fill=bar.colour)
        shown = _shown(bar.value, percent)
        _add(root, "text", shown, x=left + bar_width + 6, y=y + bar_top + bar_height - 3, class_="bar-value")
    return _markup(root)


def lines(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    x_label: str = "epoch",
    y_max: float | None = None,
    percent: bool = False,
    marker: tuple[float, str] | None = None,
) -> str:
    """One line per series over x = 1, 2, ...; from 0 to `y_max` when given (accuracy: 1), else
    spanning the data, so a small change shows. `marker`: a dashed vertical line at x, labelled."""
    width, height = 460, 250
    left, right, top, bottom = 48, 14, 44, 34
    points = [p for line in series for p in line.points]
    x_last = max([1.0, *(x for x, _ in points)])
    values = [y for _, y in points] or [0.0]
    spread = max(1e-6, max(values) - min(values))
    high = y_max if y_max is not None else max(values) + 0.1 * spread
    low = 0.0 if y_max is not None else max(0.0, min(values) - 0.1 * spread)

    def x_of(v: float) -> float:
        return left + (width - left - right) * (v - 1) / max(1.0, x_last - 1)

    def y_of(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - low) / max(1e-9, high - low))

    root = _chart(width, height, f"{title}: {y_label} by {x_label}")
    _add(root, "text", title, x=left, y=16, font_weight="600")
    legend_x = float(left)
    for line in series:
        _add(root, "line", x1=legend_x, x2=legend_x + 16, y1=29, y2=29, stroke=line.colour, stroke_width=3)
        _add(root, "text", line.name, x=legend_x + 20, y=33, fill=MUTED)
        legend_x += 36 + 6.5 * len(line.name)
    for i in range(5):
        value = low + (high - low) * i / 4
        _add(root, "line", x1=left, x2=width - right, y1=y_of(value), y2=y_of(value), stroke=GRID)
        shown = f"{value:.0%}" if percent else f"{value:.2f}"
        _add(root, "text", shown, x=left - 6, y=y_of(value) + 4, text_anchor="end", fill=MUTED)
    step = max(1, math.ceil(x_last / 8))
    for tick in range(1, int(x_last) + 1, step):
        _add(root, "text", str(tick), x=x_of(tick), y=height - bottom + 16, text_anchor="middle", fill=MUTED)
    _add(root, "line", x1=left, x2=width - right, y1=y_of(low), y2=y_of(low), stroke=MUTED)
    _add(root, "text", x_label, x=(width + left) / 2, y=height - 4, text_anchor="middle", fill=MUTED)
    if marker:
        at, label = marker
        _add(root, "line", x1=x_of(at), x2=x_of(at), y1=top, y2=y_of(low), stroke=MUTED, stroke_dasharray="4 3")
        _add(root, "text", label, x=x_of(at) + 4, y=top + 12, fill=MUTED, class_="marker")
    for line in series:
        if not line.points:
            continue
        path = "".join(f"{'L' if i else 'M'}{x_of(x):.1f},{y_of(y):.1f}" for i, (x, y) in enumerate(line.points))
        stroke = {"stroke_dasharray": "5 3"} if line.dashed else {}
        _add(root, "path", d=path, fill="none", stroke=line.colour, stroke_width=2.2, **stroke)
        for x, y in line.points:
            dot = _add(root, "circle", cx=x_of(x), cy=y_of(y), r=2.6, fill=line.colour)
            _add(dot, "title", f"{line.name}, {x_label} {x:g}: {y:.4g}")
    return _markup(root)


def matrix(counts: Sequence[Sequence[int]], classes: Sequence[str], *, title: str = "Confusion matrix") -> str:
    """Rows: the true class; columns: what the model said. The diagonal in blue, mistakes in red,
    each cell shaded by its share of the largest count."""
    cell, left, top = 44, 96, 96
    root = _chart(left + cell * len(classes) + 4, top + cell * len(classes) + 4, title)
    for i, name in enumerate(classes):
        middle = i * cell + cell / 2
        _add(root, "text", name, x=left - 6, y=top + middle + 4, text_anchor="end")
        _add(root, "text", name, transform=f"translate({_number(left + middle + 4)},{top - 6}) rotate(-60)")
    largest = max([1, *(count for row in counts for count in row)])
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            share = count / largest
            if i == j:
                fill = f"rgb({round(230 - 200 * share)},{round(240 - 130 * share)},{round(250 - 90 * share)})"
            else:
                fill = f"rgb(250,{round(235 - 150 * share)},{round(230 - 150 * share)})" if count else "#f7f8fa"
            box = _add(
                root, "rect", x=left + j * cell, y=top + i * cell, width=cell - 2, height=cell - 2, rx=3, fill=fill
            )
            _add(box, "title", f"true {classes[i]}, predicted {classes[j]}: {count}")
            ink = "#ffffff" if i == j and share > 0.55 else INK
            centre_x, centre_y = left + j * cell + cell / 2 - 1, top + i * cell + cell / 2 + 4
            _add(root, "text", str(count), x=centre_x, y=centre_y, text_anchor="middle", fill=ink)
    return _markup(root)


def scatter(
    points: Sequence[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    maximize: bool = True,
    ringed: int | None = None,
) -> str | None:
    """One dot per (x, y), the best (highest, or lowest for a loss) ringed, or the point `ringed`;
    None without points."""
    if not points:
        return None
    width, height, pad = 340, 220, 44
    xs = [math.log10(x) if log_x else x for x, _ in points]
    ys = [y for _, y in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 0.01)
    best = ringed if ringed is not None else (max if maximize else min)(range(len(points)), key=lambda i: ys[i])
    root = _chart(width, height, f"{y_label} against {x_label}")
    bottom = height - pad
    _add(root, "line", x1=pad, y1=bottom, x2=width - pad, y2=bottom, stroke=MUTED)
    _add(root, "line", x1=pad, y1=pad, x2=pad, y2=bottom, stroke=MUTED)
    _add(root, "text", x_label + (" (log)" if log_x else ""), x=width / 2, y=height - 8, text_anchor="middle")
    _add(root, "text", y_label, x=12, y=height / 2, transform=f"rotate(-90 12 {height / 2:g})", text_anchor="middle")
    for at_x, at_y, text, anchor in (
        (pad, bottom + 14, f"{10**x0 if log_x else x0:.3g}", "start"),
        (width - pad, bottom + 14, f"{10**x1 if log_x else x1:.3g}", "end"),
        (pad - 4, bottom + 4, f"{y0:.3g}", "end"),
        (pad - 4, pad + 4, f"{y1:.3g}", "end"),
    ):
        _add(root, "text", text, x=at_x, y=at_y, text_anchor=anchor, fill=MUTED, font_size=11)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ring = {"stroke": INK, "stroke_width": 2.5, "class_": "dot best"} if i == best else {"class_": "dot"}
        dot = _add(
            root,
            "circle",
            cx=pad + (x - x0) / (x1 - x0) * (width - 2 * pad),
            cy=bottom - (y - y0) / (y1 - y0) * (height - 2 * pad),
            r=5,
            fill=BLUE,
            fill_opacity=0.75,
            **ring,
        )
        _add(dot, "title", f"{x_label} {points[i][0]:.4g}: {y_label} {y:.4g}")
    return _markup(root)

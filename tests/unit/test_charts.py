"""The one chart engine (vista_app/charts.py): what each chart draws, read back from its SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vista_app import charts
from vista_app.charts import Bar, Series


def svg(markup: str) -> ET.Element:
    """The chart parsed as the console's DOMParser parses it (image/svg+xml: well-formed, namespaced)."""
    root = ET.fromstring(markup)  # noqa: S314 - our own charts, not untrusted data
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
    return root


def texts(root: ET.Element, kind: str) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == kind]


def test_bars_are_scaled_to_the_maximum_clamped_and_labelled_as_given() -> None:
    chart = svg(charts.bars([Bar("a", 0.5), Bar("b", 2.0, strong=True), Bar("c", -1)], title="t", bar_width=200))
    widths = [float(r.get("width", "")) for r in chart.findall("{*}rect")]
    assert widths == [200, 100, 200, 200, 200, 0]  # each track, then its bar
    assert texts(chart, "bar-value") == ["50.0%", "200.0%", "-100.0%"]
    assert [t.get("font-weight") for t in chart.iter() if t.get("class") == "bar-name"] == [None, "600", None]
    assert chart.findtext("{*}title") == "t" and chart.get("aria-label") == "t"


def test_stacked_bars_put_each_label_above_its_bar() -> None:
    chart = svg(charts.bars([Bar("a long model name (base_cnn)", 0.5)], title="t", label_width=None, bar_width=300))
    (label,) = [t for t in chart.iter() if t.get("class") == "bar-name"]
    track, bar = chart.findall("{*}rect")
    assert (label.get("x"), track.get("x"), float(bar.get("width", ""))) == ("0", "0", 150)
    assert float(label.get("y", "")) < float(track.get("y", "")) and chart.get("width") == "370"


def test_every_label_is_escaped() -> None:
    markup = charts.bars([Bar("<script>alert(1)</script>", 0.5)], title='"><img src=x onerror=alert(1)>')
    assert "<script>" not in markup and "<img" not in markup
    assert texts(svg(markup), "bar-name") == ["<script>alert(1)</script>"]


def test_lines_span_the_data_or_run_from_zero_to_the_maximum_given() -> None:
    series = [Series("loss", [(1, 0.8), (2, 0.6), (3, 0.5)], "#000"), Series("val", [], "#111", dashed=True)]
    spanned = svg(charts.lines(series, title="t", y_label="loss"))
    ticks = [t.text for t in spanned.findall("{*}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0.47", "0.56", "0.65", "0.74", "0.83"]  # 10% of the spread beyond each end
    assert len(spanned.findall("{*}path")) == 1 and len(spanned.findall("{*}circle")) == 3
    assert spanned.find("{*}circle/{*}title") is not None
    whole = svg(charts.lines(series, title="t", y_label="accuracy", y_max=1, percent=True))
    assert [t.text for t in whole.findall("{*}text") if t.get("text-anchor") == "end"] == [
        "0%",
        "25%",
        "50%",
        "75%",
        "100%",
    ]


def test_the_confusion_matrix_has_a_cell_per_pair_with_its_count_and_what_it_means() -> None:
    chart = svg(charts.matrix([[5, 1], [0, 6]], ["cat", "dog"]))
    cells = chart.findall("{*}rect")
    assert [c.findtext("{*}title") for c in cells] == [
        "true cat, predicted cat: 5",
        "true cat, predicted dog: 1",
        "true dog, predicted cat: 0",
        "true dog, predicted dog: 6",
    ]
    assert cells[2].get("fill") == "#f7f8fa" and cells[1].get("fill", "").startswith("rgb(250,")


def test_the_best_trial_is_the_lowest_loss_when_the_objective_is_a_loss() -> None:
    chart = charts.scatter([(1.0, 0.5), (2.0, 0.2), (3.0, 0.9)], x_label="dropout", y_label="val_loss", maximize=False)
    assert chart is not None
    assert [d.get("class") for d in svg(chart).findall("{*}circle")] == ["dot", "dot best", "dot"]
    assert charts.scatter([], x_label="x", y_label="y") is None

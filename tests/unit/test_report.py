"""The HTML report: what page_data hands the template (the Models table's numbers, the charts of
them and of the job's own outputs, its mistakes' thumbnails), and that the template renders it as
one well-formed page."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from tests.unit.test_charts import svg, texts

THUMBNAIL = "data:image/jpeg;base64,/9j/4AAQ"
VOID = {"meta", "img", "br"}  # HTML's; SVG's childless elements close themselves (<rect/>)


def model(name: str, accuracy: float, state: str, **extra: Any) -> dict[str, Any]:
    per_class = {"forest": {"precision": 0.8, "recall": 0.75, "f1": 0.7742, "support": 4}}
    return {
        "name": name,
        "state": state,
        "architecture": "fine_cnn",
        "artifact": f"s3://bucket/artifacts/training/{name}/output/model.tar.gz",
        "accuracy": accuracy,
        "macro_f1": accuracy - 0.01,
        "loss": 0.4321,
        "parameters": 123456,
        "training_seconds": 61,
        "billable_seconds": 20,
        "training_cost": 0.0078,
        "serving_latency_ms": 12.5,
        "cost_per_1000_predictions": 0.00091,
        "hyperparameters": {"learning_rate": 0.001, "architecture": "fine_cnn"},
        "metrics": {
            "per_class": per_class,
            "class_names": ["forest", "sea"],
            "confusion_matrix": [[3, 1], [0, 4]],
            "accuracy": accuracy,
            "fine_tune_from_epoch": 2,
        },
        **extra,
    }


BOARD = [model("vista-good", 0.9375, "champion"), model("vista-poor", 0.5, "rejected", reason="worse", metrics={})]
MISTAKE = {"file": "7.jpg", "true": "sea", "predicted": "glacier", "probabilities": {"sea": 0.3, "glacier": 0.6}}
OUTPUTS = {
    "vista-good": {
        "history.json": {"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, float("nan")], "accuracy": [0.5, 0.7, 0.8]},
        "misclassified.json": [
            MISTAKE | {"thumbnail": THUMBNAIL},
            MISTAKE | {"file": "8.jpg", "thumbnail": "javascript:alert(1)"},
        ],
    },
    "vista-perfect": {"misclassified.json": []},
}
TUNING_JOB = {
    "name": "vista-tune",
    "kind": "tuning",
    "status": "Completed",
    "cost": 0.5,
    "trials": [
        {
            "name": "t1",
            "status": "Completed",
            "objective": 0.6,
            "hyperparameters": {"learning_rate": 0.001, "augment": True},
        },
        {
            "name": "t2",
            "status": "Completed",
            "objective": 0.7,
            "hyperparameters": {"learning_rate": 0.01, "augment": False},
        },
        {
            "name": "t3",
            "status": "Stopped",
            "objective": None,
            "hyperparameters": {"learning_rate": 0.1, "augment": True},
        },
    ],
    "request": {
        "dataset": "datasets/scenes",
        "tuning": {
            "objective": "val_accuracy",
            "ranges": {"learning_rate": {"min": 1e-4, "max": 0.1, "scale": "log"}, "augment": [True, False]},
        },
    },
}


def data(**overrides: Any) -> dict[str, Any]:
    from vista_app.report.page import page_data

    arguments = {"title": "t", "leaderboard": BOARD, "focus": BOARD, "outputs": OUTPUTS, "job": TUNING_JOB}
    return page_data(**arguments | {"tuning_jobs": [TUNING_JOB]} | overrides)


def test_the_leaderboard_holds_each_models_own_figures_in_the_columns_every_view_uses() -> None:
    from vista_app.leaderboard import COLUMNS

    page = data()
    assert page["columns"] == [title for _, title, _ in COLUMNS]
    assert "the champion's figure is the best of several" in page["note"]
    assert [row["name"] for row in page["rows"]] == ["vista-good", "vista-poor"]
    cells = {key: cell for (key, _, _), cell in zip(COLUMNS, page["rows"][0]["cells"], strict=True)}
    assert (cells["state"].text, cells["state"].kind) == ("champion", "state")
    assert (cells["accuracy"].text, cells["accuracy"].kind) == ("93.8%", "num")
    shown = {cell.text for cell in cells.values()}
    assert {"92.8%", "0.4321", "123,456", "61 s", "$0.0078", "12.5 ms"} <= shown
    # The chart's bars: one per model with an accuracy, coloured by state, scaled to 100 %.
    chart = svg(page["accuracy_chart"])
    assert texts(chart, "bar-name") == ["vista-good (fine_cnn)", "vista-poor (fine_cnn)"]
    assert texts(chart, "bar-value") == ["93.8%", "50.0%"]
    track, good, _, poor = chart.findall("{*}rect")
    assert (good.get("fill"), poor.get("fill")) == ("#1b7f3b", "#c0392b")
    assert float(good.get("width", "")) == round(0.9375 * float(track.get("width", "")), 1)


def test_each_model_shows_its_metrics_curves_and_mistakes_and_says_what_is_missing() -> None:
    good, poor = data()["models"]
    matrix = svg(good.confusion_matrix or "")
    assert [t.text for t in matrix.findall("{*}text")][-4:] == ["3", "1", "0", "4"]  # rows: the true class
    assert svg(good.confusion_matrix or "").get("aria-label") == "Confusion matrix (accuracy 93.8%)"
    loss, accuracy = map(svg, good.training_curves)
    # Each epoch a dot; validation's missing epoch (NaN) is left out, not drawn at zero.
    assert len(loss.findall("{*}circle")) == 3 + 2 and len(accuracy.findall("{*}circle")) == 3
    assert texts(loss, "marker") == ["fine-tuning"]
    assert [c.text for c in good.per_class[0]] == ["forest", "80.0%", "75.0%", "77.4%", "4"]
    assert [c.text for c in good.mistakes[0]] == ["7.jpg", "sea", "glacier", "60.0%", "30.0%"]
    # A thumbnail is shown only as the JPEG data the job writes.
    assert [m.thumbnail for m in good.misclassified or ()] == [THUMBNAIL, None]
    assert (good.misclassified or ())[0].caption == "7.jpg: true sea (30%), said glacier (60%)"
    assert good.hyperparameters == "learning_rate=0.001" and good.reason is None
    assert ("test accuracy", "93.8%") in good.facts and ("instance", "\N{EN DASH}") in good.facts
    assert texts(svg(good.f1_chart or ""), "bar-value") == ["77.4%"]
    # The second model's job wrote nothing: nothing is drawn for it, and there are no mistakes to list.
    assert (poor.confusion_matrix, poor.f1_chart, poor.training_curves, poor.misclassified) == (None, None, (), None)
    assert poor.mistakes == () and poor.reason == "worse"
    # A job that made no mistake has an empty list of them.
    (perfect,) = data(focus=[model("vista-perfect", 1.0, "candidate")])["models"]
    assert perfect.misclassified == ()


def test_a_model_shows_its_thresholds_what_they_give_on_the_test_split_and_its_coverage_curve() -> None:
    metrics = {
        "thresholds": {"forest": 0.0, "sea": 0.62},
        "calibration": {"per_class": {"forest": {"basis": "precision"}, "sea": {"basis": "f1"}}},
        "thresholded": {
            "per_class": {
                "forest": {"threshold": 0.0, "precision": 1.0, "recall": 0.9},
                "sea": {"threshold": 0.62, "precision": 0.95, "recall": 0.8},
            },
            "answered_and_right": 0.85,
            "unknown_share": 0.1,
            "coverage_curve": [{"threshold": t / 2, "coverage": 1 - t / 2, "accuracy": 0.8 + t / 10} for t in range(3)],
        },
        "other_kinds": {"images": 100, "unknown_share": 0.95},
    }
    (view,) = data(focus=[model("vista-sure", 0.9, "champion", metrics=metrics)])["models"]
    assert [[c.text for c in row] for row in view.thresholds] == [
        ["forest", "0.0%", "precision", "100.0%", "90.0%"],
        ["sea", "62.0%", "f1", "95.0%", "80.0%"],
    ]
    assert ("other kinds answered unknown", "95.0%") in view.facts
    assert ("test images answered and right (thresholds)", "85.0%") in view.facts
    curve = svg(view.coverage_chart or "")
    # The sweep's three points, and the model's own thresholds (90% kept, 85/90 right) ringed.
    assert len(curve.findall("{*}circle")) == 4 and curve.findall("{*}circle")[-1].get("class") == "dot best"
    (plain,) = data(focus=[model("vista-plain", 0.9, "champion")])["models"]
    assert plain.thresholds == () and plain.coverage_chart is None


def test_a_tuning_job_shows_each_trial_and_each_tuned_value_against_the_objective() -> None:
    (tuning,) = data()["tuning"]
    # Trials without an objective are left out; the rest best first.
    assert [row[0].text for row in tuning.trials] == ["t2", "t1"]
    scatter, bars = map(svg, tuning.charts)
    assert scatter.get("aria-label") == "val_accuracy against learning_rate"
    assert [d.get("class") for d in scatter.findall("{*}circle")] == ["dot", "dot best"]
    labels = [t.text for t in scatter.findall("{*}text")]
    assert "learning_rate (log)" in labels and labels[2:4] == ["0.001", "0.01"]  # the log axis in values
    assert bars.get("aria-label") == "best val_accuracy by augment"
    assert list(zip(texts(bars, "bar-name"), texts(bars, "bar-value"), strict=True)) == [
        ("False", "70.0%"),
        ("True", "60.0%"),
    ]
    job = data()["job"]
    assert job == {
        "name": "vista-tune",
        "kind": "tuning",
        "status": "Completed",
        "cost": "$0.5000",
        "dataset": "datasets/scenes",
    }


class Page(HTMLParser):
    """Checks that every element closes in order, and collects ids, image sources and text."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.ids: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.ids += [found["id"]] if found.get("id") else []
        self.images += [found["src"] or ""] if tag == "img" else []
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_renders_every_part_well_formed_with_its_style() -> None:
    from vista_app.report.page import build_report

    html = build_report(
        title="t", leaderboard=BOARD, focus=BOARD, outputs=OUTPUTS, job=TUNING_JOB, tuning_jobs=[TUNING_JOB]
    )
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == []
    assert page.ids == [
        "leaderboard",
        "row-vista-good",
        "row-vista-poor",
        "model-vista-good",
        "model-vista-poor",
        "tuning-vista-tune",
    ]
    assert page.images == [THUMBNAIL]
    text = " ".join(page.text)
    assert "(no confusion matrix recorded)" in text and "worse" in text
    assert "(this job wrote no history of its epochs)" in text
    assert ".state.champion{background:#1b7f3b}" in text and "font-variant-numeric" in text


def test_the_page_escapes_what_people_typed() -> None:
    from vista_app.report.page import build_report

    html = build_report(
        title="<script>x</script>", leaderboard=[model("<b>m</b>", 0.5, "candidate")], focus=[], outputs={}
    )
    assert "<script>x" not in html and "&lt;b&gt;m&lt;/b&gt;" in html

"""The HTML report: what page_data hands the template (the Models table's numbers, the job's own
pictures, the charts of the rest), and that the template renders it as one well-formed page."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from typing import Any

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
VOID = {"meta", "img", "br", "rect", "circle", "line"}


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
        "metrics": {"per_class": per_class},
        **extra,
    }


BOARD = [model("vista-good", 0.9375, "champion"), model("vista-poor", 0.5, "rejected", reason="worse")]
OUTPUTS = {
    "vista-good": {
        "confusion_matrix.png": PNG,
        "training_curves.png": PNG,
        "misclassified.png": PNG,
        "misclassified.json": [
            {"file": "7.jpg", "true": "sea", "predicted": "glacier", "probabilities": {"sea": 0.3, "glacier": 0.6}}
        ],
    },
    "vista-perfect": {"confusion_matrix.png": PNG, "misclassified.json": []},
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
    texts = {cell.text for cell in cells.values()}
    assert {"92.8%", "0.4321", "123,456", "61 s", "$0.0078", "12.5 ms"} <= texts
    # The chart's bars: one per model with an accuracy, coloured by state, scaled to 100 %.
    bars = page["accuracy_chart"].bars
    assert [(b.label, b.shown, b.colour) for b in bars] == [
        ("vista-good (fine_cnn)", "93.8%", "#1b7f3b"),
        ("vista-poor (fine_cnn)", "50.0%", "#c0392b"),
    ]
    assert bars[0].width == 0.9375 * page["accuracy_chart"].bar_width


def test_each_model_shows_its_jobs_pictures_metrics_and_mistakes_and_says_what_is_missing() -> None:
    good, poor = data()["models"]
    assert good.confusion_matrix.uri == f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    assert good.training_curves.uri and good.misclassified and good.misclassified.uri
    assert [c.text for c in good.per_class[0]] == ["forest", "80.0%", "75.0%", "77.4%", "4"]
    assert [c.text for c in good.mistakes[0]] == ["7.jpg", "sea", "glacier", "60.0%", "30.0%"]
    assert good.hyperparameters == "learning_rate=0.001" and good.reason is None
    assert ("test accuracy", "93.8%") in good.facts and ("instance", "\N{EN DASH}") in good.facts
    assert [(b.label, b.shown) for b in good.f1_chart.bars] == [("forest", "77.4%")]
    # The second model's job wrote nothing: each picture says so, and there are no mistakes to list.
    assert poor.confusion_matrix.uri is None and poor.misclassified is not None and poor.misclassified.uri is None
    assert poor.mistakes == () and poor.reason == "worse"
    # A job that made no mistake says so instead of showing an empty picture.
    (perfect,) = data(focus=[model("vista-perfect", 1.0, "candidate")])["models"]
    assert perfect.misclassified is None


def test_a_tuning_job_shows_each_trial_and_each_tuned_value_against_the_objective() -> None:
    (tuning,) = data()["tuning"]
    # Trials without an objective are left out; the rest best first.
    assert [row[0].text for row in tuning.trials] == ["t2", "t1"]
    scatter, bars = tuning.charts
    assert (scatter.kind, scatter.x_label, scatter.y_label, scatter.log_x) == (
        "scatter",
        "learning_rate",
        "val_accuracy",
        True,
    )
    assert [d.best for d in scatter.dots] == [False, True]
    assert [t.text for t in scatter.ticks[:2]] == ["0.001", "0.01"]  # the log axis labelled in values
    assert (bars.kind, bars.title) == ("bars", "best val_accuracy by augment")
    assert [(b.label, b.shown) for b in bars.bars] == [("False", "70.0%"), ("True", "60.0%")]
    job = data()["job"]
    assert job == {
        "name": "vista-tune",
        "kind": "tuning",
        "status": "Completed",
        "cost": "$0.5000",
        "dataset": "datasets/scenes",
    }


def test_the_best_trial_is_the_lowest_loss_when_the_objective_is_a_loss() -> None:
    from vista_app.report.charts import scatter

    chart = scatter([(1.0, 0.5), (2.0, 0.2), (3.0, 0.9)], x_label="dropout", y_label="val_loss", maximize=False)
    assert chart is not None and [d.best for d in chart.dots] == [False, True, False]


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
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    text = " ".join(page.text)
    assert "(confusion_matrix.png was not written by this job)" in text and "worse" in text
    assert ".state.champion{background:#1b7f3b}" in text and "font-variant-numeric" in text


def test_the_page_escapes_what_people_typed() -> None:
    from vista_app.report.page import build_report

    html = build_report(
        title="<script>x</script>", leaderboard=[model("<b>m</b>", 0.5, "candidate")], focus=[], outputs={}
    )
    assert "<script>x" not in html and "&lt;b&gt;m&lt;/b&gt;" in html

"""What Vista charts, composed once for the report page and the console (the API sends the SVG):
the leaderboard, a model's confusion matrix, F1 by class and drift, a job's training curves."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vista_app import charts
from vista_app.charts import Bar, Series

STATE_COLOURS = {"champion": "#1b7f3b", "candidate": "#3366cc", "retired": "#888888", "rejected": "#c0392b"}


def leaderboard(models: Iterable[Mapping[str, Any]], *, ident: str | None = None) -> str | None:
    """Test accuracy by model (ranked as given), coloured by state, the champion in bold."""
    rows = [
        Bar(
            f"{m['name']} ({m.get('architecture')})",
            m["accuracy"],
            STATE_COLOURS.get(m.get("state", ""), charts.BLUE),
            strong=m.get("state") == "champion",
        )
        for m in models
        if m.get("accuracy") is not None
    ]
    if not rows:
        return None
    return charts.bars(rows, title="Test accuracy by model", label_width=None, bar_width=300, ident=ident)


def confusion_matrix(model: Mapping[str, Any]) -> str | None:
    metrics = model.get("metrics") or {}
    if not metrics.get("confusion_matrix") or not metrics.get("class_names"):
        return None
    accuracy = f" (accuracy {metrics['accuracy']:.1%})" if metrics.get("accuracy") is not None else ""
    return charts.matrix(metrics["confusion_matrix"], metrics["class_names"], title=f"Confusion matrix{accuracy}")


def f1_by_class(model: Mapping[str, Any]) -> str | None:
    per_class = (model.get("metrics") or {}).get("per_class") or {}
    if not per_class:
        return None
    rows = [Bar(name, values["f1"]) for name, values in per_class.items()]
    return charts.bars(rows, title="F1 per class", label_width=110, bar_width=220)


def coverage(model: Mapping[str, Any]) -> str | None:
    """On the test split, one global threshold swept from 0 to 1: the share of answers kept against
    the share of those right; the model's own per-class thresholds ringed."""
    thresholded = (model.get("metrics") or {}).get("thresholded") or {}
    curve = thresholded.get("coverage_curve")
    if not curve:
        return None
    kept = 1 - thresholded["unknown_share"]
    own = (kept, thresholded["answered_and_right"] / kept if kept else 1.0)
    points = [(p["coverage"], p["accuracy"]) for p in curve] + [own]
    return charts.scatter(points, x_label="answers kept", y_label="right among them", ringed=len(points) - 1)


def drift(model: Mapping[str, Any]) -> list[str]:
    """Each closed window's class-mix divergence and mean confidence (none before the first closes)."""
    history = model.get("drift_history") or []
    if not history:
        return []

    def points(key: str) -> list[tuple[float, float]]:
        return [(i + 1, float(w.get(key) or 0)) for i, w in enumerate(history)]

    divergence = Series("class-mix divergence", points("divergence"), charts.PALETTE[0])
    confidence = Series("mean confidence", points("mean_confidence"), charts.PALETTE[1])
    return [
        charts.lines(
            [divergence], title="Class mix against the test split's", y_label="divergence", x_label="window", y_max=1
        ),
        charts.lines(
            [confidence], title="Mean confidence", y_label="confidence", x_label="window", y_max=1, percent=True
        ),
    ]


def model_charts(model: Mapping[str, Any]) -> dict[str, Any]:
    """GET /models/{name}/charts: what the console shows of one model."""
    return {"confusion_matrix": confusion_matrix(model), "f1": f1_by_class(model), "drift": drift(model)}


def training_curves(title: str, epochs: Sequence[Mapping[str, float]], fine_tune_from: int | None = None) -> list[str]:
    """Loss and accuracy per epoch, training against validation; `epochs` as epochs.parse_epoch
    reads them from the logs (epoch, train_loss, val_loss, train_accuracy, val_accuracy)."""

    def series(key: str, name: str, colour: str, dashed: bool = False) -> Series:
        points = [(float(e["epoch"]), float(e[key])) for e in epochs if key in e and math.isfinite(e[key])]
        return Series(name, points, colour, dashed)

    marker = (fine_tune_from + 0.5, "fine-tuning") if fine_tune_from else None
    return [
        charts.lines(
            [
                series(f"train_{metric}", f"training {metric}", charts.PALETTE[0]),
                series(f"val_{metric}", f"validation {metric}", charts.PALETTE[1], dashed=True),
            ],
            title=f"{title}: {metric}",
            y_label=metric,
            y_max=1 if metric == "accuracy" else None,
            percent=metric == "accuracy",
            marker=marker,
        )
        for metric in ("loss", "accuracy")
    ]


def history_epochs(history: Mapping[str, list[float]]) -> list[dict[str, float]]:
    """A Keras history (history.json: loss, accuracy, val_loss, val_accuracy per epoch) as the epochs
    `training_curves` takes."""
    names = {"loss": "train_loss", "accuracy": "train_accuracy", "val_loss": "val_loss", "val_accuracy": "val_accuracy"}
    count = max((len(history.get(k, [])) for k in names), default=0)
    return [
        {"epoch": i + 1} | {name: history[key][i] for key, name in names.items() if i < len(history.get(key, []))}
        for i in range(count)
    ]

"""The leaderboard: every model, in the order and with the columns that the report, the `vista`
command and the console all show (the console and the command read the columns from GET /models)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vista_app.records import Models

# (field of the model's record, its title, its unit: "%", "$", "s", "ms" or "" for none)
COLUMNS = (
    ("name", "model", ""),
    ("state", "state", ""),
    ("architecture", "architecture", ""),
    ("accuracy", "test accuracy", "%"),
    ("macro_f1", "macro-F1", "%"),
    ("loss", "test loss", ""),
    ("parameters", "parameters", ""),
    ("training_seconds", "training time", "s"),
    ("billable_seconds", "billable time", "s"),
    ("training_cost", "training cost", "$"),
    ("serving_latency_ms", "serving latency", "ms"),
    ("cost_per_1000_predictions", "cost / 1,000 predictions", "$"),
)


# What the test accuracy on the leaderboard is, said wherever it is shown (API, command, console, report).
NOTE = (
    "Test accuracy: each model's score on test images it never trained on. The gate chose the champion "
    "by it (among models tested on the same images), so the champion's figure is the best of several "
    "and new photos may score a little lower. Tuning chose each trial's settings on the validation split."
)


def ranked(models: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best test accuracy first (models without one last)."""
    return sorted(models, key=lambda m: (m.get("accuracy") is None, -(m.get("accuracy") or 0), m["name"]))


def leaderboard(models: Models) -> dict[str, Any]:
    """GET /models' answer: the ranked models and the columns to show them with."""
    return {
        "items": ranked(models.all()),
        "columns": [{"key": k, "title": t, "unit": u} for k, t, u in COLUMNS],
        "note": NOTE,
    }

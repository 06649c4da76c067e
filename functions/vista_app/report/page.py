"""The report people look at: one self-contained HTML page per job or model.

Python decides what the page says (`page_data`: numbers formatted, charts drawn by `figures`);
report.html.j2 says how it looks, autoescaped, and report.css styles it. Both travel as package
data. Charts are inline SVG and the mistakes' thumbnails data URIs, so the page opens anywhere,
offline, as one file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from vista_app import charts, figures
from vista_app.figures import STATE_COLOURS
from vista_app.job_outputs import archive_of_model
from vista_app.leaderboard import COLUMNS, NOTE

NOTHING = "\N{EN DASH}"
REPORTS_PREFIX = "artifacts/reports/"
SHOWN_HYPERPARAMETERS = ("learning_rate", "dropout", "l2", "epochs", "batch_size", "image_size", "augment", "weights")
THUMBNAIL_PREFIX = "data:image/jpeg;base64,"  # what train.py writes; anything else is not shown


def formatted(value: Any, style: str = "") -> str:
    """A number as the page shows it: styles "%", "$", "s" and "ms" (leaderboard.COLUMNS); a dash for none."""
    if value is None:
        return NOTHING
    if style == "%":
        return f"{value:.1%}"
    if style == "$":
        return f"${value:,.4f}"
    if style == "s":
        return f"{value:,.0f} s"
    if style == "ms":
        return f"{value:,.1f} ms"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str = ""  # "num": figures, right-aligned; "state": a model's state, as its badge


def _num(value: Any, style: str = "") -> Cell:
    return Cell(formatted(value, style), "num")


@dataclass(frozen=True)
class Mistake:
    """A misclassified test image: its thumbnail (with where the model looked, if the job drew it)."""

    thumbnail: str | None
    caption: str


@dataclass(frozen=True)
class ModelView:
    name: str
    architecture: str | None
    reason: str | None
    facts: tuple[tuple[str, str], ...]
    hyperparameters: str
    per_class: tuple[tuple[Cell, ...], ...]
    thresholds: tuple[tuple[Cell, ...], ...]  # each class's threshold and what it gives on the test split
    coverage_chart: str | None
    f1_chart: str | None
    confusion_matrix: str | None
    training_curves: tuple[str, ...]
    misclassified: tuple[Mistake, ...] | None  # None: the job wrote no list of its mistakes
    mistakes: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class TuningView:
    name: str
    objective: str
    charts: tuple[str, ...]
    trials: tuple[tuple[Cell, ...], ...]


def _mistake(wrong: dict[str, Any]) -> Mistake:
    thumbnail = wrong.get("thumbnail")
    p = wrong["probabilities"]
    return Mistake(
        thumbnail=thumbnail if isinstance(thumbnail, str) and thumbnail.startswith(THUMBNAIL_PREFIX) else None,
        caption=f"{wrong['file']}: true {wrong['true']} ({p[wrong['true']]:.0%}), "
        f"said {wrong['predicted']} ({p[wrong['predicted']]:.0%})",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def leaderboard_rows(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each model's cells in leaderboard.COLUMNS order."""
    return [
        {
            "name": model["name"],
            "cells": [
                Cell(formatted(model.get(key)), "state")
                if key == "state"
                else Cell(formatted(model.get(key), style), "num" if style or _is_number(model.get(key)) else "")
                for key, _, style in COLUMNS
            ],
        }
        for model in models
    ]


def model_view(model: dict[str, Any], outputs: dict[str, Any]) -> ModelView:
    name = model["name"]
    per_class = model.get("metrics", {}).get("per_class", {})
    thresholded = model.get("metrics", {}).get("thresholded") or {}
    other = model.get("metrics", {}).get("other_kinds") or {}
    calibrated = (model.get("metrics", {}).get("calibration") or {}).get("per_class", {})
    facts = (
        ("state", formatted(model.get("state"))),
        ("test accuracy", formatted(model.get("accuracy"), "%")),
        ("macro-F1", formatted(model.get("macro_f1"), "%")),
        ("test loss", formatted(model.get("loss"))),
        ("parameters", formatted(model.get("parameters"))),
        ("training time", formatted(model.get("training_seconds"), "s")),
        ("billable time", formatted(model.get("billable_seconds"), "s")),
        ("training cost", formatted(model.get("training_cost"), "$")),
        ("serving latency (CPU, batch 1)", formatted(model.get("serving_latency_ms"), "ms")),
        ("cost / 1,000 predictions", formatted(model.get("cost_per_1000_predictions"), "$")),
        ("instance", formatted(model.get("instance_type"))),
        ("test images answered and right (thresholds)", formatted(thresholded.get("answered_and_right"), "%")),
        ("test images answered unknown", formatted(thresholded.get("unknown_share"), "%")),
        ("other kinds answered unknown", formatted(other.get("unknown_share"), "%")),
    )
    shown = sorted((k, v) for k, v in model.get("hyperparameters", {}).items() if k in SHOWN_HYPERPARAMETERS)
    wrong = outputs.get("misclassified.json", [])
    return ModelView(
        name=name,
        architecture=model.get("architecture"),
        reason=model.get("reason"),
        facts=facts,
        hyperparameters=", ".join(f"{k}={v}" for k, v in shown) or NOTHING,
        per_class=tuple(
            (Cell(c), *(_num(v[k], "%") for k in ("precision", "recall", "f1")), _num(v["support"]))
            for c, v in per_class.items()
        ),
        thresholds=tuple(
            (
                Cell(c),
                _num(v["threshold"], "%"),
                Cell(calibrated.get(c, {}).get("basis", NOTHING)),
                _num(v["precision"], "%"),
                _num(v["recall"], "%"),
            )
            for c, v in (thresholded.get("per_class") or {}).items()
        ),
        coverage_chart=figures.coverage(model),
        f1_chart=figures.f1_by_class(model),
        confusion_matrix=figures.confusion_matrix(model),
        training_curves=tuple(
            figures.training_curves(
                name,
                figures.history_epochs(outputs.get("history.json") or {}),
                model.get("metrics", {}).get("fine_tune_from_epoch"),
            )
            if outputs.get("history.json")
            else ()
        ),
        misclassified=None if "misclassified.json" not in outputs else tuple(map(_mistake, wrong)),
        mistakes=tuple(
            (
                Cell(w["file"]),
                Cell(w["true"]),
                Cell(w["predicted"]),
                _num(w["probabilities"][w["predicted"]], "%"),
                _num(w["probabilities"][w["true"]], "%"),
            )
            for w in wrong
        ),
    )


def tuning_view(job: dict[str, Any]) -> TuningView | None:
    """A tuning job's trials: a scatter per numeric tuned value, the best per category otherwise."""
    trials = [t for t in job.get("trials", []) if t.get("objective") is not None]
    if not trials:
        return None
    tuning = job.get("request", {}).get("tuning", {})
    objective = tuning.get("objective", "objective")
    maximize = not objective.endswith("loss")
    better = max if maximize else min
    drawn: list[str] = []
    for name, spec in tuning.get("ranges", {}).items():
        values = [(t["hyperparameters"].get(name), t["objective"]) for t in trials]
        numeric = [(float(v), o) for v, o in values if _is_number(v)]
        if len(numeric) == len(values):
            log_x = isinstance(spec, dict) and spec.get("scale") in ("log", "reverse_log")
            chart = charts.scatter(numeric, x_label=name, y_label=objective, log_x=log_x, maximize=maximize)
            drawn += [chart] if chart else []
            continue
        best: dict[str, float] = {}
        for value, score in values:
            best[str(value)] = better(score, best.get(str(value), score))
        top = max(best.values())
        drawn.append(
            charts.bars(
                [charts.Bar(k, v) for k, v in sorted(best.items(), key=lambda kv: kv[1], reverse=maximize)],
                title=f"best {objective} by {name}",
                maximum=top if top > 0 else 1,
                percent=objective.endswith("accuracy"),
            )
        )
    rows = tuple(
        (
            Cell(t["name"]),
            Cell(t["status"]),
            Cell(f"{t['objective']:.4f}", "num"),
            Cell(", ".join(f"{k}={v}" for k, v in sorted(t["hyperparameters"].items()))),
        )
        for t in sorted(trials, key=lambda t: t["objective"], reverse=maximize)
    )
    return TuningView(name=job["name"], objective=objective, charts=tuple(drawn), trials=rows)


def page_data(
    *,
    title: str,
    leaderboard: list[dict[str, Any]],
    focus: list[dict[str, Any]],
    outputs: dict[str, dict[str, Any]],
    job: dict[str, Any] | None = None,
    tuning_jobs: list[dict[str, Any]] | None = None,
    generated: datetime | None = None,
) -> dict[str, Any]:
    """What the page shows: the leaderboard (chart and table), each model in `focus` with what its
    job wrote (`outputs`, by model name), then each tuning job's trials."""
    return {
        "title": title,
        "generated": (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        "job": job
        and {
            "name": job["name"],
            "kind": job.get("kind"),
            "status": job.get("status"),
            "cost": None if job.get("cost") is None else formatted(job["cost"], "$"),
            "dataset": job.get("request", {}).get("dataset"),
        },
        "model_count": len(leaderboard),
        "accuracy_chart": figures.leaderboard(leaderboard),
        "states": list(STATE_COLOURS),
        "columns": [title for _, title, _ in COLUMNS],
        "note": NOTE,
        "rows": leaderboard_rows(leaderboard),
        "models": [model_view(m, outputs.get(m["name"], {})) for m in focus],
        "tuning": [view for view in map(tuning_view, tuning_jobs or []) if view],
    }


@functools.cache
def _template() -> Any:
    import jinja2  # only the functions that write a report load it (cold start)

    folder = resources.files(__package__)
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (folder / name).read_text()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals |= {"style": (folder / "report.css").read_text(), "state_colours": STATE_COLOURS}
    return environment.get_template("report.html.j2")


def render(data: dict[str, Any]) -> str:
    return _template().render(data)


def build_report(**kwargs: Any) -> str:
    """The page as HTML; the arguments are page_data's."""
    return render(page_data(**kwargs))


def write_job_report(
    job: dict[str, Any],
    *,
    leaderboard: list[dict[str, Any]],
    outputs: Callable[[str], dict[str, Any]],
    s3: Any,
    bucket: str,
    tuning_jobs: list[dict[str, Any]] | None = None,
) -> str:
    """The job's report to s3://<bucket>/artifacts/reports/<job>/report.html; returns its URI.
    Its models are those it produced, each with what `outputs` reads from its job's archive; a tuning
    job's trials are shown (a comparison passes its members')."""
    names = set(job.get("models") or ([job["model"]] if job.get("model") else []))
    focus = [m for m in leaderboard if m["name"] in names]
    page = build_report(
        title=f"Vista report: {job['name']}",
        leaderboard=leaderboard,
        focus=focus,
        outputs={m["name"]: outputs(archive_of_model(m["artifact"])) for m in focus},
        job=job,
        tuning_jobs=tuning_jobs if tuning_jobs is not None else [job] if job.get("trials") else [],
    )
    key = f"{REPORTS_PREFIX}{job['name']}/report.html"
    s3.put_object(Bucket=bucket, Key=key, Body=page.encode(), ContentType="text/html; charset=utf-8")
    return f"s3://{bucket}/{key}"

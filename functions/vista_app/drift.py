"""Drift seen without labels: most predictions never get a person's label, but every one says which
class it gave and how sure it was. Per model, every DriftWindow answers make a window; a window's
class mix is compared with the mix the model gave on its own test split (Jensen-Shannon divergence,
base 2: 0 the same, 1 nothing in common) and its mean confidence with the test split's. A window
over either threshold is drift: the figures go out as metrics (their alarms), onto the model's
record (the console's chart), and, when the stack says so, the retraining request feedback makes.

The open window lives on the model's record (`window`: answers, summed confidence in ten-thousandths,
so that taking a window away leaves exactly zero, and answers a class),
added to atomically once a batch, so concurrent classifiers never lose an answer; the batch that
fills it closes it and takes away exactly what it counted, so answers beyond it open the next.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any

from vista_app.records import Jobs, Models, timestamp

logger = logging.getLogger(__name__)

HISTORY = 48  # closed windows kept on the record: the console's chart
CONFIDENCE_UNITS = 10_000  # a window sums confidences as integers: 0.8731 is 8731


def reference_of(model: dict[str, Any]) -> dict[str, Any] | None:
    """What the model answered on its test split: its own `reference` (train.py), or, for a model
    from before it, the class mix of its confusion matrix's columns (no confidence then)."""
    metrics = model.get("metrics") or {}
    if metrics.get("reference"):
        return metrics["reference"]
    matrix, classes = metrics.get("confusion_matrix"), metrics.get("class_names")
    if not matrix or not classes:
        return None
    columns = [sum(row[j] for row in matrix) for j in range(len(classes))]
    total = sum(columns) or 1
    return {"class_mix": {c: n / total for c, n in zip(classes, columns, strict=True)}, "mean_confidence": None}


def jensen_shannon(p: dict[str, float], q: dict[str, float]) -> float:
    """Jensen-Shannon divergence of two distributions over the same classes, base 2 (in [0, 1])."""
    classes = sorted(set(p) | set(q))
    p_total, q_total = sum(p.values()) or 1, sum(q.values()) or 1
    divergence = 0.0
    for c in classes:
        a, b = p.get(c, 0) / p_total, q.get(c, 0) / q_total
        m = (a + b) / 2
        divergence += (a * math.log2(a / m) if a else 0) + (b * math.log2(b / m) if b else 0)
    return max(0.0, divergence / 2)


def window_drift(window: dict[str, Any], reference: dict[str, Any], *, settings: Any) -> dict[str, Any]:
    """One closed window's figures, and whether they are drift by the stack's thresholds."""
    n = window["predictions"]
    mix = {c: k / n for c, k in window["classes"].items()}
    confidence = window["confidence"] / CONFIDENCE_UNITS / n
    result: dict[str, Any] = {
        "at": timestamp(),
        "predictions": n,
        "class_mix": {c: round(v, 4) for c, v in mix.items()},
        "divergence": round(jensen_shannon(mix, reference["class_mix"]), 4),
        "mean_confidence": round(confidence, 4),
    }
    reasons = []
    if result["divergence"] > settings.drift_divergence_above:
        reasons.append(f"class mix diverged {result['divergence']:.2f} from the test split's")
    if reference.get("mean_confidence") is not None:
        drop = 100 * (reference["mean_confidence"] - confidence)
        result.update(reference_confidence=reference["mean_confidence"], confidence_drop=round(drop, 2))
        if drop > settings.drift_confidence_drop_above:
            reasons.append(f"mean confidence {confidence:.0%} is {drop:.0f} points under the test split's")
    result["drifted"] = bool(reasons)
    if reasons:
        result["reason"] = "; ".join(reasons)
    return result


def observe(
    answers: list[tuple[str, float]], *, model: dict[str, Any], models: Models, settings: Any
) -> dict[str, Any] | None:
    """Add a batch's OK answers (label, confidence) of one model to its open window; the drift of the
    window this batch filled, or None while it is open (or for a model with nothing to compare with)."""
    reference = reference_of(model)
    if not answers or reference is None:
        return None
    counts = Counter(label for label, _ in answers)
    confidence = sum(round(c * CONFIDENCE_UNITS) for _, c in answers)
    if "window" not in model:  # the first answers of this model (or of one from before windows)
        models.open_window(model["name"], list(reference["class_mix"]))
    record = models.tally(model["name"], counts, confidence)
    window = record["window"]
    before = window["predictions"] - len(answers)
    if not before < settings.drift_window <= window["predictions"]:
        return None
    drift = window_drift(window, reference, settings=settings)
    point = {k: drift.get(k) for k in ("at", "divergence", "mean_confidence", "confidence_drop", "drifted")}
    models.close_window(model["name"], window, drift, [*record.get("drift_history", []), point][-HISTORY:])
    return drift


def observe_records(
    records: list[dict[str, Any]], *, models: Models, settings: Any
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """observe() for the OK records of a batch, model by model (a batch answered while the endpoint
    switched models has two): (model, drift) for each window the batch closed."""
    by_model: dict[str, list[tuple[str, float]]] = {}
    for record in records:
        if record.get("status") == "OK" and record.get("model"):
            by_model.setdefault(record["model"], []).append((record["label"], record["confidence"]))
    closed = []
    for name, answers in by_model.items():
        model = models.get(name)
        if model is None:
            continue
        drift = observe(answers, model=model, models=models, settings=settings)
        if drift:
            closed.append((model, drift))
    return closed


def publish(metrics: Any, model: dict[str, Any], drift: dict[str, Any]) -> None:
    """A closed window's figures as EMF metrics (the drift alarms watch them), the model as metadata."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metadata("model", model["name"])
    metrics.add_metric("ClassMixDivergence", MetricUnit.NoUnit, drift["divergence"])
    metrics.add_metric("MeanConfidence", MetricUnit.Percent, 100 * drift["mean_confidence"])
    if "confidence_drop" in drift:
        metrics.add_metric("ConfidenceDrop", MetricUnit.Percent, drift["confidence_drop"])


def watch(answered: list[dict[str, Any]], *, settings: Any, metrics: Any, s3: Any) -> None:
    """What a function answered, into its models' drift windows: a window closed is published and,
    when it drifted and the stack says so (RetrainOnDrift), the champion's retraining is requested
    as falling rolling accuracy requests it (the request, once per champion)."""
    models = Models(settings.models_table)
    for model, drift in observe_records(answered, models=models, settings=settings):
        publish(metrics, model, drift)
        logger.info("drift window of %s closed: %s", model["name"], drift.get("reason", "no drift"))
        if drift["drifted"] and settings.retrain_on_drift == "true":
            from vista_app.feedback import request_retraining  # pydantic: only on this rare path

            window = {"drift": drift["reason"], "predictions": drift["predictions"]}
            jobs = Jobs(settings.jobs_table)
            outcome = request_retraining(model, window, settings=settings, s3=s3, models=models, jobs=jobs)
            logger.info("retraining on drift of %s: %s", model["name"], outcome["outcome"])

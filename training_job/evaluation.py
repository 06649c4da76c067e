"""Evaluation on the test split: metrics.json, the mistakes with their thumbnails, the serving latency.
The report draws the charts from these (functions/vista_app/charts.py): the job draws none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

RED = (220, 20, 40)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, macro F1 and the confusion matrix
    (rows: true class, columns: predicted class)."""
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for i, name in enumerate(classes):
        tp = int(confusion[i, i])
        predicted, actual = int(confusion[:, i].sum()), int(confusion[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": actual,
        }
    total = int(confusion.sum())
    return {
        "accuracy": round(float(np.trace(confusion)) / total, 4) if total else 0.0,
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "class_names": classes,
        "test_images": total,
    }


def write_json(metrics: dict[str, Any], *directories: str | Path) -> None:
    for directory in directories:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "metrics.json").write_text(json.dumps(metrics, indent=2))


def misclassified(
    paths: list[str], y_true: np.ndarray, probabilities: np.ndarray, classes: list[str], limit: int = 12
) -> list[dict[str, Any]]:
    """The test images the model got wrong, most confidently wrong first."""
    predicted = np.argmax(probabilities, axis=-1)
    wrong = np.flatnonzero(predicted != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])][:limit]
    return [
        {
            "file": Path(paths[i]).name,
            "path": paths[i],
            "true": classes[y_true[i]],
            "predicted": classes[predicted[i]],
            "probabilities": {c: round(float(p), 4) for c, p in zip(classes, probabilities[i], strict=True)},
        }
        for i in wrong
    ]


def thumbnail(path: str | Path, heatmap: list[list[float]] | None = None, size: int = 160) -> str:
    """The image as a small JPEG data URI (what the report shows), the heatmap (a grid of 0..1,
    explain.py's: where the model looked for the class it gave) laid over it in red."""
    import base64
    import io

    from PIL import Image

    with Image.open(path) as image:
        picture = image.convert("RGB")
    picture.thumbnail((size, size))
    if heatmap is not None:
        grid = Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize(picture.size, Image.Resampling.BILINEAR)
        weight = np.clip(np.asarray(grid), 0, 1)[..., None] * 0.6
        pixels = np.asarray(picture, dtype=np.float32) * (1 - weight) + np.array(RED, dtype=np.float32) * weight
        picture = Image.fromarray(pixels.round().astype(np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def serving_latency(model_dir: str | Path, images: list[bytes], runs: int = 30) -> dict[str, float]:
    """The exported SavedModel at batch 1 on the CPU (where a serverless endpoint serves it):
    median and p90 milliseconds per request, and the mean request size as the endpoint gets it."""
    import base64
    import time

    import tensorflow as tf

    with tf.device("/CPU:0"):
        versions = sorted((p for p in Path(model_dir).iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        serve = tf.saved_model.load(str(versions[-1])).signatures["serving_default"]
        for data in images[:3]:  # warm-up: the first calls trace and allocate
            serve(image_bytes=tf.constant([data]))
        timings = []
        for i in range(runs):
            started = time.perf_counter()
            serve(image_bytes=tf.constant([images[i % len(images)]]))
            timings.append((time.perf_counter() - started) * 1000)
    request_bytes = [len(json.dumps({"instances": [{"b64": base64.b64encode(d).decode()}]})) for d in images]
    return {
        "serving_latency_ms": round(float(np.median(timings)), 2),
        "serving_latency_p90_ms": round(float(np.percentile(timings, 90)), 2),
        "request_bytes": round(float(np.mean(request_bytes))),
    }

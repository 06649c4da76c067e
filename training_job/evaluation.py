"""Evaluation on the test split: metrics.json and the pictures people look at."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


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


def plot_confusion_matrix(metrics: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.array(metrics["confusion_matrix"])
    classes = metrics["class_names"]
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2.5, 1.1 * len(classes) + 2))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    # Large type: the picture is shown at about half its size beside the per-class table.
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=14)
    ax.set_yticks(range(len(classes)), classes, fontsize=14)
    ax.set_xlabel("predicted", fontsize=14)
    ax.set_ylabel("true", fontsize=14)
    for (i, j), count in np.ndenumerate(confusion):
        colour = "white" if rates[i, j] > 0.5 else "black"
        ax.text(j, i, f"{count}", ha="center", va="center", color=colour, fontsize=16)
    ax.set_title(f"Confusion matrix — accuracy {metrics['accuracy']:.1%}", fontsize=15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training_curves(history: dict[str, list[float]], path: str | Path, fine_tune_from: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    epochs = range(1, len(history.get("loss", [])) + 1)
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.plot(epochs, history.get(metric, []), marker="o", label=f"train {metric}")
        ax.plot(epochs, history.get(f"val_{metric}", []), marker="o", label=f"validation {metric}")
        if fine_tune_from:
            ax.axvline(fine_tune_from + 0.5, color="grey", linestyle="--", label="fine-tuning starts")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


def plot_misclassified(
    samples: list[dict[str, Any]],
    path: str | Path,
    heatmaps: list[list[list[float]]] | None = None,
    columns: int = 4,
) -> None:
    """A grid of the misclassified images, each titled true → predicted with both probabilities,
    under its heatmap (explain.py: where the model looked for the class it wrongly gave) if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(samples) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, sample) in enumerate(zip(axes.flat, samples, strict=False)):
        image = plt.imread(sample["path"])
        ax.imshow(image)
        if heatmaps:
            height, width = image.shape[:2]
            extent = (0, width, height, 0)  # the grid stretched over the picture
            ax.imshow(heatmaps[i], cmap="jet", alpha=0.4, vmin=0, vmax=1, interpolation="bilinear", extent=extent)
        probabilities = sample["probabilities"]
        ax.set_title(
            f"true {sample['true']} ({probabilities[sample['true']]:.0%})\n"
            f"said {sample['predicted']} ({probabilities[sample['predicted']]:.0%})",
            fontsize=9,
            color="#b00020",
        )
    if not samples:
        axes.flat[0].text(0.5, 0.5, "no misclassified test images", ha="center", va="center")
    fig.suptitle(
        "Misclassified test images, most confident mistakes first"
        + ("\n(red: what made the model say its class)" if heatmaps else "")
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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

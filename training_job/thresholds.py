"""How sure the model must be of each class before its answer is given: thresholds calibrated on the
validation split, and what they do on the test split and on scenes of other kinds.

A class's threshold is the lowest top probability at which the answers of that class on the
validation split reach the target precision (Rekognition Custom Labels derives its "assumed
threshold" per label from its test set likewise); where no threshold reaches it, the one with the
best F1. An answer below its class's threshold is "unknown", with the top class as its best guess;
so is one farther from that class's training images than any right answer of it on the validation
split (typicality.py: a softmax is sure of many images of none of its classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

UNKNOWN = "unknown"
CURVE_POINTS = 21  # the coverage/accuracy curve: global thresholds 0, 0.05, ..., 1


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def class_threshold(
    top: np.ndarray, predicted: np.ndarray, truth: np.ndarray, index: int, target: float
) -> dict[str, Any]:
    """One class's threshold from the validation split's answers (`top`: each answer's top probability)."""
    said = predicted == index
    if not said.any():  # never answered on the validation split: nothing says how sure it must be
        return {"threshold": 1.0, "basis": "never predicted"}
    # Ascending, the lowest that reaches the target winning: 0 first (every answer of the class kept),
    # then each answer's own probability (those under it left out).
    candidates = np.unique(np.concatenate([[0.0], top[said]]))
    best: tuple[float, float] = (-1.0, 1.0)  # (F1, -threshold): the best F1, then the lowest threshold
    for threshold in candidates:
        kept = said & (top >= threshold)
        right = int(np.sum(kept & (truth == index)))
        precision = right / int(np.sum(kept))
        recall = right / max(int(np.sum(truth == index)), 1)
        if precision >= target:
            return {"threshold": round(float(threshold), 4), "basis": "precision", "precision": round(precision, 4)}
        best = max(best, (_f1(precision, recall), -float(threshold)))
    return {"threshold": round(-best[1], 4), "basis": "f1", "f1": round(best[0], 4)}


def calibrate(probabilities: np.ndarray, truth: np.ndarray, classes: list[str], target: float) -> dict[str, Any]:
    """Each class's threshold and how it was chosen, from the validation split."""
    top, predicted = probabilities.max(axis=-1), probabilities.argmax(axis=-1)
    return {c: class_threshold(top, predicted, truth, i, target) for i, c in enumerate(classes)}


@dataclass(frozen=True)
class Cuts:
    """Each class's probability threshold and, where measured, the distance threshold (typicality.py)."""

    probability: list[float]
    distance: float | None = None

    def kept(self, probabilities: np.ndarray, distance: np.ndarray | None = None) -> np.ndarray:
        """Which answers clear their class's thresholds (the others are "unknown"); `distance`: each
        image's distance to the class it would be given."""
        predicted = probabilities.argmax(axis=-1)
        sure = probabilities.max(axis=-1) >= np.asarray(self.probability)[predicted]
        if self.distance is None or distance is None:
            return sure
        return sure & (distance <= self.distance)


def on_test(
    probabilities: np.ndarray, truth: np.ndarray, classes: list[str], cuts: Cuts, distance: np.ndarray | None = None
) -> dict[str, Any]:
    """What the thresholds do on the test split: per class, the precision and recall of the answers
    kept; the share answered and right, the share wrongly "unknown"; the coverage/accuracy curve."""
    predicted, kept = probabilities.argmax(axis=-1), cuts.kept(probabilities, distance)
    right = kept & (predicted == truth)
    per_class = {}
    for i, name in enumerate(classes):
        said = kept & (predicted == i)
        per_class[name] = {
            "threshold": cuts.probability[i],
            "precision": round(float(np.sum(said & (truth == i)) / max(int(np.sum(said)), 1)), 4),
            "recall": round(float(np.sum(said & (truth == i)) / max(int(np.sum(truth == i)), 1)), 4),
        }
    return {
        "per_class": per_class,
        "answered_and_right": round(float(np.mean(right)), 4),
        "unknown_share": round(float(1 - np.mean(kept)), 4),
        "coverage_curve": coverage_curve(probabilities, truth),
    }


def coverage_curve(probabilities: np.ndarray, truth: np.ndarray) -> list[dict[str, float]]:
    """One global threshold swept from 0 to 1: the share of answers kept, and the share of those right."""
    top, right = probabilities.max(axis=-1), probabilities.argmax(axis=-1) == truth
    points = []
    for threshold in np.linspace(0, 1, CURVE_POINTS):
        kept = top >= threshold
        accuracy = float(np.mean(right[kept])) if kept.any() else 1.0
        points.append(
            {
                "threshold": round(float(threshold), 2),
                "coverage": round(float(np.mean(kept)), 4),
                "accuracy": round(accuracy, 4),
            }
        )
    return points


def unknown_share(probabilities: np.ndarray, cuts: Cuts, distance: np.ndarray | None = None) -> float:
    """The share of answers "unknown" (scenes of other kinds: the more the better)."""
    return round(float(1 - np.mean(cuts.kept(probabilities, distance))), 4) if len(probabilities) else 0.0

"""training_job/thresholds.py: per-class thresholds from the validation split, and what they do."""

from __future__ import annotations

import numpy as np


def answers(rows: list[tuple[int, float]], classes: int = 3) -> np.ndarray:
    """Probabilities whose top class and top probability are each row's (the rest spread evenly)."""
    probabilities = []
    for top_class, top in rows:
        row = np.full(classes, (1 - top) / (classes - 1))
        row[top_class] = top
        probabilities.append(row)
    return np.array(probabilities)


def test_a_class_threshold_is_the_lowest_that_reaches_the_target_precision() -> None:
    from thresholds import calibrate

    # The model said class 0 four times: right at 0.9, 0.8 and 0.5, wrong at 0.6.
    probabilities = answers([(0, 0.9), (0, 0.8), (0, 0.6), (0, 0.5), (1, 0.9), (2, 0.9)])
    truth = np.array([0, 0, 1, 0, 1, 2])
    chosen = calibrate(probabilities, truth, ["a", "b", "c"], target=0.95)
    assert chosen["a"] == {"threshold": 0.8, "basis": "precision", "precision": 1.0}
    assert chosen["b"]["threshold"] == 0.9 and chosen["c"]["basis"] == "precision"


def test_where_no_threshold_reaches_the_target_the_best_f1_is_taken() -> None:
    from thresholds import calibrate

    # Class 0 said twice: wrong at 0.9, right at 0.7; nothing reaches 95% precision.
    probabilities = answers([(0, 0.9), (0, 0.7), (1, 0.8)])
    chosen = calibrate(probabilities, np.array([1, 0, 1]), ["a", "b", "c"], target=0.95)
    assert chosen["a"] == {"threshold": 0.7, "basis": "f1", "f1": 0.6667}
    assert chosen["c"] == {"threshold": 1.0, "basis": "never predicted"}


def test_below_its_threshold_an_answer_is_unknown_and_the_test_split_says_what_that_costs() -> None:
    from thresholds import on_test, unknown_share

    probabilities = answers([(0, 0.95), (0, 0.6), (1, 0.7), (2, 0.99)])
    truth = np.array([0, 0, 2, 2])
    figures = on_test(probabilities, truth, ["a", "b", "c"], [0.8, 0.5, 0.9])
    # Kept: 0.95 (a, right), 0.7 (b, wrong), 0.99 (c, right); unknown: 0.6 (a, right, but under 0.8).
    assert figures["unknown_share"] == 0.25 and figures["answered_and_right"] == 0.5
    assert figures["per_class"]["a"] == {"threshold": 0.8, "precision": 1.0, "recall": 0.5}
    assert figures["per_class"]["b"] == {"threshold": 0.5, "precision": 0.0, "recall": 0.0}
    curve = figures["coverage_curve"]
    assert curve[0] == {"threshold": 0.0, "coverage": 1.0, "accuracy": 0.75}
    assert curve[-1] == {"threshold": 1.0, "coverage": 0.0, "accuracy": 1.0}
    assert unknown_share(answers([(0, 0.3), (1, 0.99)]), [0.8, 0.5, 0.9]) == 0.5
    assert unknown_share(answers([(0, 0.3)]), [0.0, 0.0, 0.0]) == 0.0  # no thresholds: never unknown

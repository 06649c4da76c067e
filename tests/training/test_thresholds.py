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
    # Every answer of b and c right: none need be left out.
    assert chosen["b"] == chosen["c"] == {"threshold": 0.0, "basis": "precision", "precision": 1.0}


def test_where_no_threshold_reaches_the_target_the_best_f1_is_taken() -> None:
    from thresholds import calibrate

    # Class 0 said three times: wrong at 0.9 and 0.5, right at 0.7; nothing reaches 95% precision. Its
    # best F1 (0.8: precision 1/2, recall 1/1) keeps the answers from 0.7 up.
    probabilities = answers([(0, 0.9), (0, 0.7), (0, 0.5), (1, 0.8)])
    chosen = calibrate(probabilities, np.array([1, 0, 2, 1]), ["a", "b", "c"], target=0.95)
    assert chosen["a"] == {"threshold": 0.7, "basis": "f1", "f1": 0.6667}
    assert chosen["c"] == {"threshold": 1.0, "basis": "never predicted"}


def test_below_its_threshold_an_answer_is_unknown_and_the_test_split_says_what_that_costs() -> None:
    from thresholds import Cuts, on_test, unknown_share

    probabilities = answers([(0, 0.95), (0, 0.6), (1, 0.7), (2, 0.99)])
    truth = np.array([0, 0, 2, 2])
    figures = on_test(probabilities, truth, ["a", "b", "c"], Cuts([0.8, 0.5, 0.9]))
    # Kept: 0.95 (a, right), 0.7 (b, wrong), 0.99 (c, right); unknown: 0.6 (a, right, but under 0.8).
    assert figures["unknown_share"] == 0.25 and figures["answered_and_right"] == 0.5
    assert figures["per_class"]["a"] == {"threshold": 0.8, "precision": 1.0, "recall": 0.5}
    assert figures["per_class"]["b"] == {"threshold": 0.5, "precision": 0.0, "recall": 0.0}
    curve = figures["coverage_curve"]
    assert curve[0] == {"threshold": 0.0, "coverage": 1.0, "accuracy": 0.75}
    assert curve[-1] == {"threshold": 1.0, "coverage": 0.0, "accuracy": 1.0}
    assert unknown_share(answers([(0, 0.3), (1, 0.99)]), Cuts([0.8, 0.5, 0.9])) == 0.5
    assert unknown_share(answers([(0, 0.3)]), Cuts([0.0, 0.0, 0.0])) == 0.0  # no thresholds: never unknown
    # Sure, but farther from the class's training images than the distance threshold: unknown too.
    near_and_far = Cuts([0.5, 0.5, 0.5], distance=1.0)
    assert unknown_share(answers([(0, 0.9), (1, 0.9)]), near_and_far, np.array([0.4, 3.0])) == 0.5


def test_the_distance_threshold_keeps_98_percent_of_the_right_validation_answers() -> None:
    from typicality import calibrate, fit

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    features = rng.normal(0, 1, (100, 8)) + np.where(labels[:, None] == 0, 5.0, -5.0)
    typical = fit(features, labels, 2)
    probabilities = answers([(int(k), 0.9) for k in labels], classes=2)
    distance = typical.distance(features, probabilities)
    assert 0.5 < float(np.median(distance)) < 1.5  # about 1 a feature for the class's own images
    cut = calibrate(distance, probabilities, labels)
    assert cut == round(float(np.sort(distance)[98]), 4)  # the ceil(101 x 0.98) = 99th smallest of 100
    assert calibrate(distance[:10], probabilities[:10], labels[:10]) == round(float(distance[:10].max()), 4)
    far = typical.distance(np.full((1, 8), 40.0), probabilities[:1])
    assert far[0] > 10 * cut  # an image unlike either class's


def test_the_job_and_the_functions_call_an_unknown_answer_the_same() -> None:
    """train.py's drift reference counts `thresholds.UNKNOWN` among its classes; the functions label an
    answer `predictions.UNKNOWN`: drift compares the two mixes key by key."""
    from thresholds import UNKNOWN
    from vista_app.predictions import UNKNOWN as LABELLED

    assert UNKNOWN == LABELLED

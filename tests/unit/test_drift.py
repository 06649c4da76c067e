"""Drift without labels: the divergence of class mixes and the figures of a closed window."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vista_app.drift import jensen_shannon, reference_of, window_drift

SETTINGS = SimpleNamespace(drift_divergence_above=0.1, drift_confidence_drop_above=15)
EVEN = {"forest": 0.25, "sea": 0.25, "street": 0.25, "glacier": 0.25}
TENS = {"forest": 10, "sea": 10, "street": 10, "glacier": 10}


def test_jensen_shannon_is_zero_for_the_same_mix_one_for_none_in_common_and_symmetric() -> None:
    assert jensen_shannon(EVEN, {"forest": 5, "sea": 5, "street": 5, "glacier": 5}) == pytest.approx(0)
    assert jensen_shannon({"forest": 1}, {"sea": 1}) == pytest.approx(1)
    skewed = {"forest": 0.7, "sea": 0.1, "street": 0.1, "glacier": 0.1}
    assert jensen_shannon(skewed, EVEN) == pytest.approx(jensen_shannon(EVEN, skewed))
    # All of one class against four even ones: (log2(1.6) + log2(0.4) / 4 + 3 / 4) / 2 = 0.5488.
    assert jensen_shannon({"forest": 1}, EVEN) == pytest.approx(0.5488, abs=1e-4)


def test_a_window_like_the_test_split_has_not_drifted() -> None:
    window = {
        "predictions": 40,
        "confidence": 360_000,
        "classes": {"forest": 10, "sea": 10, "street": 10, "glacier": 10},
    }
    drift = window_drift(window, {"class_mix": EVEN, "mean_confidence": 0.92}, settings=SETTINGS)
    assert drift["divergence"] == 0 and drift["mean_confidence"] == 0.9 and drift["confidence_drop"] == 2.0
    assert drift["drifted"] is False and "reason" not in drift


def test_one_class_only_or_unsure_answers_are_drift_with_the_reason() -> None:
    one_class = {
        "predictions": 40,
        "confidence": 360_000,
        "classes": {"forest": 40, "sea": 0, "street": 0, "glacier": 0},
    }
    drift = window_drift(one_class, {"class_mix": EVEN, "mean_confidence": 0.9}, settings=SETTINGS)
    assert drift["drifted"] and drift["reason"] == "class mix diverged 0.55 from the test split's"
    unsure = {
        "predictions": 40,
        "confidence": 220_000,
        "classes": {"forest": 10, "sea": 10, "street": 10, "glacier": 10},
    }
    drift = window_drift(unsure, {"class_mix": EVEN, "mean_confidence": 0.9}, settings=SETTINGS)
    assert drift["reason"] == "mean confidence 55% is 35 points under the test split's"


def test_a_model_from_before_references_has_its_confusion_matrix_s_columns() -> None:
    model = {"metrics": {"class_names": ["a", "b"], "confusion_matrix": [[3, 1], [0, 4]]}}
    assert reference_of(model) == {"class_mix": {"a": 0.375, "b": 0.625}, "mean_confidence": None}
    assert reference_of({"metrics": {}}) is None
    given = {"class_mix": {"a": 0.5, "b": 0.5}, "mean_confidence": 0.8}
    assert reference_of({"metrics": {"reference": given, "confusion_matrix": [[1]]}}) == given

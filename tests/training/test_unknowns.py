"""Unknown answers measured: a model of the six synthetic classes, shown scenes of five other kinds it
never saw (training_job/unknowns.py's figures, from real training)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.jobs import trained_metrics

OOD_SEED = 6
pytestmark = pytest.mark.minutes


def test_thresholds_answer_unknown_to_scenes_of_other_kinds_and_keep_the_six(tmp_path: Path) -> None:
    """The acceptance figures (README): of scenes of five kinds the model never saw, the share answered
    unknown; of the held-out scenes of its six classes, the share answered and right."""
    from synthetic import generate

    generate(tmp_path / "scenes", train_per_class=80, test_per_class=20, size=48, seed=31, other_per_kind=20)
    metrics = trained_metrics(
        tmp_path / "scenes",
        tmp_path / "job",
        architecture="fine_cnn",
        image_size=48,
        epochs=20,
        early_stopping_patience=8,
        validation_split=0.25,
        seed=OOD_SEED,
    )
    other, test = metrics["other_kinds"], metrics["thresholded"]
    print(f"other kinds: {other}; test split: answered and right {test['answered_and_right']}")
    assert other["images"] == 100 and other["unknown_share_without_thresholds"] == 0
    assert other["unknown_share"] >= 0.8 and test["answered_and_right"] >= 0.95

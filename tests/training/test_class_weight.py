"""Balanced training (train.py --class-weight balanced) on a synthetic set with one class ten times rarer."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.jobs import trained_metrics

RARE = "sea"


def test_balanced_class_weights_find_more_of_a_class_ten_times_rarer(tmp_path: Path) -> None:
    from synthetic import generate

    generate(tmp_path / "scenes", train_per_class=40, test_per_class=12, size=48, seed=21)
    for extra in sorted((tmp_path / "scenes" / "seg_train" / "seg_train" / RARE).glob("*.jpg"))[4:]:
        extra.unlink()  # 4 training images of the rare class, 40 of each other
    figures = {}
    for weighting in ("none", "balanced"):
        metrics = trained_metrics(
            tmp_path / "scenes", tmp_path / weighting, epochs=10, batch_size=16, seed=5, class_weight=weighting
        )
        figures[weighting] = (metrics["per_class"][RARE]["recall"], metrics["macro_f1"])
    print(f"rare class recall and macro-F1: {figures}")
    assert figures["balanced"][0] > figures["none"][0]

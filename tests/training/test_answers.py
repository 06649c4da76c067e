"""What a trained model's answers can be trusted for: balanced training for a rare class, and
thresholds that make scenes of other kinds "unknown" (train.py's figures, from real training on the
synthetic scenes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.jobs import sagemaker_environment, train_command

RARE = "sea"


def trained_metrics(dataset: Path, folder: Path, **options: object) -> dict[str, Any]:
    environment = sagemaker_environment(folder, dataset)
    environment["SM_CHANNEL_OTHER"] = str(dataset / "other")
    result = subprocess.run(
        train_command(**options), env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((folder / "output" / "data" / "metrics.json").read_text())


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

"""Drift seen without labels, in local mode: held-out images like the test split's close a window
that has not drifted; images of one class only close one that has, and its alarm fires (the local
CloudWatch extracts the classify function's EMF metrics and evaluates the stack's alarms on them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vista.client import cpu_request, wait_for

pytestmark = pytest.mark.slow

WINDOW = 60
CLOUD = {"parameters": {"DriftWindow": str(WINDOW), "DriftDivergenceAbove": "0.15"}}
SCENES = {"train_per_class": 20, "test_per_class": 10, "size": 48, "seed": 31}
TRAINING = cpu_request("datasets/scenes", "fine_cnn", epochs=10, image_size=48, batch_size=16)


def alarm_state(target: Any, metric: str) -> str:
    [alarm] = [a for a in target.client("cloudwatch").describe_alarms()["MetricAlarms"] if a["MetricName"] == metric]
    return alarm["StateValue"]


def drop_and_wait(target: Any, trained: str, images: list[Path], folder: str, windows: int) -> dict[str, Any]:
    """Drop the images into the inbox; the champion's record once `windows` windows have closed."""
    s3, bucket = target.client("s3"), target.output("DataBucketName")
    for index, path in enumerate(images):
        s3.upload_file(str(path), bucket, f"inbox/{folder}/{index}.jpg")

    def closed() -> dict[str, Any] | None:
        model = next(m for m in target.api("GET", "/models")["items"] if m["name"] == trained)
        return model if len(model.get("drift_history", [])) >= windows else None

    return wait_for(f"drift window {windows}", closed, 240)


def test_one_class_only_fires_the_drift_alarm_and_balanced_held_out_images_do_not(
    target: Any, trained: str, tmp_path: Path
) -> None:
    from synthetic import generate

    # GIVEN a champion whose test split's answers are its reference, and no drift yet
    generate(tmp_path / "held", train_per_class=0, test_per_class=WINDOW // 6, size=48, seed=77)
    balanced = sorted((tmp_path / "held" / "seg_test" / "seg_test").rglob("*.jpg"))
    assert len(balanced) == WINDOW
    assert alarm_state(target, "ClassMixDivergence") != "ALARM"

    # WHEN held-out images like the test split's fill a window, THEN it has not drifted
    model = drop_and_wait(target, trained, balanced, "balanced", 1)
    first = model["drift"]
    assert first["predictions"] == WINDOW and first["drifted"] is False, first
    assert first["divergence"] <= 0.15 and abs(first["confidence_drop"]) < 15
    assert alarm_state(target, "ClassMixDivergence") == "OK"

    # WHEN a window of forests only comes, THEN it has drifted, says why, and the alarm fires
    generate(tmp_path / "forests", train_per_class=0, test_per_class=WINDOW, size=48, seed=78)
    forests = sorted((tmp_path / "forests" / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    model = drop_and_wait(target, trained, forests, "forests", 2)
    second = model["drift"]
    assert second["drifted"] is True and second["divergence"] > 0.15, second
    assert second["reason"].startswith("class mix diverged")
    assert max(second["class_mix"], key=second["class_mix"].get) == "forest"
    assert [p["drifted"] for p in model["drift_history"]] == [False, True]
    assert alarm_state(target, "ClassMixDivergence") == "ALARM"

"""Load in local mode (a smaller size than `benchmarks/load.py`'s 1,000): every image ends with
one OK record, none lost or doubled, and the endpoint never sees more callers than its
MaxConcurrency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from benchmarks.load import measure, train_champion

pytestmark = pytest.mark.slow
IMAGES = 100


def test_a_burst_of_images_is_classified_once_each(cloud: Any, tmp_path: Path) -> None:
    from synthetic import generate
    from vista.target import Target

    generate(tmp_path, train_per_class=10, test_per_class=IMAGES // 6 + 1, size=48, seed=13)
    target = Target(cloud.outputs, "us-east-1", boto3.Session(region_name="us-east-1"))
    train_champion(target, tmp_path)
    images = sorted((tmp_path / "seg_test" / "seg_test").rglob("*.jpg"))[:IMAGES]
    result = measure(cloud, target, images)
    assert (result["records"], result["ok"], result["lost"], result["doubled"]) == (IMAGES, IMAGES, 0, 0), result
    assert result["endpoint_calls"] == IMAGES
    assert result["endpoint_peak_concurrency"] <= result["endpoint_max_concurrency"] == 5
    assert result["endpoint_refused"] == 0

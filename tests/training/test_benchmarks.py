"""The benchmarks `make bench` and `make bench-gpu` run, at tiny sizes: they run here, and each
figure comes from what it says it measures (the times themselves are the benchmarks' business)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from vista.project import ROOT


def bench_gpu_arguments() -> list[str]:
    """The arguments `make bench-gpu` passes to benchmarks.training_throughput."""
    recipe = re.search(r"^bench-gpu:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "no bench-gpu target in the Makefile"
    command = shlex.split(recipe.group(1).replace("\\\n", " "))
    return command[command.index("benchmarks.training_throughput") + 1 :]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_a_cpu_with_its_own_flags_at_tiny_sizes(tmp_path: Path) -> None:
    from benchmarks import training_throughput

    arguments = bench_gpu_arguments()
    assert {"--input-pipeline", "--json"} <= set(arguments)
    assert arguments[arguments.index("--architectures") + 1] == "resnet50"
    assert arguments[arguments.index("--image-size") + 1] == "224"
    tiny = {"--architectures": "base_cnn", "--image-size": "32", "--batch-size": "4", "--steps": "2"}
    tiny["--json"] = str(tmp_path / "bench-gpu.json")
    for flag, value in tiny.items():
        arguments[arguments.index(flag) + 1] = value

    rows = training_throughput.main(arguments)

    variants = [r for r in rows if "precision" in r]
    assert [(r["precision"], r["xla"]) for r in variants] == [("float32", False), ("float32", True)]  # no GPU here
    pipeline = [r for r in rows if "case" in r]
    assert [r["case"].split(",")[0] for r in pipeline[:2]] == ["input pipeline alone"] * 2
    fastest = max(variants, key=lambda r: r["images_per_s"])
    assert pipeline[2]["ratio"] == pytest.approx(pipeline[2]["images_per_s"] / fastest["images_per_s"])
    assert all(r["images_per_s"] > 0 for r in rows)
    written = json.loads((tmp_path / "bench-gpu.json").read_text())
    assert written["rows"] == json.loads(json.dumps(rows)) and "CPU" in written["device"]


@pytest.mark.slow
def test_vista_per_image_work_is_timed_with_aws_answered_in_process() -> None:
    from benchmarks import per_image

    rows = per_image.main(["--architectures", "base_cnn", "--image-size", "32", "--runs", "2"])

    assert [r["path"] for r in rows] == list(per_image.PATHS)
    by_path = {r["path"]: r for r in rows}
    # The recording refuses a path that did not ask the model; these are the calls each replays:
    # the champion, the claim of the record, the image (S3) or its copy, the endpoint, the answer.
    assert by_path["classify (S3 inbox -> record)"]["aws_calls"] >= 5
    assert by_path["POST /predictions"]["aws_calls"] >= 4
    for row in rows:
        assert row["vista_ms"] > 0 and row["model_ms"] > 0
        assert row["vista_share"] == pytest.approx(row["vista_ms"] / row["model_ms"], rel=0.01)
        assert not row["default_model"]


def test_a_batch_pays_from_the_photo_where_its_start_is_paid_back_by_cheaper_images() -> None:
    from benchmarks.batch_vs_inbox import compare
    from vista_app.batches import STARTUP_S
    from vista_app.costs import load_prices

    prices = load_prices()
    table = prices["regions"]["us-east-1"]
    # The inbox: 10 ms of reduction and 40 of model a photo; a batch: 20 ms a photo on the instance.
    inbox, m5, g4dn = compare({"reduce": 10.0, "reduced": 40.0, "original": 20.0, "sent_bytes": 20_000}, prices)
    rate = table["training_per_hour"]["ml.m5.xlarge"] / 3600
    inbox_photo, batch_photo = inbox["cost_per_image"], m5["cost_per_image"]
    assert batch_photo == pytest.approx(0.02 * rate)
    assert m5["cost_per_1000"] == pytest.approx(STARTUP_S * rate + 1000 * 0.02 * rate, abs=1e-4)
    # From there on the batch's cheaper images have paid its start back, not one photo before.
    n = m5["cheaper_from"]
    assert n * inbox_photo >= STARTUP_S * rate + n * batch_photo > (n - 1) * inbox_photo
    assert m5["minutes_for_1000"] == pytest.approx((STARTUP_S + 20) / 60, abs=0.1)
    assert g4dn["cheaper_from"] is None or g4dn["cheaper_from"] > n  # the dearer instance pays back later
    assert inbox["minutes_for_1000"] == pytest.approx(1000 * 0.05 / 5 / 60, abs=0.1)

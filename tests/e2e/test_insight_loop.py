"""Insight end to end, in local mode: a comparison of two models → their leaderboard with costs →
people's feedback pulls the champion's rolling accuracy under the threshold → a retraining job
starts by itself on the grown dataset → the better model is promoted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers.stack import local_cloud
from tests.helpers.support import settled
from vista.client import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.minutes]
WINDOW = 144  # every field image: retraining starts once all are labelled, and learns from them all
# Any champion short of perfect on the field asks for retraining: training on 2 CPU threads is not bit-for-bit
# repeatable, and CI saw one first champion right on 131 of 144 (91%), so a lower bar made the premise a coin toss.
BELOW_PERCENT = 99


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from vista.target import Target

    parameters = {"RetrainWindow": str(WINDOW), "RetrainBelowAccuracyPercent": str(BELOW_PERCENT)}
    with local_cloud(tmp_path_factory.mktemp("loop"), parameters=parameters) as cloud:
        yield Target(cloud.outputs, "us-east-1", boto3.Session(region_name="us-east-1")), cloud


def last_json(out: str) -> Any:
    """The command's JSON, after any EMF lines the functions printed while it ran."""
    lines = out.splitlines()
    return json.loads("\n".join(lines[max(i for i, line in enumerate(lines) if line == "{") :]))


def champion(api: Any) -> dict[str, Any] | None:
    return next((m for m in api("GET", "/models")["items"] if m["state"] == "champion"), None)


def test_comparison_leaderboard_feedback_retraining_and_promotion(
    target: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from synthetic import generate
    from vista.cli import main
    from vista.client import finished_comparison, submit_training, upload_dataset, wait_for_endpoint

    target, cloud = target
    bucket = cloud.outputs["DataBucketName"]
    # GIVEN a small dataset (10 training images a class) and 144 more images "from the field"
    generate(tmp_path / "scenes", train_per_class=10, test_per_class=10, size=48, seed=5)
    generate(tmp_path / "field", train_per_class=24, test_per_class=0, size=48, seed=23)
    upload_dataset(target, tmp_path / "scenes", "loop")

    # WHEN one request compares base_cnn with fine_cnn, briefly trained (4 steps an epoch), so the champion
    # stays imperfect and the retraining on 3.4 times the images has room to do better
    request = {
        "dataset": "datasets/loop",
        "architectures": ["base_cnn", "fine_cnn"],
        "instance_type": "ml.m5.xlarge",
        "spot": False,
        "hyperparameters": {
            "epochs": 8,
            "image_size": 48,
            "batch_size": 16,
            "weights": "none",
            "early_stopping_patience": 8,
        },
    }
    comparison = finished_comparison(target, submit_training(target, request, "loop compare"), timeout_s=300)
    # THEN both models are on a leaderboard, best first, each with its cost, latency and serving estimate
    assert comparison["status"] == "Completed" and len(comparison["models"]) == 2, comparison
    board = target.api("GET", "/models")["items"]
    accuracies = [m["accuracy"] for m in board]
    assert accuracies == sorted(accuracies, reverse=True)
    for model in board:
        assert model["training_cost"] > 0 and model["billable_seconds"] >= 1
        assert model["serving_latency_ms"] > 0 and model["cost_per_1000_predictions"] > 0
        assert model["macro_f1"] is not None and model["parameters"] > 0
    assert comparison["cost"] == pytest.approx(sum(m["training_cost"] for m in board))
    assert comparison["report"].startswith(f"s3://{bucket}/artifacts/reports/")
    settled()  # the better member may still be on its way to the endpoint
    first = champion(target.api)
    assert first["accuracy"] == board[0]["accuracy"]  # the best serves (a tie keeps the one crowned first)

    # WHEN the champion classifies the field images and people label every one
    wait_for_endpoint(target, 300)
    answers = {}
    for path in sorted((tmp_path / "field" / "seg_train" / "seg_train").rglob("*.jpg")):
        answer = target.api("POST", "/predictions", body=path.read_bytes(), content_type="image/jpeg")
        answers[answer["id"]] = (path.parent.name, answer)
    retraining = None
    for prediction_id, (truth, _) in answers.items():
        body = json.dumps({"label": truth}).encode()
        result = target.api(
            "POST", f"/predictions/{prediction_id}/feedback", body=body, content_type="application/json"
        )
        retraining = retraining or result.get("retraining")
    prediction_id, (truth, _) = next(iter(answers.items()))
    assert main(["feedback", prediction_id, truth]) == 0  # the same label again: nothing changes
    assert f"{prediction_id}: {truth}; the model was" in capsys.readouterr().out
    right = sum(truth == answer["label"] for truth, answer in answers.values())
    # THEN its accuracy over the window fell below the bar and a retraining request was made
    assert right / len(answers) * 100 < BELOW_PERCENT, f"the first champion was right on {right} of {len(answers)}"
    assert retraining == {"outcome": "requested", "request": f"s3://{bucket}/jobs/retrain-{first['name']}.json"}
    copies = target.client("s3").list_objects_v2(Bucket=bucket, Prefix="datasets/loop/seg_train/seg_train/")
    assert sum("/feedback-" in o["Key"] for o in copies["Contents"]) == len(answers)

    # AND the retraining job starts by itself, on the grown dataset, and its better model is promoted
    source = retraining["request"]
    job = wait_for(
        "the retraining job",
        lambda: next((j for j in target.api("GET", "/training-jobs")["items"] if j["source"] == source), None),
        60,
    )
    done = wait_for(
        "the retraining job to end",
        lambda: (lambda j: j if j["status"] in ("Completed", "Failed") and j.get("model") else None)(
            target.api("GET", f"/training-jobs/{job['name']}")
        ),
        300,
    )
    assert done["status"] == "Completed", done.get("failure_reason")
    second = wait_for(
        "the new model's gate",
        lambda: (
            next((m for m in target.api("GET", "/models")["items"] if m["name"] == done["model"]), {}).get("state")
            in ("champion", "rejected")
            and next(m for m in target.api("GET", "/models")["items"] if m["name"] == done["model"])
        ),
        60,
    )
    assert second["state"] == "champion", second.get("reason")
    assert second["accuracy"] > first["accuracy"] and second["architecture"] == first["architecture"]
    assert next(m for m in target.api("GET", "/models")["items"] if m["name"] == first["name"])["state"] == "retired"

    # AND the report and the cost ledger agree with the Models table
    assert main(["report", "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    for model in target.api("GET", "/models")["items"]:
        row = re.search(rf'<tr id="row-{model["name"]}">(.*?)</tr>', page).group(1)
        assert f"{model['accuracy']:.1%}" in row and f"${model['training_cost']:,.4f}" in row
    # Each model's confusion matrix and curves, and its mistakes' thumbnails unless it made none.
    models = target.api("GET", "/models")["items"]
    for model in models:
        assert f'aria-label="Confusion matrix (accuracy {model["accuracy"]:.1%})"' in page
        assert f'aria-label="{model["name"]}: loss: loss by epoch"' in page
    mistakes = [round((1 - m["accuracy"]) * m["metrics"]["test_images"]) for m in models]
    assert page.count('<img src="data:image/jpeg;base64,') == sum(min(12, n) for n in mistakes)
    assert page.count("No test image was misclassified.") == mistakes.count(0)
    assert main(["costs", "--json"]) == 0
    book = last_json(capsys.readouterr().out)
    assert {r["model"] for r in book["by_model"]} >= {first["name"], second["name"]}
    assert book["total"] == pytest.approx(sum(r["total"] for r in book["by_day"]))

"""Feedback and monitoring through the API: labels, review flags, rolling accuracy, retraining."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import CLASSES, FakeEndpoint
from tests.helpers.stack import BUCKET, image_bytes
from tests.helpers.support import REQUEST, call, champion_on_record, request

WINDOW = 4


@pytest.fixture
def served(aws: None, endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A champion trained on datasets/intel by a job whose request is on record; a 4-prediction window."""
    from vista_app import config

    monkeypatch.setenv("RETRAIN_WINDOW", str(WINDOW))
    monkeypatch.setenv("RETRAIN_BELOW_ACCURACY_PERCENT", "75")
    config.settings.cache_clear()
    return champion_on_record(
        hyperparameters={"architecture": "resnet50", "learning_rate": 0.0012, "checkpoint_dir": "/opt/ml/x"},
        instance_type="ml.g5.xlarge",
    )


def predict(context: Any, color: tuple[int, int, int]) -> dict[str, Any]:
    import base64

    body = base64.b64encode(image_bytes(color=color)).decode()
    status, created = call(
        request("api_post_predictions_jpeg", body=body, content_type="image/jpeg", b64=True), context
    )
    assert status == 201, created
    return created


def feedback(context: Any, prediction_id: str, label: Any) -> tuple[int, Any]:
    body = json.dumps({"label": label})
    return call(request("api_post_prediction_feedback", body=body, path={"prediction_id": prediction_id}), context)


def keys(prefix: str) -> list[str]:
    return [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_feedback_labels_the_prediction_and_files_the_image_under_its_true_class(
    served: dict[str, Any], context: Any
) -> None:
    # GIVEN an image POSTed to the API (kept under artifacts/uploads/)
    created = predict(context, (10, 120, 40))
    assert keys("artifacts/uploads/") == [created["key"]]
    wrong = next(c for c in CLASSES if c != created["label"])
    # WHEN someone says what it really shows
    status, answer = feedback(context, created["id"], wrong)
    # THEN the prediction carries the label, the image is training data of that class, and the window counts it
    assert status == 200, answer
    assert answer["prediction"]["feedback_label"] == wrong and answer["prediction"]["correct"] is False
    assert answer["prediction"]["feedback_by"] == "arn:aws:iam::123456789012:user/alice"  # who said so
    assert keys(f"datasets/intel/train/{wrong}/") == [f"datasets/intel/train/{wrong}/feedback-{created['id']}.jpg"]
    assert (answer["labelled"], answer["rolling_accuracy"]) == (1, 0.0)
    # AND a change of mind moves the copy rather than leaving two
    status, answer = feedback(context, created["id"], created["label"])
    assert status == 200 and answer["prediction"]["correct"] is True
    assert keys(f"datasets/intel/train/{wrong}/") == []
    assert keys(f"datasets/intel/train/{created['label']}/feedback-")
    assert (answer["labelled"], answer["rolling_accuracy"]) == (1, 1.0)


def test_feedback_on_an_image_since_deleted_is_kept_without_a_training_copy(
    served: dict[str, Any], context: Any
) -> None:
    created = predict(context, (30, 30, 200))
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=created["key"])
    status, answer = feedback(context, created["id"], created["label"])
    assert status == 200 and answer["prediction"]["feedback_label"] == created["label"]
    assert "training_copy" not in answer["prediction"] and keys("datasets/intel/train/") == [
        "datasets/intel/train/forest/0.jpg",
        "datasets/intel/train/sea/0.jpg",
    ]


@pytest.mark.parametrize(
    ("label", "status", "message"),
    [("volcano", 400, "not a class"), ("", 400, "label"), (7, 400, "label"), (None, 400, "label")],
)
def test_bad_feedback_is_refused_with_the_reason(
    served: dict[str, Any], context: Any, label: Any, status: int, message: str
) -> None:
    created = predict(context, (200, 10, 10))
    got, answer = feedback(context, created["id"], label)
    assert got == status and message in answer["message"]


def test_feedback_on_an_unknown_or_failed_prediction(served: dict[str, Any], context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Predictions

    assert feedback(context, "no-such-id", "forest")[0] == 404
    Predictions(settings().predictions_table).create({"id": "failed-1", "status": "FAILED", "error": "not an image"})
    status, answer = feedback(context, "failed-1", "forest")
    assert status == 400 and "no answer to correct" in answer["message"]


def test_low_confidence_predictions_wait_for_review_until_labelled(
    served: dict[str, Any], endpoint: FakeEndpoint, context: Any
) -> None:
    confident = predict(context, (1, 2, 3))
    endpoint.confidence = 0.4  # below REVIEW_CONFIDENCE_BELOW (0.6 in the template)
    unsure = predict(context, (4, 5, 6))
    status, page = call(request("api_get_predictions", query={"review": "true"}), context)
    assert status == 200 and [p["id"] for p in page["items"]] == [unsure["id"]]
    assert unsure["review"] == "needed" and "review" not in confident
    feedback(context, unsure["id"], unsure["label"])
    assert call(request("api_get_predictions", query={"review": "true"}), context)[1]["items"] == []


def test_accuracy_falling_below_the_threshold_requests_retraining_once(
    served: dict[str, Any], context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the champion answered four images, and people say it was wrong about two of them
    created = [predict(context, (i * 40, 200 - i * 30, 90)) for i in range(WINDOW + 1)]
    answers = []
    for i, prediction in enumerate(created):
        label = prediction["label"] if i % 2 else next(c for c in CLASSES if c != prediction["label"])
        status, answer = feedback(context, prediction["id"], label)
        assert status == 200
        answers.append(answer)
    # THEN no request before the window is full; at 4 labels (2 right = 50% < 75%) exactly one
    assert all("retraining" not in a for a in answers[: WINDOW - 1])
    assert answers[WINDOW - 1]["retraining"] == {
        "outcome": "requested",
        "request": f"s3://{BUCKET}/jobs/retrain-vista-job.json",
    }
    assert answers[WINDOW]["retraining"]["outcome"] == "already requested"
    # AND the figure the alarm watches went out as an EMF metric, once the window was full
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"RollingAccuracy"' in line]
    assert [m["RollingAccuracy"] for m in metrics] == [[50.0], [50.0]] and metrics[0]["model"] == "vista-job"
    # AND the request is the champion's own, with its tuned values, on the dataset that now holds the labels
    body = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key="jobs/retrain-vista-job.json")["Body"].read())
    assert body["dataset"] == "datasets/intel" and body["architecture"] == "resnet50"
    assert body["hyperparameters"] == {"learning_rate": 0.0012} and body["instance_type"] == REQUEST["instance_type"]
    assert len(keys("datasets/intel/train/")) == 2 + WINDOW + 1  # the two original images and the labelled ones


def test_costs_route_returns_the_ledger(served: dict[str, Any], context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Jobs

    Jobs(settings().jobs_table).update("vista-job", {"cost": 0.5, "on_demand_cost": 1.5, "kind": "training"})
    predict(context, (9, 9, 9))
    status, book = call(request("api_get_costs"), context)
    assert status == 200, book
    assert book["by_job"][0]["job"] == "vista-job" and book["by_job"][0]["cost"] == 0.5
    assert book["by_model"][0]["predictions"] == 1 and book["by_model"][0]["serving_cost"] > 0
    assert book["prices"]["region"] == "us-east-1" and book["total"] > 0.5

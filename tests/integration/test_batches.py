"""The batch handler with moto: a request refused at once says why and starts nothing (bad request, no
model, over the cost cap), a redelivered request starts one batch, and the results file's columns."""

from __future__ import annotations

import csv
import io
from typing import Any

import boto3
import pytest

from tests.helpers.stack import BUCKET, image_bytes
from tests.helpers.support import champion_on_record, s3_put_event


def start(context: Any, body: bytes, event: dict[str, Any] | None = None) -> dict[str, Any]:
    from vista_app.handlers import batches

    event = event or s3_put_event("start_training_put", "batches/b.json", body)
    return batches.lambda_handler(event, context)["batches"][0]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "request is not valid JSON"),
        (b'{"source": "archive/", "colour": "red"}', "colour: Extra inputs are not permitted"),
        (b'{"source": "archive/", "instance_type": "ml.m5.xlarg"}', "the nearest are ml.m5.xlarge"),
        (b'{"source": "archive/", "instance_count": 0}', "instance_count: Input should be greater than or equal to 1"),
        (b'{"source": "archive/"}', "no champion yet: train a model first"),
    ],
)
def test_a_request_that_cannot_run_fails_at_once_with_the_reason(
    aws: None, context: Any, body: bytes, words: str
) -> None:
    batch = start(context, body)
    assert batch["status"] == "Failed" and words in batch["reason"]


def test_a_batch_over_the_cost_cap_is_refused_before_anything_is_recorded_or_started(
    aws: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vista_app.config import settings
    from vista_app.records import Jobs, Predictions

    champion_on_record(
        artifact=f"s3://{BUCKET}/artifacts/training/vista-job/output/model.tar.gz", serving_latency_ms=50
    )
    s3 = boto3.client("s3")
    for index in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"archive/{index}.jpg", Body=image_bytes())
    s3.put_object(Bucket=BUCKET, Key="archive/notes.jpg", Body=b"not an image")
    monkeypatch.setenv("MAX_TRAINING_COST_PER_REQUEST", "0.01")
    settings.cache_clear()
    event = s3_put_event(
        "start_training_put", "batches/b.json", b'{"source": "archive/", "instance_type": "ml.g4dn.xlarge"}'
    )
    batch = start(context, b"", event)
    assert batch["status"] == "Failed" and "over the cap of $0.01 a request" in batch["reason"]
    job = Jobs(settings().jobs_table).get(batch["name"]) or {}
    # 300 s to start + 3 images x 0.150 s, at the instance's price
    assert job["estimate"]["seconds"] == 300 and job["counts"] == {"objects": 4, "refused": 1, "accepted": 3}
    assert list(Predictions(settings().predictions_table).all()) == []
    # The same notification delivered again is the same batch, not a second one.
    assert start(context, b"", event) == batch
    assert boto3.client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == []


def test_the_results_file_has_a_row_an_object_and_a_column_a_class() -> None:
    from vista_app.batches import results_csv

    records = [
        {"key": "b.jpg", "version": "v2", "status": "FAILED", "error": "empty file (0 bytes)"},
        {
            "key": "a.jpg",
            "version": "v1",
            "status": "OK",
            "label": "sea",
            "confidence": 0.75,
            "probabilities": {"sea": 0.75, "forest": 0.25},
        },
        {
            "key": "c.jpg",
            "version": "v3",
            "status": "OK",
            "label": "unknown",
            "best_guess": {"label": "forest", "probability": 0.55},
            "confidence": 0.55,
            "probabilities": {"sea": 0.45, "forest": 0.55},
        },
    ]
    rows = list(csv.reader(io.StringIO(results_csv(records))))
    assert rows == [
        ["key", "version", "label", "best_guess", "confidence", "forest", "sea", "status", "error"],
        ["a.jpg", "v1", "sea", "", "0.75", "0.25", "0.75", "OK", ""],
        ["b.jpg", "v2", "", "", "", "", "", "FAILED", "empty file (0 bytes)"],
        ["c.jpg", "v3", "unknown", "forest", "0.55", "0.55", "0.45", "OK", ""],
    ]


def test_a_failed_batch_says_sagemakers_reason_on_its_record_and_on_each_unanswered_image(
    aws: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from tests.helpers.fakes import record_calls
    from vista_app.aws import client
    from vista_app.batches import WORK_PREFIX
    from vista_app.config import settings
    from vista_app.handlers import batches
    from vista_app.records import Jobs, Predictions

    name = "vista-batch-0123456789abcdef"
    Jobs(settings().jobs_table).create({"name": name, "kind": "batch", "status": "InProgress", "model": "vista-job"})
    s3 = boto3.client("s3")
    put = s3.put_object(Bucket=BUCKET, Key="archive/a.jpg", Body=image_bytes())
    versions = {"archive/a.jpg": [put["VersionId"], put["ETag"].strip('"'), 100]}
    s3.put_object(Bucket=BUCKET, Key=f"{WORK_PREFIX}{name}/versions.json", Body=json.dumps(versions).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{WORK_PREFIX}{name}/refused.json", Body=b"[]")
    reason = "ClientError: See job logs for more information"
    described = record_calls(monkeypatch, client("sagemaker"), "describe_transform_job", {"FailureReason": reason})
    event = {
        "detail-type": "SageMaker Transform Job State Change",
        "detail": {"TransformJobName": name, "TransformJobStatus": "Failed"},
    }
    assert batches.lambda_handler(event, context)["status"] == "Failed"
    assert described == [{"TransformJobName": name}]
    assert (Jobs(settings().jobs_table).get(name) or {})["failure_reason"] == reason
    (record,) = list(Predictions(settings().predictions_table).all())
    assert (
        record["status"] == "FAILED"
        and record["error"] == f"not classified: the batch's transform job is Failed: {reason}"
    )

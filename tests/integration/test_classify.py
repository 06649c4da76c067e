"""classify: SQS batches of S3 inbox notifications → Predictions records."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from synthetic import camera_jpeg
from tests.helpers.fakes import MODEL_TIMEOUT, FakeEndpoint, answer, label_of, model_error
from tests.helpers.stack import BUCKET, image_bytes, load_event
from tests.helpers.support import by_key, classify, predictions, sqs_batch
from vista_app.predictions import S3Image


@pytest.fixture
def endpoint(aws: None, monkeypatch: pytest.MonkeyPatch) -> FakeEndpoint:
    """The champion's endpoint, answering at the HTTP layer; backoff sleeps are recorded, not slept."""
    import botocore.retries.standard

    from vista_app.aws import client
    from vista_app.config import settings
    from vista_app.records import Models

    fake = FakeEndpoint()
    answer(client("sagemaker-runtime"), "InvokeEndpoint", fake)
    fake.sleeps = []
    monkeypatch.setattr(botocore.retries.standard, "time", None, raising=False)
    monkeypatch.setattr("botocore.endpoint.time.sleep", fake.sleeps.append)
    Models(settings().models_table).create(
        {"name": "vista-champion", "state": "champion", "accuracy": 0.9, "promoted_at": "2026-11-28T06:00:00+00:00"}
    )
    return fake


def test_the_example_batch_is_classified(endpoint: FakeEndpoint, context: Any) -> None:
    # GIVEN the two images the example event names, under keys with spaces, "+" and non-ASCII
    jpeg, png = image_bytes("JPEG", (150, 150)), image_bytes("PNG", (64, 64), (20, 140, 40))
    event = sqs_batch(("inbox/holiday photos/sea+été.jpg", jpeg), ("inbox/forest.png", png))
    # WHEN the batch arrives
    result = classify(event, context)
    # THEN both are recorded OK with every probability, the model, and the latency
    assert result == {"batchItemFailures": []}
    records = by_key()
    assert set(records) == {"inbox/holiday photos/sea+été.jpg", "inbox/forest.png"}
    first = records["inbox/holiday photos/sea+été.jpg"]
    assert first["status"] == "OK" and first["label"] == label_of(jpeg)
    assert first["confidence"] == 0.9 and len(first["probabilities"]) == 6
    assert first["model"] == "vista-champion" and first["latency_ms"] >= 0
    assert (first["format"], first["width"], first["height"]) == ("JPEG", 150, 150)
    assert records["inbox/forest.png"]["label"] == label_of(png)
    assert endpoint.calls == 2
    assert set(endpoint.payloads[0]) == {"instances"} and set(endpoint.payloads[0]["instances"][0]) == {"b64"}


def test_the_same_notification_twice_gives_one_record_and_one_call(endpoint: FakeEndpoint, context: Any) -> None:
    event = sqs_batch(("inbox/a.jpg", image_bytes()))
    classify(event, context)
    again = copy.deepcopy(event)
    again["Records"][0]["messageId"] = "redelivered"
    assert classify(again, context) == {"batchItemFailures": []}
    assert len(predictions()) == 1
    assert endpoint.calls == 1


def test_a_new_version_of_the_same_key_is_a_new_prediction(endpoint: FakeEndpoint, context: Any) -> None:
    classify(sqs_batch(("inbox/a.jpg", image_bytes(color=(1, 2, 3)))), context)
    classify(sqs_batch(("inbox/a.jpg", image_bytes(color=(200, 100, 0)))), context)
    assert len(predictions()) == 2


def test_the_same_bytes_put_twice_are_two_versions_and_two_predictions(endpoint: FakeEndpoint, context: Any) -> None:
    classify(sqs_batch(("inbox/a.jpg", image_bytes())), context)
    classify(sqs_batch(("inbox/a.jpg", image_bytes())), context)
    assert len({r["version_id"] for r in predictions()}) == 2


def test_without_a_version_an_overwrite_is_never_read_as_the_earlier_object(
    endpoint: FakeEndpoint, context: Any
) -> None:
    """A notification with no versionId (a bucket without versioning) names its object by ETag: read
    with IfMatch, an object overwritten in between is not classified in the first one's name."""
    import json

    first, second = image_bytes(color=(1, 2, 3)), image_bytes(color=(200, 100, 0))
    early, late = sqs_batch(("inbox/a.jpg", first)), sqs_batch(("inbox/a.jpg", second))
    for event in (early, late):
        body = json.loads(event["Records"][0]["body"])
        del body["Records"][0]["s3"]["object"]["versionId"]
        event["Records"][0]["body"] = json.dumps(body)
    classify(early, context)  # delivered after the overwrite
    classify(late, context)
    records = sorted(predictions(), key=lambda r: r["status"])
    assert [r["status"] for r in records] == ["FAILED", "OK"]
    assert "was replaced before it was read" in records[0]["error"]
    assert records[1]["label"] == label_of(second) and endpoint.calls == 1


def test_a_camera_photo_of_any_size_is_classified_from_a_few_tens_of_kb(endpoint: FakeEndpoint, context: Any) -> None:
    """A 12 MP photo of 3-8 MB and a 48 MP one: reduced in Lambda for the model (its record says it
    reads 150x150), so the endpoint gets tens of KB, not a payload over its 4 MB limit."""
    import base64

    from vista_app.config import settings
    from vista_app.records import Models

    Models(settings().models_table).update("vista-champion", {"hyperparameters": {"image_size": 150}})
    twelve, forty_eight = camera_jpeg(4000, 3000), camera_jpeg(8000, 6000, noise=6, quality=85)
    assert len(twelve) > 3_145_680  # refused before: the endpoint's payload limit on the raw bytes
    classify(sqs_batch(("inbox/12mp.jpg", twelve), ("inbox/48mp.jpg", forty_eight)), context)
    records = by_key()
    assert {k: r["status"] for k, r in records.items()} == {"inbox/12mp.jpg": "OK", "inbox/48mp.jpg": "OK"}
    assert (records["inbox/48mp.jpg"]["width"], records["inbox/48mp.jpg"]["height"]) == (8000, 6000)
    assert records["inbox/12mp.jpg"]["bytes"] == len(twelve) and records["inbox/12mp.jpg"]["sent_bytes"] < 100_000
    sent = [len(base64.b64decode(p["instances"][0]["b64"])) for p in endpoint.payloads]
    assert len(sent) == 2 and max(sent) < 100_000


def test_throttling_is_retried_with_backoff(endpoint: FakeEndpoint, context: Any) -> None:
    endpoint.throttle = 2
    assert classify(sqs_batch(("inbox/a.jpg", image_bytes())), context) == {"batchItemFailures": []}
    assert endpoint.calls == 3
    assert len(endpoint.sleeps) == 2 and all(delay >= 0 for delay in endpoint.sleeps)
    assert predictions()[0]["status"] == "OK"


def test_throttling_that_outlasts_the_retries_is_left_to_sqs(endpoint: FakeEndpoint, context: Any) -> None:
    endpoint.down = True
    event = sqs_batch(("inbox/a.jpg", image_bytes()), ("inbox/b.jpg", image_bytes(color=(9, 9, 9))))
    result = classify(event, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "message-0"}, {"itemIdentifier": "message-1"}]}
    assert endpoint.calls == 10  # 5 attempts (standard retry mode) per image
    assert predictions() == []
    # Once the endpoint is back, SQS's redelivery is classified normally (the failure was not cached).
    endpoint.down = False
    assert classify(event, context) == {"batchItemFailures": []}
    assert len(predictions()) == 2


def test_a_model_error_is_a_failed_record(endpoint: FakeEndpoint, context: Any) -> None:
    endpoint.error, endpoint.error_members = model_error(400, "Invalid JPEG data")
    classify(sqs_batch(("inbox/a.jpg", image_bytes())), context)
    [record] = predictions()
    assert record["status"] == "FAILED" and "Invalid JPEG data" in record["error"]


@pytest.mark.parametrize("fault", ["timeout", "500", "503"])
def test_a_model_that_timed_out_or_failed_on_its_side_is_retried_not_failed(
    endpoint: FakeEndpoint, context: Any, fault: str
) -> None:
    # GIVEN the endpoint's container did not answer in time (a serverless cold start counts against
    # the 60 s), or answered 5xx: SageMaker says ModelError for both
    if fault == "timeout":
        endpoint.error, endpoint.error_members = (424, "ModelError", MODEL_TIMEOUT), {}
    else:
        endpoint.error, endpoint.error_members = model_error(int(fault), "the server is busy")
    event = sqs_batch(("inbox/a.jpg", image_bytes()))
    # WHEN the image is classified
    result = classify(event, context)
    # THEN nothing is recorded and SQS delivers it again (then the DLQ): not a FAILED record kept for 24 h
    assert result == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    assert predictions() == []
    # AND once the model answers, the redelivery is classified (no failure was remembered)
    endpoint.error = None
    assert classify(event, context) == {"batchItemFailures": []}
    assert [r["status"] for r in predictions()] == ["OK"]


def test_an_image_before_any_endpoint_waits_visibly_and_is_classified_once_one_serves(
    endpoint: FakeEndpoint, context: Any
) -> None:
    import boto3

    from vista_app.config import settings
    from vista_app.records import Predictions
    from vista_app.waiting import release_waiting

    # GIVEN no endpoint yet (the first promotion is on its way)
    endpoint.error = (400, "ValidationError", "Endpoint vista-classifier of account 123456789012 not found.")
    # WHEN an image arrives
    result = classify(sqs_batch(("inbox/early bird.jpg", image_bytes())), context)
    # THEN the message is done (not retried into the DLQ) and a WAITING record says why
    assert result == {"batchItemFailures": []}
    [waiting] = predictions()
    assert waiting["status"] == "WAITING" and waiting["key"] == "inbox/early bird.jpg"
    assert "does not exist yet" in waiting["reason"] and "classified once a model serves" in waiting["reason"]
    # WHEN a model serves: the image is sent to the inbox queue again, as S3 sent it
    endpoint.error = None
    sqs, queue = boto3.client("sqs"), settings().inbox_queue_url
    assert release_waiting(Predictions(settings().predictions_table), sqs=sqs, queue_url=queue) == 1
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    again = {"Records": [{"messageId": "again", "body": message["Body"], "eventSource": "aws:sqs"}]}
    # THEN its answer replaces the WAITING record, under the same id, and nothing waits any more
    assert classify(again, context) == {"batchItemFailures": []}
    [answered] = predictions()
    assert answered["id"] == waiting["id"] and answered["status"] == "OK" and "reason" not in answered
    assert release_waiting(Predictions(settings().predictions_table), sqs=sqs, queue_url=queue) == 0


def test_s3_test_events_are_ignored(endpoint: FakeEndpoint, context: Any) -> None:
    assert classify(load_event("classify_s3_test_event"), context) == {"batchItemFailures": []}
    assert predictions() == [] and endpoint.calls == 0


def test_prediction_ids_depend_on_the_object_version() -> None:
    a = S3Image(BUCKET, "inbox/a.jpg", version_id="v1")
    assert a.id == S3Image(BUCKET, "inbox/a.jpg", version_id="v1", size=5).id
    assert a.id != S3Image(BUCKET, "inbox/a.jpg", version_id="v2").id
    assert S3Image(BUCKET, "inbox/a.jpg", etag="e1").id != S3Image(BUCKET, "inbox/a.jpg", etag="e2").id


def test_a_bad_image_before_any_model_is_a_failed_record_without_a_model(aws: None, context: Any) -> None:
    # GIVEN no model has been promoted yet (no champion on record)
    # WHEN an object that is not an image arrives
    result = classify(sqs_batch(("inbox/notes.jpg", b"not an image at all")), context)
    # THEN it is FAILED at once with the reason (DynamoDB refuses a NULL `model`, the key of the
    # by_model_feedback index, so the record leaves the attribute out), never retried into the DLQ
    assert result == {"batchItemFailures": []}
    [record] = predictions()
    assert record["status"] == "FAILED" and "not a JPEG, PNG, HEIC" in record["error"]
    assert "model" not in record

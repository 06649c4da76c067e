"""One idempotency mechanism for both ways in (an inbox image, a POSTed one): the prediction's own
record, claimed before the endpoint is asked. A second delivery of the same image, or a second
identical request, never asks the endpoint again, even while the first is still being answered."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest

from tests.helpers.fakes import FakeEndpoint
from tests.helpers.stack import image_bytes, load_event
from tests.helpers.support import call, classify, predictions, request, sqs_batch


def claim_of(prediction_id: str, *, seconds_left: float) -> dict[str, Any]:
    """The record another function left while it classifies: its claim runs out in `seconds_left`."""
    return {"id": prediction_id, "status": "CLASSIFYING", "claimed_until": int(time.time() + seconds_left)}


def table() -> Any:
    from vista_app.config import settings
    from vista_app.records import Predictions

    return Predictions(settings().predictions_table)


@pytest.fixture
def dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every DynamoDB write any client makes (Vista's repositories or a library's)."""
    import botocore.client

    writes: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and operation in (
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "TransactWriteItems",
            "BatchWriteItem",
        ):
            writes.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    return writes


def test_an_inbox_image_costs_two_dynamodb_writes(
    endpoint: FakeEndpoint, champion: str, context: Any, dynamodb_writes: list[str]
) -> None:
    event = sqs_batch(("inbox/a.jpg", image_bytes()))
    dynamodb_writes.clear()
    assert classify(event, context) == {"batchItemFailures": []}
    # the claim and the answer: no second table, no third write
    assert dynamodb_writes == ["PutItem", "PutItem"] and endpoint.calls == 1


def test_an_inbox_image_another_delivery_is_classifying_is_retried_not_asked_again(
    endpoint: FakeEndpoint, champion: str, context: Any
) -> None:
    from vista_app.predictions import images_in_notification

    event = sqs_batch(("inbox/a.jpg", image_bytes()))
    [image] = images_in_notification(event["Records"][0]["body"])
    table().table.put_item(Item=claim_of(image.id, seconds_left=60))
    # WHEN the same notification is delivered while the first delivery still holds the image
    result = classify(event, context)
    # THEN the message comes back later, and the endpoint was not asked
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert endpoint.calls == 0
    # AND once that claim has run out (its function died), a delivery takes the image over
    table().table.put_item(Item=claim_of(image.id, seconds_left=-1))
    assert classify(event, context) == {"batchItemFailures": []}
    [record] = predictions()
    assert record["status"] == "OK" and "claimed_until" not in record and endpoint.calls == 1


def test_two_identical_posts_at_once_ask_the_endpoint_once(
    endpoint: FakeEndpoint, champion: str, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vista_app import predictions as vista_predictions
    from vista_app.aws import client
    from vista_app.config import settings
    from vista_app.records import InProgress, Models

    # GIVEN an endpoint that holds the first call until told to answer
    first_asked, go_on = threading.Event(), threading.Event()
    answer = FakeEndpoint.__call__

    def held(self: FakeEndpoint, request: Any, **kwargs: Any) -> Any:
        if self.calls == 0:
            first_asked.set()
            go_on.wait(30)
        return answer(self, request, **kwargs)

    monkeypatch.setattr(FakeEndpoint, "__call__", held)
    classifier = vista_predictions.Classifier.for_champion(
        client("sagemaker-runtime"), settings(), Models(settings().models_table).champion(), memory_mb=512
    )
    data = image_bytes()

    def post() -> tuple[dict[str, Any], bool]:
        return vista_predictions.classify_upload(
            data,
            s3=client("s3"),
            bucket=settings().data_bucket,
            classifier=classifier,
            predictions=table(),
            until=time.time() + 60,
        )

    results: list[tuple[dict[str, Any], bool]] = []
    first = threading.Thread(target=lambda: results.append(post()))
    first.start()
    try:
        assert first_asked.wait(30)
        # WHEN the same POST arrives while the first is being answered
        with pytest.raises(InProgress, match="being classified"):
            post()
    finally:
        go_on.set()
        first.join(30)
    # THEN the endpoint was asked once; the first got its answer, and a later retry gets the same
    assert endpoint.calls == 1 and results[0][1] is True
    assert post() == (results[0][0], False) and endpoint.calls == 1


@pytest.fixture
def held_post(endpoint: FakeEndpoint, champion: str, context: Any) -> dict[str, Any]:
    """POST /predictions of the example JPEG while another function's claim holds its record."""
    from vista_app.predictions import upload_id

    event = load_event("api_post_predictions_jpeg")
    table().table.put_item(Item=claim_of(upload_id(base64.b64decode(event["body"]), model=champion), seconds_left=60))
    return event


def test_the_api_answers_409_while_the_same_request_is_being_classified(
    held_post: dict[str, Any], endpoint: FakeEndpoint, context: Any
) -> None:
    from vista_app.handlers import api

    answer = api.lambda_handler(held_post, context)
    assert answer["statusCode"] == 409 and answer["multiValueHeaders"]["Retry-After"] == ["5"]
    assert "being classified" in answer["body"] and endpoint.calls == 0


def test_a_refused_image_leaves_no_claim_behind(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    gif = request("api_post_predictions_jpeg", body=base64.b64encode(b"GIF89a" + b"\0" * 30).decode(), b64=True)
    assert call(gif, context)[0] == 400
    assert predictions() == [] and endpoint.calls == 0


def test_an_answer_that_could_not_be_written_leaves_the_image_to_the_next_delivery(
    endpoint: FakeEndpoint, champion: str, context: Any
) -> None:
    from botocore.exceptions import ClientError

    event = sqs_batch(("inbox/a.jpg", image_bytes()))
    puts: list[dict[str, Any]] = []

    def fail_the_answer(params: dict[str, Any], **_: Any) -> None:
        puts.append(params)
        if len(puts) == 2:  # the claim is written; the answer is refused
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutItem")

    events = table().table.meta.client.meta.events
    events.register("before-parameter-build.dynamodb.PutItem", fail_the_answer)
    try:
        assert classify(event, context)["batchItemFailures"] != []
        # THEN the redelivery classifies it (the claim was given up, not left to run out)
        assert classify(event, context) == {"batchItemFailures": []}
    finally:
        events.unregister("before-parameter-build.dynamodb.PutItem", fail_the_answer)
    [record] = predictions()
    assert record["status"] == "OK" and endpoint.calls == 2

"""The REST API: every route, with the API Gateway events in events/."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from tests.helpers.fakes import MODEL_TIMEOUT, FakeEndpoint, label_of, model_error
from tests.helpers.stack import BUCKET, image_bytes, load_event
from tests.helpers.support import REQUEST, call, request, start_job, state_change, upload_dataset, write_metrics


def test_post_a_jpeg_body_and_read_it_back(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    event = load_event("api_post_predictions_jpeg")
    status, created = call(event, context)
    assert status == 201
    assert created["status"] == "OK" and created["model"] == champion
    assert created["label"] == label_of(base64.b64decode(event["body"]))
    status, fetched = call(request("api_get_prediction", path={"prediction_id": created["id"]}), context)
    assert status == 200 and fetched == created


def test_a_retried_post_gets_the_first_answer_not_a_second_record(
    endpoint: FakeEndpoint, champion: str, context: Any
) -> None:
    # GIVEN a POST whose answer the client never saw (API Gateway cut it at 29 s), sent again
    event = load_event("api_post_predictions_jpeg")
    first_status, first = call(event, context)
    again_status, again = call(event, context)
    # THEN the second gets the first's record, without a second inference
    assert (first_status, again_status) == (201, 200) and again == first and endpoint.calls == 1
    # An Idempotency-Key names the request, whatever its body; another key is another request.
    keyed = request("api_post_predictions_jpeg", body=base64.b64encode(image_bytes(color=(1, 2, 3))).decode(), b64=True)
    keyed["headers"]["Idempotency-Key"] = "order-7"
    assert call(keyed, context)[0] == 201
    retry = request("api_post_predictions_jpeg", body=base64.b64encode(image_bytes(color=(9, 9, 9))).decode(), b64=True)
    retry["headers"]["Idempotency-Key"] = "order-7"
    assert call(retry, context)[0] == 200 and endpoint.calls == 2
    retry["headers"]["Idempotency-Key"] = "x" * 256
    status, refused = call(retry, context)
    assert status == 400 and "Idempotency-Key" in refused["message"]


def test_post_json_with_base64(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    status, created = call(load_event("api_post_predictions_json"), context)
    assert status == 201 and created["source"] == "api" and len(created["probabilities"]) == 6


@pytest.mark.parametrize(
    ("body", "content_type", "b64", "status", "message"),
    [
        (base64.b64encode(b"GIF89a" + b"\0" * 30).decode(), "image/jpeg", True, 400, "corrupt GIF"),
        # a photo API Gateway passed as text (a type not in BinaryMediaTypes): 400, not a crash
        ("\u00ff\u20ac not bytes", "image/jpeg", False, 400, "arrived as text, not bytes"),
        ('{"image": "%%%not base64%%%"}', "application/json", False, 400, 'a JSON body must be {"image"'),
        ('{"picture": "abc"}', "application/json", False, 400, 'a JSON body must be {"image"'),
        ("{not json", "application/json", False, 400, 'a JSON body must be {"image"'),
        ("hello", "text/plain", False, 415, "content type 'text/plain' is not supported"),
        (base64.b64encode(b"\xff" * (15 * 1024 * 1024 + 1)).decode(), "image/jpeg", True, 400, "the limit is"),
    ],
)
def test_bad_uploads_are_4xx_with_a_reason_and_cost_nothing(
    endpoint: FakeEndpoint,
    champion: str,
    context: Any,
    body: str,
    content_type: str,
    b64: bool,
    status: int,
    message: str,
) -> None:
    got, answer_ = call(request("api_post_predictions_jpeg", body=body, content_type=content_type, b64=b64), context)
    assert got == status and message in answer_["message"]
    assert endpoint.calls == 0


def test_predict_without_a_model_is_503(endpoint: FakeEndpoint, context: Any) -> None:
    status, answer_ = call(load_event("api_post_predictions_jpeg"), context)
    assert status == 503 and "no model has been promoted" in answer_["message"]


@pytest.mark.parametrize(("fault", "status"), [("timeout", 504), ("500", 503)])
def test_a_model_that_timed_out_or_failed_on_its_side_is_503_or_504_with_retry_after(
    endpoint: FakeEndpoint, champion: str, context: Any, fault: str, status: int
) -> None:
    from vista_app.handlers import api

    if fault == "timeout":
        endpoint.error, endpoint.error_members = (424, "ModelError", MODEL_TIMEOUT), {}
    else:
        endpoint.error, endpoint.error_members = model_error(500, "the server is busy")
    answer_ = api.lambda_handler(load_event("api_post_predictions_jpeg"), context)
    assert answer_["statusCode"] == status
    assert int(answer_["multiValueHeaders"]["Retry-After"][0]) > 0
    assert "try again" in json.loads(answer_["body"])["message"]
    # AND nothing was recorded: the same POST later is classified afresh
    endpoint.error = None
    assert call(load_event("api_post_predictions_jpeg"), context)[0] == 201


def test_a_model_that_refuses_the_image_is_400(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    endpoint.error, endpoint.error_members = model_error(400, "Invalid JPEG data")
    status, answer_ = call(load_event("api_post_predictions_jpeg"), context)
    assert status == 400 and "Invalid JPEG data" in answer_["message"]


def test_list_predictions_newest_first_with_pages(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    ids = []
    for shade in range(5):
        data = base64.b64encode(image_bytes(color=(shade * 40, 10, 10))).decode()
        ids.append(call(request("api_post_predictions_jpeg", body=data, b64=True), context)[1]["id"])
    status, page = call(request("api_get_predictions", query={"limit": "3"}), context)
    assert status == 200 and [p["id"] for p in page["items"]] == ids[::-1][:3]
    status, rest = call(request("api_get_predictions", query={"limit": "3", "next_token": page["next_token"]}), context)
    assert [p["id"] for p in rest["items"]] == ids[::-1][3:] and rest["next_token"] is None


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "many"}, {"next_token": "garbage!"}])
def test_bad_list_parameters_are_400(aws: None, context: Any, query: dict[str, str]) -> None:
    status, answer_ = call(request("api_get_predictions", query=query), context)
    assert status == 400 and answer_["message"]


def test_unknown_prediction_is_404(aws: None, context: Any) -> None:
    status, answer_ = call(request("api_get_prediction", path={"prediction_id": "nonexistent123"}), context)
    assert status == 404 and answer_["message"] == "no prediction 'nonexistent123'"  # both quotes kept


def test_post_training_job_starts_it(aws: None, context: Any, caplog: pytest.LogCaptureFixture) -> None:
    upload_dataset()
    with caplog.at_level("INFO", logger="vista"):  # whatever level an earlier test left the service's logger at
        status, job = call(load_event("api_post_training_jobs"), context)
    # The function logs each request with its caller
    [logged] = [r for r in caplog.records if r.getMessage() == "request"]
    assert (logged.caller, logged.status, logged.method) == ("arn:aws:iam::123456789012:user/alice", 202, "POST")
    assert status == 202 and job["status"] == "InProgress" and job["source"] == "api"
    assert job["requested_by"] == "arn:aws:iam::123456789012:user/alice"  # the SigV4 caller
    assert boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])["TrainingJobStatus"]
    status, fetched = call(request("api_get_training_job", path={"name": job["name"]}), context)
    assert status == 200 and fetched["name"] == job["name"]
    status, listing = call(load_event("api_get_training_jobs"), context)
    assert [j["name"] for j in listing["items"]] == [job["name"]]
    # With an Idempotency-Key, a retried POST gets the job the first one started, and starts nothing.
    keyed = load_event("api_post_training_jobs")
    keyed["headers"]["Idempotency-Key"] = "nightly-2026-12-01"
    first, again = call(keyed, context)[1], call(keyed, context)[1]
    assert first["name"] == again["name"] != job["name"]
    assert len(boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 2


def test_a_dry_run_answers_the_estimate_and_starts_nothing(aws: None, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Jobs

    upload_dataset()
    small = {**REQUEST, "architecture": "base_cnn", "hyperparameters": {"image_size": 96}}
    status, answer_ = call(
        request("api_post_training_jobs", body=json.dumps(small), query={"dry_run": "true"}), context
    )
    assert (
        status == 200 and answer_["dry_run"] is True and answer_["accepted"] is True and answer_["kind"] == "training"
    )
    assert answer_["estimate"]["max_cost"] == 2.82 and answer_["estimate"]["training_images"] == 2
    [warning] = answer_["estimate"]["warnings"]  # base_cnn on two images, on a GPU
    assert warning.startswith("a GPU instance (ml.g5.xlarge, $1.408/h) for base_cnn on 2 training images")
    # Over the cap: the reason it would be refused, still starting nothing.
    tuned = {**REQUEST, "tuning": {"max_jobs": 100, "max_parallel_jobs": 10, "ranges": {"l2": {"min": 0, "max": 1}}}}
    status, answer_ = call(
        request("api_post_training_jobs", body=json.dumps(tuned), query={"dry_run": "true"}), context
    )
    assert status == 200 and answer_["accepted"] is False and "over the cap of $100.00" in answer_["reason"]
    # A request that cannot train is the same 400 as without dry_run.
    nowhere = {**REQUEST, "dataset": "datasets/nothing-here"}
    status, answer_ = call(
        request("api_post_training_jobs", body=json.dumps(nowhere), query={"dry_run": "true"}), context
    )
    assert status == 400 and "no images under" in answer_["message"]
    assert list(Jobs(settings().jobs_table).all()) == []
    assert boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**REQUEST, "architecture": "alexnet"}, "architecture: Input should be 'base_cnn'"),
        ({**REQUEST, "dataset": "datasets/nothing-here"}, "no images under"),
        ({**REQUEST, "hyperparameters": {"dropout": 1.5}}, "dropout: Input should be less than 1"),
        ("[1, 2", "JSON"),
    ],
)
def test_bad_training_requests_are_400_with_the_reason(aws: None, context: Any, body: Any, message: str) -> None:
    upload_dataset()
    text = body if isinstance(body, str) else json.dumps(body)
    status, answer_ = call(request("api_post_training_jobs", body=text), context)
    assert status == 400 and message in answer_["message"]
    assert boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_unknown_training_job_is_404(aws: None, context: Any) -> None:
    assert call(load_event("api_get_training_job"), context)[0] == 404


def test_models_leaderboard_and_manual_promotion(aws: None, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from vista_app.handlers import on_training_event

    names = {}
    for accuracy, key in ((0.93, "jobs/a.json"), (0.88, "jobs/b.json")):
        name = start_job(context, key=key)
        write_metrics(name, accuracy)
        on_training_event.lambda_handler(state_change(name), context)
        names[accuracy] = name
    status, board = call(load_event("api_get_models"), context)
    assert status == 200
    assert [(m["name"], m["state"]) for m in board["items"]] == [(names[0.93], "champion"), (names[0.88], "rejected")]
    # the columns the report shows, for the console and the command to show alike
    from vista_app.leaderboard import COLUMNS

    assert [(c["key"], c["title"], c["unit"]) for c in board["columns"]] == list(COLUMNS)
    # ...and what the test accuracy is: the figure the champion was chosen by (the best of several)
    assert "the champion's figure is the best of several" in board["note"]
    # ...and charted: the bars in the board's order, the console's to show as they come.
    from tests.unit.test_charts import svg, texts

    assert texts(svg(board["chart"]), "bar-value") == ["93.0%", "88.0%"] and svg(board["chart"]).get("id")
    # One model's charts: its confusion matrix and F1 once its job wrote them; drift once a window closed.
    status, drawn = call(request("api_get_model_charts", path={"name": names[0.93]}), context)
    assert status == 200 and drawn == {"confusion_matrix": None, "f1": None, "drift": []}
    status, missing = call(request("api_get_model_charts", path={"name": "nope"}), context)
    assert status == 404 and missing["message"] == "no model 'nope'"

    from tests.helpers.fakes import record_calls
    from vista_app.aws import client

    updates = record_calls(monkeypatch, client("sagemaker"), "update_endpoint", {"EndpointArn": "arn"})
    status, promoted = call(request("api_post_models_promote", path={"name": names[0.88]}), context)
    # Accepted: promoting until the endpoint serves it (moto's endpoint never finishes an update).
    assert status == 202 and promoted["state"] == "promoting"
    assert promoted["promotion_requested_by"] == "arn:aws:iam::123456789012:user/alice"
    assert updates[0]["EndpointName"] == "vista-classifier"
    board = call(load_event("api_get_models"), context)[1]["items"]
    assert {m["name"]: m["state"] for m in board} == {names[0.93]: "champion", names[0.88]: "promoting"}
    # Asked again while it is on its way: the same answer, no second update.
    status, again = call(request("api_post_models_promote", path={"name": names[0.88]}), context)
    assert status == 202 and again["state"] == "promoting" and len(updates) == 1


def test_promoting_an_unknown_model_is_404(aws: None, context: Any) -> None:
    status, answer_ = call(load_event("api_post_models_promote"), context)
    assert status == 404 and "no model named" in answer_["message"]


def test_unknown_route_is_404(aws: None, context: Any) -> None:
    event = request("api_get_models")
    event["path"] = event["resource"] = "/nope"
    assert call(event, context)[0] == 404


def test_sams_aws_proxy_sample_event_is_answered(aws: None, context: Any) -> None:
    """`sam local generate-event apigateway aws-proxy --method GET --resource /models --path models
    --body "" --stage v1` (events/aws_apigateway_aws_proxy.json): a query parameter the route does not
    take, stage variables, an empty base64 body."""
    status, answer = call(load_event("aws_apigateway_aws_proxy"), context)
    assert status == 200 and answer["items"] == []


def test_an_upload_is_a_presigned_put_written_once_and_classified_as_the_id_it_promised(
    endpoint: FakeEndpoint, champion: str, context: Any
) -> None:
    from botocore.exceptions import ClientError

    from tests.helpers.support import classify, sqs_batch

    # GIVEN an upload asked for
    status, upload = call(request("api_post_uploads"), context)
    assert status == 201 and upload["upload"]["method"] == "PUT"
    assert upload["key"] == f"inbox/uploads/{upload['id']}.jpg" and upload["poll"] == f"/predictions/{upload['id']}"
    assert "X-Amz-Signature=" in upload["upload"]["url"] and "if-none-match" in upload["upload"]["url"].lower()
    assert upload["upload"]["headers"] == {"Content-Type": "image/jpeg", "If-None-Match": "*"}
    # S3 takes exactly the size asked for: Content-Length is signed (a PUT of any other length is refused)
    signed = parse_qs(urlsplit(upload["upload"]["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-length" in signed and upload["upload"]["bytes"] == 8_000_000
    # WHEN the photo is put there (as the URL's signed headers say) and S3 announces it
    event = sqs_batch((upload["key"], image_bytes()))
    with pytest.raises(ClientError, match="PreconditionFailed"):  # written once: a second PUT is refused
        boto3.client("s3").put_object(Bucket=BUCKET, Key=upload["key"], Body=b"again", IfNoneMatch="*")
    classify(event, context)
    # THEN the prediction is the one promised
    status, prediction = call(request("api_get_prediction", path={"prediction_id": upload["id"]}), context)
    assert status == 200 and prediction["status"] == "OK" and prediction["key"] == upload["key"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"content_type": "image/jpeg"}, "bytes: Field required"),
        ({"content_type": "image/jpeg", "bytes": 5 * 1024**3}, "bytes: Input should be less than or equal to 15728640"),
        ({"content_type": "image/jpeg", "bytes": 0}, "bytes: Input should be greater than or equal to 1"),
    ],
)
def test_an_upload_must_say_its_size_within_the_limit(aws: None, context: Any, body: dict, message: str) -> None:
    status, answer = call(request("api_post_uploads", body=json.dumps(body)), context)
    assert status == 400 and message in answer["message"]


def test_an_upload_of_a_type_no_photo_has_is_refused_and_a_phones_is_taken(aws: None, context: Any) -> None:
    status, answer = call(
        request("api_post_uploads", body=json.dumps({"content_type": "application/pdf", "bytes": 100})), context
    )
    assert status == 400 and "content_type" in answer["message"], answer
    status, answer = call(
        request("api_post_uploads", body=json.dumps({"content_type": "image/heic", "bytes": 100})), context
    )
    assert (
        status == 201
        and answer["key"].endswith(".heic")
        and answer["upload"]["headers"]["Content-Type"] == "image/heic"
    )

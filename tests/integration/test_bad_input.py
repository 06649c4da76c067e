"""Bad input at every entry point: each case ends as a clear FAILED record or a 4xx with its
reason; nothing crashes, nothing is lost, nothing bad reaches the endpoint or SageMaker.

The cases are counted for docs/reliability-and-security.md (`CASES`)."""

from __future__ import annotations

import base64
import copy
import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import FakeEndpoint
from tests.helpers.stack import BUCKET, image_bytes
from tests.helpers.support import (
    REQUEST,
    by_key,
    call,
    classify,
    png_header_only,
    put_request_event,
    request,
    sqs_batch,
    start_job,
    state_change,
    upload_dataset,
    write_metrics,
)
from vista_app.predictions import MAX_IMAGE_BYTES


def pillow(fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 60, 30)).save(buffer, fmt)
    return buffer.getvalue()


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", image_bytes())
    return buffer.getvalue()


def bad_crc_png() -> bytes:
    data = bytearray(image_bytes("PNG", (20, 20)))
    data[-20] ^= 0xFF  # inside the last IDAT chunk
    return bytes(data)


def big_jpeg() -> bytes:
    """A real JPEG of about 17 MB, over the 15 MB limit (random pixels do not compress)."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=100)
    return buffer.getvalue()


JPEG = image_bytes()
# key → (data or None for "deleted before it was processed", expected status, reason)
INBOX = {
    "inbox/empty.jpg": (b"", "FAILED", "empty file"),
    "inbox/truncated.jpg": (image_bytes("JPEG", (200, 200))[:900], "FAILED", "truncated JPEG"),
    "inbox/bad-crc.png": (bad_crc_png(), "FAILED", "bad CRC"),
    "inbox/text.jpg": (b"just some notes, not a picture", "FAILED", "not a JPEG, PNG, HEIC"),
    "inbox/page.jpg": (b"<!doctype html><html><body>hi</body></html>", "FAILED", "text/HTML"),
    "inbox/archive.jpg": (zipped(), "FAILED", "ZIP"),
    "inbox/animation.gif": (pillow("GIF"), "OK", None),  # formats classify converts for the model
    "inbox/photo.webp": (pillow("WEBP"), "OK", None),
    "inbox/scan.tiff": (pillow("TIFF"), "OK", None),
    "inbox/cut.webp": (pillow("WEBP")[:-40], "FAILED", "WEBP"),
    "inbox/cut.tiff": (pillow("TIFF")[:-40], "FAILED", "TIFF could not be decoded: image file is truncated"),
    "inbox/bomb.png": (png_header_only(20_000, 20_000), "FAILED", "400,000,000 pixels"),
    "inbox/sixteen-megabytes.jpg": (None, "FAILED", f"the limit is {MAX_IMAGE_BYTES:,}"),  # filled in below
    "inbox/deleted.jpg": (None, "FAILED", "no longer exists"),
    "inbox/with spaces/a photo.jpg": (JPEG, "OK", None),
    "inbox/plus+sign.jpg": (JPEG, "OK", None),
    "inbox/100%25 sure%.jpg": (JPEG, "OK", None),
    "inbox/été/海/фото.jpg": (JPEG, "OK", None),
    "inbox/" + "k" * 990 + ".jpg": (JPEG, "OK", None),  # S3's limit is 1,024 bytes
}

TRAINING_REQUESTS = {
    "not JSON": (b"{this is not json", "request is not valid JSON"),
    "deeply nested": (b'{"dataset": "datasets/intel", "hyperparameters": ' + b"[" * 5000 + b"]" * 5000 + b"}", ""),
    "unknown field": ({**REQUEST, "colour": "blue"}, "colour: Extra inputs are not permitted"),
    "wrong type": ({**REQUEST, "hyperparameters": {"epochs": "ten"}}, "epochs: Input should be a valid integer"),
    "out of range": ({**REQUEST, "hyperparameters": {"learning_rate": 5}}, "learning_rate: Input should be less"),
    "unknown architecture": ({**REQUEST, "architecture": "alexnet"}, "architecture: Input should be"),
    "no images": ({**REQUEST, "dataset": "datasets/empty"}, "no images under"),
    "one class": ({**REQUEST, "dataset": "datasets/one"}, "has 1 class folder(s) ['forest']: at least 2"),
    "../ in the path": ({**REQUEST, "dataset": "datasets/../secrets"}, "dataset: String should match pattern"),
    "no such instance type": ({**REQUEST, "instance_type": "ml.x9.xlarge"}, "is not a SageMaker training instance"),
    "empty": (b"", "request is not valid JSON"),
    "too large": (b"{" + b" " * 70_000 + b"}", "a training request is at most 65,536 bytes"),
}

API = {
    "image over the limit": (
        "api_post_predictions_jpeg",
        {"body": base64.b64encode(b"\xff\xd8" + b"\x00" * (MAX_IMAGE_BYTES + 1)).decode(), "b64": True},
        400,
        "the limit is",
    ),
    "wrong content type": ("api_post_predictions_jpeg", {"body": "hi", "content_type": "text/csv"}, 415, "text/csv"),
    "malformed base64": (
        "api_post_predictions_json",
        {"body": '{"image": "***"}', "content_type": "application/json"},
        400,
        "base64",
    ),
    "training request with an unknown hyperparameter": (
        "api_post_training_jobs",
        {"body": json.dumps({**REQUEST, "hyperparameters": {"x" * 100: 1}})},
        400,
        "Extra inputs are not permitted",
    ),
    "feedback that is not JSON": ("api_post_prediction_feedback", {"body": "forest"}, 400, "JSON"),
}

CASES = len(INBOX) + len(TRAINING_REQUESTS) + len(API) + 2 + 3  # + unknown route and method, + 3 event cases


def test_every_bad_inbox_object_ends_as_one_failed_record_with_its_reason(
    endpoint: FakeEndpoint, context: Any, champion: str
) -> None:
    # GIVEN one batch with every kind of bad object, and good images under awkward keys
    objects = {
        key: (big_jpeg() if key.endswith("sixteen-megabytes.jpg") else data) for key, (data, _, _) in INBOX.items()
    }
    batch = sqs_batch(*objects.items())
    # WHEN classify takes it
    assert classify(batch, context) == {"batchItemFailures": []}
    # THEN every object has exactly one record: FAILED with its reason, or OK
    records = by_key()
    assert set(records) == set(INBOX)
    for key, (_, status, reason) in INBOX.items():
        assert records[key]["status"] == status, (key, records[key].get("error"))
        if reason:
            assert reason in records[key]["error"], (key, records[key]["error"])
    # AND only the good images were sent to the endpoint
    assert endpoint.calls == sum(status == "OK" for _, status, _ in INBOX.values())


@pytest.mark.parametrize("case", TRAINING_REQUESTS)
def test_every_bad_training_request_is_a_failed_job_that_says_why(aws: None, context: Any, case: str) -> None:
    from vista_app.config import settings
    from vista_app.handlers import start_training
    from vista_app.records import Jobs

    upload_dataset()
    boto3.client("s3").put_object(Bucket=BUCKET, Key="datasets/one/train/forest/0.jpg", Body=JPEG)
    body, reason = TRAINING_REQUESTS[case]
    [started] = start_training.lambda_handler(put_request_event("jobs/bad.json", body), context)["jobs"]
    job = Jobs(settings().jobs_table).get(started["name"])
    assert job["status"] == "Failed" and reason in job["failure_reason"]
    assert boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize("case", API)
def test_every_bad_api_call_is_a_4xx_with_its_reason(aws: None, context: Any, champion: str, case: str) -> None:
    template, changes, status, reason = API[case]
    path = {"prediction_id": "abc"} if "feedback" in template else None
    got, answer = call(request(template, path=path, **changes), context)
    assert got == status and reason in answer["message"], answer


def test_unknown_routes_and_methods_are_404(aws: None, context: Any) -> None:
    route = request("api_get_models")
    route["path"] = route["resource"] = "/nope"
    method = request("api_get_models")
    method["httpMethod"] = "DELETE"
    assert call(route, context)[0] == 404 and call(method, context)[0] == 404


def test_state_changes_not_ours_repeated_or_out_of_order_leave_the_right_state(aws: None, context: Any) -> None:
    from vista_app.handlers import on_training_event

    name = start_job(context)
    write_metrics(name, 0.91)
    # not ours: another stack's or another tool's job
    assert on_training_event.lambda_handler(state_change("someone-else-42"), context)["outcome"].startswith("ignored")
    # repeated: the completion delivered three times promotes once
    outcomes = [on_training_event.lambda_handler(state_change(name), context)["outcome"] for _ in range(3)]
    assert outcomes == ["promotion requested", "model already champion", "model already champion"]
    # out of order: an old InProgress event after completion changes nothing (the job is read back)
    stale = copy.deepcopy(state_change(name))
    stale["detail"]["TrainingJobStatus"] = "InProgress"
    assert on_training_event.lambda_handler(stale, context)["outcome"] == "model already champion"
    job = call(request("api_get_training_job", path={"name": name}), context)[1]
    assert job["status"] == "Completed" and job["model"] == name
    assert len(boto3.client("sagemaker").list_endpoint_configs()["EndpointConfigs"]) == 1

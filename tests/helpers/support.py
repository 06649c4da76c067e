"""Steps several test modules share: a dataset, a started job, a finished one."""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import tarfile
import zlib
from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.helpers.stack import BUCKET, image_bytes, load_event

REQUEST = json.loads(load_event("api_post_training_jobs")["body"])


def upload_dataset(prefix: str = "datasets/intel/", train: str = "train/", test: str = "test/") -> None:
    s3 = boto3.client("s3")
    for split in (train, test):
        for label in ("forest", "sea"):
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}{split}{label}/0.jpg", Body=image_bytes())


def champion_on_record(**fields: Any) -> dict[str, Any]:
    """The dataset uploaded and a champion trained on it by `vista-job`, whose request (REQUEST) is
    on record; `fields` added to the model's record. The record as written."""
    from vista_app.config import settings
    from vista_app.records import Jobs, Models

    upload_dataset()
    Jobs(settings().jobs_table).create({"name": "vista-job", "status": "Completed", "request": REQUEST})
    model = {
        "name": "vista-job",
        "job": "vista-job",
        "state": "champion",
        "accuracy": 0.9,
        "dataset": "datasets/intel",
        "architecture": "resnet50",
        "promoted_at": "2026-11-28T06:00:00+00:00",
        **fields,
    }
    Models(settings().models_table).create(model)
    return model


def s3_put_event(template: str, key: str, data: bytes) -> dict[str, Any]:
    """Put an object and return the S3 notification announcing it, the key URL-encoded as S3 sends it."""
    put = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
    event = copy.deepcopy(load_event(template))
    obj = event["Records"][0]["s3"]["object"]
    obj.update(key=quote_plus(key, safe="/"), size=len(data), eTag=put["ETag"].strip('"'), versionId=put["VersionId"])
    return event


def put_request_event(key: str, body: Any) -> dict[str, Any]:
    """A training request (bytes, or a dict to encode) put under jobs/, and its S3 notification."""
    return s3_put_event("start_training_put", key, body if isinstance(body, bytes) else json.dumps(body).encode())


def start_job(context: Any, request: dict[str, Any] | None = None, key: str = "jobs/request.json") -> str:
    """A training job started the way users start one; returns its name."""
    from vista_app.handlers import start_training

    upload_dataset()
    event = s3_put_event("start_training_put", key, json.dumps(request or REQUEST).encode())
    [job] = start_training.lambda_handler(event, context)["jobs"]
    assert job["status"] == "InProgress"
    return job["name"]


def write_metrics(
    training_job: str, accuracy: float, classes: tuple[str, ...] = ("forest", "sea"), test_set: str = "intel-test"
) -> None:
    """output.tar.gz with metrics.json, where SageMaker puts what train.py wrote to SM_OUTPUT_DATA_DIR
    (`test_set`: the digest of the images its test accuracy was measured on)."""
    metrics = json.dumps(
        {
            "accuracy": accuracy,
            "loss": 1 - accuracy,
            "macro_f1": accuracy,
            "class_names": list(classes),
            "test_set": {"digest": test_set, "images": 2},
        }
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("metrics.json")
        info.size = len(metrics)
        archive.addfile(info, io.BytesIO(metrics))
    boto3.client("s3").put_object(
        Bucket=BUCKET, Key=f"artifacts/training/{training_job}/output/output.tar.gz", Body=buffer.getvalue()
    )


def state_change(name: str, template: str = "on_training_event_training_completed") -> dict[str, Any]:
    event = copy.deepcopy(load_event(template))
    event["detail"]["TrainingJobName"] = name
    return event


def call(event: dict[str, Any], context: Any) -> tuple[int, Any]:
    from vista_app.handlers import api

    answer_ = api.lambda_handler(event, context)
    body = answer_["body"]
    return answer_["statusCode"], json.loads(body) if body else None


def request(
    name: str,
    *,
    body: Any = None,
    content_type: str | None = None,
    b64: bool = False,
    query: dict[str, str] | None = None,
    path: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An event from events/, with another body, query or path parameters."""
    event = copy.deepcopy(load_event(name))
    if body is not None:
        event["body"], event["isBase64Encoded"] = body, b64
    if content_type is not None:
        event["headers"]["Content-Type"] = content_type
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    if path:
        event["pathParameters"] = path
        resource = event["resource"]
        for key, value in path.items():
            resource = resource.replace("{" + key + "}", value)
        event["path"] = resource
    return event


def sqs_batch(*objects: tuple[str, bytes | None]) -> dict[str, Any]:
    """Put each (key, data) into the bucket (None: announced but never there) and build the
    SQS batch S3 would cause, from the real-shaped event in events/."""
    template = load_event("classify_inbox_batch")["Records"][0]
    records = []
    for index, (key, data) in enumerate(objects):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{index}"
        body = json.loads(record["body"])
        obj = body["Records"][0]["s3"]["object"]
        if data is None:
            obj.update(key=quote_plus(key, safe="/"), size=100, versionId="gone-version")
        else:
            put = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
            obj.update(
                key=quote_plus(key, safe="/"), size=len(data), eTag=put["ETag"].strip('"'), versionId=put["VersionId"]
            )
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}


def classify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from vista_app.handlers import classify as handler

    return handler.lambda_handler(event, context)


def predictions() -> list[dict[str, Any]]:
    from vista_app.config import settings
    from vista_app.records import Predictions

    return Predictions(settings().predictions_table).newest(limit=100)["items"]


def by_key() -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in predictions()}


def png_header_only(width: int, height: int) -> bytes:
    """A structurally valid PNG that declares any size (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def answering_model(endpoint: str = "vista-classifier") -> str:
    """The model the endpoint really serves: its answer names it."""
    body = json.dumps({"instances": [{"b64": base64.b64encode(image_bytes()).decode()}]})
    answer = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=body
    )
    return json.loads(answer["Body"].read())["predictions"][0]["model"]


def settled(endpoint: str = "vista-classifier", timeout_s: float = 90) -> list[dict[str, Any]]:
    """Every model, once none is on its way to the endpoint and the endpoint is not changing."""
    from vista.client import wait_for
    from vista_app.config import settings
    from vista_app.records import Models

    sagemaker, models = boto3.client("sagemaker"), Models(settings().models_table)

    def done() -> tuple[list[dict[str, Any]]] | None:  # a tuple: no models at all is settled too
        every = list(models.all())
        if any(m["state"] == "promoting" for m in every):
            return None
        try:
            status = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        except sagemaker.exceptions.ClientError:  # no endpoint: done only if nothing is meant to be served
            status = None if any(m["state"] == "champion" for m in every) else "none"
        return (every,) if status in ("InService", "none") else None

    return wait_for("the promotions to settle", done, timeout_s, 0.2)[0]


def assert_at_rest(endpoint: str = "vista-classifier") -> None:
    """The local cloud at rest: the champion in DynamoDB is the model the endpoint's config serves
    (and answers as), nothing is left promoting, and no candidate, failed or rejected model lacks
    its reason."""
    every = settled(endpoint)
    champions = [m for m in every if m["state"] == "champion"]
    if champions:
        [champion] = champions
        assert champion["name"] == answering_model(endpoint)
        described = boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint)
        assert champion["endpoint_config"] == described["EndpointConfigName"]
    assert all(m.get("reason") for m in every if m["state"] in ("candidate", "failed", "rejected")), every


def answered_class(record: dict[str, Any]) -> str:
    """The class an answer names: its label, or, for an "unknown" one, its best guess."""
    return record["best_guess"]["label"] if record["label"] == "unknown" else record["label"]

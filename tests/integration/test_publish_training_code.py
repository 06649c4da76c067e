"""The custom resource that copies the training code layer to the data bucket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers.stack import BUCKET


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Capture what the handler PUTs to CloudFormation's ResponseURL; a layer archive under /opt."""
    from vista_app.handlers import publish_training_code

    (tmp_path / "sourcedir.tar.gz").write_bytes(b"\x1f\x8b fake archive")
    (tmp_path / "exportdir.tar.gz").write_bytes(b"\x1f\x8b fake export archive")
    monkeypatch.setattr(publish_training_code, "LAYER", tmp_path)
    answers: list[dict[str, Any]] = []

    class Reply:
        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def urlopen(request: Any, timeout: int) -> Reply:
        assert request.method == "PUT" and request.full_url.startswith("https://")
        answers.append(json.loads(request.data))
        return Reply()

    monkeypatch.setattr(publish_training_code.urllib.request, "urlopen", urlopen)
    return answers


def event(request_type: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:publish",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/signed",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/vista/guid",
        "RequestId": "unique-id",
        "LogicalResourceId": "TrainingCode",
        "ResourceType": "Custom::TrainingCode",
        "ResourceProperties": {
            "Bucket": bucket,
            "Key": "artifacts/code/sourcedir.tar.gz",
            "ExportKey": "artifacts/code/exportdir.tar.gz",
            "LayerVersion": "arn:aws:lambda:us-east-1:123456789012:layer:code:7",
        },
    }


def test_create_copies_the_archives_and_reports_their_uris(aws: None, context: Any, cloudformation: list) -> None:
    from vista_app.handlers.publish_training_code import lambda_handler

    lambda_handler(event("Create"), context)
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=BUCKET, Key="artifacts/code/sourcedir.tar.gz")["Body"].read()
    assert body == b"\x1f\x8b fake archive"
    body = s3.get_object(Bucket=BUCKET, Key="artifacts/code/exportdir.tar.gz")["Body"].read()
    assert body == b"\x1f\x8b fake export archive"
    [answer] = cloudformation
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {
        "Uri": f"s3://{BUCKET}/artifacts/code/sourcedir.tar.gz",
        "ExportUri": f"s3://{BUCKET}/artifacts/code/exportdir.tar.gz",
    }


def test_a_failure_is_reported_to_cloudformation_not_left_hanging(
    aws: None, context: Any, cloudformation: list
) -> None:
    from vista_app.handlers.publish_training_code import lambda_handler

    lambda_handler(event("Update", bucket="no-such-bucket"), context)
    [answer] = cloudformation
    assert answer["Status"] == "FAILED" and "NoSuchBucket" in answer["Reason"]


def test_delete_keeps_the_code(aws: None, context: Any, cloudformation: list) -> None:
    from vista_app.handlers.publish_training_code import lambda_handler

    lambda_handler(event("Delete"), context)
    assert cloudformation[0]["Status"] == "SUCCESS"


def test_the_presigned_response_url_is_never_logged(
    aws: None, context: Any, cloudformation: list, caplog: pytest.LogCaptureFixture
) -> None:
    from vista_app.handlers.publish_training_code import lambda_handler

    # Whoever reads the function's logs could otherwise answer CloudFormation in its place.
    with caplog.at_level("INFO", logger="vista"):  # whatever level an earlier test left the service's logger at
        lambda_handler(event("Create"), context)
        lambda_handler(event("Update", bucket="no-such-bucket"), context)
    assert "cloudformation-custom-resource-response" not in caplog.text
    assert "Create TrainingCode" in caplog.text  # it still says what it did

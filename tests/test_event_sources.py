"""Local mode's event sources held to what AWS sends: S3's notification records (moto's, completed),
Lambda's SQS records (the sample event of `sam local generate-event sqs receive-message`), and
Lambda's rule for partial batch responses. moto in this process: no local cloud here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.conftest import BUCKET, load_event


def test_moto_s3_notifications_are_completed_as_s3_sends_them(aws: None) -> None:
    """moto leaves out versionId and sequencer and encodes '/' as %2F; S3 does neither."""
    from vista.local.event_sources import complete_s3_event

    s3 = boto3.client("s3")
    key = "jobs/a folder/my request.json"
    first = s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    second = s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")  # the same bytes again: a new version
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key), "eTag": second["ETag"].strip('"')}},
    }
    completed = complete_s3_event({"Records": [record]}, s3)["Records"][0]["s3"]["object"]
    assert completed["key"] == "jobs/a+folder/my+request.json"
    assert completed["versionId"] == second["VersionId"] != first["VersionId"]
    assert completed["sequencer"]


def test_sqs_records_have_lambdas_casing_and_partial_failures_need_report_batch_item_failures(aws: None) -> None:
    from vista.local.event_sources import EventSources, Source, sqs_record
    from vista.local.lambda_runtime import Function

    sample = load_event("aws_sqs_receive_message")["Records"][0]
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="oracle-batch")["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="Hello from SQS!",
        MessageAttributes={"Kind": {"DataType": "String", "StringValue": "image"}},
    )
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    record = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:oracle-batch")
    assert set(record) - {"md5OfMessageAttributes"} == set(sample)  # the sample's message has no attributes
    assert record["messageAttributes"]["Kind"] == {
        "stringValue": "image",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    # A function answering a partial failure without FunctionResponseTypes: Lambda ignores the answer.
    sources = EventSources(sqs, boto3.client("s3"))
    function = Function("Partial", "tests.test_event_sources.fail_every_item", 3, 128)
    sources._deliver_batch(Source(function, url, "arn", "sqs", report_batch_item_failures=False), [message])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def fail_every_item(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

"""Local mode's event sources held to what AWS sends: S3's notification records (moto's, made as S3 makes them),
Lambda's SQS records (the sample event of `sam local generate-event sqs receive-message`), and
Lambda's rule for partial batch responses. moto in this process: no local cloud here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.helpers.oracles import keys
from tests.helpers.stack import BUCKET, EVENTS, load_event


@pytest.fixture
def records_as_s3_does() -> Iterator[None]:
    """moto's S3 notification records made as local mode makes them, for the test's length."""
    from vista.local.s3 import send_records_as_s3_does

    with send_records_as_s3_does():
        yield


def test_s3_notifications_carry_each_puts_own_version_as_s3_sends_them(aws: None, records_as_s3_does: None) -> None:
    """moto leaves out versionId and sequencer and encodes '/' as %2F; S3 does neither. The same bytes
    put twice in a row are two versions, two records, each naming its own."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    url = sqs.create_queue(QueueName="oracle-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    key = "jobs/a folder/my request.json"
    versions = [s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")["VersionId"] for _ in range(2)]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    records = [b["Records"][0]["s3"]["object"] for b in bodies if "Records" in b]  # not S3's s3:TestEvent
    assert [r["key"] for r in records] == ["jobs/a+folder/my+request.json"] * 2
    assert [r["versionId"] for r in records] == versions and versions[0] != versions[1]
    assert records[0]["sequencer"] < records[1]["sequencer"]


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
    sources = EventSources(sqs)
    function = Function("Partial", "tests.integration.test_event_sources.fail_every_item", 3, 128)
    sources._deliver_batch(Source(function, url, "arn", "sqs", report_batch_item_failures=False), [message])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def fail_every_item(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def test_an_s3_notification_has_every_member_of_s3s_sample(aws: None, records_as_s3_does: None) -> None:
    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="notified")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="oracle")
    s3.put_bucket_notification_configuration(
        Bucket="oracle",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket="oracle", Key="inbox/a b.jpg", Body=b"x")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    [record] = [r for body in bodies for r in body.get("Records", [])]
    sample = json.loads((EVENTS / "aws_s3_put.json").read_text())["Records"][0]
    assert keys(sample) - keys(record) == set()
    assert record["userIdentity"]["principalId"].startswith("AWS:")
    assert record["s3"]["object"]["key"] == "inbox/a+b.jpg"


def test_an_eventbridge_event_reaches_its_function_with_the_whole_envelope(aws: None) -> None:
    from vista.local.event_sources import EventSources, Source
    from vista.local.lambda_runtime import Function

    sample = json.loads((EVENTS / "aws_sagemaker_training_job_state_change.json").read_text())
    sqs, events = boto3.client("sqs", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="rule")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="jobs", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="jobs", Targets=[{"Id": "queue", "Arn": arn}])
    events.put_events(
        Entries=[
            {"Source": "aws.sagemaker", "DetailType": sample["detail-type"], "Detail": json.dumps(sample["detail"])}
        ]
    )
    messages = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"]
    function = Function("Echo", "tests.integration.test_event_sources.remember_event", 3, 128)
    sources = EventSources(sqs)
    sources._deliver_event(Source(function, queue, "arn:aws:sqs:us-east-1:123456789012:rule", "event"), messages)
    assert set(REMEMBERED[-1]) == set(sample)
    assert REMEMBERED[-1]["account"] == "123456789012"


REMEMBERED: list[dict[str, Any]] = []


def remember_event(event: dict[str, Any], _context: Any) -> None:
    REMEMBERED.append(event)


def test_a_function_already_running_when_a_capture_starts_prints_to_its_log(tmp_path: Path) -> None:
    import io
    import sys
    import threading

    from vista.local import lambda_runtime
    from vista.local.lambda_runtime import FunctionOutput, capture_output, route_function_output

    output = FunctionOutput(tmp_path / "functions.log")
    terminal, started, go_on = sys.stdout, threading.Event(), threading.Event()

    def function() -> None:  # an invocation begun before the test's capture, printing after it
        lambda_runtime._invocation.function = "ClassifyFunction"
        started.set()
        go_on.wait(10)
        print('{"_aws": "an EMF line"}')

    capture_output(output)
    try:
        running = threading.Thread(target=function)
        running.start()
        started.wait(10)
        sys.stdout = captured = io.StringIO()  # what capsys does as a test begins
        route_function_output()
        go_on.set()
        running.join(10)
        print("the command's own answer")
    finally:
        sys.stdout = terminal
        capture_output(None)
        output.close()
    assert captured.getvalue() == "the command's own answer\n"
    assert (tmp_path / "functions.log").read_text() == '{"_aws": "an EMF line"}\n'

"""Lambda's event sources, in local mode: messages waiting on SQS queues, delivered to functions.

- An SQS event source mapping polls its queue and invokes the function with a batch of records as
  Lambda shapes them (the Lambda developer guide's SQS sample event: `messageId`, `receiptHandle`,
  `attributes`, and `messageAttributes` in Lambda's casing: `stringValue`, `binaryValue`,
  `stringListValues`, `binaryListValues`, `dataType`). A batch that fails stays on the queue whole;
  `batchItemFailures` in the answer leaves only those items, and only where the mapping has
  `FunctionResponseTypes: [ReportBatchItemFailures]` ("If you don't enable it, Lambda ignores the
  response": without it a partial answer deletes the whole batch).
- An S3 notification or EventBridge rule is an asynchronous invocation: the event is a queue's
  message body here (moto delivers S3 and EventBridge to SQS), retried twice, then sent to the
  function's OnFailure destination, as Lambda's asynchronous invocation does.
- S3's records come as S3 makes them (versionId, sequencer, `/` kept in keys): see s3.py.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vista.local.lambda_runtime import ACCOUNT, REGION, Function

log = logging.getLogger("vista.local")
# Lambda's asynchronous invocation: the first attempt and two retries, then the destination.
ASYNC_ATTEMPTS = 3
POLL_WAIT_S = 2


@dataclass
class Source:
    """Messages waiting for a function: an SQS event source, or a queue standing in for an
    S3 notification or an EventBridge rule (the event is the message body)."""

    function: Function
    queue_url: str
    queue_arn: str
    kind: str  # "sqs" | "event"
    batch_size: int = 1
    concurrency: int = 1
    report_batch_item_failures: bool = False
    on_failure: str | None = None  # the queue URL of the function's OnFailure destination


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage message as a Lambda SQS event record."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        attribute: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            attribute["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        attributes[name] = attribute
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class EventSources:
    def __init__(self, sqs: Any, *, deliveries: int = 1) -> None:
        """`deliveries`: every event is delivered that many times at once (S3, SQS and
        EventBridge promise at least once)."""
        self.sqs, self.deliveries = sqs, deliveries
        self.sources: list[Source] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self.sources:
            thread = threading.Thread(
                target=self._poll, args=(source,), daemon=True, name=f"dispatch-{source.function.name}"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _poll(self, source: Source) -> None:
        pool = ThreadPoolExecutor(source.concurrency, thread_name_prefix=source.function.name)
        in_flight: set[Future] = set()
        while not self._stop.is_set():
            in_flight = {f for f in in_flight if not f.done()}
            # Each batch is invoked `deliveries` times at once; every invocation counts against
            # the event source's concurrency, as each would in Lambda.
            if in_flight and (len(in_flight) + 1) * self.deliveries > source.concurrency:
                time.sleep(0.05)
                continue
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=source.queue_url,
                    MaxNumberOfMessages=source.batch_size,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                    # Long polling, as Lambda's SQS poller polls (SQS's "Setting-up long polling":
                    # 1 to 20 s): moto answers as soon as a message arrives; a short wait keeps stop() prompt.
                    WaitTimeSeconds=POLL_WAIT_S,
                ).get("Messages", [])
            except Exception:  # the server is going away at shutdown
                if self._stop.is_set():
                    break
                raise
            if not messages:
                continue
            deliver = self._deliver_batch if source.kind == "sqs" else self._deliver_event
            in_flight.add(pool.submit(deliver, source, messages))
        pool.shutdown(wait=True, cancel_futures=True)

    def _deliver_batch(self, source: Source, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, source.queue_arn) for m in messages]}
        failed: set[str] = set()
        for outcome in self._invoke_repeatedly(source.function.invoke, event):
            if isinstance(outcome, BaseException):
                log.error("%s failed on a batch of %d: %r", source.function.name, len(messages), outcome)
                failed |= {m["MessageId"] for m in messages}
            elif source.report_batch_item_failures:
                failed |= {item["itemIdentifier"] for item in (outcome or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for chunk in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[chunk : chunk + 10])
                ],
            )

    def _deliver_event(self, source: Source, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            event = json.loads(message["Body"])
            if "detail-type" in event:
                # EventBridge's envelope always names the account of the event's source (the sample
                # events in events/ and the EventBridge user guide's "Amazon EventBridge events");
                # moto's leaves it out.
                event.setdefault("account", ACCOUNT)
            if event.get("Event") == "s3:TestEvent":
                self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            errors = [o for o in self._invoke_repeatedly(source.function.invoke, event) if isinstance(o, BaseException)]
            if errors:
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                log.error("%s failed (attempt %d of %d): %r", source.function.name, attempts, ASYNC_ATTEMPTS, errors[0])
                if attempts < ASYNC_ATTEMPTS:
                    continue
                if source.on_failure:
                    self.sqs.send_message(QueueUrl=source.on_failure, MessageBody=json.dumps({"requestPayload": event}))
            self.sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _invoke_repeatedly(self, invoke: Callable[[dict[str, Any]], Any], event: dict[str, Any]) -> list[Any]:
        """Invoke once, or `deliveries` times at once; each outcome is a result or the exception."""

        def deliver() -> Any:  # each delivery gets its own copy, as each would arrive from the service
            return invoke(json.loads(json.dumps(event)))

        outcomes: list[Any] = []
        with ThreadPoolExecutor(self.deliveries) as pool:
            for future in [pool.submit(deliver) for _ in range(self.deliveries)]:
                try:
                    outcomes.append(future.result())
                except Exception as error:
                    outcomes.append(error)
        return outcomes

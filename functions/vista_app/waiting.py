"""Images that came before any model was in service: each has a WAITING record (by_waiting), and
once a model serves, each is sent to the inbox queue again, as S3 sent it, to be classified."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from vista_app.records import Predictions


def notification(record: dict[str, Any]) -> str:
    """The S3 event notification (as S3 sends it to the inbox queue) that names a recorded image's
    object: what images_in_notification reads back to the same S3Image, and so the same id."""
    obj: dict[str, Any] = {"key": quote_plus(record["key"], safe="/")}
    if record.get("version_id"):
        obj["versionId"] = record["version_id"]
    elif record.get("version"):
        obj["eTag"] = record["version"]
    s3 = {"s3SchemaVersion": "1.0", "bucket": {"name": record["bucket"]}, "object": obj}
    return json.dumps(
        {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": s3}]}
    )


def release_waiting(predictions: Predictions, *, sqs: Any, queue_url: str) -> int:
    """Send every image waiting for a model to the inbox queue again (a model now serves); returns
    how many. Sent twice, an image is still classified once (classify is idempotent on it)."""
    sent, token = 0, None
    while True:
        page = predictions.waiting(limit=100, next_token=token)
        records = page["items"]
        for start in range(0, len(records), 10):  # SendMessageBatch takes at most 10 entries
            batch = records[start : start + 10]
            entries = [{"Id": str(i), "MessageBody": notification(r)} for i, r in enumerate(batch)]
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"the inbox queue refused {len(answer['Failed'])} message(s): {answer['Failed'][0]}")
            sent += len(batch)
        token = page.get("next_token")
        if not token:
            return sent

"""S3 in local mode is moto's, with its notification records made as S3 makes them.

moto's records (moto/s3/notifications.py `_get_s3_event`) leave out what S3 sends and encode keys
otherwise. The S3 user guide's "Event message structure" (notification-content-structure.html):
`versionId` is the version the event is about on a versioning-enabled bucket; `sequencer` orders
the events of one key (a hexadecimal string that grows); the key is URL-encoded as a form value,
with `/` kept; every record carries `userIdentity`, `requestParameters.sourceIPAddress`,
`responseElements` (the request's ids) and the bucket's `ownerIdentity` (events/aws_s3_put.json,
the SAM CLI's sample, has each). Added where moto makes each record, from the very object it is about: looked up
afterwards, a quick second put of the same bytes could not be told from the first, and a second
request would pass for a redelivery of the first.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import time
import uuid
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

_sequence = itertools.count()
# The local account's one principal (an IAM unique id's shape): who put every object here.
LOCAL_PRINCIPAL = "AIDALOCALVISTA0000001"


def send_records_as_s3_does() -> contextlib.AbstractContextManager[Any]:
    """moto's record maker wrapped while the context lasts (moto's S3 lives in this process)."""
    from moto.s3 import notifications

    moto_record = notifications._get_s3_event
    if getattr(moto_record, "as_s3_does", False):
        return contextlib.nullcontext()

    def record(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = moto_record(event_name, bucket, key, notification_id)
        request_id = uuid.uuid4().hex[:16].upper()
        event["Records"][0].update(
            userIdentity={"principalId": f"AWS:{LOCAL_PRINCIPAL}"},
            requestParameters={"sourceIPAddress": "127.0.0.1"},
            responseElements={"x-amz-request-id": request_id, "x-amz-id-2": base64.b64encode(os.urandom(48)).decode()},
        )
        event["Records"][0]["s3"]["bucket"]["ownerIdentity"] = {"principalId": LOCAL_PRINCIPAL}
        obj = event["Records"][0]["s3"]["object"]
        obj["key"] = quote_plus(key.name, safe="/")
        obj["sequencer"] = f"{time.time_ns():016X}{next(_sequence) % 256:02X}"
        if bucket.is_versioned:
            obj["versionId"] = key.version_id
        return event

    record.as_s3_does = True  # type: ignore[attr-defined]
    return mock.patch.object(notifications, "_get_s3_event", record)


def answer_cors_as_s3_does() -> contextlib.AbstractContextManager[Any]:
    """moto's server wraps every service in flask-cors (moto/moto_server/werkzeug_app.py: any origin,
    any method, unless MOTO_DISABLE_GLOBAL_CORS); S3 answers a browser's cross-origin request by the
    bucket's CORS rules alone, and refuses a preflight no rule allows with 403 (the S3 user guide's
    "Using cross-origin resource sharing", cors.html). Off before the server makes its apps."""
    from moto.moto_server import werkzeug_app

    return mock.patch.object(werkzeug_app, "DISABLE_GLOBAL_CORS", True)

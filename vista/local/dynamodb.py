"""DynamoDB in local mode is moto's, with the isolation DynamoDB gives.

The developer guide's "Isolation levels for DynamoDB transactions" (transaction-apis.html):
TransactWriteItems is serializable against PutItem, UpdateItem, DeleteItem and other transactions,
and reads (GetItem, Query, Scan) are read-committed: nobody sees part of a transaction, and a
cancelled one changes nothing. moto's `transact_write_items` (moto/dynamodb/models/__init__.py)
applies the actions one by one and, when one fails its condition, puts back a copy of each table
taken when it began: requests served meanwhile on other threads see half a transaction, and a
cancelled transaction undoes what they wrote (two deliveries of one promotion left two champions).

Here every DynamoDB request is served alone. DynamoDB itself cancels a transaction that meets
another on the same item (TransactionConflict); serialised, the later one finds the first's
result and fails its condition instead: the same TransactionCanceledException to its caller.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any
from unittest import mock

_lock = threading.RLock()


def isolate_as_dynamodb_does() -> contextlib.AbstractContextManager[Any]:
    """moto's DynamoDB requests served one at a time while the context lasts (moto lives in this
    process, so the patch is the process's: the cloud undoes it when it stops)."""
    from moto.dynamodb.responses import DynamoHandler

    serve = DynamoHandler.call_action
    if getattr(serve, "isolated", False):
        return contextlib.nullcontext()

    @functools.wraps(serve)
    def call_action(self: DynamoHandler) -> Any:
        with _lock:
            return serve(self)

    call_action.isolated = True  # type: ignore[attr-defined]
    return mock.patch.object(DynamoHandler, "call_action", call_action)

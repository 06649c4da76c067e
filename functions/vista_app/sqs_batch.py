"""An SQS batch answered item by item (ReportBatchItemFailures): each message is handled on its
own, and those that raised are named in `batchItemFailures`, so SQS makes only them visible again.

The contract is Lambda's ("Implementing partial batch responses",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): an empty list is
the whole batch done; each failure is `{"itemIdentifier": <messageId>}`. It is what Powertools'
BatchProcessor returns for a standard queue with `raise_on_entire_batch_failure=False` (a wholly
failed batch reported item by item too), in a dozen lines rather than its import:
`aws_lambda_powertools.utilities.batch` imports asyncio (for its async processor) and every event
data class, 36 ms of the classify function's cold start (`python -X importtime`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Logger(Protocol):
    """The standard library's logger or Powertools' (which is not a logging.Logger)."""

    def warning(self, msg: object, *args: object, exc_info: bool = ..., extra: dict[str, Any] | None = ...) -> None: ...


def partial_batch_response(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], None], logger: Logger
) -> dict[str, list[dict[str, str]]]:
    failures = []
    for record in event["Records"]:
        try:
            handle(record)
        except Exception:
            logger.warning(
                "message failed; SQS delivers it again", exc_info=True, extra={"message_id": record["messageId"]}
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}

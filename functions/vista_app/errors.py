"""What an AWS error means, decided in one place. DynamoDB and sagemaker-runtime say it in the
error code; SageMaker's control plane says most things as ValidationException and tells them
apart only in the message (the API reference lists ResourceInUse and ResourceNotFound for some
operations, and its own messages are: "Could not find endpoint ...", "Cannot create already
existing model ...", "Cannot update in-progress endpoint ...", "... must be unique ...")."""

from __future__ import annotations

from botocore.exceptions import ClientError


# What Vista's own errors mean to a caller: the API answers each kind once (400, 404, 409, 503), whatever
# module raised it, and can do so without loading those modules.
class BadRequest(ValueError):
    """Input Vista refuses, with the reason: 400."""


class NotFound(LookupError):
    """No such thing (a model, a prediction, its image): 404."""


class Conflict(RuntimeError):
    """What is asked cannot be done in the state things are in (nothing to roll back to): 409."""


class Unavailable(RuntimeError):
    """Vista cannot answer now (no model in service, the model failed or timed out): 503 (or the
    subclass's `status`), with Retry-After."""

    status = 503
    retry_after_s = 60


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def message(error: ClientError) -> str:
    return error.response["Error"].get("Message", "")


def is_conditional_failure(error: ClientError) -> bool:
    """DynamoDB refused a write whose condition did not hold."""
    return code(error) == "ConditionalCheckFailedException"


def is_missing_object(error: ClientError) -> bool:
    """S3 has no such object (or no such version of it); HeadObject's answer has only the status."""
    return code(error) in ("NoSuchKey", "NoSuchVersion", "404")


def is_not_found(error: ClientError) -> bool:
    """SageMaker has no such resource (an endpoint, job, model or config)."""
    text = message(error).lower()
    return code(error) in ("ValidationException", "ResourceNotFound") and (
        "could not find" in text or "not found" in text
    )


def is_already_existing(error: ClientError) -> bool:
    """SageMaker has a resource of that name already (a redelivered event made it)."""
    text = message(error).lower()
    return code(error) in ("ResourceInUse", "ValidationException") and (
        "already exist" in text or "must be unique" in text
    )


def is_in_progress(error: ClientError) -> bool:
    """SageMaker refused to change an endpoint that is being created, updated or deleted."""
    return code(error) == "ValidationException" and "in-progress" in message(error)


def is_unknown_endpoint(error: ClientError) -> bool:
    """sagemaker-runtime's answer for an endpoint that does not exist: a ValidationError
    ("Endpoint X of account Y not found.")."""
    return code(error) == "ValidationError" and "not found" in message(error).lower()

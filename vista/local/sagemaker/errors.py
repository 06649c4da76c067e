"""SageMaker's and SageMaker Runtime's errors, by the names and HTTP statuses AWS answers with.

The codes are botocore's (`data/sagemaker/*/service-2.json`, `data/sagemaker-runtime/*/service-2.json`):
the control plane's modelled ResourceInUse, ResourceNotFound and ResourceLimitExceeded, and the
ValidationException every call can answer; the runtime's ValidationError (its model's own name:
"Endpoint X of account Y not found." is a ValidationError there, not a ValidationException),
ModelError (424), ServiceUnavailable (503) and ModelNotReadyException (429). A serverless endpoint
throttles "any endpoint invocations beyond the maximum" concurrency (developer guide,
serverless-endpoints.md): ThrottlingException, not modelled, but one of botocore's retried codes.
The messages are the ones AWS gives, so a handler that reads them works on both.
"""

from __future__ import annotations

from typing import Any


class SageMakerError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **members: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.members = code, message, status, members


def validation(message: str) -> SageMakerError:
    return SageMakerError("ValidationException", message)


def pattern_mismatch(value: str, member: str, pattern: str) -> SageMakerError:
    """What botocore-shaped server-side validation answers for a member outside its pattern."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def job_not_found() -> SageMakerError:
    """DescribeTrainingJob and StopTrainingJob on an unknown name."""
    return validation("Requested resource not found.")


def not_found(kind: str, arn: str) -> SageMakerError:
    """Describe* on an unknown model, endpoint configuration or endpoint: 'Could not find model "arn"'."""
    return validation(f'Could not find {kind} "{arn}".')


def already_exists(kind: str, arn: str) -> SageMakerError:
    return validation(f'Cannot create already existing {kind} "{arn}".')


def tuning_not_found(name: str) -> SageMakerError:
    return SageMakerError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")


def in_use(message: str) -> SageMakerError:
    return SageMakerError("ResourceInUse", message)


# SageMaker Runtime (InvokeEndpoint).
def endpoint_not_found(name: str, account: str) -> SageMakerError:
    return SageMakerError("ValidationError", f"Endpoint {name} of account {account} not found.")


def throttled() -> SageMakerError:
    return SageMakerError("ThrottlingException", "Rate exceeded")


def unavailable() -> SageMakerError:
    return SageMakerError("ServiceUnavailable", "The service is unavailable. Please try again.", 503)


def model_error(status: int, message: str, log_stream_arn: str) -> SageMakerError:
    """The container answered 4xx/5xx: InvokeEndpoint's ModelError, with the container's own words."""
    original = '{"error": "' + message.replace('"', '\\"') + '"}'
    return SageMakerError(
        "ModelError",
        f'Received client error ({status}) from primary with message "{original}".',
        424,
        OriginalStatusCode=status,
        OriginalMessage=original,
        LogStreamArn=log_stream_arn,
    )

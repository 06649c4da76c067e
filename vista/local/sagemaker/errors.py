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

from dataclasses import dataclass
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


# Every ModelError message ends with this pointer to the endpoint's logs, as SageMaker's do
# ('... See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:
# group=/aws/sagemaker/Endpoints/<endpoint> in account <account> for more information.', quoted in
# aws/amazon-sagemaker-examples#1407 and RamVegiraju/SageMaker-Deployment#3).
LOGS_POINTER = (
    "See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
    "group=/aws/sagemaker/Endpoints/{endpoint} in account {account} for more information."
)


@dataclass(frozen=True)
class EndpointPlace:
    """Where an endpoint's errors point to: its region, account and name."""

    region: str
    account: str
    name: str

    @property
    def log_group(self) -> str:
        return f"/aws/sagemaker/Endpoints/{self.name}"

    @property
    def pointer(self) -> str:
        return LOGS_POINTER.format(region=self.region, endpoint=self.name, account=self.account)


def model_error(status: int, message: str, place: EndpointPlace) -> SageMakerError:
    """The container answered 4xx/5xx: InvokeEndpoint's ModelError (HTTP 424), "client error" or
    "server error" with the container's status in OriginalStatusCode and its own words."""
    original = '{"error": "' + message.replace('"', '\\"') + '"}'
    kind = "client" if status < 500 else "server"
    return SageMakerError(
        "ModelError",
        f'Received {kind} error ({status}) from primary with message "{original}". {place.pointer}',
        424,
        OriginalStatusCode=status,
        OriginalMessage=original,
        LogStreamArn=f"arn:aws:logs:{place.region}:{place.account}:log-group:{place.log_group}",
    )


def model_timeout(place: EndpointPlace) -> SageMakerError:
    """The container did not answer within the invocation's limit (60 s; a serverless endpoint's
    cold start counts against it): a ModelError with status "(0)" in SageMaker's words, and no
    container status (nothing came back; stricter than assuming one)."""
    return SageMakerError(
        "ModelError",
        'Received server error (0) from primary with message "Your invocation timed out while waiting for a '
        "response from container primary. Review the latency metrics for each container in Amazon CloudWatch, "
        f'resolve the issue, and try again.". {place.pointer}',
        424,
    )

"""Answers to SageMaker calls that moto cannot give (a model's real answer, throttling, a
failed job), injected at botocore's HTTP layer: serialisation, error parsing and the
standard retry mode all run for real around them."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

CLASSES = ["buildings", "forest", "glacier", "mountain", "sea", "street"]


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def response(url: str, status: int, body: dict[str, Any], error: str | None = None) -> AWSResponse:
    headers = {"Content-Type": "application/json"}
    if error:
        headers["x-amzn-ErrorType"] = error
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))


def label_of(image: bytes) -> str:
    """The fake model's answer: a stable function of the image bytes."""
    return CLASSES[hashlib.sha256(image).digest()[0] % len(CLASSES)]


class FakeEndpoint:
    """A serverless endpoint serving a TF Serving model, behind InvokeEndpoint.

    `throttle` answers that many calls with ThrottlingException first; `down` makes every
    call fail so; `error` answers every call with that (status, code, message), and the error
    shape's other members from `error_members` (ModelError's OriginalStatusCode, ...).
    """

    def __init__(self) -> None:
        self.calls = 0
        self.payloads: list[dict[str, Any]] = []
        self.throttle = 0
        self.down = False
        self.error: tuple[int, str, str] | None = None
        self.error_members: dict[str, Any] = {}
        self.confidence = 0.9
        self.distance: float | None = None  # the model's `distance` output (typicality), when it has one

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.calls += 1
        if self.down or self.throttle > 0:
            self.throttle -= 1
            return response(request.url, 400, {"message": "Rate exceeded"}, "ThrottlingException")
        if self.error:
            status, code, message = self.error
            return response(request.url, status, {"message": message, **self.error_members}, code)
        payload = json.loads(request.body)
        self.payloads.append(payload)
        predictions = []
        for instance in payload["instances"]:
            image = base64.b64decode(instance["b64"])
            label = label_of(image)
            rest = (1 - self.confidence) / (len(CLASSES) - 1)
            probabilities = [self.confidence if c == label else rest for c in CLASSES]
            if payload.get("signature_name") == "explain":  # the SavedModel's second signature (export.py)
                hot = hashlib.sha256(image).digest()[1] % 4
                heatmap = [[1.0 if 2 * r + c == hot else 0.25 for c in range(2)] for r in range(2)]
                predictions.append({"label": label, "probability": self.confidence, "heatmap": heatmap})
            else:
                answer = {"probabilities": probabilities, "label": label, "classes": CLASSES}
                predictions.append(answer | ({"distance": self.distance} if self.distance is not None else {}))
        return response(request.url, 200, {"predictions": predictions})


def answer(client: Any, operation: str, handler: Callable[[Any], AWSResponse | None]) -> None:
    """Route one operation of a client to `handler` (a before-send hook that wins over moto's)."""
    service = client.meta.service_model.service_name
    client.meta.events.register_first(f"before-send.{service}.{operation}", lambda request, **_: handler(request))


def describe_from_event(detail: dict[str, Any]) -> dict[str, Any]:
    """A Describe* answer with an EventBridge detail's fields (its millisecond times left out)."""
    return {
        k: describe_from_event(v) if isinstance(v, dict) else v
        for k, v in detail.items()
        if not k.endswith("Time") and k != "SecondaryStatusTransitions"
    }


def record_calls(monkeypatch: Any, client: Any, method: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Replace an operation moto lacks: validate the parameters against the API model, record, answer."""
    from botocore.validate import validate_parameters

    operation = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[method])
    calls: list[dict[str, Any]] = []

    def call(**kwargs: Any) -> dict[str, Any]:
        validate_parameters(kwargs, operation.input_shape)
        calls.append(kwargs)
        return result

    monkeypatch.setattr(client, method, call)
    return calls


# sagemaker-runtime's ModelError as SageMaker words it (the container's status in OriginalStatusCode;
# "(0)" and no status at all when the container did not answer in time).
LOGS_POINTER = (
    "See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
    "group=/aws/sagemaker/Endpoints/vista-classifier in account 123456789012 for more information."
)
MODEL_TIMEOUT = (
    'Received server error (0) from primary with message "Your invocation timed out while waiting for a '
    "response from container primary. Review the latency metrics for each container in Amazon CloudWatch, "
    f'resolve the issue, and try again.". {LOGS_POINTER}'
)


def model_error(status: int, words: str) -> tuple[tuple[int, str, str], dict[str, Any]]:
    """FakeEndpoint.error and .error_members for a container that answered `status` with `words`."""
    kind = "client" if status < 500 else "server"
    original = json.dumps({"error": words})
    message = f'Received {kind} error ({status}) from primary with message "{original}". {LOGS_POINTER}'
    return (424, "ModelError", message), {"OriginalStatusCode": status, "OriginalMessage": original}

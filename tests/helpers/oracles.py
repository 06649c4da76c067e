"""Oracles nobody here wrote: botocore's service models, held against what the local SageMaker answers.

`Wire` watches every exchange of a local SageMaker server and records each way an answer differs
from what botocore's model for that operation allows: a member the output shape does not have, a
required one missing, a value of the wrong type or outside its enum or range, an error code the
operation cannot answer or with another HTTP status. `local_cloud` in conftest fails a test module
whose local SageMaker answered anything the model does not allow.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

_SESSION = botocore.session.get_session()
MODELS = {name: _SESSION.get_service_model(name) for name in ("sagemaker", "sagemaker-runtime")}
# Codes every operation may answer though no model lists them (botocore's retry and error handling).
COMMON_ERRORS = {"ValidationException": 400, "ThrottlingException": 400}


def violations(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """How `value` (JSON as the json protocol carries it) differs from `shape`, strictly."""
    found: list[str] = []
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a {shape.name} structure"]
        found += [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in shape.members]
        found += [f"{path}.{k}: required by {shape.name}, missing" for k in shape.required_members if k not in value]
        for name, member in shape.members.items():
            if name in value:
                found += violations(member, value[name], f"{path}.{name}")
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        for index, item in enumerate(value):
            found += violations(shape.member, item, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a map"]
        for key, item in value.items():
            found += violations(shape.key, key, f"{path}<key {key}>")
            found += violations(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r} is not a string"]
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.name}'s {shape.enum}")
        if len(value) > shape.metadata.get("max", len(value)):
            found.append(f"{path}: longer than {shape.metadata['max']}")
        if len(value) < shape.metadata.get("min", 0):
            found.append(f"{path}: shorter than {shape.metadata['min']}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: {value!r} is not an integer"]
        if not shape.metadata.get("min", value) <= value <= shape.metadata.get("max", value):
            found.append(f"{path}: {value} outside {shape.metadata.get('min')}..{shape.metadata.get('max')}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.append(f"{path}: {value!r} is not a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: {value!r} is not a boolean")
    elif kind == "timestamp":  # the json protocol's timestamps are epoch seconds
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.append(f"{path}: {value!r} is not an epoch timestamp")
    elif kind == "blob" and not isinstance(value, str):
        found.append(f"{path}: {value!r} is not base64 text")
    return found


def exchange_violations(service: str, operation: str, status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """What botocore's model does not allow in one answer of the local SageMaker or SageMaker Runtime."""
    model = MODELS[service]
    if operation not in model.operation_names:
        return [f"{service} has no operation {operation!r}"]
    op = model.operation_model(operation)
    where = f"{service}.{operation}"
    if status >= 300:
        lowered = {k.lower(): v for k, v in headers.items()}
        document = json.loads(body or b"{}")
        code = lowered.get("x-amzn-errortype") or document.get("__type", "")
        modelled = {shape.name: shape.metadata.get("error", {}).get("httpStatusCode", 400) for shape in op.error_shapes}
        allowed = {**COMMON_ERRORS, **modelled}
        if code not in allowed:
            return [f"{where}: answered {code!r}, which it cannot (modelled: {sorted(modelled)})"]
        if allowed[code] != status:
            return [f"{where}: {code} with HTTP {status}, the model says {allowed[code]}"]
        return []
    if service == "sagemaker-runtime":  # rest-json: the payload is the body, the rest headers
        lowered = {k.lower() for k in headers}
        return [
            f"{where}: no {member.serialization['name']} header"
            for name, member in op.output_shape.members.items()
            if name in ("ContentType", "InvokedProductionVariant")
            and member.serialization["name"].lower() not in lowered
        ]
    return violations(op.output_shape, json.loads(body), where) if op.output_shape else []


class Wire:
    """An observer for SageMakerServer.observers: every answer checked, the violations kept."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.found: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, service: str, operation: str, status: int, headers: dict[str, str], body: bytes) -> None:
        found = exchange_violations(service, operation, status, headers, body)
        with self._lock:
            self.seen[operation] = self.seen.get(operation, 0) + 1
            self.found += found


def keys(value: Any, path: str = "") -> set[str]:
    """Every key path of a JSON document (list items as []), to hold a local event to an AWS sample's."""
    if isinstance(value, dict):
        return {f"{path}.{k}" for k in value} | {p for k, v in value.items() for p in keys(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {p for item in value for p in keys(item, f"{path}[]")}
    return set()

"""TF Serving, as SageMaker's TensorFlow inference container runs it behind InvokeEndpoint.

The model: model.tar.gz's highest integer version folder (TF Serving finds "no versions of servable"
without one). The request: TF Serving's REST predict API (tensorflow/serving,
`util/json_tensor.cc` FillPredictRequestFromJson), which the container (inference.py) hands it:
- an optional string `signature_name` (default serving_default; an unknown one is refused);
- exactly one of `instances` (row format: a non-empty list, each element the input's value, or an
  object keyed by input name) and `inputs` (columnar: the input's batched value, or an object keyed
  by input name); `{"b64": ...}` is a base64-encoded string value, never an object of inputs;
- the answer mirrors it: row → `{"predictions": [...]}`, one object per item when the signature has
  several outputs; columnar → `{"outputs": {...}}`. Errors are `{"error": "..."}` with HTTP 400.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

DEFAULT_SIGNATURE = "serving_default"


class ServingError(ValueError):
    """What TF Serving answers 4xx for: `status` and its words."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def load(archive: bytes, folder: Path) -> Any:
    """The SavedModel of a model.tar.gz, as TF Serving loads it."""
    import tensorflow as tf

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    versions = sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise ValueError(f"no versions of servable in {folder.name}: expected <version>/saved_model.pb")
    return tf.saved_model.load(str(versions[-1]))


def predict(model: Any, body: bytes) -> dict[str, Any]:
    """One predict request (JSON) on a loaded SavedModel: the JSON answer, or ServingError."""
    import tensorflow as tf

    if not body:
        raise ServingError("JSON Parse error: The document is empty")
    try:
        request = json.loads(body)
    except ValueError as error:
        raise ServingError(f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise ServingError("JSON Value: Is not object")
    name = request.get("signature_name", DEFAULT_SIGNATURE)
    if not isinstance(name, str):
        raise ServingError("'signature_name' key must be a string value.")
    if name not in model.signatures:
        raise ServingError(f'Serving signature name: "{name}" not found in signature def')
    signature = model.signatures[name]
    inputs = sorted(signature.structured_input_signature[1])
    if "instances" in request and "inputs" in request:
        raise ServingError("Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist")
    if "instances" in request:
        columns, rows = _rows(request["instances"], inputs), True
    elif "inputs" in request:
        columns, rows = _columns(request["inputs"], inputs), False
    else:
        raise ServingError("Missing 'inputs' or 'instances' key")
    try:
        outputs = signature(**{k: tf.constant(v) for k, v in columns.items()})
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ServingError(_cause(error.message)) from None
    values = {k: _plain(v.numpy()) for k, v in sorted(outputs.items())}
    if not rows:
        return {"outputs": values if len(values) > 1 else next(iter(values.values()))}
    size = len(next(iter(values.values())))
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(size)]}


def _cause(message: str) -> str:
    """TF's error as TF Serving reports it (e.g. "jpeg::Uncompress failed. Invalid JPEG data or crop
    window."): without the preamble an eager call adds (Graph execution error, where the node was
    defined)."""
    preamble = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "  File ")
    lines = [line for line in message.splitlines() if line.strip() and not line.startswith(preamble)]
    return lines[0] if lines else message


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"]


def _value(value: Any) -> Any:
    """A JSON value as a tensor's: {"b64": ...} decoded to bytes, lists element by element."""
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise ServingError("Unable to base64 decode") from None
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        raise ServingError("Expecting value/list but got object")
    return value


def _rows(instances: Any, inputs: list[str]) -> dict[str, list[Any]]:
    if not isinstance(instances, list):
        raise ServingError("Excepting 'instances' to be an list/array")
    if not instances:
        raise ServingError("No values in 'instances' array")
    named = isinstance(instances[0], dict) and not _is_b64(instances[0])
    if not named and len(inputs) > 1:
        raise ServingError(
            "instances is a plain list, but expecting list of objects as multiple input tensors required "
            "as per tensorinfo_map"
        )
    columns: dict[str, list[Any]] = {name: [] for name in inputs}
    for index, item in enumerate(instances):
        is_object = isinstance(item, dict) and not _is_b64(item)
        if named != is_object:
            kind = "object but got list" if named else "value/list but got object"
            raise ServingError(f"Expecting {kind} at item {index} of input list")
        if not named:
            columns[inputs[0]].append(_value(item))
            continue
        if sorted(item) != inputs:
            raise ServingError(
                f"Failed to process element: {index} of 'instances' list. JSON object: {json.dumps(item)[:200]} "
                f"keys must be equal to: {','.join(inputs)}"
            )
        for name in inputs:
            columns[name].append(_value(item[name]))
    return columns


def _columns(given: Any, inputs: list[str]) -> dict[str, Any]:
    if not isinstance(given, dict) or _is_b64(given):
        if len(inputs) > 1:
            raise ServingError(
                "inputs is a plain value/list, but expecting an object as multiple input tensors required "
                "as per tensorinfo_map"
            )
        return {inputs[0]: _value(given)}
    for name in inputs:
        if name not in given:
            raise ServingError(f"Missing named input: {name} in 'inputs' object.")
    return {name: _value(given[name]) for name in inputs}


def _plain(value: Any) -> Any:
    """A tensor's numpy value as TF Serving writes it: strings as text (no output name ends in
    `_bytes`), numbers as numbers, batch-major lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value

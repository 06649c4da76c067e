"""SageMaker's TensorFlow Serving inference container, in front of one loaded model.

What answers /invocations depends on the model archive (aws/sagemaker-tensorflow-serving-container,
`docker/build_artifacts/sagemaker/`):
- without `code/inference.py`, nginx's njs (`tensorflowServing.js`, `invocations`) passes a JSON
  body (application/json, application/jsonlines, application/jsons) to TF Serving's predict API
  and refuses any other content type but text/csv with 415 "Unsupported Media Type: <type>";
- with it, the Python service (`python_service.py`) imports the script and hands every request to
  its `handler(data, context)`, or to `input_handler` then TF Serving's REST API then
  `output_handler`; an exception in them is a 500 {"error": "<message>"}. The script reaches TF
  Serving at `context.rest_uri`, which this serves on 127.0.0.1 (`RestServer`).
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from vista.local.sagemaker import serving

JSON_TYPES = ("application/json", "application/jsonlines", "application/jsons")
MODEL_NAME = "model"  # TF Serving names the model after its folder, /opt/ml/model


@dataclass(frozen=True)
class Context:
    """What `tfs_utils.parse_request` gives a handler (the members a script reads)."""

    model_name: str
    model_version: str | None
    method: str
    rest_uri: str
    grpc_uri: str
    custom_attributes: str | None
    request_content_type: str
    accept_header: str
    content_length: int


class RestServer:
    """TF Serving's REST predict API (`POST /v1/models/<name>:predict`) for one model."""

    def __init__(self, model: Any) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != f"/v1/models/{MODEL_NAME}:predict":
                    status, answer = 404, {"error": f"Servable not found for request: {self.path}"}
                else:
                    try:
                        status, answer = 200, serving.predict(model, body)
                    except serving.ServingError as error:
                        status, answer = error.status, {"error": str(error)}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:  # its access log is not ours to print
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="tf-serving-rest").start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/v1/models/{MODEL_NAME}:predict"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Container:
    """The container serving one model archive, extracted in `folder`."""

    def __init__(self, archive: bytes, folder: Path) -> None:
        self.model = serving.load(archive, folder)
        script = folder / "code" / "inference.py"
        self.script: ModuleType | None = _import(script) if script.exists() else None
        self.rest = RestServer(self.model) if self.script else None

    def invoke(self, body: bytes, content_type: str, accept: str = "application/json") -> tuple[int, bytes]:
        """(HTTP status, body) of one /invocations request."""
        if self.script is None:
            return self._nginx(body, content_type)
        assert self.rest is not None
        context = Context(
            model_name=MODEL_NAME,
            model_version=None,
            method="predict",
            rest_uri=self.rest.uri,
            grpc_uri="",  # Vista's script speaks REST
            custom_attributes=None,
            request_content_type=content_type,
            accept_header=accept,
            content_length=len(body),
        )
        try:
            if hasattr(self.script, "handler"):
                answer, _ = self.script.handler(io.BytesIO(body), context)
            else:
                import requests  # what python_service posts with, between the two handlers

                processed = self.script.input_handler(io.BytesIO(body), context)
                response = requests.post(context.rest_uri, data=processed, timeout=60)
                answer, _ = self.script.output_handler(response, context)
        except Exception as error:  # python_service: any exception is a 500 with its message
            return 500, json.dumps({"error": str(error)}).encode()
        return 200, answer if isinstance(answer, bytes) else str(answer).encode()

    def _nginx(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        if content_type not in (*JSON_TYPES, "text/csv"):
            return 415, json.dumps({"error": f"Unsupported Media Type: {content_type or 'Unknown'}"}).encode()
        request = tfs_request(body.decode("utf-8", "replace"), csv=content_type == "text/csv")
        try:
            return 200, json.dumps(serving.predict(self.model, request.encode())).encode()
        except serving.ServingError as error:
            return error.status, json.dumps({"error": str(error)}).encode()

    def close(self) -> None:
        if self.rest:
            self.rest.close()


def tfs_request(data: str, *, csv: bool = False) -> str:
    """tensorflowServing.js's `json_request` and `csv_request`: a TF Serving request as it is; JSON
    lines, or any other JSON, as `{"instances": [...]}`; CSV lines as instances, quoted unless the
    first field is a number or already quoted."""
    if csv:
        quote = not re.match(r'^\s*("|[\d.Ee+\-]+)', data)
        rows = []
        for line in (line.strip() for line in data.strip().splitlines()):
            if line:
                row = '"' + line.replace('"', '\\"', 1).replace(",", '","', 1) + '"' if quote else line
                rows.append(f"[{row}]" if "," in line else row)
        return '{"instances":[' + ",".join(rows) + "]}"
    if re.search(r'"(instances|inputs|examples)"\s*:', data):
        return data
    if re.search(r"[}\]]\s*[\[{]", data):
        lines = [line.strip() for line in data.strip().splitlines() if line.strip()]
        return '{"instances":' + ("[" + ",".join(lines) + "]" if len(lines) != 1 else lines[0]) + "}"
    return '{"instances":' + (data if re.match(r"^\s*\[\s*\[", data) else f"[{data}]") + "}"


def _import(script: Path) -> ModuleType:
    """As python_service's `_import_handlers`: a module named `inference`, with `handler` or both of
    `input_handler` and `output_handler`."""
    spec = importlib.util.spec_from_file_location("inference", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "handler") and not (hasattr(module, "input_handler") and hasattr(module, "output_handler")):
        raise NotImplementedError("Handlers are not implemented correctly in user script.")
    return module

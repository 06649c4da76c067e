"""The local SageMaker's HTTP face: botocore's two protocols for it, and AWS's errors on the wire.

- SageMaker (botocore `sagemaker` model, protocol json 1.1): POST /, `X-Amz-Target: SageMaker.<Op>`,
  a JSON body in and out, timestamps as epoch seconds; an error is its HTTP status with
  `{"__type": code, "message": ...}`.
- SageMaker Runtime (`sagemaker-runtime`, rest-json): POST /endpoints/<name>/invocations, the payload
  as the body, the model's content type and `x-Amzn-Invoked-Production-Variant` as headers; an error
  has `x-amzn-ErrorType` and its shape's members in the body (ModelError's OriginalStatusCode...).

Every exchange is shown to `observers` (service, operation, status, headers, body), which is how the
oracle tests hold each answer against botocore's output shapes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from vista.local.sagemaker.backend import LocalSageMaker
from vista.local.sagemaker.errors import SageMakerError

INVOCATIONS = re.compile(r"/endpoints/([^/]+)/invocations")
Observer = Callable[[str, str, int, dict[str, str], bytes], None]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)


class SageMakerServer:
    def __init__(self, sagemaker: LocalSageMaker) -> None:
        self.sagemaker = sagemaker
        self.observers: list[Observer] = []
        self._server: Any = None

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        invocation = INVOCATIONS.fullmatch(request.path)
        if invocation:
            service, operation = "sagemaker-runtime", "InvokeEndpoint"
            response = self._invoke(invocation.group(1), request)
        else:
            service = "sagemaker"
            operation = request.headers.get("X-Amz-Target", "").removeprefix("SageMaker.")
            response = self._call(operation, request)
        body = response.get_data()
        for observe in self.observers:
            observe(service, operation, response.status_code, dict(response.headers), body)
        return response(environ, start_response)

    def _call(self, operation: str, request: Request) -> Response:
        try:
            handler = self.sagemaker.operation(operation)
            if handler is None:
                raise SageMakerError("UnknownOperationException", f"{operation or 'this call'} is not implemented")
            answer = handler(**json.loads(request.get_data() or b"{}"))
            return Response(json.dumps(answer, default=_json_default), 200, content_type="application/x-amz-json-1.1")
        except SageMakerError as error:
            body = {"__type": error.code, "message": error.message, **error.members}
            return Response(json.dumps(body), error.status, content_type="application/x-amz-json-1.1")

    def _invoke(self, name: str, request: Request) -> Response:
        content_type = (request.content_type or "").split(";")[0].strip()
        try:
            answer = self.sagemaker.invoke_endpoint(name, request.get_data(), content_type)
        except SageMakerError as error:
            return Response(
                json.dumps({"message": error.message, **error.members}),
                error.status,
                content_type="application/json",
                headers={"x-amzn-ErrorType": error.code},
            )
        return Response(
            answer, 200, content_type="application/json", headers={"x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        )

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(host, port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="local-sagemaker").start()
        return f"http://{host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()

"""API Gateway (REST API, Lambda proxy integration), in local mode.

HTTP requests become the REST proxy event of the developer guide's "Input format of a Lambda function
for proxy integration" and the function's answer the HTTP response; the API's authorizers run as API
Gateway runs them (SigV4 by default, checked for presence only: moto takes any signature; a route's
Lambda REQUEST authorizer, invoked with the request's identity sources); what API Gateway refuses is
answered with the API's gateway responses. The integration times out at 29 s (the REST API quota,
"Integration timeout ... 50 milliseconds - 29 seconds") with 504 "Endpoint request timed out".

Payloads are held to the two limits in front of a function: API Gateway's 10 MB request body (its
quotas page: "Payload size 10 MB", not adjustable) and Lambda's synchronous request, the whole event
JSON (Lambda's quotas: 6 MB; the Invoke API refuses more than 6,291,456 bytes). What clients get
is what was observed of AWS (koki-develop/lgtm-generator#10, reapit/foundations#4338): over 10 MB a
413 in plain text from API Gateway's front door, over Lambda's limit a 413 `{"message": "Request
Too Long"}`; neither can be replaced by a gateway response, so neither says more.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from vista.local.lambda_runtime import ACCOUNT, REGION, STACK, Function

log = logging.getLogger("vista.local")
INTEGRATION_TIMEOUT_S = 29.0
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_EVENT_BYTES = 6 * 1024 * 1024


def route_for(function: Function, event: dict[str, Any]) -> Route:
    """An Api event of a function (its resolved Properties) as a route."""
    path = event["Path"]
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
    pattern = re.sub(r"\\{(\w+)\\\+\\}", r"(?P<\1>.+)", pattern)  # a greedy {proxy+}
    authorizer = event.get("Auth", {}).get("Authorizer")
    return Route(event["Method"].upper(), re.compile(f"^{pattern}$"), path, function, authorizer)


@dataclass
class Route:
    method: str  # or ANY
    pattern: re.Pattern[str]
    resource: str
    function: Function
    authorizer: str | None  # a Lambda authorizer of the API's; None: the API's default

    @property
    def greedy(self) -> bool:
        return "+}" in self.resource


# API Gateway's answer to an unknown route, or an IAM route called unsigned.
MISSING_TOKEN = ("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")


class ApiGateway:
    """HTTP requests → API Gateway REST proxy events → the api function → HTTP responses, with
    the API's authorizers: SigV4 by default (only its presence is checked: moto takes any
    signature), or a route's Lambda REQUEST authorizer, invoked as API Gateway invokes it, and
    the API's gateway responses for what they refuse."""

    def __init__(
        self,
        routes: list[Route],
        api: dict[str, Any],
        functions: dict[str, Function],
        *,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
    ) -> None:
        self.integration_timeout_s = integration_timeout_s
        self._pool = ThreadPoolExecutor(32, thread_name_prefix="api-integration")
        # API Gateway prefers an exact resource to a greedy {proxy+} one.
        self.routes = sorted(routes, key=lambda r: r.greedy)
        self.binary = {t.replace("~1", "/") for t in api.get("BinaryMediaTypes", [])}
        auth = api.get("Auth", {})
        self.iam_auth = auth.get("DefaultAuthorizer") == "AWS_IAM"
        self.authorizers = auth.get("Authorizers", {})
        self.functions = {f"{STACK}-{name}": function for name, function in functions.items()}
        self.gateway_responses = api.get("GatewayResponses", {})

    def close(self) -> None:
        """Stop taking integrations; one still running ends on its own (Lambda's does too)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        from werkzeug.wrappers import Request

        return self._handle(Request(environ))(environ, start_response)

    def _handle(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        if (request.content_length or 0) > MAX_BODY_BYTES:
            return Response(f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.", 413, content_type="text/plain")
        stage, _, path = request.path.lstrip("/").partition("/")
        path = "/" + path
        resource = path.rstrip("/") or "/"  # API Gateway takes /console/ for /console
        route, found = next(
            ((r, m) for r in self.routes if r.method in (request.method, "ANY") and (m := r.pattern.match(resource))),
            (None, None),
        )
        if route is None or found is None:  # what API Gateway answers for an unknown route
            return self._refuse(*MISSING_TOKEN)
        event = self._proxy_event(request, route, found, stage, path)
        if route.authorizer is None:
            if self.iam_auth and not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
                return self._refuse(*MISSING_TOKEN)
        else:
            refusal, granted = self._authorize(route.authorizer, event)
            if refusal:
                return refusal
            event["requestContext"]["authorizer"] = granted
        if len(json.dumps(event)) > MAX_EVENT_BYTES:  # Lambda refuses the invocation; the function never runs
            headers = {"x-amzn-ErrorType": "BadRequestException"}
            return Response(json.dumps({"message": "Request Too Long"}), 413, headers, content_type="application/json")
        # The integration timeout: the client gets 504 while the function runs on, as on AWS.
        call = self._pool.submit(route.function.invoke, event)
        try:
            answer = call.result(timeout=self.integration_timeout_s)
        except FutureTimeout:
            return self._refuse("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
        return self._respond(answer)

    def _proxy_event(self, request: Any, route: Route, found: re.Match[str], stage: str, path: str) -> dict[str, Any]:
        body = request.get_data()
        content_type = (request.content_type or "").split(";")[0].strip()
        is_binary = content_type in self.binary
        headers = dict(request.headers.items())
        now = time.time()
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
            # REST APIs keep the last of repeated keys in queryStringParameters (the developer guide,
            # "Input format of a Lambda function for proxy integration"); all of them in the multi-value map.
            "queryStringParameters": {k: request.args.getlist(k)[-1] for k in request.args} or None,
            "multiValueQueryStringParameters": {k: request.args.getlist(k) for k in request.args} or None,
            "pathParameters": found.groupdict() or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.resource,
                "httpMethod": request.method,
                "path": f"/{stage}{path}",
                "stage": stage,
                "accountId": ACCOUNT,
                "requestId": str(uuid.uuid4()),
                "protocol": "HTTP/1.1",
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "apiId": "local",
                "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
                # Every member API Gateway sends (events/aws_apigateway_aws_proxy.json), null where
                # it has nothing: a SigV4 caller is an IAM user, never a Cognito identity.
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "cognitoIdentityId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "sourceIp": request.remote_addr,
                    "userAgent": request.user_agent.string,
                    "accessKey": "local",
                    "userArn": f"arn:aws:iam::{ACCOUNT}:user/local",
                    "caller": "local",
                    "user": "local",
                    "accountId": ACCOUNT,
                },
            },
            "body": (base64.b64encode(body).decode() if is_binary else body.decode("utf-8", "replace"))
            if body
            else None,
            "isBase64Encoded": bool(body) and is_binary,
        }

    def _authorize(self, name: str, event: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(a refusal, None) or (None, the context the authorizer let the request in with)."""
        spec = self.authorizers[name]
        headers = {k.lower(): v for k, v in event["headers"].items()}
        # Without every identity source, API Gateway refuses before calling the authorizer.
        if any(h.lower() not in headers for h in spec.get("Identity", {}).get("Headers", [])):
            return self._refuse("UNAUTHORIZED", 401, "Unauthorized"), {}
        context = event["requestContext"]
        request = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/{context['stage']}/"
            f"{event['httpMethod']}{event['path']}",
            **{k: event[k] for k in ("resource", "path", "httpMethod", "headers", "multiValueHeaders")},
            **{k: event[k] for k in ("queryStringParameters", "pathParameters", "stageVariables")},
            "requestContext": context,
        }
        started = time.monotonic()
        try:
            answer = self.functions[spec["FunctionArn"].rsplit(":", 1)[1]].invoke(request)
        except Exception as error:  # what API Gateway makes of an authorizer's failure
            if str(error) == "Unauthorized":
                return self._refuse("UNAUTHORIZED", 401, "Unauthorized"), {}
            log.warning("authorizer %s failed: %s", name, error)
            return self._refuse("AUTHORIZER_FAILURE", 500, None), {}
        statements = answer.get("policyDocument", {}).get("Statement", [])
        allowed = any(s["Effect"] == "Allow" for s in statements) and not any(s["Effect"] == "Deny" for s in statements)
        if not allowed:
            return self._refuse("ACCESS_DENIED", 403, "User is not authorized to access this resource"), {}
        context = answer.get("context", {})
        # "You cannot set a JSON object or array as a valid value of any key in the context map", and
        # the integration sees every value as a string (booleans as "true"/"false").
        if any(isinstance(v, dict | list) for v in context.values()):
            log.warning("authorizer %s returned an object or array in its context", name)
            return self._refuse("AUTHORIZER_CONFIGURATION_ERROR", 500, None), {}
        granted = {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in context.items()}
        # API Gateway adds how long the authorizer took, in milliseconds, as a number.
        latency = round((time.monotonic() - started) * 1000)
        return None, {**granted, "principalId": answer.get("principalId"), "integrationLatency": latency}

    def _refuse(self, kind: str, status: int, message: str | None) -> Any:
        from werkzeug.wrappers import Response

        custom = self.gateway_responses.get(kind, {})
        headers = {k: v.strip("'") for k, v in custom.get("ResponseParameters", {}).get("Headers", {}).items()}
        body = json.dumps({"message": message})
        return Response(body, int(custom.get("StatusCode", status)), headers=headers, content_type="application/json")

    def _respond(self, answer: dict[str, Any]) -> Any:
        from werkzeug.wrappers import Response

        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        headers = list((answer.get("headers") or {}).items())
        headers += [(k, v) for k, values in (answer.get("multiValueHeaders") or {}).items() for v in values]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return Response(data, answer.get("statusCode", 200), headers=headers)

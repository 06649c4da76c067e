"""The web console in local mode: http://127.0.0.1:<port>/ forwards every request to the local
API Gateway's console routes with the console user's session cookie, so nobody signs in
locally while the session authorizer still checks every request as it does on AWS."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from vista_app.sessions import SESSION_COOKIE, SIGN_IN_PATH

# Not passed on: hop-by-hop headers, and the browser's own cookies (the session is the proxy's).
DROPPED = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "cookie"}


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None  # the browser follows them, not the proxy


class ConsoleProxy:
    def __init__(self, api_url: str, new_session: Callable[[], str]) -> None:
        parts = urlsplit(api_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.home = f"{parts.path.rstrip('/')}/console/"
        self.sign_in = f"{parts.path.rstrip('/')}{SIGN_IN_PATH}"
        self.new_session = new_session
        self.session = ""
        self.lock = threading.Lock()
        self.opener = urllib.request.build_opener(NoRedirects)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        if request.path in ("/", self.sign_in) or request.path == f"{self.home}signout":
            return Response("", 302, headers={"Location": self.home})(environ, start_response)
        body = request.get_data()
        status, headers, data = self._forward(request, body)
        if status == 302 and dict(headers).get("Location", "").endswith(self.sign_in):
            with self.lock:  # the session expired: sign in again, once
                self.session = self.new_session()
            status, headers, data = self._forward(request, body)
        return Response(data, status, headers=headers)(environ, start_response)

    def _forward(self, request: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        with self.lock:
            if not self.session:
                self.session = self.new_session()
            session = self.session
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
        headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        url = self.origin + request.full_path.rstrip("?")
        forwarded = urllib.request.Request(url, data=body or None, headers=headers, method=request.method)  # noqa: S310 (127.0.0.1)
        try:
            with self.opener.open(forwarded, timeout=120) as answer:
                return answer.status, _kept(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, _kept(error.headers.items()), error.read()


def _kept(headers: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in DROPPED]

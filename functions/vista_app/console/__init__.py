"""The web console's pages and its sign-in and sign-out routes (served by the API function).

The pages are plain HTML, CSS and JavaScript in static/: no build step, nothing from a CDN.
They call the API under /console/api/, the same routes programs call with SigV4, let in here
by the console's session authorizer instead.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from vista_app import lazy

# Sign-in and sign-out are the console's only routes that handle a session here (the authorizer
# checks every other request): the module and its cookie parser load with the first of them.
with lazy.importing():
    from vista_app import sessions

router = Router()
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


@functools.cache
def assets() -> dict[str, str]:
    from importlib import resources

    folder = resources.files(__package__) / "static"
    return {item.name: item.read_text() for item in folder.iterdir() if item.name.endswith(tuple(CONTENT_TYPES))}


def _authorizer() -> dict[str, Any]:
    return router.current_event.raw_event.get("requestContext", {}).get("authorizer") or {}


def _stage() -> str:
    """The API stage the request came through (a REST API proxy event's requestContext.stage)."""
    return router.current_event.raw_event["requestContext"]["stage"]


def _console_path() -> str:
    """Where the console lives; the cookie's path, and (with a slash) its pages' base URL."""
    return f"/{_stage()}/console"


def _security_headers(s3: str) -> dict[str, str]:
    # Thumbnails are presigned S3 URLs, and big photos are PUT to one (POST /uploads); everything
    # else comes from the console's own origin.
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; img-src 'self' data: blob: {s3}; connect-src 'self' {s3}; "
            "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the sign-in code must not leak from the URL
        "Cache-Control": "no-cache",
    }


def _s3_origin() -> str:
    """The data bucket's origin, exactly as the presigned links the console gets name it (a link is
    made offline: no call to S3)."""
    from vista_app.aws import client
    from vista_app.config import settings

    link = client("s3").generate_presigned_url("get_object", Params={"Bucket": settings().data_bucket, "Key": "x"})
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}"


def _asset(name: str) -> Response[str]:
    body = assets().get(name)
    if body is None:
        raise NotFoundError(f"no console page '{name}'")
    if name == "index.html":
        body = body.replace('<base href="/">', f'<base href="{_console_path()}/">')
    suffix = name[name.rfind(".") :]
    return Response(200, CONTENT_TYPES[suffix], body, headers=_security_headers(_s3_origin()))


def _redirect(location: str, *cookies: Cookie) -> Response[str]:
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(302, "text/plain", "", headers=headers, cookies=list(cookies))


def _cookie(name: str, value: str, max_age: int, path: str) -> Cookie:
    """HttpOnly, Secure and Lax (sent on the top-level redirect back from Cognito); 0 clears it."""
    return Cookie(name, value, path=path, http_only=True, max_age=max_age, same_site=SameSite.LAX_MODE)


@router.get("/console")
def home() -> Response[str]:
    return _asset("index.html")


@router.get("/console/signin")
def sign_in() -> Response[str]:
    granted = _authorizer()
    verifier_path = f"/{_stage()}{sessions.SIGN_IN_PATH}"
    if granted.get("sign_in_url"):
        return _redirect(
            granted["sign_in_url"], _cookie(sessions.VERIFIER_COOKIE, granted["verifier"], 600, verifier_path)
        )
    if granted.get("session"):
        return _redirect(
            f"{_console_path()}/",
            _cookie(sessions.SESSION_COOKIE, granted["session"], int(granted["max_age"]), _console_path()),
            _cookie(sessions.VERIFIER_COOKIE, "", 0, verifier_path),  # used once
        )
    return _redirect(f"{_console_path()}/")


@router.post("/console/signout")
def sign_out() -> Response[str]:
    """Revoke the session's tokens, clear the cookie, then end Cognito's own sign-in session. An
    answer API Gateway cached for this cookie (ReauthorizeEvery: 300 s) may still let a copy of it
    in for up to five minutes; every other request with it is refused at once.

    A POST from the console's own page only: a GET (a link, an image on any site) or a form another
    site submits would sign the user out (the browser sends the Lax cookie on both)."""
    from vista_app.aws import client

    if not _same_origin(router.current_event.headers):
        return Response(403, "application/json", '{"message": "sign-out must come from the console\'s own page"}')
    sessions.revoke_session(
        client("cognito-idp"), sessions.cookie(router.current_event.headers.get("Cookie"), sessions.SESSION_COOKIE)
    )
    return _redirect(
        _authorizer().get("sign_out_url") or f"{_console_path()}/",
        _cookie(sessions.SESSION_COOKIE, "", 0, _console_path()),
    )


def _same_origin(headers: dict[str, str]) -> bool:
    """The request came from a page of this origin: the browser's Sec-Fetch-Site says so, or (a
    browser that does not send it) its Origin names this host."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "sec-fetch-site" in lowered:
        return lowered["sec-fetch-site"] == "same-origin"
    origin, host = lowered.get("origin"), lowered.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


@router.get("/console/session")
def session() -> dict[str, Any]:
    granted = _authorizer()
    return {"user": granted.get("email") or granted.get("user", ""), "can_sign_out": bool(granted.get("sign_out_url"))}


@router.get("/console/<name>")
def asset(name: str) -> Response[str]:
    return _asset(name)

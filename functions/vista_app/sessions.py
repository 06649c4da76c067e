"""Web console sessions: a Cognito access token in an HttpOnly cookie.

Cognito's managed sign-in page hands the browser back to /console/signin with a one-time
code; the console's authorizer redeems it at the user pool's token endpoint, with the PKCE
verifier the browser was given (in a cookie) on its way out, and the API sets the session
cookie. Every later request is let in only while GetUser accepts the token (so a signed-out or
revoked session ends at once) and the token was issued to this stack's client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

SESSION_COOKIE = "vista_session"
VERIFIER_COOKIE = "vista_pkce"  # the PKCE verifier, between leaving for Cognito and coming back
SIGN_IN_PATH = "/console/signin"


class SignInRefused(Exception):
    """No session, or one that is not this stack's, expired or revoked."""


@dataclass(frozen=True)
class ConsoleClient:
    """The user pool's app client the console signs in with, and where its pages are."""

    user_pool_id: str
    client_id: str
    domain: str | None  # the managed sign-in pages' host prefix (none in local mode)

    @property
    def region(self) -> str:
        return self.user_pool_id.split("_", 1)[0]

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def base_url(self) -> str:
        if not self.domain:
            raise SignInRefused(f"user pool {self.user_pool_id} has no domain for its sign-in pages")
        return f"https://{self.domain}.auth.{self.region}.amazoncognito.com"

    def sign_in_url(self, redirect_uri: str, verifier: str) -> str:
        query = {
            "client_id": self.client_id,
            "response_type": "code",
            "scope": "openid email aws.cognito.signin.user.admin",
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        return f"{self.base_url}/oauth2/authorize?{urllib.parse.urlencode(query)}"

    def sign_out_url(self, redirect_uri: str) -> str | None:
        if not self.domain:
            return None
        query = {"client_id": self.client_id, "logout_uri": redirect_uri}
        return f"{self.base_url}/logout?{urllib.parse.urlencode(query)}"


def find_client(cognito: Any, user_pool_id: str, name: str) -> ConsoleClient:
    """The pool's client called `name` and the pool's domain (found at run time: the template
    cannot hand the functions the client's id without a dependency cycle through the API)."""
    domain = cognito.describe_user_pool(UserPoolId=user_pool_id)["UserPool"].get("Domain")
    for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=user_pool_id):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return ConsoleClient(user_pool_id, client["ClientId"], domain)
    raise LookupError(f"user pool {user_pool_id} has no app client '{name}'")


def new_verifier() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43-128


def code_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def cookie(header: str | None, name: str) -> str | None:
    """A cookie's value from a Cookie header; None when absent, empty or unreadable."""
    if not header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel and morsel.value else None


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified: GetUser is what vouches for the token."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise SignInRefused("the session is not a token") from None


def check_session(cognito: Any, client: ConsoleClient, token: str) -> dict[str, str]:
    """The signed-in user's name and e-mail, if the token is a live access token from this
    stack's client; SignInRefused otherwise."""
    found = claims(token)
    if (found.get("iss"), found.get("client_id"), found.get("token_use")) != (
        client.issuer,
        client.client_id,
        "access",
    ):
        raise SignInRefused("the session was not issued to this console")
    try:
        user = cognito.get_user(AccessToken=token)
    except cognito.exceptions.NotAuthorizedException:
        raise SignInRefused("the session has expired or was revoked") from None
    except cognito.exceptions.UserNotFoundException:
        raise SignInRefused("the user no longer exists") from None
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    return {"user": user["Username"], "email": attributes.get("email", "")}


def revoke_session(cognito: Any, token: str | None) -> bool:
    """Sign the session's user out: GlobalSignOut invalidates the access, ID and refresh tokens
    Cognito issued to them (Cognito's /logout only ends the managed sign-in page's own cookie).
    False when there was nothing live to revoke."""
    if not token:
        return False
    try:
        cognito.global_sign_out(AccessToken=token)
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException):
        return False
    return True


def redeem_code(
    client: ConsoleClient,
    code: str,
    redirect_uri: str,
    verifier: str,
    *,
    opener: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Exchange the sign-in page's code for tokens at the pool's token endpoint; the verifier
    proves the code comes back to the browser that went for it."""
    # Here, not at import: only the sign-in callback calls out, and urllib.request (with the
    # http.client and email modules it pulls in) is 6 ms of every other request's cold start.
    import urllib.error
    import urllib.request

    form = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (https, the user pool's own domain)
        f"{client.base_url}/oauth2/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with (opener or urllib.request.urlopen)(request, timeout=5) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:  # invalid_grant: used, expired or forged
        raise SignInRefused(f"the sign-in code was refused ({error.code})") from None

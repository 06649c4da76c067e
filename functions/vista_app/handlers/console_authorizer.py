"""The web console's Lambda authorizer (REQUEST): a live Cognito session, or on the sign-in
route, the code Cognito's sign-in page returned with.

Refusing raises "Unauthorized", which API Gateway answers with 401 (and the template's
gateway response turns into a redirect to sign in).
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app.aws import client
from vista_app.config import settings
from vista_app.sessions import (
    SESSION_COOKIE,
    SIGN_IN_PATH,
    VERIFIER_COOKIE,
    ConsoleClient,
    SignInRefused,
    check_session,
    cookie,
    find_client,
    new_verifier,
    redeem_code,
)

logger = Logger()


class Unauthorized(Exception):
    """API Gateway answers 401 only to an authorizer that fails with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@functools.cache
def console_client() -> ConsoleClient:
    config = settings()
    return find_client(client("cognito-idp"), config.console_user_pool_id, f"{config.name_prefix}-console")


def authorize(event: APIGatewayAuthorizerRequestEvent, cognito: Any, console: ConsoleClient) -> dict[str, Any]:
    """The context to let the request in with; SignInRefused to keep it out."""
    stage = event.request_context.stage
    host = event.headers.get("Host") or ""
    sign_in_uri = f"https://{host}/{stage}{SIGN_IN_PATH}"
    cookies = event.headers.get("Cookie")
    token = cookie(cookies, SESSION_COOKIE)
    if event.resource == SIGN_IN_PATH:
        code = (event.query_string_parameters or {}).get("code")
        if code:
            verifier = cookie(cookies, VERIFIER_COOKIE)
            if not verifier:
                raise SignInRefused("a sign-in code came back without the verifier it was asked for with")
            tokens = redeem_code(console, code, sign_in_uri, verifier)
            session = check_session(cognito, console, tokens["access_token"])
            return {**session, "session": tokens["access_token"], "max_age": int(tokens.get("expires_in", 3600))}
        if token:
            try:
                return check_session(cognito, console, token)
            except SignInRefused:
                pass
        # The one answer without credentials: the way to Cognito's sign-in page, with a fresh
        # PKCE verifier for the API to keep in the browser until the code comes back.
        verifier = new_verifier()
        return {"sign_in_url": console.sign_in_url(sign_in_uri, verifier), "verifier": verifier}
    if not token:
        raise SignInRefused("no session cookie")
    session = check_session(cognito, console, token)
    sign_out_url = console.sign_out_url(sign_in_uri)
    return {**session, "sign_out_url": sign_out_url} if sign_out_url else session


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        granted = authorize(request, client("cognito-idp"), console_client())
    except SignInRefused as refusal:
        logger.info("console request refused", reason=str(refusal), path=request.path)
        raise Unauthorized() from None
    arn = request.parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id=granted.get("user", "sign-in"),
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=granted,
    )
    # A session's answer is cached for its Cookie header across every console route.
    response.allow_all_routes()
    return response.asdict()

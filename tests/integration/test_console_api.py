"""The web console's server side without a browser: its sessions, its authorizer (with moto's
Cognito), its pages and sign-in routes, and the API routes it added (image links, live curves,
the request schema, prediction filters)."""

from __future__ import annotations

import base64
import copy
import io
import json
import time
import urllib.error
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from tests.helpers.fakes import FakeEndpoint
from tests.helpers.stack import RESOLVER, image_bytes, load_event
from tests.helpers.support import call, request

PASSWORD = "Test-password-1234"


@pytest.fixture
def console(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The stack's user pool as provisioned, with its user signed in (and the functions told its id)."""
    from vista_app.config import settings
    from vista_app.handlers import console_authorizer

    cognito = boto3.client("cognito-idp")
    pool, client = RESOLVER.refs["ConsoleUserPool"], RESOLVER.refs["ConsoleClient"]
    user = RESOLVER.resolve({"Ref": "ConsoleAdminEmail"})
    cognito.admin_set_user_password(UserPoolId=pool, Username=user, Password=PASSWORD, Permanent=True)
    monkeypatch.setenv("CONSOLE_USER_POOL_ID", pool)
    settings.cache_clear()
    console_authorizer.console_client.cache_clear()
    token = sign_in(pool, client, user)
    yield {"cognito": cognito, "pool": pool, "client": client, "user": user, "token": token}
    settings.cache_clear()
    console_authorizer.console_client.cache_clear()


def sign_in(pool: str, client: str, user: str, password: str = PASSWORD) -> str:
    answer = boto3.client("cognito-idp").admin_initiate_auth(
        UserPoolId=pool,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": password},
    )
    return answer["AuthenticationResult"]["AccessToken"]


def authorizer_event(cookie: str | None = None, *, resource: str | None = None, code: str | None = None) -> dict:
    event = copy.deepcopy(load_event("console_authorizer_request"))
    event["headers"].pop("Cookie")
    if cookie is not None:
        event["headers"]["Cookie"] = cookie
    if resource:
        event["resource"] = event["path"] = resource
        event["methodArn"] = event["methodArn"].replace("/console/api/models", resource)
    if code:
        event["queryStringParameters"] = {"code": code}
    return event


def authorize(event: dict, context: Any) -> dict:
    from vista_app.handlers import console_authorizer

    return console_authorizer.lambda_handler(event, context)


# ------------------------------------------------------------------ sessions and the authorizer
def test_a_live_session_of_this_console_is_let_in_to_every_console_route(console: dict, context: Any) -> None:
    answer = authorize(authorizer_event(f"theme=dark; vista_session={console['token']}"), context)
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    # Cached for the cookie across every route, so the policy must not name only this one.
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/v1/*/*"]
    assert answer["context"]["email"] == console["user"]


@pytest.mark.parametrize(
    "cookie",
    [None, "", "theme=dark", "vista_session=", "vista_session=not-a-jwt", "vista_session=a.b.c", 'x="unclosed'],
)
def test_no_session_is_unauthorized(console: dict, context: Any, cookie: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_event(cookie), context)


def test_a_session_from_another_user_pool_is_unauthorized(console: dict, context: Any) -> None:
    cognito = console["cognito"]
    pool = cognito.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="vista-console")["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="mallory@example.com", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="mallory@example.com", Password=PASSWORD, Permanent=True)
    foreign = sign_in(pool, client, "mallory@example.com")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_event(f"vista_session={foreign}"), context)


def test_a_signed_out_session_is_unauthorized_at_once(console: dict, context: Any) -> None:
    console["cognito"].global_sign_out(AccessToken=console["token"])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_event(f"vista_session={console['token']}"), context)


def test_the_sign_in_route_redeems_cognito_s_code_with_the_browser_s_verifier(
    console: dict, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vista_app.handlers import console_authorizer

    redeemed = []

    def redeem(client: Any, code: str, redirect_uri: str, verifier: str) -> dict:
        redeemed.append((client.client_id, code, redirect_uri, verifier))
        return {"access_token": console["token"], "expires_in": 3600}

    monkeypatch.setattr(console_authorizer, "redeem_code", redeem)
    event = authorizer_event("vista_pkce=the-verifier", resource="/console/signin", code="one-time-code")
    answer = authorize(event, context)
    assert answer["context"]["session"] == console["token"] and answer["context"]["max_age"] == 3600
    uri = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/console/signin"
    assert redeemed == [(console["client"], "one-time-code", uri, "the-verifier")]
    # A code without the verifier its trip to Cognito began with (another browser's, say) is refused.
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(authorizer_event(resource="/console/signin", code="one-time-code"), context)
    assert len(redeemed) == 1


def test_the_sign_in_route_without_a_code_points_to_cognito_s_sign_in_page(console: dict, context: Any) -> None:
    from vista_app.sessions import code_challenge

    console["cognito"].create_user_pool_domain(Domain="vista-123456789012", UserPoolId=console["pool"])
    answer = authorize(authorizer_event(resource="/console/signin"), context)
    url = urlsplit(answer["context"]["sign_in_url"])
    assert url.netloc == "vista-123456789012.auth.us-east-1.amazoncognito.com" and url.path == "/oauth2/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == [console["client"]] and query["response_type"] == ["code"]
    assert "aws.cognito.signin.user.admin" in query["scope"][0]  # what GetUser needs of the token
    verifier = answer["context"]["verifier"]
    assert len(verifier) >= 43 and query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [code_challenge(verifier)]
    # RFC 7636's own example
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_a_refused_code_is_unauthorized(console: dict, context: Any) -> None:
    from vista_app.sessions import ConsoleClient, SignInRefused, redeem_code

    def refuse(request: Any, timeout: float) -> Any:
        assert request.full_url == "https://vista-1.auth.us-east-1.amazoncognito.com/oauth2/token"
        form = parse_qs(request.data.decode())
        assert form["grant_type"] == ["authorization_code"] and form["code_verifier"] == ["v" * 43]
        raise urllib.error.HTTPError(request.full_url, 400, "invalid_grant", {}, io.BytesIO(b"{}"))

    client = ConsoleClient("us-east-1_x", "client", "vista-1")
    with pytest.raises(SignInRefused, match="400"):
        redeem_code(client, "used", "https://x/signin", "v" * 43, opener=refuse)


# ------------------------------------------------------------------ pages and sign-in routes
def console_authorizer_client(console: dict[str, Any]) -> Any:
    from vista_app.handlers import console_authorizer

    return console_authorizer.console_client()


def console_request(path: str, authorizer: dict | None = None, **changes: Any) -> dict:
    event = copy.deepcopy(load_event("api_console_get_models"))
    event["path"] = path
    event["resource"] = "/console" if path == "/console" else "/console/{proxy+}"
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    event.update(changes)
    return event


def respond(event: dict, context: Any) -> dict:
    from vista_app.handlers import api

    return api.lambda_handler(event, context)


def header(answer: dict, name: str) -> list[str]:
    return [v for k, values in answer["multiValueHeaders"].items() if k.lower() == name.lower() for v in values]


def test_the_console_page_is_served_with_its_base_and_a_strict_content_security_policy(aws: None, context: Any) -> None:
    answer = respond(console_request("/console"), context)
    assert answer["statusCode"] == 200 and header(answer, "Content-Type") == ["text/html; charset=utf-8"]
    assert '<base href="/v1/console/">' in answer["body"]
    [policy] = header(answer, "Content-Security-Policy")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    # S3 only as the data bucket's own host: the one place its thumbnails and uploads come from and go to
    bucket = "https://vista-data-123456789012-us-east-1.s3.amazonaws.com"
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["connect-src"] == f"'self' {bucket}"
    assert directives["img-src"] == f"'self' data: blob: {bucket}"
    script = respond(console_request("/console/console.js"), context)
    assert script["statusCode"] == 200 and header(script, "Content-Type") == ["text/javascript; charset=utf-8"]
    assert respond(console_request("/console/secrets.py"), context)["statusCode"] == 404


def test_the_console_calls_the_same_api_programs_call(aws: None, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Models

    Models(settings().models_table).create({"name": "vista-a", "state": "champion", "accuracy": 0.9})
    status, body = call(load_event("api_console_get_models"), context)
    assert status == 200 and body == call(load_event("api_get_models"), context)[1]


def cookies_set(answer: dict) -> dict[str, dict[str, str]]:
    """Each Set-Cookie by name: its value and attributes."""
    found = {}
    for line in header(answer, "Set-Cookie"):
        first, *attributes = (part.strip() for part in line.split(";"))
        name, _, value = first.partition("=")
        found[name] = {"value": value} | {a.partition("=")[0]: a.partition("=")[2] for a in attributes}
    return found


def test_signing_in_sets_an_http_only_session_cookie_for_the_console_only(aws: None, context: Any) -> None:
    answer = respond(console_request("/console/signin", {"session": "token-value", "max_age": "3600"}), context)
    assert answer["statusCode"] == 302 and header(answer, "Location") == ["/v1/console/"]
    cookies = cookies_set(answer)
    session = cookies["vista_session"]
    assert session["value"] == "token-value" and {"HttpOnly", "Secure"} <= set(session)
    assert session["SameSite"] == "Lax" and session["Path"] == "/v1/console" and session["Max-Age"] == "3600"
    assert cookies["vista_pkce"]["Max-Age"] == "0"  # the verifier is good for one code


def test_leaving_for_cognito_keeps_the_pkce_verifier_for_the_way_back_only(aws: None, context: Any) -> None:
    granted = {"sign_in_url": "https://pool.example/oauth2/authorize", "verifier": "v" * 64}
    answer = respond(console_request("/console/signin", granted), context)
    assert header(answer, "Location") == ["https://pool.example/oauth2/authorize"]
    verifier = cookies_set(answer)["vista_pkce"]
    assert verifier["value"] == "v" * 64 and verifier["Path"] == "/v1/console/signin"
    assert {"HttpOnly", "Secure"} <= set(verifier) and verifier["SameSite"] == "Lax" and verifier["Max-Age"] == "600"
    assert "vista_session" not in cookies_set(answer)


def test_signing_out_revokes_the_session_clears_the_cookie_and_ends_the_cognito_session(
    console: dict[str, Any], context: Any
) -> None:
    from vista_app.sessions import SignInRefused, check_session

    event = console_request(
        "/console/signout", load_event("api_console_get_models")["requestContext"]["authorizer"], httpMethod="POST"
    )
    event["headers"].update({"Cookie": f"vista_session={console['token']}", "Sec-Fetch-Site": "same-origin"})
    client = console_authorizer_client(console)
    assert check_session(console["cognito"], client, console["token"])["email"] == console["user"]
    answer = respond(event, context)
    # The token itself is dead, not only the browser's copy of it.
    with pytest.raises(SignInRefused, match="expired or was revoked"):
        check_session(console["cognito"], client, console["token"])
    assert answer["statusCode"] == 302 and header(answer, "Location")[0].startswith("https://vista-123456789012.auth.")
    assert cookies_set(answer)["vista_session"] == {
        "value": "",
        "Path": "/v1/console",
        "Max-Age": "0",
        "Secure": "",
        "HttpOnly": "",
        "SameSite": "Lax",
    }


# ------------------------------------------------------------------ API routes the console added
def test_a_prediction_s_image_is_a_short_lived_link(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    data = base64.b64encode(image_bytes()).decode()
    _, prediction = call(request("api_post_predictions_jpeg", body=data, b64=True), context)
    event = request("api_get_prediction", path={"prediction_id": prediction["id"]})
    event["resource"] = "/predictions/{prediction_id}/image"
    event["path"] += "/image"
    answer = respond(event, context)
    assert answer["statusCode"] == 302
    link = urlsplit(header(answer, "Location")[0])
    assert link.path.endswith(prediction["key"]) and parse_qs(link.query)["X-Amz-Expires"] == ["900"]
    missing = copy.deepcopy(event)
    missing["path"], missing["pathParameters"] = "/predictions/nothing/image", {"prediction_id": "nothing"}
    assert respond(missing, context)["statusCode"] == 404


def test_why_a_prediction_is_a_heatmap_asked_once_and_kept(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Predictions

    data = base64.b64encode(image_bytes()).decode()
    _, prediction = call(request("api_post_predictions_jpeg", body=data, b64=True), context)
    event = request("api_get_prediction", path={"prediction_id": prediction["id"]})
    event["resource"] = "/predictions/{prediction_id}/explanation"
    event["path"] += "/explanation"
    status, why = call(event, context)
    assert status == 200, why
    assert why["label"] == prediction["label"] and why["model"] == champion and why["same_model"] is True
    assert why["grid"] == [2, 2] and max(max(row) for row in why["heatmap"]) == 1.0
    assert endpoint.payloads[-1]["signature_name"] == "explain"
    # Asked again: the kept answer, with no second inference.
    calls = endpoint.calls
    assert call(event, context) == (200, why) and endpoint.calls == calls
    kept = boto3.client("s3").get_object(
        Bucket=settings().data_bucket, Key=f"artifacts/explanations/{prediction['id']}/{champion}.json"
    )
    assert json.loads(kept["Body"].read()) == why
    # A failed prediction has no class to explain; an unknown one is not there.
    Predictions(settings().predictions_table).create({"id": "broken", "status": "FAILED", "error": "not an image"})
    failed = copy.deepcopy(event)
    failed["path"], failed["pathParameters"] = "/predictions/broken/explanation", {"prediction_id": "broken"}
    status, answer = call(failed, context)
    assert status == 400 and "has no class to explain" in answer["message"]
    missing = copy.deepcopy(event)
    missing["path"], missing["pathParameters"] = "/predictions/nothing/explanation", {"prediction_id": "nothing"}
    assert call(missing, context)[0] == 404


def test_predictions_filter_by_class_model_and_review(endpoint: FakeEndpoint, champion: str, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Predictions

    table = Predictions(settings().predictions_table)
    for i, (label, model, review) in enumerate(
        [("sea", "m1", None), ("forest", "m1", "needed"), ("sea", "m2", "needed"), ("sea", "m1", "needed")]
    ):
        item = {"id": f"p{i}", "status": "OK", "label": label, "model": model, **({"review": review} if review else {})}
        table.create(item)
        time.sleep(0.002)  # created_at orders the listing

    def listed(**query: str) -> list[str]:
        status, page = call(request("api_get_predictions", query=query), context)
        assert status == 200
        return [p["id"] for p in page["items"]]

    assert listed(label="sea") == ["p3", "p2", "p0"]
    assert listed(label="sea", model="m1") == ["p3", "p0"]
    assert listed(review="true", model="m1") == ["p3", "p1"]
    assert listed(label="glacier") == []


def test_live_curves_come_from_the_training_logs(aws: None, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Jobs

    Jobs(settings().jobs_table).create({"name": "vista-tune", "status": "InProgress"})
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    lines = {
        "vista-tune-001-0badcafe/algo-1-1": ["epoch=1; train_loss=1.5; val_accuracy=0.4;", "Epoch 1/3 noise"],
        "vista-tune-002-deadbeef/algo-1-2": ["epoch=1; train_loss=1.4; val_accuracy=nan;"],
        "vista-tune-002-deadbeef/algo-1-3": ["epoch=1; train_loss=1.3;", "epoch=2; train_loss=0.9;"],  # restarted
        "vista-tuner/algo-1-4": ["epoch=1; train_loss=9.0;"],  # another job whose name starts alike
    }
    now = int(time.time() * 1000)
    for stream, messages in lines.items():
        logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream)
        events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
        logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, logEvents=events)
    event = request("api_get_training_job", path={"name": "vista-tune"})
    event["resource"] = "/training-jobs/{name}/metrics"
    event["path"] += "/metrics"
    status, body = call(event, context)
    assert status == 200 and body["status"] == "InProgress"
    assert body["jobs"] == {
        "vista-tune-001-0badcafe": [{"epoch": 1, "train_loss": 1.5, "val_accuracy": 0.4}],
        "vista-tune-002-deadbeef": [{"epoch": 1, "train_loss": 1.3}, {"epoch": 2, "train_loss": 0.9}],
    }
    # Each trial's loss and accuracy drawn: a dot an epoch logged (validation's NaN left out).
    from tests.unit.test_charts import svg

    loss, accuracy = map(svg, body["charts"]["vista-tune-002-deadbeef"])
    assert loss.get("aria-label") == "vista-tune-002-deadbeef: loss: loss by epoch"
    assert len(loss.findall("{*}circle")) == 2 and len(accuracy.findall("{*}circle")) == 0
    assert len(svg(body["charts"]["vista-tune-001-0badcafe"][1]).findall("{*}circle")) == 1


def test_the_training_request_schema_is_what_post_training_jobs_validates(aws: None, context: Any) -> None:
    from vista_app.training_request import ARCHITECTURES

    event = request("api_get_models")
    event["resource"] = event["path"] = "/schemas/training-request"
    status, schema = call(event, context)
    assert status == 200 and schema["required"] == ["dataset"]
    assert tuple(schema["properties"]["architecture"]["enum"]) == ARCHITECTURES
    assert schema["$defs"]["Hyperparameters"]["properties"]["dropout"]["exclusiveMaximum"] == 1


def test_a_comparison_can_be_posted_to_the_api(aws: None, context: Any) -> None:
    from tests.helpers.support import REQUEST, upload_dataset

    upload_dataset()
    body = json.dumps(
        {k: v for k, v in REQUEST.items() if k != "architecture"} | {"architectures": ["base_cnn", "fine_cnn"]}
    )
    status, job = call(request("api_post_training_jobs", body=body), context)
    assert status == 202 and job["kind"] == "comparison" and len(job["members"]) == 2, job


def test_sams_request_authorizer_sample_event_is_refused_then_let_in_with_a_session(
    console: dict, context: Any
) -> None:
    """`sam local generate-event apigateway request-authorizer` (events/aws_apigateway_request_authorizer.json):
    no cookie at all is Unauthorized; the same request with a live session is allowed on its own API and stage."""
    sample = load_event("aws_apigateway_request_authorizer")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(copy.deepcopy(sample), context)
    sample["headers"]["Cookie"] = f"vista_session={console['token']}"
    [statement] = authorize(sample, context)["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*"]


def test_no_session_token_or_presigned_link_reaches_the_tracer(
    aws: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools import Tracer

    # GIVEN every answer Powertools' Tracer would put in a trace as metadata, recorded
    captured: list[Any] = []
    original = Tracer._add_response_as_metadata

    def spy(self: Any, method_name: Any = None, data: Any = None, subsegment: Any = None, capture_response: Any = None):
        if data is not None and capture_response:
            captured.append((method_name, data))
        return original(self, method_name, data, subsegment, capture_response)

    monkeypatch.setattr(Tracer, "_add_response_as_metadata", spy)
    # WHEN the console signs in (its session cookie in the answer) and a program asks for an upload link
    signed_in = respond(console_request("/console/signin", {"session": "token-value", "max_age": "3600"}), context)
    status, upload = call(request("api_post_uploads"), context)
    assert "token-value" in json.dumps(signed_in) and status == 201 and "Signature" in upload["upload"]["url"]
    # THEN neither reaches the tracer: X-Ray readers (xray:BatchGetTraces) could replay them
    assert "token-value" not in repr(captured)
    assert "Signature" not in repr(captured) and "X-Amz-Signature" not in repr(captured)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"Sec-Fetch-Site": "cross-site"}),  # a link or an image on another site
        ("POST", {"Sec-Fetch-Site": "cross-site"}),  # a form another site submits
        ("POST", {"Origin": "https://evil.example"}),  # a browser that sends no Sec-Fetch-Site
        ("POST", {}),  # no sign of where it came from
    ],
)
def test_no_other_site_can_sign_a_user_out(
    console: dict[str, Any], context: Any, method: str, headers: dict[str, str]
) -> None:
    from vista_app.sessions import check_session

    event = console_request(
        "/console/signout", load_event("api_console_get_models")["requestContext"]["authorizer"], httpMethod=method
    )
    event["headers"] = {"Host": "abc.execute-api.us-east-1.amazonaws.com", **headers}
    event["headers"]["Cookie"] = f"vista_session={console['token']}"
    answer = respond(event, context)
    assert answer["statusCode"] in (403, 404)
    assert "vista_session" not in cookies_set(answer)
    assert check_session(console["cognito"], console_authorizer_client(console), console["token"])["email"]

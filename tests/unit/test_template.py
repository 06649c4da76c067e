"""template.yaml is the one source of truth: the code must agree with it."""

from __future__ import annotations

import importlib
import os
import re

import pytest

from tests.helpers.stack import EVENTS, ROOT, TEMPLATE
from vista import template as cfn
from vista_app.config import ENVIRONMENT_KEYS

FUNCTIONS = cfn.resources(TEMPLATE, "AWS::Serverless::Function")


def test_settings_read_exactly_the_environment_the_template_sets() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert {k for k in variables if not k.startswith("POWERTOOLS_")} == ENVIRONMENT_KEYS


def test_every_function_handler_exists() -> None:
    for spec in FUNCTIONS.values():
        module, function = spec["Properties"]["Handler"].rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), function))


def test_api_routes_in_the_template_are_the_routes_the_handler_serves() -> None:
    from vista_app.handlers.api import app

    events = FUNCTIONS["ApiFunction"]["Properties"]["Events"].values()
    in_template = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    schema = app.get_openapi_schema()  # the resolver's own view of its routes
    served = {
        (method.upper(), path)
        for path, item in schema.paths.items()
        for method in ("get", "post", "put", "patch", "delete")
        if getattr(item, method)
    }
    console = {("GET", "/console"), ("GET", "/console/signin"), ("ANY", "/console/{proxy+}")}
    assert console <= in_template
    assert in_template - console == {route for route in served if not route[1].startswith("/console")}
    # The console's own pages all lie under /console/{proxy+} (the API's routes, under /console/api/).
    assert {path for _, path in served if path.startswith("/console/")} >= {"/console/session", "/console/{name}"}


def test_no_route_is_anonymous() -> None:
    api = TEMPLATE["Resources"]["Api"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    authorizers = api["Auth"]["Authorizers"]
    for authorizer in authorizers.values():
        assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["ConsoleAuthorizerFunction", "Arn"]}
    assert authorizers["ConsoleSession"]["Identity"]["Headers"] == ["Cookie"]  # no cookie: refused unasked
    for name, event in FUNCTIONS["ApiFunction"]["Properties"]["Events"].items():
        path = event["Properties"]["Path"]
        auth = event["Properties"].get("Auth")
        if path.startswith("/console"):
            expected = "ConsoleSignIn" if path == "/console/signin" else "ConsoleSession"
            assert auth == {"Authorizer": expected}, f"{name}: the console's routes need its session"
        else:
            assert auth is None, f"{name}: a program's route must keep the IAM authorizer"


def test_classify_never_calls_the_endpoint_with_more_concurrency_than_it_has() -> None:
    inbox = FUNCTIONS["ClassifyFunction"]["Properties"]["Events"]["Inbox"]["Properties"]
    assert inbox["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "ServerlessMaxConcurrency"}
    assert inbox["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["SERVERLESS_MAX_CONCURRENCY"] == {
        "Ref": "ServerlessMaxConcurrency"
    }


def test_state_change_rules_only_match_this_stacks_jobs_and_endpoint() -> None:
    events = FUNCTIONS["OnTrainingEventFunction"]["Properties"]["Events"]
    matched = {}
    for event in events.values():
        detail = event["Properties"]["Pattern"]["detail"]
        [(field, [matcher])] = detail.items()
        matched[field] = matcher
    assert matched == {
        "TrainingJobName": {"prefix": {"Fn::Sub": "${NamePrefix}-"}},
        "HyperParameterTuningJobName": {"prefix": {"Fn::Sub": "${NamePrefix}-"}},
        # the name every function gets as ENDPOINT_NAME
        "EndpointName": TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["ENDPOINT_NAME"],
    }


def test_every_event_in_events_is_used_by_a_test() -> None:
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    unused = [p.stem for p in EVENTS.glob("*.json") if f'"{p.stem}"' not in tests]
    assert unused == []


def test_training_and_serving_images_run_the_tensorflow_we_develop_against() -> None:
    import tensorflow as tf

    minor = ".".join(tf.__version__.split(".")[:2])
    images = [uri for region in TEMPLATE["Mappings"]["TensorFlowImages"].values() for uri in region.values()]
    assert images and all(f":{minor}-" in uri for uri in images)


def test_a_bad_function_environment_is_refused_with_every_problem_named() -> None:
    from vista_app.config import Settings

    environment = {key: os.environ[key] for key in ENVIRONMENT_KEYS} | {
        "SERVERLESS_MEMORY_MB": "512",
        "RETRAIN_WINDOW": "many",
    }
    del environment["JOBS_TABLE"]
    with pytest.raises(ValueError, match="bad function environment") as refused:
        Settings.from_environment(environment)
    message = str(refused.value)
    assert "JOBS_TABLE is not set" in message and "RETRAIN_WINDOW='many' is not a number" in message
    assert "SERVERLESS_MEMORY_MB=512 is outside [1024, 6144]" in message
    parsed = Settings.from_environment({key: os.environ[key] for key in ENVIRONMENT_KEYS})
    assert parsed.serverless_memory_mb == 3072 and parsed.promotion_margin == 0.0 and parsed.name_prefix == "vista"


@pytest.mark.parametrize(
    ("layer", "package", "functions"),
    [
        # classify and api reduce a camera's photo (images.reduce_for_model)
        ("ImagingLayer", "pillow", {"ClassifyFunction", "ApiFunction"}),
        # on_training_event writes the reports (vista_app.report)
        ("ReportingLayer", "jinja2", {"OnTrainingEventFunction"}),
    ],
)
def test_a_library_only_some_functions_need_is_in_a_layer_of_only_those(
    layer: str, package: str, functions: set[str]
) -> None:
    with_layer = {name for name, f in FUNCTIONS.items() if {"Ref": layer} in f["Properties"].get("Layers", [])}
    assert with_layer == functions
    folder = TEMPLATE["Resources"][layer]["Properties"]["ContentUri"]
    # The layer's build target (layers/Makefile) names the requirements it installs.
    requirements = re.search(rf"^build-{layer}: (\S+)$", (ROOT / folder / "Makefile").read_text(), re.MULTILINE)
    assert requirements, f"{folder}Makefile does not build {layer}"
    assert f"{package}==" in (ROOT / folder / requirements.group(1)).read_text()
    assert package not in (ROOT / "functions" / "requirements.txt").read_text().lower()


def test_api_gateway_passes_every_photo_type_the_api_takes_as_bytes() -> None:
    """A type missing from BinaryMediaTypes reaches the function as text, its bytes lost."""
    from vista_app.image_types import CONTENT_TYPES

    [api] = cfn.resources(TEMPLATE, "AWS::Serverless::Api").values()
    binary = {t.replace("~1", "/") for t in api["Properties"]["BinaryMediaTypes"]}
    assert binary == {*CONTENT_TYPES, "application/octet-stream"}


def test_the_console_takes_every_photo_type_the_api_takes() -> None:
    from vista_app.image_types import SUFFIXES

    script = (ROOT / "functions" / "vista_app" / "console" / "static" / "api.js").read_text()
    listed = re.search(r"export const IMAGE_TYPES = (\{.*?\});", script)
    assert listed and dict(re.findall(r'"(\.[a-z]+)": "([a-z/]+)"', listed.group(1))) == SUFFIXES

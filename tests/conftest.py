"""Shared fixtures: fake AWS credentials, moto, and the stack's resources built from
template.yaml itself (tables, queues, bucket and each function's environment), so the
tests cannot drift from what deploys."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vista.local.lambda_runtime import ACCOUNT, REGION, STACK  # ACCOUNT: moto's default account

EVENTS = Path(__file__).resolve().parent.parent / "events"

# Before anything creates a boto3 client or imports a handler.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=REGION,
    AWS_REGION=REGION,
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_DEV="false",
)
for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[key]

from moto import mock_aws  # noqa: E402  (credentials first)

from vista import template as cfn  # noqa: E402
from vista.local.cloud import LOCAL_PARAMETERS  # noqa: E402

TEMPLATE = cfn.load()
RESOLVER = cfn.placeholder_resolver(TEMPLATE, stack=STACK, region=REGION, account=ACCOUNT, parameters=LOCAL_PARAMETERS)
for _key, _value in cfn.function_environment(TEMPLATE, RESOLVER, "ApiFunction").items():
    os.environ[_key] = _value
BUCKET = os.environ["DATA_BUCKET"]


def provision(template: dict[str, Any]) -> None:
    """The template's tables, queues, buckets and roles, as local mode creates them."""
    import boto3

    from vista.local.provision import provision_resources

    provision_resources(template, RESOLVER, client=boto3.client)


def clear_caches() -> None:
    from vista_app import aws, config

    aws.reset()
    config.settings.cache_clear()


@contextlib.contextmanager
def local_cloud(workdir: Path, *, refusals_expected: bool = False, **options: Any) -> Iterator[Any]:
    """A LocalCloud for a test module; the process's environment and clients as they were after it.
    Unless `refusals_expected`, no function may have been refused a call by its role."""
    from tests.oracles import Wire
    from vista.local.cloud import LocalCloud

    saved = dict(os.environ)
    cloud = LocalCloud(workdir, **options)
    wire = Wire()
    try:
        cloud.start()
        cloud.sagemaker_server.observers.append(wire)
        yield cloud
        from tests.support import assert_at_rest

        assert_at_rest()  # whatever the module did, the cloud ends consistent
        # Every answer the local SageMaker gave the module, held against botocore's model for it.
        assert not wire.found, "\n".join(dict.fromkeys(wire.found))
        # The template's roles are enough for everything the module did (least privilege holds).
        assert refusals_expected or not cloud.iam.refused, cloud.iam.refused
    finally:
        cloud.stop()
        os.environ.clear()
        os.environ.update(saved)
        clear_caches()


@pytest.fixture(scope="module")
def target(cloud: Any) -> Any:
    """The `vista` command's view of the local cloud of the module (which defines `cloud`)."""
    import boto3

    from vista.target import Target

    return Target(cloud.outputs, REGION, boto3.Session(region_name=REGION))


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account holding the stack's resources."""
    with mock_aws():
        clear_caches()
        provision(TEMPLATE)
        yield
    clear_caches()


@pytest.fixture
def settings(aws: None):
    from vista_app.config import settings

    return settings()


@dataclass
class LambdaContext:
    function_name: str = "vista-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vista-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (30, 90, 160)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def endpoint(aws: None) -> Any:
    """InvokeEndpoint answered by tests.fakes.FakeEndpoint."""
    from tests.fakes import FakeEndpoint, answer
    from vista_app.aws import client

    fake = FakeEndpoint()
    answer(client("sagemaker-runtime"), "InvokeEndpoint", fake)
    return fake


@pytest.fixture
def champion(aws: None) -> str:
    """A champion model on record (the endpoint itself is a fake: see `endpoint`)."""
    from vista_app.config import settings
    from vista_app.records import Models

    Models(settings().models_table).create(
        {"name": "vista-champion", "state": "champion", "accuracy": 0.9, "promoted_at": "2026-11-28T06:00:00+00:00"}
    )
    return "vista-champion"

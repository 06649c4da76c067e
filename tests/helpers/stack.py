"""The stack as the tests see it: template.yaml and its names as a deploy resolves them, the sample
events, small images, and the local cloud a test module runs against."""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vista import template as cfn
from vista.local.cloud import LOCAL_PARAMETERS
from vista.local.lambda_runtime import ACCOUNT, REGION, STACK  # ACCOUNT: moto's default account
from vista.project import ROOT

EVENTS = ROOT / "events"
TEMPLATE = cfn.load()
RESOLVER = cfn.placeholder_resolver(TEMPLATE, stack=STACK, region=REGION, account=ACCOUNT, parameters=LOCAL_PARAMETERS)
# What a function sees in its environment (ApiFunction's holds every table, bucket and endpoint name).
FUNCTION_ENVIRONMENT = cfn.function_environment(TEMPLATE, RESOLVER, "ApiFunction")
BUCKET = FUNCTION_ENVIRONMENT["DATA_BUCKET"]
# Fake credentials and the functions' environment, before any boto3 client or handler exists.
TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    **FUNCTION_ENVIRONMENT,
}
__all__ = ["ACCOUNT", "LOCAL_PARAMETERS", "REGION", "ROOT", "STACK"]


def provision(template: dict[str, Any]) -> None:
    """The template's tables, queues, buckets and roles, as local mode creates them."""
    from vista.local.provision import provision_resources

    provision_resources(template, RESOLVER, client=_provisioning_client)


@functools.cache
def _provisioning_client(service: str) -> Any:
    """One client a service for every test's provisioning (a client costs more to make than the calls it
    makes): moto's mock serves whichever account is fresh through any botocore client while it runs."""
    import boto3

    return boto3.client(service, region_name=REGION)


def clear_caches() -> None:
    from vista_app import aws, config

    aws.reset()
    config.settings.cache_clear()


@contextlib.contextmanager
def local_cloud(workdir: Path, *, refusals_expected: bool = False, **options: Any) -> Iterator[Any]:
    """A LocalCloud for a test module (its stop() puts the process's environment back); the clients as
    they were after it.
    Unless `refusals_expected`, no function may have been refused a call by its role."""
    import vista.target
    from tests.helpers.oracles import Wire
    from tests.helpers.support import assert_at_rest
    from vista.local.cloud import LocalCloud

    announced = vista.target.STATE_FILE
    # The module's cloud, as `vista up` announces one, for the `vista` command the module runs.
    vista.target.STATE_FILE = workdir / "local.json"
    cloud = LocalCloud(workdir, announce=vista.target.STATE_FILE, **options)
    wire = Wire()
    try:
        cloud.start()
        cloud.sagemaker_server.observers.append(wire)
        yield cloud
        assert_at_rest()  # whatever the module did, the cloud ends consistent
        # Every answer the local SageMaker gave the module, held against botocore's model for it.
        assert not wire.found, "\n".join(dict.fromkeys(wire.found))
        # The template's roles are enough for everything the module did (least privilege holds).
        assert refusals_expected or not cloud.iam.refused, cloud.iam.refused
    finally:
        cloud.stop()
        vista.target.STATE_FILE = announced
        clear_caches()


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


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (30, 90, 160)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()

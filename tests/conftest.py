"""Fixtures every tier shares: moto holding the stack's resources (built from template.yaml itself,
so the tests cannot drift from what deploys), the settings, a Lambda context, fake endpoints.

Tiers: unit/ (pure logic, seconds), integration/ (handlers and local services with moto),
training/ (train.py and its pipeline on tiny synthetic data), e2e/ (the local stack, the browser,
a deployed stack). Helpers live in tests/helpers/, not here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.stack import TEMPLATE, TEST_ENVIRONMENT, LambdaContext, clear_caches, provision


def pytest_configure(config: pytest.Config) -> None:
    """Fake credentials and the functions' environment, set before collection imports any test
    module (some import handlers, whose Powertools objects read the environment as they are made),
    and no endpoint URL left over from the shell."""
    os.environ.update(TEST_ENVIRONMENT)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[key]
    # TensorFlow sizes its thread pools to the machine's cores in every process (each worker's
    # endpoints, each training job): with a worker a core and more, one thread each, or they contend.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: `-p no:xdist` runs without it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker more than the cores. The end-to-end tests spend much of their time waiting on
    their local cloud (an endpoint Creating, a queue's poll, a job starting), which a spare worker fills."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # not on macOS
    return cores + 1


# The slowest first: pytest-xdist hands files out in this order (--no-loadscope-reorder), so the long
# ones start at once and the many short ones fill the workers' gaps at the end. Files marked `minutes`
# before all others, then the tiers from the slowest.
TIER_ORDER = ("e2e", "training", "integration", "unit", "deployed")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def order(item: pytest.Item) -> tuple[bool, int]:
        folder = item.path.parent.name
        return item.get_closest_marker("minutes") is None, (
            TIER_ORDER.index(folder) if folder in TIER_ORDER else len(TIER_ORDER)
        )

    items.sort(key=order)


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account holding the stack's resources."""
    from moto import mock_aws

    with mock_aws():
        clear_caches()
        provision(TEMPLATE)
        yield
    clear_caches()


@pytest.fixture
def settings(aws: None):
    from vista_app.config import settings

    return settings()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def endpoint(aws: None) -> Any:
    """InvokeEndpoint answered by tests.helpers.fakes.FakeEndpoint."""
    from tests.helpers.fakes import FakeEndpoint, answer
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

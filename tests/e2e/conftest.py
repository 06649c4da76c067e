"""The local stack end to end. Each module gets its own local cloud (`cloud`, started with the
module's CLOUD options), its synthetic scenes (`scenes`, made with its SCENES) and, where it asks
for one, a champion trained from its TRAINING request (`trained`): vista.client.train_champion's
recipe, the one the demo and the benchmarks use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.stack import REGION, local_cloud


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A test reads only its own output: the stream pytest's capture puts in as the test's body
    begins (capsys re-installs its own at each phase) is wrapped then, so a function still running
    from an earlier step prints to functions.log, not into the test's output."""
    from vista.local.lambda_runtime import route_function_output

    route_function_output()


@pytest.fixture(scope="module")
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The module's LocalCloud; its CLOUD dict holds LocalCloud's and local_cloud's keywords."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with local_cloud(tmp_path_factory.mktemp(name), **getattr(request.module, "CLOUD", {})) as local:
        yield local


@pytest.fixture(scope="module")
def target(cloud: Any) -> Any:
    """The `vista` command's view of the module's local cloud."""
    import boto3

    from vista.target import Target

    return Target(cloud.outputs, REGION, boto3.Session(region_name=REGION))


@pytest.fixture(scope="module")
def scenes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic scenes made with the module's SCENES (synthetic.generate's keywords)."""
    from synthetic import generate

    out = tmp_path_factory.mktemp("scenes")
    generate(out, **request.module.SCENES)
    return out


@pytest.fixture(scope="module")
def trained(request: pytest.FixtureRequest, target: Any, scenes: Path) -> str:
    """The name of the champion trained from the module's TRAINING request on its scenes, serving."""
    from vista import client

    training = request.module.TRAINING
    dataset = training["dataset"].removeprefix("datasets/")
    client.upload_dataset(target, scenes, dataset)
    return client.train_champion(target, training, f"{dataset} request", timeout_s=300)["name"]

"""The local stack end to end: each module starts its own local cloud (a `cloud` fixture, with the
options its faults need) and trains what it needs with vista.client.train_champion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.stack import REGION


@pytest.fixture(scope="module")
def target(cloud: Any) -> Any:
    """The `vista` command's view of the local cloud of the module (which defines `cloud`)."""
    import boto3

    from vista.target import Target

    return Target(cloud.outputs, REGION, boto3.Session(region_name=REGION))

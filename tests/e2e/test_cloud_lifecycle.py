"""A local cloud changes the process it runs in (endpoints, credentials, the functions' environment)
in one place, and stop() undoes all of it: a program or test that starts one is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_stopped_cloud_leaves_the_process_environment_as_it_found_it(tmp_path: Path) -> None:
    from vista.local.cloud import LocalCloud
    from vista_app.config import settings

    before = dict(os.environ)
    with LocalCloud(tmp_path) as cloud:
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.urls["aws"]
        assert settings().predictions_table == cloud.outputs["PredictionsTableName"]
    assert dict(os.environ) == before

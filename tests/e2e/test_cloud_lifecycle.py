"""A local cloud changes the process it runs in (endpoints, credentials, the functions' environment,
stdout, moto's S3 records and DynamoDB isolation, boto3's default session) in one place, and stop()
undoes all of it: a program or test that starts one is left as it was."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_stopped_cloud_leaves_the_process_as_it_found_it(tmp_path: Path) -> None:
    import boto3
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server import werkzeug_app
    from moto.s3 import notifications

    from vista.local.cloud import LocalCloud
    from vista_app.config import settings

    def process() -> tuple[object, ...]:
        emitter = boto3.DEFAULT_SESSION.events._emitter if boto3.DEFAULT_SESSION else None  # type: ignore[attr-defined]
        return (
            dict(os.environ),
            sys.stdout,
            DynamoHandler.call_action,
            notifications._get_s3_event,
            werkzeug_app.DISABLE_GLOBAL_CORS,
            [key for key in (emitter._unique_id_handlers if emitter else {}) if str(key).startswith("vista-")],
        )

    before = process()
    with LocalCloud(tmp_path) as cloud:
        assert os.environ["AWS_ENDPOINT_URL"] == cloud.urls["aws"]
        assert settings().predictions_table == cloud.outputs["PredictionsTableName"]
        assert process()[2:5] != before[2:5]
    assert process() == before

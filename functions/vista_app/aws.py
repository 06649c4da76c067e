"""Lazily created boto3 clients, one per process.

Created on first use, not at import, so a cold start pays only for the clients a
handler really calls and tests can create them after moto has started.
botocore's standard retry mode retries throttling and transient errors with
jittered exponential backoff; endpoints come from AWS_ENDPOINT_URL_* in local mode.
"""

from __future__ import annotations

import functools
from typing import Any

RETRIES = {"mode": "standard", "total_max_attempts": 5}
# What X-Ray traces: the AWS calls. Patching only botocore keeps the tracer from importing
# every library it knows how to patch (requests, httplib, ...) at cold start.
TRACED = ("botocore",)


@functools.cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # InvokeEndpoint may run for 60 s on a serverless endpoint.
    config = Config(retries=RETRIES, connect_timeout=5, read_timeout=70)
    if service == "s3":  # presigned links to KMS-encrypted objects need SigV4
        config = config.merge(Config(signature_version="s3v4"))
    return boto3.client(service, config=config)


@functools.cache
def table(name: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.resource("dynamodb", config=Config(retries=RETRIES)).Table(name)


def reset() -> None:
    """Forget every client (tests and local mode point the process at other endpoints)."""
    for getter in (client, table):
        getter.cache_clear()

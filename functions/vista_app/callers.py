"""Who asked: the principal behind an API request or an S3 upload, as AWS identifies it, so that
jobs, promotions and feedback say who started, decided or gave them."""

from __future__ import annotations

from typing import Any


def api_caller(event: dict[str, Any]) -> str:
    """An API Gateway proxy event's caller: the console's signed-in user (its authorizer's context),
    else the SigV4 signer's ARN (requestContext.identity.userArn, or its caller id)."""
    context = event.get("requestContext") or {}
    granted = context.get("authorizer") or {}
    if granted.get("email") or granted.get("user"):
        return f"console:{granted.get('email') or granted['user']}"
    identity = context.get("identity") or {}
    return identity.get("userArn") or identity.get("caller") or "unknown"


def s3_uploader(record: dict[str, Any]) -> str:
    """Who put the object an S3 event record is about (its userIdentity.principalId)."""
    return "s3:" + ((record.get("userIdentity") or {}).get("principalId") or "unknown")

"""Recovering a Failed endpoint when another delivery, or a missing permission, answers first."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


class FailedEndpoint:
    """SageMaker as a second delivery sees it: the endpoint described Failed, then DeleteEndpoint
    answered with `error` (the first delivery's delete got there, or the role may not delete)."""

    def __init__(self, error: ClientError) -> None:
        self.error = error
        self.deletes = 0

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        return {
            "EndpointName": EndpointName,
            "EndpointStatus": "Failed",
            "EndpointConfigName": "c-1",
            "FailureReason": "the model could not load",
        }

    def delete_endpoint(self, EndpointName: str) -> None:
        self.deletes += 1
        raise self.error


def sagemaker_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DeleteEndpoint")


def test_a_failed_endpoint_already_deleted_by_another_delivery_is_left_to_it(settings: Any) -> None:
    from vista_app.promotion import reconcile
    from vista_app.records import Models

    # GIVEN a Failed endpoint that a concurrent delivery has just deleted
    models = Models(settings.models_table)
    models.create({"name": "m-1", "state": "promoting", "endpoint_config": "c-1", "promotion_requested_at": "1"})
    gone = FailedEndpoint(sagemaker_error("ValidationException", 'Could not find endpoint "arn:aws:sagemaker:x".'))
    # WHEN this delivery reconciles
    result = reconcile(settings=settings, sagemaker=gone, models=models)
    # THEN it stops there (the other delivery carries on), with the model failed for SageMaker's reason
    assert gone.deletes == 1
    assert result["outcome"] == "nothing to do"
    assert models.get("m-1")["state"] == "failed"
    assert "the model could not load" in models.get("m-1")["reason"]


def test_a_delete_the_role_may_not_make_is_raised_as_sagemakers_error(settings: Any) -> None:
    from vista_app.promotion import reconcile
    from vista_app.records import Models

    denied = FailedEndpoint(sagemaker_error("AccessDeniedException", "not authorized to perform DeleteEndpoint"))
    with pytest.raises(ClientError, match="not authorized"):
        reconcile(settings=settings, sagemaker=denied, models=Models(settings.models_table))

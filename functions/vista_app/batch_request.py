"""The batch request: one pydantic model for `batches/*.json` (and the API and command that write one)."""

from __future__ import annotations

import difflib
import functools
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from vista_app.training_request import InvalidRequest, describe_validation_error

# Vista's own folders: never a batch's images (a batch of its outputs would classify its own answers).
OWN_PREFIXES = ("batches/", "results/", "artifacts/", "jobs/")


@functools.cache
def transform_instance_types() -> frozenset[str]:
    """What CreateTransformJob's TransformResources.InstanceType takes: the TransformInstanceType enum
    of SageMaker's service model, as botocore ships it."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("TransformInstanceType").enum)


def _instance_type(name: str) -> str:
    known = transform_instance_types()
    if name not in known:
        nearest = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
        hint = f"; the nearest are {', '.join(nearest)}" if nearest else " (e.g. ml.m5.xlarge, ml.g4dn.xlarge)"
        raise ValueError(f"{name!r} is not a SageMaker batch transform instance type{hint}")
    return name


def _source(prefix: str) -> str:
    prefix = prefix.removeprefix("/")
    if not prefix.endswith("/"):
        raise ValueError(f"{prefix!r} is not a folder: end it with /")
    if prefix.startswith(OWN_PREFIXES):
        raise ValueError(f"{prefix!r} is one of Vista's own folders ({', '.join(OWN_PREFIXES)})")
    return prefix


class BatchRequest(BaseModel):
    """Classify every image under `source` (a folder of the data bucket) with one model."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, Field(min_length=2, max_length=900), AfterValidator(_source)]
    model: Annotated[str, Field(min_length=1, max_length=63)] = "champion"
    instance_type: Annotated[str, AfterValidator(_instance_type)] = "ml.m5.xlarge"
    instance_count: Annotated[int, Field(ge=1, le=10)] = 1


def parse_batch_request(body: str | bytes | dict) -> BatchRequest:
    """Validate a request from JSON text or a decoded dict; InvalidRequest says what is wrong."""
    try:
        if isinstance(body, dict):
            return BatchRequest.model_validate(body)
        return BatchRequest.model_validate_json(body)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error)) from None

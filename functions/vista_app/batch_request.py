"""The batch request: one pydantic model for `batches/*.json` (and the API and command that write one)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from vista_app.training_request import InvalidRequest, describe_validation_error, instance_type_of

# Vista's own folders: never a batch's images (a batch of its outputs would classify its own answers).
OWN_PREFIXES = ("batches/", "results/", "artifacts/", "jobs/")


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
    instance_type: Annotated[
        str, instance_type_of("TransformInstanceType", "batch transform", "ml.m5.xlarge, ml.g4dn.xlarge")
    ] = "ml.m5.xlarge"
    instance_count: Annotated[int, Field(ge=1, le=10)] = 1
    min_confidence: Annotated[
        float | None,
        Field(ge=0, le=1, description="an answer less sure than this is unknown (default: the model's thresholds)"),
    ] = None


def parse_batch_request(body: str | bytes | dict) -> BatchRequest:
    """Validate a request from JSON text or a decoded dict; InvalidRequest says what is wrong."""
    try:
        if isinstance(body, dict):
            return BatchRequest.model_validate(body)
        return BatchRequest.model_validate_json(body)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error)) from None

"""What the API's validating routes accept beyond the training request: body models and query
parameters, checked by Powertools' OpenAPI validation. Loaded (with pydantic) only when such a
route first runs (vista_app.lazy)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from vista_app.image_types import ContentType
from vista_app.predictions import MAX_IMAGE_BYTES

Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query()]
Flag = Annotated[bool, Query()]
Match = Annotated[str | None, Query(max_length=100)]


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content_type: ContentType = "image/jpeg"
    bytes: int = Field(ge=1, le=MAX_IMAGE_BYTES, description="the photo's size: S3 takes exactly this many bytes")


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=100, description="the class the image really shows")

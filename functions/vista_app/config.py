"""Settings every function reads from its environment, which template.yaml sets.

No table, bucket, endpoint or image name is written in code: they come from the
template (Globals.Function.Environment) and are parsed once per process.
"""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    name_prefix: str = Field(alias="NAME_PREFIX")
    data_bucket: str = Field(alias="DATA_BUCKET")
    jobs_table: str = Field(alias="JOBS_TABLE")
    models_table: str = Field(alias="MODELS_TABLE")
    predictions_table: str = Field(alias="PREDICTIONS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    endpoint_name: str = Field(alias="ENDPOINT_NAME")
    sagemaker_role_arn: str = Field(alias="SAGEMAKER_ROLE_ARN")
    training_image_gpu: str = Field(alias="TRAINING_IMAGE_GPU")
    training_image_cpu: str = Field(alias="TRAINING_IMAGE_CPU")
    inference_image: str = Field(alias="INFERENCE_IMAGE")
    training_code_uri: str = Field(alias="TRAINING_CODE_URI")
    serverless_memory_mb: int = Field(alias="SERVERLESS_MEMORY_MB", ge=1024, le=6144)
    serverless_max_concurrency: int = Field(alias="SERVERLESS_MAX_CONCURRENCY", ge=1, le=200)
    promotion_margin: float = Field(alias="PROMOTION_MARGIN", ge=0, le=1)
    max_image_pixels: int = Field(alias="MAX_IMAGE_PIXELS", gt=0)
    review_below: float = Field(alias="REVIEW_CONFIDENCE_BELOW", ge=0, le=1)
    retrain_below_percent: float = Field(alias="RETRAIN_BELOW_ACCURACY_PERCENT", ge=0, le=100)
    retrain_window: int = Field(alias="RETRAIN_WINDOW", ge=1)


ENVIRONMENT_KEYS = frozenset(field.alias for field in Settings.model_fields.values())


@functools.cache
def settings() -> Settings:
    """The process's settings; cached so a warm Lambda parses them once."""
    return Settings.model_validate({key: os.environ.get(key) for key in ENVIRONMENT_KEYS})

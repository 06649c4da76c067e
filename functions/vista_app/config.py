"""Settings every function reads from its environment, which template.yaml sets.

No table, bucket, endpoint or image name is written in code: they come from the
template (Globals.Function.Environment) and are parsed once per process. A plain
dataclass, not pydantic: pydantic costs ~50 ms of cold start to handlers that need
nothing else of it (classify, on_training_event).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any


def _setting(variable: str, low: float | None = None, high: float | None = None) -> Any:
    return dataclasses.field(metadata={"variable": variable, "low": low, "high": high})


@dataclasses.dataclass(frozen=True)
class Settings:
    name_prefix: str = _setting("NAME_PREFIX")
    data_bucket: str = _setting("DATA_BUCKET")
    jobs_table: str = _setting("JOBS_TABLE")
    models_table: str = _setting("MODELS_TABLE")
    predictions_table: str = _setting("PREDICTIONS_TABLE")
    history_table: str = _setting("HISTORY_TABLE")  # every change of champion
    model_package_group: str = _setting("MODEL_PACKAGE_GROUP")  # the Model Registry's group of this stack's models
    inbox_queue_url: str = _setting("INBOX_QUEUE_URL")  # where images waiting for a model are sent again
    endpoint_name: str = _setting("ENDPOINT_NAME")
    training_role_arn: str = _setting("TRAINING_ROLE_ARN")  # what training and tuning jobs run as
    serving_role_arn: str = _setting("SERVING_ROLE_ARN")  # what models on the endpoint run as
    batch_role_arn: str = _setting("BATCH_ROLE_ARN")  # what batch (Transform) jobs run as
    training_image_gpu: str = _setting("TRAINING_IMAGE_GPU")
    training_image_cpu: str = _setting("TRAINING_IMAGE_CPU")
    inference_image: str = _setting("INFERENCE_IMAGE")
    inference_gpu_image: str = _setting("INFERENCE_GPU_IMAGE")  # a batch on ml.g*/ml.p* instances
    training_code_uri: str = _setting("TRAINING_CODE_URI")
    export_code_uri: str = _setting("EXPORT_CODE_URI")  # the training code and the ONNX converter's requirements.txt
    serverless_memory_mb: int = _setting("SERVERLESS_MEMORY_MB", 1024, 6144)
    serverless_max_concurrency: int = _setting("SERVERLESS_MAX_CONCURRENCY", 1, 200)
    promotion_margin: float = _setting("PROMOTION_MARGIN", 0, 1)
    max_image_pixels: int = _setting("MAX_IMAGE_PIXELS", 1)
    review_below: float = _setting("REVIEW_CONFIDENCE_BELOW", 0, 1)
    retrain_below_percent: float = _setting("RETRAIN_BELOW_ACCURACY_PERCENT", 0, 100)
    retrain_window: int = _setting("RETRAIN_WINDOW", 1)
    max_training_cost_per_request: float = _setting("MAX_TRAINING_COST_PER_REQUEST", 0)
    max_training_cost_per_day: float = _setting("MAX_TRAINING_COST_PER_DAY", 0)
    drift_window: int = _setting("DRIFT_WINDOW", 10)
    drift_divergence_above: float = _setting("DRIFT_DIVERGENCE_ABOVE", 0, 1)
    drift_confidence_drop_above: float = _setting("DRIFT_CONFIDENCE_DROP_ABOVE", 0, 100)
    retrain_on_drift: str = _setting("RETRAIN_ON_DRIFT")
    console_user_pool_id: str = _setting("CONSOLE_USER_POOL_ID")

    @classmethod
    def from_environment(cls, environment: dict[str, str]) -> Settings:
        """Every variable present, numbers parsed and in range; one error naming each problem."""
        values: dict[str, Any] = {}
        problems = []
        for field in dataclasses.fields(cls):
            variable, low, high = field.metadata["variable"], field.metadata["low"], field.metadata["high"]
            text = environment.get(variable)
            if text is None:
                problems.append(f"{variable} is not set")
                continue
            try:
                value = {"int": int, "float": float}.get(str(field.type), str)(text)
            except ValueError:
                problems.append(f"{variable}={text!r} is not a number")
                continue
            if (low is not None and value < low) or (high is not None and value > high):
                problems.append(f"{variable}={text} is outside [{low}, {high}]")
            values[field.name] = value
        if problems:
            raise ValueError("bad function environment: " + "; ".join(problems))
        return cls(**values)


ENVIRONMENT_KEYS = frozenset(field.metadata["variable"] for field in dataclasses.fields(Settings))


@functools.cache
def settings() -> Settings:
    """The process's settings; cached so a warm Lambda parses them once."""
    return Settings.from_environment(dict(os.environ))

"""SageMaker's Model Registry: each trained model a version in the stack's model package group,
its approval status following what Vista decided, so that SageMaker Studio shows it too.

- CreateModelPackage with ModelPackageGroupName and no ModelPackageName makes a versioned package
  (the API reference: the group "is required for versioned models"); it names the inference image
  and the artifact the endpoint would serve, the training job that made it (MetadataProperties'
  GeneratedBy), and its test metrics as ModelMetrics' ModelQuality statistics, an S3 object in
  Model Monitor's model-quality format (model-monitor-model-quality-metrics.html). Its ClientToken
  comes from the model's name, so a redelivered event's call is the same call.
- UpdateModelPackage's ModelApprovalStatus follows the Models record (`approval`): Approved while
  the model is or was the champion, Rejected when the gate or a failed deploy rejected it,
  PendingManualApproval otherwise. The record keeps the status last sent, so a decision is sent once.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from vista_app.config import Settings
from vista_app.records import Models

STATISTICS_KEY = "artifacts/reports/{model}/model-quality.json"  # beside the model's report
# What the serving container takes and gives (TF Serving's REST API, as the functions call it).
CONTENT_TYPES = ["application/json"]


def approval(model: dict[str, Any]) -> tuple[str, str]:
    """The ModelApprovalStatus a model's record calls for, and the ApprovalDescription saying why."""
    if model.get("promoted_at"):
        if model["state"] == "champion":
            return "Approved", f"the champion since {model['promoted_at']}"
        return "Approved", f"served as the champion (last crowned {model['promoted_at']}); now {model['state']}"
    if model["state"] in ("rejected", "failed"):
        return "Rejected", f"{model['state']}: {model.get('reason', '')}"[:1024]
    return "PendingManualApproval", f"{model['state']}: {model.get('reason') or 'not served yet'}"[:1024]


def model_quality(metrics: dict[str, Any]) -> dict[str, Any]:
    """Test metrics as Model Monitor's multiclass model-quality statistics (no standard deviation:
    Model Monitor gives one only from 200 samples up, by resampling, and says "NaN" otherwise)."""
    classes, matrix = metrics.get("class_names") or [], metrics.get("confusion_matrix") or []
    per_class = metrics.get("per_class") or {}
    support = sum(c.get("support", 0) for c in per_class.values()) or 1

    def weighted(measure: str) -> float:
        return round(sum(c[measure] * c.get("support", 0) for c in per_class.values()) / support, 4)

    figures: dict[str, Any] = {}
    if len(matrix) == len(classes) > 0:
        figures["confusion_matrix"] = {
            actual: dict(zip(classes, row, strict=True)) for actual, row in zip(classes, matrix, strict=True)
        }
    measured = {"accuracy": metrics.get("accuracy")}
    if per_class:
        measured |= {f"weighted_{m}": weighted(m) for m in ("recall", "precision", "f1")}
    figures |= {
        name: {"value": value, "standard_deviation": "NaN"} for name, value in measured.items() if value is not None
    }
    return {
        "version": 0.0,
        "dataset": {"item_count": metrics.get("test_images", 0)},
        "multiclass_classification_metrics": figures,
    }


def register(model: dict[str, Any], *, settings: Settings, sagemaker: Any, s3: Any, models: Models) -> dict[str, Any]:
    """The model as a new version of the stack's model package group (once); its record after."""
    if model.get("model_package"):
        return model
    name = model["name"]
    key = STATISTICS_KEY.format(model=name)
    s3.put_object(
        Bucket=settings.data_bucket,
        Key=key,
        Body=json.dumps(model_quality(model.get("metrics") or {})).encode(),
        ContentType="application/json",
    )
    status, _ = approval(model)  # CreateModelPackage takes no ApprovalDescription
    request: dict[str, Any] = {
        "ModelPackageGroupName": settings.model_package_group,
        "ModelPackageDescription": f"{name}: {model.get('architecture', 'a model')} on {model.get('dataset', '?')}"[
            :1024
        ],
        "InferenceSpecification": {
            "Containers": [{"Image": settings.inference_image, "ModelDataUrl": model["artifact"]}],
            "SupportedContentTypes": CONTENT_TYPES,
            "SupportedResponseMIMETypes": CONTENT_TYPES,
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{settings.data_bucket}/{key}"}
            }
        },
        "CustomerMetadataProperties": {"vista:model": name, "vista:job": model.get("job") or name},
        "ModelApprovalStatus": status,
        "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.model_package_group}/{name}")),
    }
    if model.get("training_job_arn"):
        request["MetadataProperties"] = {"GeneratedBy": model["training_job_arn"]}
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    return models.update(name, {"model_package": arn, "approval": status}) or model


def follow(name: str, *, sagemaker: Any, models: Models) -> None:
    """Send the model's approval status to the registry if its record calls for another one."""
    model = models.get(name)
    if model is None or not model.get("model_package"):
        return  # not registered (a record older than the registry, or a test's)
    status, description = approval(model)
    if model.get("approval") == status:
        return
    sagemaker.update_model_package(
        ModelPackageArn=model["model_package"], ModelApprovalStatus=status, ApprovalDescription=description
    )
    models.update(name, {"approval": status})

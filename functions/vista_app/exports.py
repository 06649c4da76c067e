"""A model exported in a portable format: one SageMaker training job per model and format.

The job (training_job/export_job.py on the TF training image) converts the model's archive, checks
the export on the model's own test split and writes it, its figures and a README into SM_MODEL_DIR;
SageMaker's model.tar.gz of that folder, under artifacts/exports/, is what a user downloads. Its
state is a Jobs record of kind `export`, named as the job is (names.export_job_name), so a second
request finds the first, and the cost ledger counts it as any job.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.errors import BadRequest, NotFound
from vista_app.names import export_job_name

if TYPE_CHECKING:  # the `vista` command reads FORMATS: it need not load the tables' code
    from vista_app.config import Settings
    from vista_app.records import Jobs, Models

# training_job/portable.py's FORMATS (tests/unit/test_exports.py holds them equal).
FORMATS = ("savedmodel", "tflite", "tflite-int8", "onnx")
# ONNX needs tf2onnx and ONNX Runtime, which the TF training image lacks: its job installs them (the
# export code's requirements.txt) and so needs the network; the others run isolated.
NEEDS_INSTALL = {"onnx"}
INSTANCE_TYPE = "ml.m5.xlarge"  # 16 GiB: a VGG16 and its converted copy fit; no GPU speeds a conversion
MAX_RUNTIME_S = 3600
# The data channels of the model's own training job: the export is checked on its test split.
DATA_CHANNELS = ("train", "validation", "test")
# Hyperparameters of the model's job the export job does not take over.
NOT_PASSED = ("sagemaker_", "checkpoint_dir", "model_dir")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt or 'nothing'}")
    return fmt


def request_export(
    model_name: str, fmt: str, *, settings: Settings, sagemaker: Any, jobs: Jobs, models: Models, requested_by: str
) -> dict[str, Any]:
    """The export's Jobs record, its job started by the first request (Starting, then InProgress; or
    Failed with SageMaker's reason)."""
    check_format(fmt)
    model = models.get(model_name)
    if model is None:
        raise NotFound(f"no model '{model_name}'")
    if not model.get("artifact") or not model.get("test_set"):
        raise BadRequest(f"model {model_name} has no archive or no test split to check an export on")
    name = export_job_name(settings.name_prefix, model_name, fmt)
    record = {"name": name, "kind": "export", "status": "Starting", "model": model_name, "format": fmt}
    created = jobs.create(record | {"requested_by": requested_by})
    if created is None:
        return jobs.get(name) or record
    try:
        sagemaker.create_training_job(**job_definition(name, model, fmt, settings, sagemaker))
    except ClientError as error:
        return jobs.update(name, {"status": "Failed", "failure_reason": errors.message(error)}) or created
    return (
        jobs.update(
            name,
            {"status": "InProgress"},
            condition="#status = :starting",
            names={"#status": "status"},
            values={":starting": "Starting"},
        )
        or jobs.get(name)
        or created
    )


def job_definition(name: str, model: dict[str, Any], fmt: str, settings: Settings, sagemaker: Any) -> dict[str, Any]:
    """CreateTrainingJob's request: the model's training job's hyperparameters and data channels
    (its splits as it saw them), the model's archive as the `model` channel."""
    trained = sagemaker.describe_training_job(TrainingJobName=model["name"])
    hyperparameters = {k: v for k, v in trained.get("HyperParameters", {}).items() if not k.startswith(NOT_PASSED)}
    code = settings.export_code_uri if fmt in NEEDS_INSTALL else settings.training_code_uri
    hyperparameters |= {
        key: json.dumps(value)
        for key, value in {
            "format": fmt,
            "test_set": model["test_set"],
            "sagemaker_program": "export_job.py",
            "sagemaker_submit_directory": code,
            "sagemaker_container_log_level": 20,
            "sagemaker_region": sagemaker.meta.region_name,
        }.items()
    }
    channels = [c for c in trained["InputDataConfig"] if c["ChannelName"] in DATA_CHANNELS]
    channels.append(
        {
            "ChannelName": "model",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": model["artifact"],
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    )
    return {
        "TrainingJobName": name,
        "HyperParameters": hyperparameters,
        "AlgorithmSpecification": {"TrainingImage": settings.training_image_cpu, "TrainingInputMode": "File"},
        "RoleArn": settings.training_role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{settings.data_bucket}/artifacts/exports/"},
        "ResourceConfig": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_S},
        "EnableNetworkIsolation": fmt not in NEEDS_INSTALL,
        "Tags": [{"Key": "vista:stack-prefix", "Value": settings.name_prefix}],
    }


def finish_export(description: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """A completed export's fields: its archive and the figures its job wrote beside the model
    (`outputs`: the files read from that archive)."""
    fields: dict[str, Any] = {"artifact": description["ModelArtifacts"]["S3ModelArtifacts"]}
    if isinstance(outputs.get("metrics.json"), dict):
        fields["figures"] = outputs["metrics.json"]
    return fields

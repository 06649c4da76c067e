"""start_training: S3 jobs/*.json → Jobs record + SageMaker job (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import BUCKET
from tests.fakes import answer, response
from tests.support import REQUEST, s3_put_event, upload_dataset


def put_request(key: str, body: Any) -> dict[str, Any]:
    return s3_put_event("start_training_put", key, body if isinstance(body, bytes) else json.dumps(body).encode())


def run(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    from vista_app.handlers import start_training
    from vista_app.records import Jobs

    result = start_training.lambda_handler(event, context)
    jobs = Jobs(start_training.settings().jobs_table)
    return [jobs.get(job["name"]) for job in result["jobs"]]


def test_the_example_event_starts_a_spot_training_job(aws: None, context: Any) -> None:
    # GIVEN a dataset and a request under a key with spaces, "+" and non-ASCII characters
    upload_dataset()
    event = put_request("jobs/scene classifier+v2 été.json", REQUEST)
    # WHEN the S3 event arrives
    [job] = run(event, context)
    # THEN the job runs on SageMaker with the dataset's channels, the hyperparameters and spot checkpoints
    assert job["status"] == "InProgress"
    assert job["source"] == f"s3://{BUCKET}/jobs/scene classifier+v2 été.json"
    assert job["kind"] == "training" and job["architecture"] == "resnet50"
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels == {"train": f"s3://{BUCKET}/datasets/intel/train/", "test": f"s3://{BUCKET}/datasets/intel/test/"}
    hyperparameters = described["HyperParameters"]
    assert hyperparameters["architecture"] == '"resnet50"'
    assert hyperparameters["learning_rate"] == "0.001"
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == f'"s3://{BUCKET}/artifacts/code/sourcedir.tar.gz"'
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("tensorflow-training:2.19-gpu-py312")
    assert described["EnableManagedSpotTraining"] is True
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert described["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/artifacts/checkpoints/{job['name']}/"
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/artifacts/training/"


def test_kaggle_layout_and_cpu_instances(aws: None, context: Any) -> None:
    upload_dataset(train="seg_train/seg_train/", test="seg_test/seg_test/")
    [job] = run(put_request("jobs/kaggle.json", {**REQUEST, "instance_type": "ml.m5.xlarge", "spot": False}), context)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels["train"].endswith("datasets/intel/seg_train/seg_train/")
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("tensorflow-training:2.19-cpu-py312")
    assert "CheckpointConfig" not in described


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**REQUEST, "architecture": "alexnet"}, "architecture: Input should be 'base_cnn'"),
        ({**REQUEST, "dataset": "datasets/missing"}, "no images under s3://"),
        (b"{not json", "request is not valid JSON"),
        (b"", "request is not valid JSON"),
        (b"x" * 70_000, "a training request is at most 65,536 bytes"),
    ],
)
def test_bad_requests_leave_a_failed_job_record_and_start_nothing(
    aws: None, context: Any, body: Any, reason: str
) -> None:
    upload_dataset()
    [job] = run(put_request("jobs/bad.json", body), context)
    assert job["status"] == "Failed"
    assert reason in job["failure_reason"]
    assert boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_the_same_event_delivered_twice_starts_one_job(aws: None, context: Any) -> None:
    upload_dataset()
    event = put_request("jobs/once.json", REQUEST)
    [first] = run(event, context)
    [second] = run(event, context)
    assert first["name"] == second["name"]
    assert len(boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 1
    assert second["created_at"] == first["created_at"]


def test_a_tuning_request_starts_a_tuning_job(aws: None, context: Any) -> None:
    upload_dataset()
    tuning = {
        "max_jobs": 6,
        "max_parallel_jobs": 2,
        "strategy": "Bayesian",
        "objective": "val_accuracy",
        "ranges": {
            "learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
            "architecture": ["resnet50", "resnet101", "resnet152"],
        },
    }
    [job] = run(put_request("jobs/tune.json", {**REQUEST, "tuning": tuning}), context)
    assert job["status"] == "InProgress" and job["kind"] == "tuning"
    described = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job["name"])
    config = described["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val_accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static and "architecture" not in static  # tuned, not static
    assert static["dropout"] == "0.3"


def test_sagemaker_refusing_the_job_is_recorded_with_its_message(aws: None, context: Any) -> None:
    from vista_app.aws import client

    upload_dataset()
    answer(
        client("sagemaker"),
        "CreateTrainingJob",
        lambda request: response(
            request.url,
            400,
            {"message": "The account-level service limit 'ml.g5.xlarge for spot training job usage' is 0 Instances"},
            "ResourceLimitExceeded",
        ),
    )
    [job] = run(put_request("jobs/limit.json", REQUEST), context)
    assert job["status"] == "Failed"
    assert job["failure_reason"].startswith("SageMaker refused the job: The account-level service limit")

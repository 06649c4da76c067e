"""start_training: S3 jobs/*.json → Jobs record + SageMaker job (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import answer, response
from tests.helpers.stack import BUCKET
from tests.helpers.support import REQUEST, put_request_event, upload_dataset
from vista_app.training_request import parse_training_request


def run(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    from vista_app.handlers import start_training
    from vista_app.records import Jobs

    result = start_training.lambda_handler(event, context)
    jobs = Jobs(start_training.settings().jobs_table)
    return [jobs.get(job["name"]) for job in result["jobs"]]


def test_the_example_event_starts_a_spot_training_job(aws: None, context: Any) -> None:
    # GIVEN a dataset and a request under a key with spaces, "+" and non-ASCII characters
    upload_dataset()
    event = put_request_event("jobs/scene classifier+v2 été.json", REQUEST)
    # WHEN the S3 event arrives
    [job] = run(event, context)
    # THEN the job runs on SageMaker with the dataset's channels, the hyperparameters and spot checkpoints
    assert job["status"] == "InProgress"
    assert job["source"] == f"s3://{BUCKET}/jobs/scene classifier+v2 été.json"
    assert job["requested_by"] == "s3:AWS:AIDAEXAMPLE"  # who put the request (the S3 record's userIdentity)
    assert job["kind"] == "training" and job["architecture"] == "resnet50"
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels == {"train": f"s3://{BUCKET}/datasets/intel/train/", "test": f"s3://{BUCKET}/datasets/intel/test/"}
    hyperparameters = described["HyperParameters"]
    assert hyperparameters["architecture"] == '"resnet50"'
    assert hyperparameters["learning_rate"] == "0.001"
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == f'"s3://{BUCKET}/artifacts/code/sourcedir.tar.gz"'
    assert hyperparameters["sagemaker_region"] == '"us-east-1"'  # the SDK always sends it; the toolkit needs it
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("tensorflow-training:2.19-gpu-py312")
    assert described["EnableManagedSpotTraining"] is True
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert described["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/artifacts/checkpoints/{job['name']}/"
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/artifacts/training/"


@pytest.mark.parametrize(
    ("changes", "isolated"),
    [
        ({}, False),  # resnet50 with ImageNet weights Keras would download
        ({"architecture": "fine_cnn", "hyperparameters": {"weights": "imagenet"}}, True),  # nothing to download
        ({"hyperparameters": {"weights": "none"}}, True),
    ],
)
def test_a_job_runs_without_network_access_unless_it_must_download_weights(
    aws: None, context: Any, changes: dict, isolated: bool
) -> None:
    upload_dataset()
    [job] = run(put_request_event("jobs/network.json", {**REQUEST, **changes}), context)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    assert described["EnableNetworkIsolation"] is isolated and job["network_isolation"] is isolated
    assert ("run with network access" in job["estimate"].get("network_access", "")) is not isolated


def test_kaggle_layout_and_cpu_instances(aws: None, context: Any) -> None:
    upload_dataset(train="seg_train/seg_train/", test="seg_test/seg_test/")
    [job] = run(
        put_request_event("jobs/kaggle.json", {**REQUEST, "instance_type": "ml.m5.xlarge", "spot": False}), context
    )
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels["train"].endswith("datasets/intel/seg_train/seg_train/")
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("tensorflow-training:2.19-cpu-py312")
    assert "CheckpointConfig" not in described


def test_a_dataset_of_plain_class_folders_trains_on_them_all(aws: None, context: Any) -> None:
    # GIVEN datasets/flat/<class>/*.jpg: no train/ or test/ (the job carves its test split from train)
    upload_dataset(prefix="datasets/flat/", train="", test="")
    [job] = run(put_request_event("jobs/flat.json", {**REQUEST, "dataset": "datasets/flat"}), context)
    assert job["status"] == "InProgress", job.get("failure_reason")
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels == {"train": f"s3://{BUCKET}/datasets/flat/"}


def test_the_same_event_delivered_twice_starts_one_job(aws: None, context: Any) -> None:
    upload_dataset()
    event = put_request_event("jobs/once.json", REQUEST)
    [first] = run(event, context)
    [second] = run(event, context)
    assert first["name"] == second["name"]
    assert len(boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 1
    assert second["created_at"] == first["created_at"]


@pytest.mark.parametrize("got_through", [False, True], ids=["before-sagemaker", "after-sagemaker"])
def test_a_retry_after_the_first_attempt_died_finishes_what_it_began(
    aws: None, context: Any, got_through: bool
) -> None:
    from botocore.exceptions import ReadTimeoutError

    from vista_app.aws import client

    # GIVEN a first attempt that wrote its Starting record, then died on CreateTrainingJob (botocore's
    # read timeout: before SageMaker took the call, or after it did and the answer was lost)
    upload_dataset()
    event = put_request_event("jobs/interrupted.json", REQUEST)
    sagemaker = client("sagemaker")

    def timed_out(request: Any, **_: Any) -> None:  # every attempt of botocore's retries
        raise ReadTimeoutError(endpoint_url=request.url)

    def lost(**_: Any) -> None:  # moto created the job; its answer never arrives
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com")

    hook = (
        ("after-call.sagemaker.CreateTrainingJob", lost)
        if got_through
        else ("before-send.sagemaker.CreateTrainingJob", timed_out)
    )
    sagemaker.meta.events.register_first(*hook)
    with pytest.raises(ReadTimeoutError):
        run(event, context)
    sagemaker.meta.events.unregister(*hook)
    # WHEN Lambda delivers the event again
    [job] = run(event, context)
    # THEN the job is started (once) and recorded as such, not left Starting forever
    assert job["status"] == "InProgress" and job["kind"] == "training"
    summaries = boto3.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == [job["name"]]


def test_a_retry_does_not_rewrite_a_job_that_has_moved_on(aws: None, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Jobs

    # GIVEN a started job whose state-change event already recorded it Completed
    upload_dataset()
    event = put_request_event("jobs/done.json", REQUEST)
    [job] = run(event, context)
    Jobs(settings().jobs_table).update(job["name"], {"status": "Completed"})
    # WHEN the request's event comes again, it changes nothing
    [again] = run(event, context)
    assert again["status"] == "Completed"


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
    [job] = run(put_request_event("jobs/tune.json", {**REQUEST, "tuning": tuning}), context)
    assert job["status"] == "InProgress" and job["kind"] == "tuning"
    described = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job["name"])
    config = described["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val_accuracy"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static and "architecture" not in static  # tuned, not static
    assert static["dropout"] == "0.3"


def test_hyperband_stops_no_trial_before_it_has_trained_every_epoch_it_runs(aws: None, context: Any) -> None:
    # GIVEN a transfer model tuned with Hyperband: train.py runs epochs + fine_tune_epochs (one
    # objective line each, and a final one for the model it exports) and exports only at the end
    upload_dataset()
    tuning = {
        "strategy": "Hyperband",
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": {"dropout": {"min": 0.1, "max": 0.5}},
    }
    request = {**REQUEST, "hyperparameters": {"epochs": 8, "fine_tune_epochs": 4}, "tuning": tuning}
    [job] = run(put_request_event("jobs/hyperband.json", request), context)
    described = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job["name"])
    config = described["HyperParameterTuningJobConfig"]
    # THEN SageMaker is told more than the most a trial reports (not left to infer 8 from `epochs`)
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 14}}
    assert config["TrainingJobEarlyStoppingType"] == "Off"  # Hyperband stops trials itself
    # A CNN has no fine-tuning phase; a tuned epochs range counts at its top.
    cnn = {**request, "architecture": "fine_cnn", "tuning": {**tuning, "ranges": {"epochs": {"min": 5, "max": 20}}}}
    assert parse_training_request(cnn).most_epochs() == 20


def test_staged_weights_are_the_job_s_weights_channel(aws: None, context: Any) -> None:
    upload_dataset()
    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=BUCKET, Key="weights/imagenet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", Body=b"h5"
    )
    [job] = run(put_request_event("jobs/offline.json", {**REQUEST, "weights_prefix": "weights/imagenet"}), context)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job["name"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in described["InputDataConfig"]}
    assert channels["weights"] == f"s3://{BUCKET}/weights/imagenet/"
    # With its weights staged, the job needs nothing from the internet: it runs without network access
    assert described["EnableNetworkIsolation"] is True and job["network_isolation"] is True
    [refused] = run(put_request_event("jobs/empty.json", {**REQUEST, "weights_prefix": "weights/none-here"}), context)
    assert refused["status"] == "Failed"
    assert (
        f"s3://{BUCKET}/weights/none-here/ lacks resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        in (refused["failure_reason"])
    )
    # Each architecture tried needs its own file, by the name Keras gives it
    mobilenet = {**REQUEST, "architecture": "mobilenetv3large", "weights_prefix": "weights/imagenet"}
    [refused] = run(put_request_event("jobs/mobilenet.json", mobilenet), context)
    assert "lacks weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5" in refused["failure_reason"]


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
    [job] = run(put_request_event("jobs/limit.json", REQUEST), context)
    assert job["status"] == "Failed"
    assert job["failure_reason"].startswith("SageMaker refused the job: The account-level service limit")


def test_a_comparison_starts_one_tuning_job_per_architecture(aws: None, context: Any, monkeypatch: Any) -> None:
    from tests.helpers.fakes import record_calls
    from vista_app.aws import client
    from vista_app.config import settings
    from vista_app.records import Jobs

    # GIVEN one request naming three architectures, each to be tuned on learning rate, dropout and L2
    upload_dataset()
    tuning = {
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        "ranges": {
            "learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
            "dropout": {"min": 0.1, "max": 0.6},
            "l2": {"min": 1e-6, "max": 1e-2, "scale": "log"},
        },
    }
    request = {"dataset": "datasets/intel", "architectures": ["base_cnn", "fine_cnn", "resnet50"], "tuning": tuning}
    calls = record_calls(monkeypatch, client("sagemaker"), "create_hyper_parameter_tuning_job", {})
    # WHEN it arrives
    [comparison] = run(put_request_event("jobs/compare.json", request), context)
    # THEN the comparison records its members, and each member is a tuning job of its own architecture
    assert comparison["kind"] == "comparison" and comparison["status"] == "InProgress"
    assert len(comparison["members"]) == 3 and len(calls) == 3
    jobs = Jobs(settings().jobs_table)
    members = [jobs.get(name) for name in comparison["members"]]
    assert [m["architecture"] for m in members] == ["base_cnn", "fine_cnn", "resnet50"]
    assert {m["comparison"] for m in members} == {comparison["name"]} and {m["kind"] for m in members} == {"tuning"}
    static = [c["TrainingJobDefinition"]["StaticHyperParameters"]["architecture"] for c in calls]
    assert static == ['"base_cnn"', '"fine_cnn"', '"resnet50"']
    ranges = calls[0]["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"]
    assert {r["Name"] for r in ranges} == {"learning_rate", "dropout", "l2"}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"architectures": ["base_cnn", "base_cnn"]}, "twice"),
        ({"architectures": ["base_cnn", "vgg16"], "architecture": "vgg16"}, "not both"),
        ({"architectures": ["base_cnn", "vgg16"], "tuning": {"ranges": {"architecture": ["vgg16"]}}}, "on its own"),
        ({"architectures": ["base_cnn"]}, "at least 2"),
    ],
)
def test_bad_comparisons_are_refused_with_a_reason(request_: dict, message: str) -> None:
    from vista_app.training_request import InvalidRequest, parse_training_request

    with pytest.raises(InvalidRequest, match=message):
        parse_training_request({"dataset": "datasets/intel", **request_})


def test_sams_s3_put_sample_event_starts_a_job_for_its_decoded_key(aws: None, context: Any) -> None:
    """`sam local generate-event s3 put` (events/aws_s3_put.json, as generated): no versionId, a
    URL-encoded key ("+" as %2B) and an ETag that is not the object's."""
    from urllib.parse import unquote_plus

    from tests.helpers.stack import load_event

    upload_dataset()
    event = load_event("aws_s3_put")
    key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    assert key == "jobs/sample+request.json"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(REQUEST).encode())
    [job] = run(event, context)
    assert job["status"] == "InProgress" and job["source"] == f"s3://{BUCKET}/{key}"


def test_every_job_record_carries_its_estimate(aws: None, context: Any) -> None:
    upload_dataset()
    [job] = run(put_request_event("jobs/estimated.json", REQUEST), context)
    # resnet50 on one ml.g5.xlarge ($1.408/h) for at most 2 h, spot: the four images of upload_dataset
    assert job["status"] == "InProgress"
    assert job["estimate"] | {"warnings": []} == job["estimate"]
    assert {k: job["estimate"][k] for k in ("max_cost", "typical_cost", "jobs", "cap", "training_images")} == {
        "max_cost": 2.82,
        "typical_cost": 0.84,
        "jobs": 1,
        "cap": 100,
        "training_images": 2,
    }


def test_a_request_over_the_cost_cap_is_refused_before_anything_starts(aws: None, context: Any) -> None:
    upload_dataset()
    tuning = {"max_jobs": 100, "max_parallel_jobs": 10, "ranges": {"dropout": {"min": 0.1, "max": 0.5}}}
    [job] = run(put_request_event("jobs/too-dear.json", {**REQUEST, "tuning": tuning}), context)
    assert job["status"] == "Failed" and job["estimate"]["max_cost"] == 281.6
    assert job["failure_reason"].startswith("refused before it started: this request may cost up to $281.60")
    assert "over the cap of $100.00 a request" in job["failure_reason"]
    assert boto3.client("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []

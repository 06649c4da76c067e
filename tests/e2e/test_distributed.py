"""Distributed training, seen run on one machine: a job of two instances is two workers of train.py
(MultiWorkerMirroredStrategy over TF_CONFIG, each host at a loopback address of its own), and the
chief alone exports the one model the job leaves."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from vista.client import cpu_request, upload_dataset

pytestmark = pytest.mark.slow

SCENES = {"train_per_class": 8, "test_per_class": 3, "size": 48, "seed": 4}
JOB = "two-workers"  # not the stack's prefix: no promotion, the rest of local mode untouched


def test_a_job_on_two_instances_trains_as_two_workers_and_the_chief_exports_one_model(
    cloud: Any, target: Any, scenes: Path, tmp_path: Path
) -> None:
    import tensorflow as tf

    from vista_app.config import settings
    from vista_app.training import create_job, find_channels
    from vista_app.training_request import parse_training_request

    # GIVEN a dataset and a request for two instances, started as start_training starts it
    upload_dataset(target, scenes, "scenes")
    bucket = target.output("DataBucketName")
    body = cpu_request("datasets/scenes", "base_cnn", epochs=2, image_size=48, batch_size=8)
    request = parse_training_request(body | {"instance_count": 2})
    sagemaker, s3 = target.client("sagemaker"), target.client("s3")
    create_job(sagemaker, request, settings(), JOB, find_channels(s3, bucket, request.dataset_prefix))

    # WHEN it runs, THEN it completes as one job
    deadline = time.monotonic() + 300
    while (described := sagemaker.describe_training_job(TrainingJobName=JOB))["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, "the two-instance job did not end"
        time.sleep(1)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ResourceConfig"]["InstanceCount"] == 2
    assert described["HyperParameters"]["sagemaker_multi_worker_mirrored_strategy_enabled"] == "true"

    # AND each instance logged to a stream of its own, as one of two replicas sharing a global batch
    logs = target.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{JOB}/")
    hosts = sorted(s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams["logStreams"])
    assert hosts == ["algo-1", "algo-2"]
    for stream in streams["logStreams"]:
        lines = [
            e["message"]
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
        ]
        assert any("replicas=2; global_batch=16;" in line for line in lines), lines[-20:]
        assert sum(line.startswith("epoch=") for line in lines) == 2

    # AND the model the chief exported is the job's only one: the dataset's classes, and it serves
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=artifact)["Body"].read())) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    classes = sorted(p.name for p in (scenes / "seg_train" / "seg_train").iterdir())
    assert metrics["class_names"] == classes and metrics["test_images"] == 3 * len(classes)
    serve = tf.saved_model.load(str(tmp_path / "model" / "1")).signatures["serving_default"]
    image = next((scenes / "seg_test" / "seg_test" / "sea").glob("*.jpg")).read_bytes()
    answer = serve(image_bytes=tf.constant([image]))
    assert answer["label"].numpy()[0].decode() in classes
    assert answer["model"].numpy()[0].decode() == JOB

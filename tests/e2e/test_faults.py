"""Faults injected into local mode: every image still ends with exactly one record, jobs end
with a reason, the champion stays put. Every event here is delivered three times at once
(S3, SQS and EventBridge promise at least once), and failed messages come back in 2 s."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vista.client import wait_for
from vista.errors import CommandError

pytestmark = pytest.mark.slow
DELIVERIES = 3


CLOUD = {"visibility_timeout_s": 2, "deliveries": DELIVERIES}
SCENES = {"train_per_class": 8, "test_per_class": 10, "size": 48, "seed": 3}


def epoch(cloud: Any, job: str) -> float:
    """The epoch the local SageMaker has seen the job reach (0 before it exists)."""
    found = cloud.sagemaker.training.get(job)
    return found.metrics.get("epoch", 0) if found else 0


def request(**changes: Any) -> dict[str, Any]:
    hyperparameters = {"epochs": 2, "image_size": 32, "batch_size": 16, "weights": "none"}
    return {
        "dataset": "datasets/faults",
        "architecture": "base_cnn",
        "instance_type": "ml.m5.xlarge",
        "spot": False,
        **changes,
        "hyperparameters": hyperparameters | changes.pop("hyperparameters", {}),
    }


TRAINING = request()


def test_a_request_delivered_three_times_starts_one_job(cloud: Any, target: Any, trained: str) -> None:
    sources = [j["source"] for j in target.api("GET", "/training-jobs")["items"]]
    assert sources.count(f"s3://{cloud.outputs['DataBucketName']}/jobs/faults request.json") == 1


def drop(cloud: Any, target: Any, scenes: Path, prefix: str, count: int) -> list[str]:
    images = sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))[:count]
    keys = [f"inbox/{prefix}/{p.parent.name}-{p.name}" for p in images]
    s3 = target.client("s3")
    for path, key in zip(images, keys, strict=True):
        s3.upload_file(str(path), cloud.outputs["DataBucketName"], key)
    return keys


def records_for(cloud: Any, prefix: str) -> list[dict[str, Any]]:
    from vista_app.records import Predictions

    return [r for r in Predictions(cloud.outputs["PredictionsTableName"]).all() if r.get("key", "").startswith(prefix)]


def exactly_once(cloud: Any, keys: list[str], timeout_s: float = 180) -> list[dict[str, Any]]:
    """Wait until every key has a record, then check none has two and all are OK."""
    prefix = keys[0].rsplit("/", 1)[0]
    records = wait_for(
        f"{len(keys)} records",
        lambda: (lambda r: r if len(r) >= len(keys) else None)(records_for(cloud, prefix)),
        timeout_s,
    )
    time.sleep(3)  # anything doubled would show up now
    records = records_for(cloud, prefix)
    assert Counter(r["key"] for r in records) == Counter(keys)
    assert [r for r in records if r["status"] != "OK"] == []
    return records


def test_throttling_on_a_tenth_of_calls(cloud: Any, target: Any, scenes: Path, trained: str) -> None:
    endpoint = cloud.sagemaker.endpoints[cloud.outputs["EndpointName"]]
    cloud.sagemaker.faults.throttle_rate = 0.1
    try:
        keys = drop(cloud, target, scenes, "throttled", 40)
        exactly_once(cloud, keys)
    finally:
        cloud.sagemaker.faults.throttle_rate = 0.0
    assert endpoint.injected >= 1 and endpoint.refused == 0


def test_endpoint_down_then_redrive(
    cloud: Any, target: Any, scenes: Path, trained: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.retries.standard

    from vista.cli import main

    # botocore's retries, without their backoff (seconds each, five receives over)
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0)
    sqs = target.client("sqs")
    dead_letter = cloud.outputs["InboxDeadLetterQueueUrl"]

    def waiting() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=dead_letter, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    # GIVEN the endpoint is down: every message is retried (5 receives), then lands in the DLQ
    cloud.sagemaker.faults.down = True
    try:
        keys = drop(cloud, target, scenes, "outage", 6)
        wait_for("the dead-letter queue", lambda: waiting() >= len(keys), 120)
        assert records_for(cloud, "inbox/outage/") == []  # nothing half-recorded
    finally:
        cloud.sagemaker.faults.down = False
    # WHEN it is back and someone redrives the DLQ
    assert main(["redrive"]) == 0
    # THEN each image is recorded once
    exactly_once(cloud, keys)
    assert waiting() == 0


def test_a_model_that_times_out_is_asked_again_not_failed(cloud: Any, target: Any, scenes: Path, trained: str) -> None:
    # GIVEN the model's container answers after the invocation's limit (shortened from SageMaker's 60 s)
    faults = cloud.sagemaker.faults
    faults.invocation_timeout_s, faults.container_delay_s = 0.2, 0.5
    try:
        keys = drop(cloud, target, scenes, "timeout", 3)
        # THEN the API says so with 504 (Retry-After: tests/integration/test_api.py), and the inbox's
        # images wait: no FAILED record
        photo = next((scenes / "seg_test" / "seg_test").rglob("*.jpg")).read_bytes()
        with pytest.raises(CommandError, match="504 the model did not answer in time"):
            target.api("POST", "/predictions", body=photo, content_type="image/jpeg")
        time.sleep(3)
        assert records_for(cloud, "inbox/timeout/") == []
    finally:
        faults.invocation_timeout_s, faults.container_delay_s = 60.0, 0.0
    # WHEN it answers in time again, each image is classified once, by SQS's redelivery
    exactly_once(cloud, keys)


def test_a_dynamodb_failure_mid_batch_loses_and_doubles_nothing(
    cloud: Any, target: Any, scenes: Path, trained: str
) -> None:
    from botocore.exceptions import ClientError

    from vista_app.aws import table

    client = table(cloud.outputs["PredictionsTableName"]).meta.client
    writes = Counter()

    def fail_some(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == cloud.outputs["PredictionsTableName"]:
            writes["puts"] += 1
            if writes["puts"] % 4 == 3:  # every fourth write of a prediction fails, mid-batch
                writes["failed"] += 1
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutItem")

    client.meta.events.register("before-parameter-build.dynamodb.PutItem", fail_some)
    try:
        keys = drop(cloud, target, scenes, "dynamodb", 20)
        exactly_once(cloud, keys)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.PutItem", fail_some)
    assert writes["failed"] >= 2


def test_a_killed_training_job_fails_with_a_reason_and_the_champion_stays(
    cloud: Any, target: Any, trained: str
) -> None:
    from vista.client import submit_training

    job = submit_training(target, request(hyperparameters={"epochs": 200, "early_stopping_patience": 200}), "crash")
    wait_for("training to start", lambda: epoch(cloud, job) >= 1)
    cloud.sagemaker.kill_training(job)
    record = wait_for(
        "the failure",
        lambda: (lambda j: j if j["status"] == "Failed" else None)(target.api("GET", f"/training-jobs/{job}")),
    )
    # The toolkit's words for it: ExecuteUserScriptError with the process's exit status (-9: SIGKILL).
    assert record["failure_reason"].startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode -9")
    assert next(m for m in target.api("GET", "/models")["items"] if m["state"] == "champion")["name"] == trained


def test_a_reclaimed_spot_instance_resumes_from_its_checkpoint(cloud: Any, target: Any, trained: str) -> None:
    from vista.client import submit_training

    epochs = 20  # enough that the first run is still training when the kill lands (it had once finished 8)
    spec = request(spot=True, hyperparameters={"epochs": epochs, "early_stopping_patience": epochs})
    job = submit_training(target, spec, "spot")
    wait_for("three epochs", lambda: epoch(cloud, job) >= 3)
    cloud.sagemaker.kill_training(job, spot_interruption=True)
    record = wait_for(
        "the job",
        lambda: (lambda j: j if j["status"] in ("Completed", "Failed") else None)(
            target.api("GET", f"/training-jobs/{job}")
        ),
        240,
    )
    assert record["status"] == "Completed", record.get("failure_reason")
    log = (cloud.workdir / "sagemaker" / "training" / job / "algo-1" / "training.log").read_text()
    runs = [[int(n) for n in re.findall(r"^epoch=(\d+);", part, re.M)] for part in log.split("architecture=")[1:]]
    # Two runs of train.py; the second carried on after the first's last checkpoint, not from epoch 1.
    assert len(runs) == 2 and runs[1][0] > 1 and runs[1][-1] == epochs
    assert runs[1][0] <= runs[0][-1] + 1
    assert target.api("GET", f"/training-jobs/{job}")["metrics"]["epoch"] == epochs


def test_stale_and_repeated_job_events_leave_the_final_state(cloud: Any, target: Any, trained: str) -> None:
    def serving() -> list[str] | None:
        # Earlier tests' jobs all registered and their models decided (and served, if promoted).
        jobs = target.api("GET", "/training-jobs", query={"limit": 100})["items"]
        models = target.api("GET", "/models")["items"]
        registered = all(j["status"] != "Completed" or j.get("model") for j in jobs)
        settled = registered and all(m["state"] not in ("candidate", "promoting") for m in models)
        return [m["name"] for m in models if m["state"] == "champion"] if settled else None

    before = wait_for("promotions to settle", serving, 120)
    # An InProgress event for a job long completed, delivered (three times) after its completion.
    described = target.client("sagemaker").describe_training_job(TrainingJobName=trained)
    described.update(TrainingJobStatus="InProgress", SecondaryStatus="Training")
    detail = json.dumps({k: v for k, v in described.items() if k != "ResponseMetadata"}, default=str)
    events = target.client("events")
    events.put_events(
        Entries=[{"Source": "aws.sagemaker", "DetailType": "SageMaker Training Job State Change", "Detail": detail}]
    )
    time.sleep(5)
    job = target.api("GET", f"/training-jobs/{trained}")
    assert job["status"] == "Completed" and job["model"] == trained
    assert serving() == before

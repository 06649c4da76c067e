"""Vista's workflows for programs: what the `vista` command, the demo, the benchmarks and the tests
share. Each talks to a Target (the local cloud or a deployed stack) and prints nothing: progress
comes back as values or through a callback, and the CLI decides how to show it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vista.errors import ApiError, CommandError
from vista.target import Target
from vista_app import errors
from vista_app.image_types import CONTENT_TYPES, SUFFIXES
from vista_app.names import TERMINAL, job_name

log = logging.getLogger("vista")
# The most a synchronous POST /predictions carries: API Gateway base64s the body into the function's
# event, which Lambda holds to 6 MB. A larger photo goes through POST /uploads (straight to S3).
SYNCHRONOUS_MAX_BYTES = 4 * 1024 * 1024
Progress = Callable[[int, int], None]


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 180, interval: float = 0.5) -> Any:
    """`check()`'s first truthy answer, asked every `interval` seconds for up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise CommandError(f"gave up waiting for {what} after {timeout_s:.0f} s")


def cpu_request(
    dataset: str,
    architecture: str,
    *,
    epochs: int,
    image_size: int,
    batch_size: int = 32,
    instance_type: str = "ml.m5.xlarge",
    spot: bool = False,
    **hyperparameters: Any,
) -> dict[str, Any]:
    """A training request for a CPU instance, without ImageNet weights (nothing to download): the
    demo's, the load benchmark's and the end-to-end tests' (local and deployed)."""
    return {
        "dataset": dataset,
        "architecture": architecture,
        "instance_type": instance_type,
        "spot": spot,
        "hyperparameters": {
            "epochs": epochs,
            "image_size": image_size,
            "batch_size": batch_size,
            "weights": "none",
            **hyperparameters,
        },
    }


# ---------------------------------------------------------------------------- datasets and training


def upload_dataset(
    target: Target, folder: Path, name: str, *, workers: int = 8, progress: Progress | None = None
) -> dict[str, int]:
    """Upload every image under `folder` to datasets/<name>/, in parallel, skipping files whose
    size and MD5 (the ETag of a single-part upload) match what is there already."""
    s3 = target.client("s3")
    bucket = target.output("DataBucketName")
    prefix = f"datasets/{name}/"
    existing = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update({o["Key"]: (o["Size"], o["ETag"].strip('"')) for o in page.get("Contents", [])})
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise CommandError(f"no photos ({' '.join(SUFFIXES)}) under {folder}")
    todo = []
    for path in files:
        key = prefix + path.relative_to(folder).as_posix()
        known = existing.get(key)
        if known and known[0] == path.stat().st_size and known[1] == hashlib.md5(path.read_bytes()).hexdigest():  # noqa: S324
            continue
        todo.append((path, key))

    def put(item: tuple[Path, str]) -> None:
        s3.upload_file(str(item[0]), bucket, item[1], ExtraArgs={"ContentType": SUFFIXES[item[0].suffix.lower()]})

    if progress:
        progress(0, len(todo))
    with ThreadPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(put, todo), 1):
            if progress:
                progress(done, len(todo))
    return {"uploaded": len(todo), "unchanged": len(files) - len(todo)}


def validate_request(request: dict[str, Any]) -> None:
    """The stack's own validation, before anything is uploaded."""
    from vista_app.training_request import InvalidRequest, parse_training_request

    try:
        parse_training_request(request)
    except InvalidRequest as error:
        raise CommandError(f"invalid training request: {error}") from None


def submit_training(target: Target, request: dict[str, Any], request_name: str) -> str:
    """Drop a training request into jobs/ (the way S3 users train); returns the name of the job the
    stack starts for it, which is made from the request object's version, as start_training does."""
    bucket = target.output("DataBucketName")
    key = f"jobs/{request_name}.json"
    put = target.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(request).encode(), ContentType="application/json"
    )
    version = put.get("VersionId") or put["ETag"].strip('"')  # the bucket is versioned; an ETag otherwise
    return job_name(target.output("NamePrefix"), f"{bucket}/{key}/{version}")


def submit_batch(target: Target, folder: str, **options: Any) -> dict[str, Any]:
    """POST /batches for a folder of the stack's data bucket (`s3://<bucket>/<folder>/` or `<folder>/`)."""
    bucket = target.output("DataBucketName")
    source = folder.removeprefix(f"s3://{bucket}/")
    if source.startswith("s3://"):
        raise CommandError(f"{folder} is not in this stack's data bucket (s3://{bucket}/): copy the images there")
    body = json.dumps({"source": source, **options}).encode()
    return target.api("POST", "/batches", body=body, content_type="application/json")


def wait_for_batch(
    target: Target, name: str, progress: Callable[[int, int], None], timeout_s: float = 24 * 3600
) -> dict[str, Any]:
    """The batch's record once it has ended, `progress(done, total)` told as it goes."""

    def ended() -> dict[str, Any] | None:
        batch = found(target, f"/batches/{name}")
        if batch and batch.get("progress"):
            progress(batch["progress"]["done"], batch["progress"]["total"] or 0)
        return batch if batch and batch["status"] in TERMINAL else None

    return wait_for(f"batch {name}", ended, timeout_s, interval=2)


def export_model(target: Target, model: str, fmt: str, *, follow: Callable[[str], None]) -> dict[str, Any]:
    """The model's export in `fmt` once built (`follow(job)` while its job runs): its link and figures.
    A failed export is the API's 422, an ApiError with the reason."""
    path, query = f"/models/{model}/export", {"format": fmt}
    answer = target.api("GET", path, query=query)
    if answer["status"] != "Completed":
        follow(answer["name"])
        answer = target.api("GET", path, query=query)
    return answer


def download(url: str, path: Path) -> int:
    """A presigned link's object into `path`; its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=300) as answer, path.open("wb") as out:  # noqa: S310 (the stack's link)
        shutil.copyfileobj(answer, out)
    return path.stat().st_size


def found(target: Target, path: str) -> Any:
    """GET `path`; None while the API answers 404 (a job not yet taken, a photo not yet classified)."""
    try:
        return target.api("GET", path)
    except ApiError as error:
        if error.status != 404:
            raise
        return None


def answered(prediction: dict[str, Any] | None) -> dict[str, Any] | None:
    """The prediction once it has an outcome; None while it is being classified."""
    return prediction if prediction and prediction["status"] != "CLASSIFYING" else None


def job_record(target: Target, name: str) -> dict[str, Any] | None:
    """GET /training-jobs/{name}; None until the stack has taken the request."""
    return found(target, f"/training-jobs/{name}")


def job_states(
    target: Target, name: str, *, timeout_s: float, interval_s: float = 2, must_exist: bool = False
) -> Iterator[dict[str, Any]]:
    """A job's record each time its status, SageMaker's secondary status or its epoch changes
    (with the latest metrics under "metrics"), until it ends; "Requested" until the stack has
    taken the request just made, or, `must_exist` (a name a person gave), CommandError at once."""
    seen: tuple = ()
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    sagemaker: Any = None  # made once the job runs: its live metrics
    while time.monotonic() < deadline:
        record = job_record(target, name)
        if record is None and must_exist:
            raise CommandError(f"no training job '{name}': `vista jobs` lists them")
        job = record or {"name": name, "status": "Requested"}
        job["metrics"] = {}
        if job.get("kind", "training") in ("training", "export") and job["status"] not in (
            "Requested",
            "Starting",
            "Failed",
        ):
            try:
                sagemaker = sagemaker or target.client("sagemaker")
                described = sagemaker.describe_training_job(TrainingJobName=name)
                job["metrics"] = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
                job["secondary_status"] = described.get("SecondaryStatus")
            except (ClientError, BotoCoreError) as error:  # live metrics are a nicety: the record is the answer
                log.info("no live metrics for %s: %s", name, error)
        state = (job["status"], job.get("secondary_status"), job["metrics"].get("epoch"))
        if state != seen:
            seen = state
            yield job
        if job["status"] in TERMINAL:
            return
        time.sleep(interval_s)
    raise CommandError(f"gave up waiting for {name} (still {job.get('status')})")


def stop_job(target: Target, name: str) -> list[str]:
    """Ask SageMaker to stop a job, or each job of a comparison, that has not ended; returns the
    names it was asked to stop (StopTrainingJob / StopHyperParameterTuningJob: the job ends Stopped)."""
    from botocore.exceptions import ClientError

    record = job_record(target, name)
    if record is None:
        raise CommandError(f"no training job '{name}': `vista jobs` lists them")
    jobs = [job_record(target, member) or {} for member in record["members"]] if "members" in record else [record]
    running = [job for job in jobs if job.get("status") not in TERMINAL]
    if not running:
        raise CommandError(f"{name} has ended ({record['status']}): there is nothing to stop")
    sagemaker = target.client("sagemaker")
    for job in running:
        try:
            if job.get("kind") == "tuning":
                sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=job["name"])
            else:
                sagemaker.stop_training_job(TrainingJobName=job["name"])
        except ClientError as error:
            raise CommandError(f"cannot stop {job['name']}: {errors.message(error)}") from None
    return [job["name"] for job in running]


def finished_job(target: Target, name: str, *, timeout_s: float) -> dict[str, Any]:
    """The job's record once it has ended, whatever its status."""
    for job in job_states(target, name, timeout_s=timeout_s):
        last = job
    return last


def member_states(target: Target, name: str, *, timeout_s: float) -> Iterator[dict[str, Any]]:
    """A comparison's member jobs, each time one's status changes, until the comparison ends."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    while time.monotonic() < deadline:
        comparison = job_record(target, name) or {"status": "Requested"}
        for member in comparison.get("members", []):
            job = target.api("GET", f"/training-jobs/{member}")
            state = job["status"] + job.get("failure_reason", "")
            if seen.get(member) != state:
                seen[member] = state
                yield job
        if comparison["status"] in TERMINAL:
            return
        time.sleep(2)
    raise CommandError(f"gave up waiting for comparison {name}")


def finished_comparison(target: Target, name: str, *, timeout_s: float) -> dict[str, Any]:
    """The comparison's record once every member has ended."""
    for _ in member_states(target, name, timeout_s=timeout_s):
        pass
    return target.api("GET", f"/training-jobs/{name}")


# ---------------------------------------------------------------------------- models and the endpoint


def champion(target: Target) -> dict[str, Any] | None:
    return next((m for m in target.api("GET", "/models")["items"] if m["state"] == "champion"), None)


def promotion_warning(board: list[dict[str, Any]], name: str) -> str | None:
    """Why promoting `name` by hand may serve worse answers: it scored below the champion on the
    same test images. None when it did not, or when the two were not tested alike (the stack's gate
    says so, and asks for force across class sets)."""
    model = next((m for m in board if m["name"] == name), None)
    rival = next((m for m in board if m["state"] == "champion"), None)
    if not model or not rival or rival["name"] == name or not model.get("test_set"):
        return None
    if model["test_set"] != rival.get("test_set") or (model.get("accuracy") or 0) >= (rival.get("accuracy") or 0):
        return None
    return (
        f"{name} scored {model.get('accuracy') or 0:.1%} on the test images where the champion "
        f"{rival['name']} scored {rival['accuracy']:.1%}"
    )


def wait_for_endpoint(target: Target, timeout_s: float) -> None:
    """Until the stack's serverless endpoint is InService (a promotion creates or updates it):
    boto3's endpoint_in_service waiter, once the endpoint exists."""
    from botocore.exceptions import WaiterError

    sagemaker = target.client("sagemaker")
    name = target.output("EndpointName")
    started = time.monotonic()

    def exists() -> bool:
        try:
            return bool(sagemaker.describe_endpoint(EndpointName=name))
        except ClientError as error:  # not created yet: the promotion may still be on its way
            if errors.is_not_found(error):
                return False
            raise

    wait_for("the endpoint", exists, timeout_s)
    delay = 2  # DescribeEndpoint is free; local endpoints take seconds, deployed ones minutes
    attempts = max(1, int((timeout_s - (time.monotonic() - started)) / delay))
    try:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
        )
    except WaiterError as error:
        raise CommandError(f"the endpoint {name} is not in service: {error}") from None


def train_champion(
    target: Target,
    request: dict[str, Any],
    request_name: str,
    *,
    promote: bool = False,
    timeout_s: float = 600,
    on_state: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train on a dataset already uploaded and serve the model: the request submitted, the job
    followed to Completed, the model decided by the gate (or promoted by hand with `promote`: the
    gate may keep a better champion) and the endpoint in service. Returns the model's record."""
    job = submit_training(target, request, request_name)
    for state in job_states(target, job, timeout_s=timeout_s):
        if on_state:
            on_state(state)
        last = state
    if last["status"] != "Completed":
        raise CommandError(f"training job {job} {last['status']}: {last.get('failure_reason', 'no reason given')}")

    def decided() -> dict[str, Any] | None:
        model = next((m for m in target.api("GET", "/models")["items"] if m["name"] == job), None)
        return model if model and model["state"] not in ("candidate", "promoting") else None

    if promote:
        wait_for(
            "the model's record", lambda: any(m["name"] == job for m in target.api("GET", "/models")["items"]), 300
        )
        target.api("POST", f"/models/{job}/promote")
    model = wait_for("the model's promotion", decided, timeout_s, 0.5)
    if model["state"] != "champion":
        raise CommandError(f"the model was {model['state']}: {model.get('reason')}")
    wait_for_endpoint(target, timeout_s)
    return model


# ---------------------------------------------------------------------------- predictions


def image_files(paths: list[Path]) -> list[Path]:
    """The photos named, a folder standing for every photo under it; CommandError for a name that is
    neither, or a folder without any."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not inside:
                raise CommandError(f"no photos ({' '.join(SUFFIXES)}) under {path}")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{path} does not exist")
    return found


def predict_image(target: Target, path: Path, *, timeout_s: float = 180) -> dict[str, Any]:
    """One photo classified: in the request itself, or, too big for it, uploaded to S3 with the
    URL POST /uploads gives and its prediction polled until the inbox has classified it."""
    data = path.read_bytes()
    content_type = SUFFIXES.get(path.suffix.lower(), "application/octet-stream")
    if len(data) <= SYNCHRONOUS_MAX_BYTES:
        return target.api("POST", "/predictions", body=data, content_type=content_type)
    if content_type not in CONTENT_TYPES:
        raise CommandError(f"{path}: a photo over {SYNCHRONOUS_MAX_BYTES:,} bytes must be one of {', '.join(SUFFIXES)}")
    body = json.dumps({"content_type": content_type, "bytes": len(data)}).encode()
    upload = target.api("POST", "/uploads", body=body, content_type="application/json")
    put = urllib.request.Request(  # noqa: S310 (the stack's own presigned S3 URL)
        upload["upload"]["url"], data=data, method="PUT", headers=upload["upload"]["headers"]
    )
    with urllib.request.urlopen(put, timeout=300):  # noqa: S310 (the stack's own presigned S3 URL)
        pass

    try:
        return wait_for(f"{path} to be classified", lambda: answered(found(target, upload["poll"])), timeout_s)
    except CommandError:
        raise CommandError(
            f"{path} was uploaded ({upload['key']}) but not classified within {timeout_s:.0f} s"
        ) from None


def redrive(target: Target) -> int:
    """Move every message of the inbox dead-letter queue back to the inbox queue; returns how many
    moved. Each is deleted from the dead-letter queue only once the queue has taken it."""
    sqs = target.client("sqs")
    dead_letter_url, queue_url = target.output("InboxDeadLetterQueueUrl"), target.output("InboxQueueUrl")
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        )
        if sent.get("Failed"):
            raise CommandError(f"the queue refused {len(sent['Failed'])} message(s): {sent['Failed'][0]}")
        sqs.delete_message_batch(
            QueueUrl=dead_letter_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        moved += len(messages)


# ---------------------------------------------------------------------------- reports


def write_report(target: Target, model: str | None, folder: Path) -> tuple[Path, int]:
    """A self-contained HTML page of one model, or of every model; returns its path and how many
    models it shows."""
    from vista_app.job_outputs import archive_of_model, read_job_outputs
    from vista_app.report.page import build_report

    board = target.api("GET", "/models")["items"]
    focus = [m for m in board if m["name"] == model] if model else board
    if model and not focus:
        raise CommandError(f"no model named {model}")
    if not focus:  # an earlier report in the folder stays as it was
        raise CommandError("no models yet: there is nothing to report (`vista train` makes one)")
    s3 = target.client("s3")
    outputs = {m["name"]: read_job_outputs(s3, archive_of_model(m["artifact"])) for m in focus}
    jobs = {m["job"]: target.api("GET", f"/training-jobs/{m['job']}") for m in focus if m.get("job")}
    page = build_report(
        title=f"Vista report: {model or 'all models'}",
        leaderboard=board,
        focus=focus,
        outputs=outputs,
        tuning_jobs=[j for j in jobs.values() if j.get("trials")],
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(page)
    return folder / "report.html", len(focus)

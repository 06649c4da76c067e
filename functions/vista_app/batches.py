"""Batches: every image under a folder of the data bucket classified by one SageMaker Transform job.

`start_batch` (a `batches/<name>.json` request): the request validated, the model found, the folder
listed (each object's latest version) and each image checked as classify checks it (type by its
bytes, size, pixels, complete); the refused get FAILED records at once, the accepted go into the
job's manifest (S3DataType ManifestFile), so one bad image cannot fail the job. The model runs in
SageMaker's TF Serving container with Vista's batch script (transform_code/inference.py, added once
to a copy of the model's archive), which turns each image's bytes into the model's input and keeps
a refusal as that image's answer. `finish_batch` (its "SageMaker Transform Job State Change"): one
Predictions record per object version, as the inbox makes them (with `batch` set: the inbox finds it
and classifies that version no more), a results CSV, and the Jobs record with counts and cost.
SageMaker reads an object's key, not a version: an image overwritten while its batch runs is
answered as it is then, recorded under the version that was checked.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.batch_request import BatchRequest, parse_batch_request
from vista_app.config import Settings
from vista_app.costs import OVERRIDE_KEY, load_prices, training_cost
from vista_app.images import InvalidImage, inspect_image
from vista_app.names import job_name
from vista_app.predictions import MAX_IMAGE_BYTES, Cut, ObjectGone, S3Image, answer_fields, read_image
from vista_app.records import Jobs, Models, Predictions, timestamp
from vista_app.training_request import InvalidRequest

logger = logging.getLogger(__name__)
REQUESTS_PREFIX = "batches/"  # batches/<name>.json: a request
WORK_PREFIX = "artifacts/batches/"  # a batch's manifest, versions, refusals and the Transform job's output
RESULTS_PREFIX = "results/"
BATCH_MODELS_PREFIX = "artifacts/batch-models/"
CONTENT_TYPE = "application/x-image"  # what the batch script takes as an image's bytes
# What the model's own decoder reads (tf.io.decode_image: "One of JPEG, PNG, GIF, BMP required").
MODEL_DECODES = ("JPEG", "PNG", "GIF", "BMP")
MAX_PAYLOAD_MB = 16  # each image classify takes (MAX_IMAGE_BYTES) is one request
MAX_OBJECTS = 200_000
CHECK_THREADS = 16
CLAIM_S = 60  # how long writing one record may take before another writer may take it over
STARTUP_S = 300  # a Transform job's instances started and its model loaded, before the first image
DEFAULT_LATENCY_MS = 100.0  # a model that did not measure its own


@dataclass(frozen=True)
class Checked:
    accepted: list[S3Image]
    refused: list[tuple[S3Image, str]]


def list_images(s3: Any, bucket: str, prefix: str) -> list[S3Image]:
    """The latest version of every object under `prefix` (not "folder" markers, not deleted ones)."""
    images = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            if version["IsLatest"] and not version["Key"].endswith("/"):
                version_id = version.get("VersionId")
                images.append(
                    S3Image(
                        bucket,
                        version["Key"],
                        None if version_id in (None, "null") else version_id,
                        version["ETag"],
                        version["Size"],
                    )
                )
                if len(images) > MAX_OBJECTS:
                    raise InvalidRequest(f"{prefix} holds over {MAX_OBJECTS:,} objects: split it into smaller folders")
    return images


def check_image(s3: Any, image: S3Image, *, max_pixels: int) -> str | None:
    """Why the image cannot be classified, or None: the checks classify makes, on its bytes."""
    if image.size is not None and image.size > MAX_IMAGE_BYTES:
        return f"image is {image.size:,} bytes; the limit is {MAX_IMAGE_BYTES:,}"
    try:
        info = inspect_image(read_image(s3, image), max_bytes=MAX_IMAGE_BYTES, max_pixels=max_pixels)
    except (InvalidImage, ObjectGone) as error:
        return str(error)
    if info.format not in MODEL_DECODES:
        return (
            f"a batch sends each image to the model as it is, and its decoder reads {', '.join(MODEL_DECODES)}: "
            f"classify a {info.format} through the inbox or the API, which convert it"
        )
    return None


def check_all(s3: Any, images: list[S3Image], *, max_pixels: int) -> Checked:
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        reasons = list(pool.map(lambda image: check_image(s3, image, max_pixels=max_pixels), images))
    return Checked(
        accepted=[image for image, reason in zip(images, reasons, strict=True) if reason is None],
        refused=[(image, reason) for image, reason in zip(images, reasons, strict=True) if reason is not None],
    )


def batch_archive(s3: Any, bucket: str, model: dict[str, Any]) -> str:
    """The model's archive with code/inference.py added, made once (SageMaker's TF Serving container
    reads a script only from the model's own code/ folder) under artifacts/batch-models/<model>/."""
    key = f"{BATCH_MODELS_PREFIX}{model['name']}/model.tar.gz"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return f"s3://{bucket}/{key}"
    except ClientError as error:
        if not errors.is_missing_object(error):
            raise
    source_bucket, _, source_key = model["artifact"].removeprefix("s3://").partition("/")
    script = (resources.files("vista_app") / "transform_code" / "inference.py").read_bytes()
    body = s3.get_object(Bucket=source_bucket, Key=source_key)["Body"]
    # Streamed member by member into a file on the function's storage: an archive can be GBs.
    with tempfile.TemporaryFile() as copy:
        with tarfile.open(fileobj=body, mode="r|gz") as original, tarfile.open(fileobj=copy, mode="w:gz") as batch:
            for member in original:
                if not member.name.removeprefix("./").startswith("code/"):
                    batch.addfile(member, original.extractfile(member) if member.isfile() else None)
            info = tarfile.TarInfo("code/inference.py")
            info.size, info.mtime = len(script), int(time.time())
            batch.addfile(info, io.BytesIO(script))
        copy.seek(0)
        s3.upload_fileobj(copy, bucket, key)
    return f"s3://{bucket}/{key}"


def batch_name(prefix: str, bucket: str, key: str, version: str) -> str:
    """A request's batch: one per version of its object, so a redelivered notification names the same."""
    return job_name(f"{prefix}-batch", f"{bucket}/{key}/{version}")


def answered(s3: Any, bucket: str, name: str) -> int:
    """How many images a running batch has answered: its Transform job's <key>.out objects so far."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{WORK_PREFIX}{name}/output/")
    return sum(page.get("KeyCount", 0) for page in pages)


def _record(image: S3Image, batch: str) -> dict[str, Any]:
    """A batch image's record: the inbox's for the same object version (the same id), with its batch."""
    return image.record() | {"batch": batch}


def write_record(predictions: Predictions, record: dict[str, Any]) -> bool:
    """Written unless the image's version already has a record (the inbox's, or a redelivered
    event's): claimed first, as every way in claims it."""
    if predictions.claim(record, until=time.time() + CLAIM_S) is not None:
        return False
    return predictions.settle(record) is not None


def start_batch(
    load: Callable[[], bytes],
    *,
    name: str,
    source: str,
    settings: Settings,
    s3: Any,
    sagemaker: Any,
    jobs: Jobs,
    models: Models,
    predictions: Predictions,
    requested_by: str,
) -> dict[str, Any]:
    """The batch's Jobs record: InProgress with its Transform job started, or Failed with the reason."""
    created = jobs.create(
        {"name": name, "kind": "batch", "status": "Starting", "source": source, "requested_by": requested_by}
    )
    if created is None:  # a redelivered request: the first delivery started it
        return jobs.get(name) or {"name": name}
    try:
        request = parse_batch_request(load())
        model = _model(models, request.model)
        images = list_images(s3, settings.data_bucket, request.source)
        if not images:
            raise InvalidRequest(f"s3://{settings.data_bucket}/{request.source} holds no objects")
        checked = check_all(s3, images, max_pixels=settings.max_image_pixels)
    except InvalidRequest as error:
        return jobs.update(name, {"status": "Failed", "failure_reason": str(error)}) or {}
    prices = load_prices(s3, settings.data_bucket)
    estimated = estimate(model, len(checked.accepted), request, region=s3.meta.region_name, prices=prices)
    fields: dict[str, Any] = {
        "request": request.model_dump(),
        "model": model["name"],
        "counts": {"objects": len(images), "refused": len(checked.refused), "accepted": len(checked.accepted)},
        "estimate": estimated,
    }
    for cut in ("thresholds", "distance_threshold"):  # what its answers are held to, as the model had it
        if model.get(cut) is not None:
            fields[cut] = model[cut]
    refusal = over_the_cap(estimated, settings.max_training_cost_per_request)
    if refusal:
        return jobs.update(name, fields | {"status": "Failed", "failure_reason": refusal}) or {}
    refused = [_record(image, name) | {"status": "FAILED", "error": reason} for image, reason in checked.refused]
    for record in refused:
        write_record(predictions, record)
    _put_json(s3, settings.data_bucket, f"{WORK_PREFIX}{name}/refused.json", refused)
    if not checked.accepted:
        return jobs.update(name, fields | {"status": "Completed", "ended_at": timestamp()}) or {}
    _launch(name, request, model, checked.accepted, settings=settings, s3=s3, sagemaker=sagemaker)
    return jobs.update(name, fields | {"status": "InProgress"}) or {}


def _put_json(s3: Any, bucket: str, key: str, value: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode(), ContentType="application/json")


def _launch(
    name: str,
    request: BatchRequest,
    model: dict[str, Any],
    accepted: list[S3Image],
    *,
    settings: Settings,
    s3: Any,
    sagemaker: Any,
) -> None:
    """The manifest of the accepted images (and the versions they were checked at), the model's batch
    copy, and the Transform job."""
    bucket = settings.data_bucket
    manifest = f"{WORK_PREFIX}{name}/manifest.json"
    _put_json(s3, bucket, manifest, [{"prefix": f"s3://{bucket}/"}, *(image.key for image in accepted)])
    versions = {image.key: [image.version_id, image.etag, image.size] for image in accepted}
    _put_json(s3, bucket, f"{WORK_PREFIX}{name}/versions.json", versions)
    model_name = f"{model['name']}-batch"
    _create_model(sagemaker, model_name, batch_archive(s3, bucket, model), settings, request)
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        MaxPayloadInMB=MAX_PAYLOAD_MB,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": f"s3://{bucket}/{manifest}"}},
            "ContentType": CONTENT_TYPE,
            "SplitType": "None",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/{WORK_PREFIX}{name}/output", "Accept": "application/json"},
        TransformResources={"InstanceType": request.instance_type, "InstanceCount": request.instance_count},
        Tags=[{"Key": "vista:batch", "Value": name}],
    )


def estimate(
    model: dict[str, Any], images: int, request: BatchRequest, *, region: str, prices: dict[str, Any]
) -> dict[str, Any]:
    """What the batch may cost, before it starts: its instances' hourly price for the time they take,
    the start (instances up, the model loaded: billed) and each image at three times the model's
    batch-1 CPU latency (a full-size photo decoded, a request's round trip), spread over the instances."""
    per_image_s = 3 * (model.get("serving_latency_ms") or DEFAULT_LATENCY_MS) / 1000
    seconds = STARTUP_S + images * per_image_s / request.instance_count
    rate = prices["regions"].get(region, {}).get("training_per_hour", {}).get(request.instance_type)
    result: dict[str, Any] = {"currency": "USD", "images": images, "seconds": round(seconds)}
    if rate is None:
        return result | {"cost_note": f"no price for {request.instance_type} in {region}: add it to {OVERRIDE_KEY}"}
    cost = rate * request.instance_count * seconds / 3600
    basis = (
        f"${rate:,.3f}/h x {request.instance_count} instance(s) x ({STARTUP_S} s to start + {images:,} images x "
        f"{per_image_s:.3f} s / {request.instance_count})"
    )
    return result | {"price_per_hour": rate, "max_cost": round(cost, 4), "basis": basis}


def over_the_cap(estimated: dict[str, Any], cap: float) -> str | None:
    """Why the batch may not start: over the stack's cap a request, or no price to hold it to one."""
    if not cap:
        return None
    if "max_cost" not in estimated:
        return f"{estimated['cost_note']}; without a price the cost cap of ${cap:,.2f} cannot be checked"
    if estimated["max_cost"] <= cap:
        return None
    return (
        f"this batch may cost up to ${estimated['max_cost']:,.2f} ({estimated['basis']}), over the cap of ${cap:,.2f} "
        "a request (the stack's MaxTrainingCostPerRequest): classify a smaller folder, or raise the cap"
    )


def _model(models: Models, wanted: str) -> dict[str, Any]:
    model = models.champion() if wanted == "champion" else models.get(wanted)
    if model is None:
        raise InvalidRequest(
            "no champion yet: train a model first" if wanted == "champion" else f"no model named {wanted}"
        )
    if not model.get("artifact"):
        raise InvalidRequest(f"model {model['name']} has no archive to run")
    return model


def _create_model(sagemaker: Any, name: str, archive: str, settings: Settings, request: BatchRequest) -> None:
    gpu = request.instance_type.startswith(("ml.p", "ml.g"))
    try:
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=settings.batch_role_arn,
            PrimaryContainer={
                "Image": settings.inference_gpu_image if gpu else settings.inference_image,
                "ModelDataUrl": archive,
            },
            EnableNetworkIsolation=True,
        )
    except ClientError as error:
        if "already existing" not in errors.message(error):
            raise


def finish_batch(
    detail: dict[str, Any],
    *,
    settings: Settings,
    s3: Any,
    sagemaker: Any,
    jobs: Jobs,
    predictions: Predictions,
    prices: dict[str, Any],
    region: str,
) -> dict[str, Any]:
    """One record per accepted image (its answer, or FAILED with why), the results CSV, the job's
    counts and cost (and SageMaker's reason, when it failed); a job still running is left to its next
    event."""
    name, status = detail["TransformJobName"], detail["TransformJobStatus"]
    if status not in ("Completed", "Failed", "Stopped"):
        return {"batch": name, "status": status}
    job = jobs.get(name) or {}
    # The event carries no FailureReason (its schema has none): SageMaker's Describe answer does.
    reason = (
        sagemaker.describe_transform_job(TransformJobName=name).get("FailureReason") if status == "Failed" else None
    )
    folder = f"{WORK_PREFIX}{name}/"
    versions = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=f"{folder}versions.json")["Body"].read())
    rows, written = [], 0
    # The model's thresholds as the batch began (start_batch kept them), or the request's min_confidence.
    cut = replace(Cut.of_model(job), min_confidence=(job.get("request") or {}).get("min_confidence"))
    for key, (version_id, etag, size) in versions.items():
        image = S3Image(settings.data_bucket, key, version_id, etag, size)
        record = _record(image, name) | _outcome(s3, settings, folder, key, status, job.get("model"), cut, reason)
        written += write_record(predictions, record)
        rows.append(record)
    refused = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=f"{folder}refused.json")["Body"].read())
    results = f"{RESULTS_PREFIX}{name}.csv"
    s3.put_object(
        Bucket=settings.data_bucket, Key=results, Body=results_csv(rows + refused).encode(), ContentType="text/csv"
    )
    seconds = _seconds(detail)
    request = job.get("request") or {}
    cost = training_cost(
        instance_type=request.get("instance_type", ""),
        instance_count=request.get("instance_count", 1),
        training_seconds=seconds,
        billable_seconds=seconds,
        region=region,
        prices=prices,
    )
    answered = sum(r["status"] == "OK" for r in rows)
    counts = (job.get("counts") or {}) | {"answered": answered, "failed": len(rows) - answered, "written": written}
    changes = {
        "status": status,
        "counts": counts,
        "results": f"s3://{settings.data_bucket}/{results}",
        "ended_at": timestamp(),
    }
    changes |= {"billable_seconds": seconds, "cost": cost.get("cost")} if seconds is not None else {}
    changes |= {"failure_reason": reason} if reason else {}
    jobs.update(name, changes)
    return {"batch": name, "status": status, **counts}


def _outcome(
    s3: Any,
    settings: Settings,
    folder: str,
    key: str,
    status: str,
    model: str | None,
    cut: Cut,
    reason: str | None = None,
) -> dict[str, Any]:
    """An accepted image's answer from its <key>.out: the model's (as classify records it), its
    refusal, or, with no answer written, why not (the job's status and SageMaker's reason)."""
    try:
        answer = json.loads(s3.get_object(Bucket=settings.data_bucket, Key=f"{folder}output/{key}.out")["Body"].read())
    except ClientError as error:
        if not errors.is_missing_object(error):
            raise
        why = f": {reason}" if reason else ""
        return {"status": "FAILED", "error": f"not classified: the batch's transform job is {status}{why}"}
    if "predictions" in answer:
        return {
            "status": "OK",
            **answer_fields(answer["predictions"][0], model=model, review_below=settings.review_below, cut=cut),
        }
    return {"status": "FAILED", "error": f"the model refused the image: {answer.get('error')}", "model": model}


def _seconds(detail: dict[str, Any]) -> float | None:
    """How long the job's instances ran (EventBridge gives its times in epoch milliseconds)."""
    start, end = detail.get("TransformStartTime"), detail.get("TransformEndTime")
    if start is None or end is None:
        return None
    to_seconds = (lambda t: t.timestamp()) if isinstance(start, datetime) else (lambda t: t / 1000)
    return round(to_seconds(end) - to_seconds(start), 1)


def results_csv(records: list[dict[str, Any]]) -> str:
    """One row an object: key, version, label, the best guess of an unknown answer, confidence, every
    class's probability, status, error."""
    classes = sorted({c for r in records for c in r.get("probabilities", {})})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "version", "label", "best_guess", "confidence", *classes, "status", "error"])
    for r in sorted(records, key=lambda r: r["key"]):
        probabilities = r.get("probabilities", {})
        guess = (r.get("best_guess") or {}).get("label", "")
        writer.writerow(
            [r["key"], r["version"], r.get("label", ""), guess, r.get("confidence", "")]
            + [probabilities.get(c, "") for c in classes]
            + [r["status"], r.get("error", "")]
        )
    return out.getvalue()

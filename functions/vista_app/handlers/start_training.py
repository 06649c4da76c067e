"""S3 `jobs/*.json` put → validate the training request → SageMaker training or tuning job."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app.aws import TRACED, client
from vista_app.callers import s3_uploader
from vista_app.config import settings
from vista_app.names import job_name
from vista_app.records import Jobs
from vista_app.training import read_request_object, start_training

logger = Logger()
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()


@tracer.capture_method
def start_from_object(bucket: str, key: str, version_id: str | None, etag: str, uploader: str) -> dict[str, Any]:
    config = settings()
    s3 = client("s3")
    name = job_name(config.name_prefix, f"{bucket}/{key}/{version_id or etag}")
    return start_training(
        load=lambda: read_request_object(s3, bucket, key, version_id),
        name=name,
        source=f"s3://{bucket}/{key}",
        settings=config,
        s3=s3,
        sagemaker=client("sagemaker"),
        jobs=Jobs(config.jobs_table),
        requested_by=uploader,
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    jobs = []
    for record in event.records:
        obj = record.s3.get_object
        # S3 sends keys URL-encoded ("my+photo.json", "%C3%A9"); Powertools passes them on as sent.
        job = start_from_object(
            record.s3.bucket.name, unquote_plus(obj.key), obj.version_id, obj.etag, s3_uploader(record.raw_event)
        )
        logger.info(
            "training request", extra={"job": job["name"], "status": job["status"], "reason": job.get("failure_reason")}
        )
        metrics.add_metric(
            "TrainingJobsFailedToStart" if job["status"] == "Failed" else "TrainingJobsStarted", MetricUnit.Count, 1
        )
        jobs.append({"name": job["name"], "status": job["status"]})
    return {"jobs": jobs}

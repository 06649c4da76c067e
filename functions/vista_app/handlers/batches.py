"""S3 `batches/*.json` put → a batch's Transform job started (vista_app.batches.start_batch);
EventBridge "SageMaker Transform Job State Change" → its records, results and counts (finish_batch)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app.aws import TRACED, client
from vista_app.batches import batch_name, finish_batch, start_batch
from vista_app.callers import s3_uploader
from vista_app.config import settings
from vista_app.costs import load_prices
from vista_app.records import Jobs, Models, Predictions
from vista_app.training import read_request_object

logger = Logger()
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()
TRANSFORM_EVENT = "SageMaker Transform Job State Change"


def start(record: dict[str, Any]) -> dict[str, Any]:
    config = settings()
    s3 = client("s3")
    bucket, obj = record["s3"]["bucket"]["name"], record["s3"]["object"]
    # S3 sends keys URL-encoded ("my+batch.json", "%C3%A9").
    key, version_id = unquote_plus(obj["key"]), obj.get("versionId")
    return start_batch(
        lambda: read_request_object(s3, bucket, key, version_id),
        name=batch_name(config.name_prefix, bucket, key, version_id or obj.get("eTag", "")),
        source=f"s3://{bucket}/{key}",
        settings=config,
        s3=s3,
        sagemaker=client("sagemaker"),
        jobs=Jobs(config.jobs_table),
        models=Models(config.models_table),
        predictions=Predictions(config.predictions_table),
        requested_by=s3_uploader(record),
    )


def finish(detail: dict[str, Any]) -> dict[str, Any]:
    config = settings()
    s3 = client("s3")
    return finish_batch(
        detail,
        settings=config,
        s3=s3,
        sagemaker=client("sagemaker"),
        jobs=Jobs(config.jobs_table),
        predictions=Predictions(config.predictions_table),
        prices=load_prices(s3, config.data_bucket),
        region=s3.meta.region_name,
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == TRANSFORM_EVENT:
        result = finish(event["detail"])
        logger.info("batch state change", extra=result)
        return result
    batches = []
    for record in event.get("Records", []):
        batch = start(record)
        logger.info("batch request", extra={"batch": batch.get("name"), "status": batch.get("status")})
        metrics.add_metric(
            "BatchesFailedToStart" if batch.get("status") == "Failed" else "BatchesStarted", MetricUnit.Count, 1
        )
        batches.append(
            {"name": batch.get("name"), "status": batch.get("status"), "reason": batch.get("failure_reason")}
        )
    return {"batches": batches}

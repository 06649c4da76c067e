"""SQS batch of S3 `inbox/` notifications → classify each image → Predictions records."""

from __future__ import annotations

import functools
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app import drift
from vista_app.aws import TRACED, client
from vista_app.config import settings
from vista_app.predictions import Classifier, NoModelInService, S3Image, classify_object, images_in_notification
from vista_app.records import Models, Predictions
from vista_app.sqs_batch import partial_batch_response

logger = Logger()
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()


@tracer.capture_method
def classify(image: S3Image, classifier: Classifier, answered: list[dict[str, Any]], until: float) -> None:
    """One image, once however often it is delivered (its record is claimed until `until`, this
    function's deadline); a record it made goes to `answered`, the batch's drift window."""
    record, new = classify_object(
        image,
        s3=client("s3"),
        classifier=classifier,
        predictions=Predictions(settings().predictions_table),
        until=until,
    )
    if new:
        answered.append(record)
    metrics.add_metric("PredictionsOK" if record["status"] == "OK" else "PredictionsFailed", MetricUnit.Count, 1)
    logger.info("classified", extra={k: record.get(k) for k in ("id", "key", "status", "label", "error")})


def record_handler(record: dict[str, Any], classifier: Classifier, answered: list, until: float) -> None:
    for image in images_in_notification(record["body"]):
        try:
            classify(image, classifier, answered, until)
        except NoModelInService as waiting:
            # Its WAITING record says so; the message is done (no retries into the DLQ while nothing
            # serves), and the image is sent again once a model is in service (release_waiting).
            metrics.add_metric("PredictionsWaiting", MetricUnit.Count, 1)
            logger.info("waiting for a model", extra={"key": image.key, "reason": str(waiting)})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    config = settings()
    # Once per batch: which model serves, and the classifier that asks it.
    champion = Models(config.models_table).champion()
    classifier = Classifier.for_champion(
        client("sagemaker-runtime"), config, champion, memory_mb=context.memory_limit_in_mb
    )
    answered: list[dict[str, Any]] = []
    until = time.time() + context.get_remaining_time_in_millis() / 1000
    handler = functools.partial(record_handler, classifier=classifier, answered=answered, until=until)
    # A wholly failed batch is reported item by item like any other: SQS retries each message.
    result = partial_batch_response(event, handler, logger)
    metrics.add_metric("MessagesLeftToRetry", MetricUnit.Count, len(result["batchItemFailures"]))
    drift.watch(answered, settings=config, metrics=metrics, s3=client("s3"))
    return result

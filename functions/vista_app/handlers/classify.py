"""SQS batch of S3 `inbox/` notifications → classify each image → Predictions records."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app import drift
from vista_app.aws import TRACED, client, idempotency_store
from vista_app.config import settings
from vista_app.predictions import Classifier, NoModelInService, S3Image, classify_object, images_in_notification
from vista_app.records import Models, Predictions
from vista_app.sqs_batch import partial_batch_response

logger = Logger()
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()
idempotency = IdempotencyConfig(expires_after_seconds=24 * 3600)


@tracer.capture_method
def classify(image: S3Image, classifier: Classifier, answered: list[dict[str, Any]]) -> dict[str, Any]:
    """One image, once (idempotent on it); a record it made goes to `answered`, the batch's drift window."""
    record, new = classify_object(
        image, s3=client("s3"), classifier=classifier, predictions=Predictions(settings().predictions_table)
    )
    if new:
        answered.append(record)
    metrics.add_metric("PredictionsOK" if record["status"] == "OK" else "PredictionsFailed", MetricUnit.Count, 1)
    logger.info("classified", extra={k: record.get(k) for k in ("id", "key", "status", "label", "error")})
    return record


def record_handler(
    record: dict[str, Any], classify_once: Callable[..., dict[str, Any]], classifier: Classifier, answered: list
) -> None:
    for image in images_in_notification(record["body"]):
        try:
            classify_once(image=image, classifier=classifier, answered=answered)
        except NoModelInService as waiting:
            # Its WAITING record says so; the message is done (no retries into the DLQ while nothing
            # serves), and the image is sent again once a model is in service (release_waiting).
            metrics.add_metric("PredictionsWaiting", MetricUnit.Count, 1)
            logger.info("waiting for a model", extra={"key": image.key, "reason": str(waiting)})


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    config = settings()
    # Once per batch: which model serves (and the classifier that asks it), and `classify` made
    # idempotent on the whole S3Image
    # (bucket, key, version), so a notification S3 or SQS delivers twice, even to two functions
    # at once, invokes the endpoint once.
    champion = Models(config.models_table).champion()
    classify_once = idempotent_function(
        data_keyword_argument="image", config=idempotency, persistence_store=idempotency_store(config.idempotency_table)
    )(classify)
    classifier = Classifier.for_champion(
        client("sagemaker-runtime"), config, champion, memory_mb=context.memory_limit_in_mb
    )
    answered: list[dict[str, Any]] = []
    handler = functools.partial(record_handler, classify_once=classify_once, classifier=classifier, answered=answered)
    # A wholly failed batch is reported item by item like any other: SQS retries each message.
    result = partial_batch_response(event, handler, logger)
    metrics.add_metric("MessagesLeftToRetry", MetricUnit.Count, len(result["batchItemFailures"]))
    drift.watch(answered, settings=config, metrics=metrics, s3=client("s3"))
    return result

"""EventBridge: SageMaker training / tuning job state changes → Jobs and Models records and the gate;
the endpoint's own state changes → the promotion's next step (vista_app.promotion)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app.aws import TRACED, client
from vista_app.config import settings
from vista_app.costs import load_prices
from vista_app.lifecycle import Dependencies, on_job_state_change
from vista_app.promotion import ENDPOINT_EVENT, on_endpoint_state_change
from vista_app.records import Jobs, Models, Predictions
from vista_app.waiting import release_waiting

logger = Logger()
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The event read as the plain dict EventBridge sends: Powertools' EventBridgeEvent would
    # import every one of its event data classes (16 ms of this function's cold start).
    config = settings()
    models = Models(config.models_table)
    detail_type, detail = event["detail-type"], event["detail"]
    if detail_type == ENDPOINT_EVENT:
        result = on_endpoint_state_change(detail, settings=config, sagemaker=client("sagemaker"), models=models)
    else:
        s3 = client("s3")
        deps = Dependencies(
            settings=config,
            sagemaker=client("sagemaker"),
            s3=s3,
            jobs=Jobs(config.jobs_table),
            models=models,
            prices=load_prices(s3, config.data_bucket),
            time_left_ms=context.get_remaining_time_in_millis,
        )
        result = on_job_state_change(detail_type, detail, deps)
    if models.champion():  # a model serves (crowned by this event or before): images that came first go now
        waiting = Predictions(config.predictions_table)
        result["released"] = release_waiting(waiting, sqs=client("sqs"), queue_url=config.inbox_queue_url)
    logger.info("state change", extra=result)
    metrics.add_metric("StateChanges", MetricUnit.Count, 1)
    return result

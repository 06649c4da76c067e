"""The REST API (API Gateway): predictions, training jobs, models, costs. Programs call it
with SigV4 (AWS_IAM); the web console calls the same routes under /console/api/ with a
Cognito session, and its pages are served from here too."""

import base64
import binascii
import dataclasses
import json
import math
import time
import uuid

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app import lazy
from vista_app.aws import TRACED, client
from vista_app.callers import api_caller
from vista_app.config import settings
from vista_app.console import router as console
from vista_app.errors import BadRequest, Conflict, NotFound, Unavailable
from vista_app.image_types import CONTENT_TYPES

# What the routes use, loaded by the first request that needs it (a cold start pays for its own
# route only); `api_models` and `training_request` hold the validated routes' types, so pydantic
# and Powertools' OpenAPI models load with the first such route.
with lazy.importing():
    from vista_app import (
        api_models,
        batch_request,
        batches,
        costs,
        drift,
        epochs,
        explanations,
        exports,
        feedback,
        figures,
        leaderboard,
        names,
        predictions,
        promotion,
        records,
        training,
        training_request,
    )

logger = Logger()
# No answer of this function goes into a trace (capture_response=False on every decorator): a console
# sign-in answers with the session's access token, uploads and image links with presigned URLs, and
# whoever may read X-Ray traces could replay either (Powertools' tracer docs warn of sensitive responses).
tracer = Tracer(patch_modules=TRACED)
metrics = Metrics()
# Validation per route (enable_validation=True on those with a body model or query parameters), so
# its middleware and pydantic are built by the first such request, not at import.
app = APIGatewayRestResolver(strip_prefixes=["/console/api"])
app.include_router(console)

IMAGE_TYPES = (*CONTENT_TYPES, "application/octet-stream")
IMAGE_LINK_SECONDS = 900
EXPORT_POLL_SECONDS = 15  # an export job takes minutes: SageMaker starts an instance for it


class UnsupportedMediaType(ValueError):
    pass


def _error(status: int, message: str, /, **extra: object) -> Response[dict]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message, **extra})


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response[dict]:
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in error.errors()]
    return _error(400, "; ".join(problems))


@app.exception_handler(BadRequest)
def _bad_request(error: BadRequest) -> Response[dict]:
    return _error(400, str(error))


@app.exception_handler(UnsupportedMediaType)
def _unsupported(error: UnsupportedMediaType) -> Response[dict]:
    return _error(415, str(error))


@app.exception_handler([NotFound, NotFoundError])
def _not_found(error: Exception) -> Response[dict]:
    # The message as raised (str() of a KeyError-like error would wrap it in quotes of its own)
    return _error(404, str(error.args[0]) if error.args else str(error))


@app.exception_handler(Conflict)
def _conflict(error: Conflict) -> Response[dict]:
    return _error(409, str(error))


@app.exception_handler(Unavailable)
def _unavailable(error: Unavailable) -> Response[dict]:
    answer = _error(error.status, str(error))
    answer.headers["Retry-After"] = str(error.retry_after_s)
    return answer


def uploaded_image() -> bytes:
    """The image of a POST /predictions: the raw body (image/*, any type image_types takes) or JSON
    {"image": base64}."""
    event = app.current_event
    content_type = (event.headers.get("Content-Type") or "").split(";")[0]
    content_type = content_type.strip().lower()
    body = event.body or ""
    if content_type == "application/json":
        try:
            encoded = json.loads(body)["image"]
            return base64.b64decode(encoded, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise predictions.InvalidImage('a JSON body must be {"image": "<base64 of an image>"}') from None
    if content_type not in IMAGE_TYPES:
        raise UnsupportedMediaType(
            f"content type '{content_type or 'none'}' is not supported; "
            f"send {', '.join(CONTENT_TYPES)} or application/json"
        )
    if event.is_base64_encoded:
        return base64.b64decode(body)
    try:
        return body.encode("latin-1")
    except UnicodeEncodeError:  # a body API Gateway passed as text: its bytes are gone
        raise predictions.InvalidImage(
            f"the body of type {content_type} arrived as text, not bytes: send it as one of {', '.join(CONTENT_TYPES)}"
        ) from None


@app.post("/predictions")
@tracer.capture_method(capture_response=False)
def create_prediction() -> Response[dict]:
    data = uploaded_image()
    if len(data) > predictions.MAX_IMAGE_BYTES:
        limit = predictions.MAX_IMAGE_BYTES
        raise predictions.InvalidImage(f"image is {len(data):,} bytes; the limit is {limit:,}")
    config = settings()
    models = records.Models(config.models_table)
    champion = models.champion()
    if champion is None:
        raise predictions.NoModelInService("no model has been promoted yet: train one first")
    classifier = predictions.Classifier.for_champion(
        client("sagemaker-runtime"), config, champion, memory_mb=app.lambda_context.memory_limit_in_mb
    )
    asked = min_confidence()
    if asked is not None:
        classifier = dataclasses.replace(classifier, cut=dataclasses.replace(classifier.cut, min_confidence=asked))
    record, new = predictions.classify_upload(
        data,
        s3=client("s3"),
        bucket=config.data_bucket,
        classifier=classifier,
        predictions=records.Predictions(config.predictions_table),
        until=time.time() + app.lambda_context.get_remaining_time_in_millis() / 1000,
        idempotency_key=idempotency_key(),
    )
    if not new:  # a retry: the first answer again, as Idempotency-Key servers answer a replay
        return Response(200, content_types.APPLICATION_JSON, record, headers={"Idempotent-Replayed": "true"})
    metrics.add_metric("ApiPredictions", MetricUnit.Count, 1)
    drift.watch([record], settings=config, metrics=metrics, s3=client("s3"))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=record)


@app.post("/uploads", enable_validation=True)
def create_upload(upload: "api_models.UploadRequest") -> Response[dict]:
    """A photo of any size up to MAX_IMAGE_BYTES, without the synchronous request's payload limit
    (Lambda's 6 MB, base64 included): PUT it (exactly `bytes` long) to the URL given, then GET
    /predictions/{id}."""
    config = settings()
    answer = predictions.new_upload(upload.content_type, upload.bytes, s3=client("s3"), bucket=config.data_bucket)
    answer["poll"] = f"/predictions/{answer['id']}"
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=answer)


def min_confidence() -> float | None:
    """?min_confidence= (0 to 1): an answer less sure than this is "unknown", in place of the model's own
    thresholds, probability and distance both (Rekognition's MinConfidence, as a probability rather than
    a percentage; predictions.Cut)."""
    given = app.current_event.get_query_string_value("min_confidence")
    if given is None:
        return None
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise BadRequest(f"min_confidence must be a number from 0 to 1, not {given!r}")
    return value


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header (the IETF httpapi draft's name), if any."""
    key = app.current_event.headers.get("Idempotency-Key")  # Powertools' headers ignore case
    if key is not None and not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters")
    return key


@app.get("/predictions", enable_validation=True)
def list_predictions(
    limit: "api_models.Limit" = 25,
    next_token: "api_models.NextToken" = None,
    review: "api_models.Flag" = False,
    label: "api_models.Match" = None,
    model: "api_models.Match" = None,
) -> dict:
    """Newest first (or only those needing review); `label` and `model` keep those that match,
    so a page may hold fewer than `limit` with a next_token to go on."""
    table = records.Predictions(settings().predictions_table)
    matching = {k: v for k, v in {"label": label, "model": model}.items() if v}
    if review:
        return table.needing_review(limit=limit, next_token=next_token, matching=matching)
    return table.newest(limit=limit, next_token=next_token, matching=matching)


@app.get("/predictions/<prediction_id>/image")
def prediction_image(prediction_id: str) -> Response[str]:
    """A short-lived link to the image a prediction was made on."""
    record = _found(records.Predictions(settings().predictions_table).get(prediction_id), "prediction", prediction_id)
    request = {"Bucket": record["bucket"], "Key": record["key"]}
    if record.get("version_id"):
        request["VersionId"] = record["version_id"]
    url = client("s3").generate_presigned_url("get_object", Params=request, ExpiresIn=IMAGE_LINK_SECONDS)
    return Response(
        302, content_types.TEXT_PLAIN, "", headers={"Location": url, "Cache-Control": "private, max-age=600"}
    )


@app.get("/predictions/<prediction_id>/explanation")
@tracer.capture_method(capture_response=False)
def explain_prediction(prediction_id: str) -> dict:
    """The heatmap of what in the image drove the model in service to its class (Grad-CAM)."""
    config = settings()
    record = _found(records.Predictions(config.predictions_table).get(prediction_id), "prediction", prediction_id)
    champion = records.Models(config.models_table).champion()
    if champion is None:
        raise predictions.NoModelInService("no model is in service to explain this prediction")
    classifier = predictions.Classifier.for_champion(
        client("sagemaker-runtime"), config, champion, memory_mb=app.lambda_context.memory_limit_in_mb
    )
    return explanations.explanation(record, s3=client("s3"), bucket=config.data_bucket, classifier=classifier)


# A validated route's types are named as strings (naming them would load pydantic at import), which
# Powertools resolves in the globals of the function it was given: a tracer's wrapper has the tracer's,
# so a validated route is not itself traced; it hands its validated input to a traced function.
@app.post("/predictions/<prediction_id>/feedback", enable_validation=True)
def give_feedback(prediction_id: str, given: "api_models.Feedback") -> dict:
    return _record_feedback(prediction_id, given.label)


@tracer.capture_method(capture_response=False)
def _record_feedback(prediction_id: str, label: str) -> dict:
    config = settings()
    result = feedback.record_feedback(
        prediction_id,
        label,
        settings=config,
        s3=client("s3"),
        predictions=records.Predictions(config.predictions_table),
        models=records.Models(config.models_table),
        jobs=records.Jobs(config.jobs_table),
        given_by=api_caller(app.current_event.raw_event),
    )
    metrics.add_metric("FeedbackReceived", MetricUnit.Count, 1)
    if result.get("labelled", 0) >= config.retrain_window:  # a full window: the figure the alarm watches
        metrics.add_metadata("model", result["model"])
        metrics.add_metric("RollingAccuracy", MetricUnit.Percent, 100 * result["rolling_accuracy"])
    if result.get("retraining", {}).get("outcome") == "requested":
        metrics.add_metric("RetrainingRequested", MetricUnit.Count, 1)
    return result


@app.get("/predictions/<prediction_id>")
def get_prediction(prediction_id: str) -> dict:
    return _found(records.Predictions(settings().predictions_table).get(prediction_id), "prediction", prediction_id)


@app.post("/training-jobs", enable_validation=True)
def create_training_job(
    request: "training_request.TrainingRequest", dry_run: "api_models.Flag" = False
) -> Response[dict]:
    """202 with the job started (its record carries the estimate), or 400 with why it was not;
    `?dry_run=true`: 200 with the estimate and whether the cost cap lets it start, starting nothing."""
    return _training_job(request, dry_run=dry_run)


@tracer.capture_method(capture_response=False)
def _training_job(request: "training_request.TrainingRequest", *, dry_run: bool) -> Response[dict]:
    config = settings()
    if dry_run:  # the request as the resolver validated it, not parsed again
        answer = training.dry_run_request(request, settings=config, s3=client("s3"), sagemaker=client("sagemaker"))
        return Response(200, content_types.APPLICATION_JSON, answer)
    jobs = records.Jobs(config.jobs_table)
    # A retried POST with the same Idempotency-Key names the same job, which starts once.
    name = names.job_name(config.name_prefix, f"api/{idempotency_key() or uuid.uuid4()}")
    job = training.start_training(
        load=lambda: request.model_dump(mode="json", exclude_unset=True),
        name=name,
        source="api",
        settings=config,
        s3=client("s3"),
        sagemaker=client("sagemaker"),
        jobs=jobs,
        requested_by=api_caller(app.current_event.raw_event),
    )
    if job["status"] == "Failed":
        return _error(400, job["failure_reason"], job=job["name"])
    metrics.add_metric("TrainingJobsStarted", MetricUnit.Count, 1)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=job)


@app.post("/batches", enable_validation=True)
def create_batch(request: "batch_request.BatchRequest") -> Response[dict]:
    """202 with the batch's name: the request is written to batches/ and the batch function does the
    rest (listing and checking a folder of any size takes longer than an API call may); 400 for a
    model that does not exist."""
    return _request_batch(request)


@tracer.capture_method(capture_response=False)
def _request_batch(request: "batch_request.BatchRequest") -> Response[dict]:
    config = settings()
    if request.model != "champion" and records.Models(config.models_table).get(request.model) is None:
        return _error(400, f"no model named {request.model}")
    key = f"{batches.REQUESTS_PREFIX}api-{idempotency_key() or uuid.uuid4()}.json"
    body = request.model_dump_json(exclude_unset=True).encode()
    put = client("s3").put_object(Bucket=config.data_bucket, Key=key, Body=body, ContentType="application/json")
    name = batches.batch_name(
        config.name_prefix, config.data_bucket, key, put.get("VersionId") or put["ETag"].strip('"')
    )
    return Response(202, content_types.APPLICATION_JSON, {"name": name, "status": "Requested", "request": key})


@app.get("/batches/<name>")
def get_batch(name: str) -> dict:
    """The batch's record, with `progress` (images answered of those sent) while it runs."""
    config = settings()
    batch = _found(records.Jobs(config.jobs_table).get(name), "batch", name)
    if batch.get("kind") != "batch":
        raise NotFoundError(f"no batch '{name}'")
    if batch["status"] == "InProgress":
        done = batches.answered(client("s3"), config.data_bucket, name)
        batch["progress"] = {"done": done, "total": batch.get("counts", {}).get("accepted")}
    return batch


@app.get("/training-jobs", enable_validation=True)
def list_training_jobs(limit: "api_models.Limit" = 25, next_token: "api_models.NextToken" = None) -> dict:
    return records.Jobs(settings().jobs_table).newest(limit=limit, next_token=next_token)


@app.get("/training-jobs/<name>")
def get_training_job(name: str) -> dict:
    return _found(records.Jobs(settings().jobs_table).get(name), "training job", name)


@app.get("/training-jobs/<name>/metrics")
def get_training_metrics(name: str) -> dict:
    """Each epoch so far of the job (or of a tuning job's trials), from its training logs, and each
    one's loss and accuracy charts (SVG)."""
    job = _found(records.Jobs(settings().jobs_table).get(name), "training job", name)
    curves = epochs.training_curves(client("logs"), name)
    charts = {trial: figures.training_curves(trial, rows) for trial, rows in curves.items()}
    return {"name": name, "status": job["status"], "jobs": curves, "charts": charts}


@app.get("/schemas/training-request")
def training_request_schema() -> dict:
    """The JSON Schema POST /training-jobs validates against (the console builds its form from it)."""
    return training_request.TrainingRequest.model_json_schema()


@app.get("/models")
def list_models() -> dict:
    """The leaderboard, its chart (SVG) and the formats a model exports in."""
    board = leaderboard.leaderboard(records.Models(settings().models_table))
    chart = figures.leaderboard(board["items"], ident="leaderboard-chart")
    return board | {"chart": chart, "export_formats": list(exports.FORMATS)}


@app.get("/models/history", enable_validation=True)
def model_history(limit: "api_models.Limit" = 25, next_token: "api_models.NextToken" = None) -> dict:
    """Every change of champion, newest first: when, from, to, why (gate, manual, rollback, failed
    deploy), who asked; and each model's approval status in SageMaker's Model Registry."""
    config = settings()
    page = records.History(config.history_table).newest(limit=limit, next_token=next_token)
    named = {n for c in page["items"] for n in (c.get("from"), c.get("to"), c.get("model")) if n}
    models = records.Models(config.models_table)
    approvals = {n: (models.get(n) or {}).get("approval") for n in sorted(named)}
    return page | {"approvals": {n: a for n, a in approvals.items() if a}}


@app.post("/models/rollback")
@tracer.capture_method(capture_response=False)
def roll_back() -> Response[dict]:
    """Accepted: the model that served before the champion is `promoting` again, and serves once the
    endpoint has switched to it (as any promotion); 409 when no model served before the champion."""
    config = settings()
    model = promotion.roll_back(
        settings=config,
        sagemaker=client("sagemaker"),
        models=records.Models(config.models_table),
        requested_by=api_caller(app.current_event.raw_event),
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=model)


@app.get("/models/<name>/charts")
def get_model_charts(name: str) -> dict:
    """One model's confusion matrix, F1 by class and drift windows, as SVG (what the console shows)."""
    return figures.model_charts(_found(records.Models(settings().models_table).get(name), "model", name))


@app.get("/models/<name>/export")
@tracer.capture_method(capture_response=False)
def export_model(name: str) -> Response[dict]:
    """The model in a portable format (?format=savedmodel|tflite|tflite-int8|onnx): 200 with a link to
    its archive and its figures once built; 202 while its job runs (the first request starts it); 422
    with the reason when the export failed (a float export that does not answer as the model does)."""
    config = settings()
    fmt = exports.check_format(app.current_event.get_query_string_value("format", "") or "")
    export = exports.request_export(
        name,
        fmt,
        settings=config,
        sagemaker=client("sagemaker"),
        jobs=records.Jobs(config.jobs_table),
        models=records.Models(config.models_table),
        requested_by=api_caller(app.current_event.raw_event),
    )
    shown = {
        k: export.get(k) for k in ("name", "model", "format", "status", "figures", "failure_reason") if k in export
    }
    if export["status"] in ("Failed", "Stopped"):
        return _error(
            422, f"the {fmt} export of {name} failed: {export.get('failure_reason', export['status'])}", **shown
        )
    if export["status"] != "Completed":
        answer = Response(202, content_types.APPLICATION_JSON, shown)
        answer.headers["Retry-After"] = str(EXPORT_POLL_SECONDS)
        return answer
    bucket, _, key = export["artifact"].removeprefix("s3://").partition("/")
    request = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentDisposition": f'attachment; filename="{name}-{fmt}.tar.gz"',
    }
    url = client("s3").generate_presigned_url("get_object", Params=request, ExpiresIn=IMAGE_LINK_SECONDS)
    return Response(200, content_types.APPLICATION_JSON, shown | {"url": url, "expires_in": IMAGE_LINK_SECONDS})


@app.get("/costs")
def get_costs() -> dict:
    """The ledger: training and serving costs by day, job and model (scans: a tool for modest tables)."""
    config = settings()
    s3 = client("s3")
    return costs.ledger(
        records.Jobs(config.jobs_table).all(),
        records.Models(config.models_table).all(),
        records.Predictions(config.predictions_table).all(),
        memory_mb=config.serverless_memory_mb,
        region=s3.meta.region_name,
        prices=costs.load_prices(s3, config.data_bucket),
    )


@app.post("/models/<name>/promote")
@tracer.capture_method(capture_response=False)
def promote_model(name: str) -> Response[dict]:
    """Accepted: the model is `promoting` until the endpoint serves it (then `champion`), or `failed`
    with SageMaker's reason. GET /models shows where it stands. A model of other classes than the
    champion's needs the body {"force": true}."""
    config = settings()
    models = records.Models(config.models_table)
    model = promotion.promote_by_name(
        name,
        settings=config,
        sagemaker=client("sagemaker"),
        models=models,
        requested_by=api_caller(app.current_event.raw_event),
        force=_forced(),
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=model)


def _forced() -> bool:
    """The promotion's body says {"force": true} (no body: false)."""
    body = app.current_event.body
    if not body:
        return False
    try:
        given = json.loads(body)
    except ValueError:
        raise BadRequest('the body of a promotion is JSON: {"force": true}, or nothing') from None
    return isinstance(given, dict) and given.get("force") is True


def _found(item: dict | None, kind: str, key: str) -> dict:
    if item is None:
        raise NotFoundError(f"no {kind} '{key}'")
    return item


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    answer = app.resolve(event, context)
    logger.info(
        "request",
        extra={
            "method": event.get("httpMethod"),
            "path": event.get("path"),
            "status": answer.get("statusCode"),
            "caller": api_caller(event),
        },
    )
    return answer

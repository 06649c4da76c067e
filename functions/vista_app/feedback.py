"""Feedback: people say what an image really shows; Vista learns whether its model is still right.

Each label is kept on the prediction, and the image is copied into the training split of the
dataset the model learnt from (`<train>/<label>/feedback-<id>.<ext>`), so the next training run
sees it. The model's rolling accuracy is measured over its last N labelled predictions; when it
falls below the threshold while the model is champion, a retraining request (the champion's own
request, on the grown dataset) is dropped into `jobs/`, once per window, and the usual
champion/challenger gate decides what serves next.
"""

from __future__ import annotations

import json
import logging
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.config import Settings
from vista_app.errors import BadRequest, NotFound
from vista_app.records import Jobs, Models, Predictions, timestamp
from vista_app.training import find_channels
from vista_app.training_request import Hyperparameters, InvalidRequest, parse_training_request

logger = logging.getLogger(__name__)
FEEDBACK_PREFIX = "feedback-"


class UnknownPrediction(NotFound):
    pass


class InvalidFeedback(BadRequest):
    """Feedback that cannot be taken, with the reason for the person who gave it."""


def record_feedback(
    prediction_id: str,
    label: str,
    *,
    settings: Settings,
    s3: Any,
    predictions: Predictions,
    models: Models,
    jobs: Jobs,
    given_by: str,
) -> dict[str, Any]:
    """Label one prediction; returns the updated prediction, the model's rolling accuracy and
    the retraining request this feedback started, if any. Giving it again replaces the label."""
    prediction = predictions.get(prediction_id)
    if prediction is None:
        raise UnknownPrediction(f"no prediction '{prediction_id}'")
    if prediction.get("status") != "OK":
        raise InvalidFeedback(
            f"prediction {prediction_id} is {prediction.get('status')}: there is no answer to correct"
        )
    classes = sorted(prediction["probabilities"])
    if label not in classes:
        raise InvalidFeedback(f"'{label}' is not a class of model {prediction['model']}; one of {classes}")
    model = models.get(prediction["model"]) if prediction.get("model") else None

    changes: dict[str, Any] = {
        "feedback_label": label,
        "feedback_at": timestamp(),
        "feedback_by": given_by,
        "correct": label == prediction["label"],
    }
    copy = _copy_for_training(prediction, label, model, s3=s3, bucket=settings.data_bucket)
    if copy:
        changes["training_copy"] = copy
    updated = predictions.update(prediction_id, changes, remove=("review",)) or prediction | changes

    result: dict[str, Any] = {"prediction": updated, "model": prediction.get("model")}
    if model is None:
        return result
    window = rolling_accuracy(predictions, updated, window=settings.retrain_window)
    result.update(window)
    if (
        window["labelled"] >= settings.retrain_window
        and window["rolling_accuracy"] * 100 < settings.retrain_below_percent
    ):
        result["retraining"] = request_retraining(model, window, settings=settings, s3=s3, models=models, jobs=jobs)
    return result


def _copy_for_training(
    prediction: dict[str, Any], label: str, model: dict[str, Any] | None, *, s3: Any, bucket: str
) -> str | None:
    """Copy the image into the model's dataset under its true class; drop an earlier copy under another.
    None when there is nothing to copy or nowhere to copy it (the label is kept all the same)."""
    if not model or not model.get("dataset") or not prediction.get("key"):
        return None
    source = {"Bucket": prediction.get("bucket", bucket), "Key": prediction["key"]}
    if prediction.get("version_id"):
        source["VersionId"] = prediction["version_id"]
    try:
        train = find_channels(s3, bucket, model["dataset"].rstrip("/") + "/")["train"]
        suffix = PurePosixPath(prediction["key"]).suffix.lower() or ".jpg"
        key = f"{train.removeprefix(f's3://{bucket}/')}{label}/{FEEDBACK_PREFIX}{prediction['id']}{suffix}"
        s3.copy_object(Bucket=bucket, Key=key, CopySource=source, MetadataDirective="COPY")
    except InvalidRequest as error:  # the dataset is gone or no longer trainable
        logger.warning("feedback on %s not added to %s: %s", prediction["id"], model["dataset"], error)
        return None
    except ClientError as error:
        if not errors.is_missing_object(error):
            raise
        logger.warning("feedback on %s: the image s3://%s/%s is gone", prediction["id"], *source.values())
        return None
    earlier = prediction.get("training_copy")
    if earlier and earlier != key:
        s3.delete_object(Bucket=bucket, Key=earlier)
    return key


def rolling_accuracy(predictions: Predictions, current: dict[str, Any], *, window: int) -> dict[str, Any]:
    """Accuracy of the model over its last `window` labelled predictions, `current` included
    (a global index is eventually consistent: it may not show the label just written)."""
    recent = predictions.labelled(current["model"], limit=window)["items"]
    labelled = [current, *[p for p in recent if p["id"] != current["id"]][: window - 1]]
    correct = sum(bool(p.get("correct")) for p in labelled)
    return {"rolling_accuracy": correct / len(labelled), "labelled": len(labelled), "window": window}


def request_retraining(
    model: dict[str, Any], window: dict[str, Any], *, settings: Settings, s3: Any, models: Models, jobs: Jobs
) -> dict[str, Any]:
    """Drop the champion's own training request, with its tuned values, into jobs/: once per champion."""
    champion = models.champion()
    if champion is None or champion["name"] != model["name"]:
        return {"outcome": "not requested: the model is no longer the champion"}
    key = f"jobs/retrain-{model['name']}.json"
    claimed = models.update(
        model["name"],
        {"retraining": {"request": f"s3://{settings.data_bucket}/{key}", "at": timestamp(), **window}},
        condition="attribute_not_exists(retraining)",
    )
    if not claimed:
        return {"outcome": "already requested", **(models.get(model["name"]) or {}).get("retraining", {})}
    original = (jobs.get(model["job"]) or {}).get("request", {})
    hyperparameters = {k: v for k, v in model.get("hyperparameters", {}).items() if k in Hyperparameters.model_fields}
    request = {k: v for k, v in original.items() if k not in ("tuning", "architectures")} | {
        "dataset": model["dataset"],
        "architecture": model["architecture"],
        "hyperparameters": hyperparameters,
    }
    try:
        parse_training_request(request)
    except InvalidRequest as error:
        logger.error("cannot retrain %s: %s", model["name"], error)
        return {"outcome": f"not requested: {error}"}
    s3.put_object(
        Bucket=settings.data_bucket, Key=key, Body=json.dumps(request).encode(), ContentType="application/json"
    )
    logger.info("retraining requested", extra={"model": model["name"], "request": key, **window})
    return {"outcome": "requested", "request": f"s3://{settings.data_bucket}/{key}"}

"""Why a prediction said what it said: the served model's Grad-CAM heatmap of the image
(its SavedModel's `explain` signature), asked on demand and kept in S3, one object a
prediction and model, so a second look costs no second inference."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.errors import BadRequest
from vista_app.predictions import Classifier, S3Image, read_image

EXPLANATIONS_PREFIX = "artifacts/explanations/"


class NothingToExplain(BadRequest):
    """A FAILED prediction: no class was given, so there is nothing to explain."""


def explanation(record: dict[str, Any], *, s3: Any, bucket: str, classifier: Classifier) -> dict[str, Any]:
    """The heatmap of the prediction's image by the model in service (kept under
    artifacts/explanations/<id>/<model>.json); `same_model` says whether that model is the one
    that made the prediction (after a promotion it may not be, and the label may differ)."""
    if record.get("status") != "OK":
        raise NothingToExplain(f"prediction {record['id']} failed ({record.get('error')}): it has no class to explain")
    cached = _cached(s3, bucket, _key(record["id"], classifier.model))
    if cached is not None:
        return cached
    image = S3Image(record["bucket"], record["key"], record.get("version_id"))
    answer = classifier.explain(read_image(s3, image))
    heatmap = [[round(float(v), 3) for v in row] for row in answer["heatmap"]]
    model = answer.get("model") or classifier.model
    result = {
        "id": record["id"],
        "model": model,
        "same_model": model == record.get("model"),
        "label": answer["label"],
        "probability": round(float(answer["probability"]), 4),
        "grid": [len(heatmap), len(heatmap[0]) if heatmap else 0],
        "heatmap": heatmap,
        "method": "Grad-CAM on the last convolutional block",
    }
    s3.put_object(
        Bucket=bucket,
        Key=_key(record["id"], model),
        Body=json.dumps(result).encode(),
        ContentType="application/json",
    )
    return result


def _key(prediction_id: str, model: str | None) -> str:
    return f"{EXPLANATIONS_PREFIX}{prediction_id}/{model or 'unnamed'}.json"


def _cached(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if errors.is_missing_object(error):
            return None
        raise

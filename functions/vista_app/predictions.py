"""Classify one image: check it, ask the serverless endpoint, record the answer.

A Predictions record is the answer either way: status OK with the label and all
class probabilities, or FAILED with the reason (bad image, object gone, the model refused it).
What may succeed later (throttling past botocore's retries, no endpoint yet, a model that timed
out or failed on its side) raises, so SQS delivers the message again and, in the end, to the
dead-letter queue; the API answers 503 or 504 with Retry-After.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.errors import BadRequest, NotFound, Unavailable
from vista_app.image_types import FORMATS, SUFFIX
from vista_app.images import InvalidImage, decode_budget, inspect_image, reduce_for_model
from vista_app.records import WAITING_FOR, Predictions

# A serverless endpoint takes at most 4 MB per request; the image travels base64-encoded
# inside {"instances": [{"b64": ...}]}, so at most 3/4 of it can be image. A photo is reduced
# first (images.reduce_for_model), so what a camera makes fits whatever its size.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_SENT_BYTES = (MAX_PAYLOAD_BYTES - 64) * 3 // 4
# The largest photo taken from S3 (Amazon Rekognition's limit for S3 images is 15 MB).
MAX_IMAGE_BYTES = 15 * 1024 * 1024
# The input size assumed of a model whose record does not say (the largest a request may ask).
DEFAULT_IMAGE_SIZE = 600


class NoModelInService(Unavailable):
    """No endpoint to ask yet (nothing promoted): retry later rather than fail the image."""


@dataclass(frozen=True)
class S3Image:
    """One object an S3 notification names."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @property
    def version(self) -> str:
        return self.version_id or self.etag or ""

    @property
    def id(self) -> str:
        """Deterministic, so a redelivered notification finds the same record; for an upload
        (written once under the name POST /uploads gave it), the id it promised."""
        upload = UPLOAD_KEY.match(self.key)
        if upload:
            return upload.group(1)
        return hashlib.sha256(f"{self.bucket}/{self.key}/{self.version}".encode()).hexdigest()[:32]

    def record(self) -> dict[str, Any]:
        """What every record of this object starts with, whichever way it came (inbox or batch)."""
        record = {
            "id": self.id,
            "source": f"s3://{self.bucket}/{self.key}",
            "bucket": self.bucket,
            "key": self.key,
            "version": self.version,
        }
        return record | ({"version_id": self.version_id} if self.version_id else {})


def images_in_notification(body: str) -> list[S3Image]:
    """The objects in an S3 event notification delivered through SQS; [] for s3:TestEvent."""
    message = json.loads(body)
    images = []
    for record in message.get("Records", []):
        if not record.get("eventName", "").startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        images.append(
            S3Image(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                version_id=obj.get("versionId"),
                etag=obj.get("eTag"),
                size=obj.get("size"),
            )
        )
    return images


@dataclass(frozen=True)
class Cut:
    """When a model's answer is "unknown" (both calibrated on its validation split by its training job,
    training_job/unknowns.py): under its class's probability threshold (`thresholds`), or under the
    `min_confidence` a caller asks for instead (Rekognition's MinConfidence, as a probability); or
    farther from the training images of its class than `distance` (the model answers each image's
    `distance`: training_job/typicality.py)."""

    thresholds: dict[str, float] | None = None
    min_confidence: float | None = None
    distance: float | None = None

    @classmethod
    def of_model(cls, model: dict[str, Any] | None) -> Cut:
        return cls((model or {}).get("thresholds"), None, (model or {}).get("distance_threshold"))

    def threshold(self, label: str) -> float:
        if self.min_confidence is not None:
            return self.min_confidence
        return (self.thresholds or {}).get(label, 0.0)

    def why_unknown(self, label: str, probability: float, distance: float | None) -> str | None:
        """Why the answer is unknown, if it is. A caller's min_confidence takes the decision over whole:
        0 answers a class for every image, as Rekognition's MinConfidence 0 returns every label."""
        if probability < self.threshold(label):
            return "not sure enough"
        far = self.distance is not None and distance is not None and distance > self.distance
        if far and self.min_confidence is None:
            return "unlike the images it was trained on"
        return None


def answer_fields(
    prediction: dict[str, Any], *, model: str | None, review_below: float, cut: Cut | None = None
) -> dict[str, Any]:
    """A record's fields from the model's answer for one image (the SavedModel's serving outputs):
    "unknown" with its best guess when the top probability is under the class's cut (the model on
    record's: an answer from another model, while the endpoint switches, is taken as it is, unless
    the caller set min_confidence); flagged for review (a sparse index lists them) when unknown or
    when its confidence is below `review_below`."""
    probabilities = dict(zip(prediction["classes"], prediction["probabilities"], strict=True))
    label = prediction["label"]
    # The model that answered names itself (the SavedModel's `model` output, its training job):
    # right even while the endpoint switches models. Older models do not: the one on record.
    answered_by = prediction.get("model") or model
    fields: dict[str, Any] = {
        "label": label,
        "confidence": probabilities[label],
        "probabilities": probabilities,
        "model": answered_by,
    }
    cut = cut or Cut()
    if answered_by != model:  # another model's answer: its own thresholds are not at hand
        cut = Cut(min_confidence=cut.min_confidence)
    distance = prediction.get("distance")
    why = cut.why_unknown(label, probabilities[label], distance)
    if why:
        guess = {"label": label, "probability": probabilities[label]}
        fields |= {"label": UNKNOWN, "best_guess": guess, "unknown_because": why}
    threshold = cut.threshold(label)
    if threshold:
        fields["threshold"] = threshold
    if distance is not None:
        fields["distance"] = round(float(distance), 4)
    return fields | (
        {"review": REVIEW_NEEDED} if fields["label"] == UNKNOWN or probabilities[label] < review_below else {}
    )


@dataclass(frozen=True)
class Classifier:
    """What answers for an image: the serverless endpoint, the model it serves, and the
    limits an image must meet before it is sent (and flagged for review after)."""

    runtime: Any
    endpoint: str
    model: str | None
    max_pixels: int
    review_below: float
    image_size: int = DEFAULT_IMAGE_SIZE  # the served model's input: what a photo is reduced for
    decode_budget: int = decode_budget(512)  # bytes this function can spend decoding one photo
    cut: Cut = Cut()  # the served model's thresholds (or the caller's min_confidence)

    @classmethod
    def for_champion(
        cls, runtime: Any, settings: Any, champion: dict[str, Any] | None, *, memory_mb: int
    ) -> Classifier:
        """The classifier of the champion on record (None: no model yet), in a function of
        `memory_mb` (its LambdaContext's memory_limit_in_mb: MemorySize)."""
        size = ((champion or {}).get("hyperparameters") or {}).get("image_size")
        return cls(
            runtime,
            settings.endpoint_name,
            champion["name"] if champion else None,
            settings.max_image_pixels,
            settings.review_below,
            int(size) if size else DEFAULT_IMAGE_SIZE,
            decode_budget(memory_mb),
            Cut.of_model(champion),
        )

    def classify(self, data: bytes) -> dict[str, Any]:
        """Check and classify image bytes; the fields of an OK record (answer_fields, and what was sent)."""
        info, sent = self._checked(data)
        started = time.perf_counter()
        prediction = self._ask({"instances": [{"b64": base64.b64encode(sent).decode()}]})
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return {
            "status": "OK",
            **answer_fields(prediction, model=self.model, review_below=self.review_below, cut=self.cut),
            "latency_ms": latency_ms,
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "bytes": len(data),
            # What the model was sent: the photo itself, or the JPEG it was reduced or converted to.
            "sent_format": info.format if sent is data else "JPEG",
            "sent_bytes": len(sent),
        }

    def explain(self, data: bytes) -> dict[str, Any]:
        """The `explain` signature's answer for image bytes: label, probability, heatmap, model.
        SageMaker's TF Serving container passes the JSON body to TF Serving's REST predict API,
        which picks the signature by `signature_name` (tensorflow/serving, json_tensor.cc)."""
        _, sent = self._checked(data)
        return self._ask({"signature_name": "explain", "instances": [{"b64": base64.b64encode(sent).decode()}]})

    def _checked(self, data: bytes) -> tuple[Any, bytes]:
        """The image's facts and the bytes to send: reduced for the model, refused if still too big."""
        info = inspect_image(data, max_bytes=MAX_IMAGE_BYTES, max_pixels=self.max_pixels)
        sent = reduce_for_model(data, info, self.image_size, budget=self.decode_budget)
        if len(sent) > MAX_SENT_BYTES:  # a PNG too big to send that is not big in pixels
            raise InvalidImage(f"{info.format} is {len(sent):,} bytes for the endpoint; at most {MAX_SENT_BYTES:,}")
        return info, sent

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """One image's answer from the endpoint (the first of its `predictions`)."""
        try:
            answer = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(request),
            )
        except ClientError as error:
            if errors.code(error) == "ModelError":
                raise model_error(error) from None
            if errors.is_unknown_endpoint(error):
                raise NoModelInService(
                    f"endpoint {self.endpoint} does not exist yet: {errors.message(error)}"
                ) from None
            raise
        return json.loads(answer["Body"].read())["predictions"][0]


def classify_object(
    image: S3Image, *, s3: Any, classifier: Classifier, predictions: Predictions, until: float
) -> tuple[dict[str, Any], bool]:
    """The image's record, and whether this call made it (a redelivered notification finds the
    first). The record is claimed first (Predictions.claim, until `until`), so the endpoint is asked
    once an image however many times S3 and SQS deliver it, even at the same moment."""
    record = image.record()
    earlier = predictions.claim(record, until=until)
    if earlier is not None:
        return earlier, False
    try:
        if image.size is not None and image.size > MAX_IMAGE_BYTES:
            raise InvalidImage(f"image is {image.size:,} bytes; the limit is {MAX_IMAGE_BYTES:,}")
        record.update(classifier.classify(read_image(s3, image)))
    except (InvalidImage, ObjectGone, ModelError) as error:
        # No model yet: the attribute is left out (it keys the by_model_feedback index: no NULL).
        record.update(status="FAILED", error=str(error))
        if classifier.model:
            record["model"] = classifier.model
    except NoModelInService as error:
        # Said, and kept: the record waits (by_waiting) until a model is in service, when the stack
        # sends the image to be classified again (release_waiting) and its answer replaces it.
        record.update(status="WAITING", waiting=WAITING_FOR, reason=f"{error}; it is classified once a model serves")
        predictions.settle(record)
        raise
    except BaseException:
        predictions.release(image.id)  # what failed may succeed on the next delivery
        raise
    return _settled(predictions, record)


def _settled(predictions: Predictions, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The claimed record written with its outcome; if the claim ran out and another delivery took the
    image over, that one's record."""
    created = predictions.settle(record)
    if created:
        return created, True
    return predictions.get(record["id"]) or record, False


class ObjectGone(NotFound):
    pass


class ModelError(BadRequest):
    """The model refused this input (its container answered 4xx): retrying will not help."""


class ModelUnavailable(Unavailable):
    """The model did not answer (its container answered 5xx): worth asking again later."""

    retry_after_s = 30


class ModelTimedOut(ModelUnavailable):
    """The model did not answer within the invocation's time limit (60 s on a serverless endpoint,
    its cold start included): worth asking again once it is warm."""

    status = 504


def model_error(error: ClientError) -> ModelError | ModelUnavailable:
    """sagemaker-runtime's ModelError (HTTP 424), told apart by the container's own status
    (botocore's ModelError shape: OriginalStatusCode): a 4xx is the model refusing this input; a 5xx,
    or no status at all, is the model failing, and a container that did not answer in time is
    "Received server error (0) ... Your invocation timed out" (SageMaker's words). Only a 4xx is final."""
    status = error.response.get("OriginalStatusCode")
    words = errors.message(error)
    if isinstance(status, int) and 400 <= status < 500:
        return ModelError(f"the model could not classify this image: {words}")
    if "timed out" in words:
        return ModelTimedOut(f"the model did not answer in time; try again shortly: {words}")
    return ModelUnavailable(f"the model failed to answer; try again shortly: {words}")


def read_image(s3: Any, image: S3Image) -> bytes:
    """Exactly the object the notification is about: its version, or, on a bucket without versions,
    the bytes of its ETag (GetObject's IfMatch), so an overwrite is never read as the earlier object."""
    request = {"Bucket": image.bucket, "Key": image.key}
    if image.version_id:
        request["VersionId"] = image.version_id
    elif image.etag:
        request["IfMatch"] = image.etag
    try:
        return s3.get_object(**request)["Body"].read(MAX_IMAGE_BYTES + 1)
    except ClientError as error:
        if errors.is_missing_object(error):
            raise ObjectGone(f"s3://{image.bucket}/{image.key} no longer exists") from None
        if errors.code(error) in ("PreconditionFailed", "412"):
            raise ObjectGone(
                f"s3://{image.bucket}/{image.key} was replaced before it was read (its ETag {image.etag} is gone):"
                " the newer object is classified on its own"
            ) from None
        raise


REVIEW_NEEDED = "needed"
UNKNOWN = "unknown"  # the label of an answer under its class's threshold
UPLOADS_PREFIX = "artifacts/uploads/"
# POST /uploads: a photo too big for a synchronous request goes straight to S3, under a name made
# for it and written once (If-None-Match: *), and is classified from the inbox like any other.
UPLOADS_INBOX = "inbox/uploads/"
UPLOAD_KEY = re.compile(rf"^inbox/uploads/([0-9a-f]{{32}})(?:{'|'.join(map(re.escape, SUFFIX.values()))})$")
UPLOAD_LINK_SECONDS = 900


def new_upload(content_type: str, size: int, *, s3: Any, bucket: str) -> dict[str, Any]:
    """Where to PUT one photo of `size` bytes (a presigned S3 URL and the headers it was signed
    with), and the id of the prediction it will become (GET /predictions/{id} once classified).

    The link is signed with Content-Length (SigV4 signs every header given: S3 refuses a PUT of any
    other length) and If-None-Match: * (written once), so it can put exactly one object of the size
    asked for, at most MAX_IMAGE_BYTES, and nothing else."""
    prediction_id = uuid.uuid4().hex
    key = f"{UPLOADS_INBOX}{prediction_id}{SUFFIX[content_type]}"
    headers = {"Content-Type": content_type, "If-None-Match": "*"}
    url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type, "IfNoneMatch": "*", "ContentLength": size},
        ExpiresIn=UPLOAD_LINK_SECONDS,
    )
    return {
        "id": prediction_id,
        "key": key,
        "upload": {"method": "PUT", "url": url, "headers": headers, "bytes": size, "max_bytes": MAX_IMAGE_BYTES},
        "expires_in": UPLOAD_LINK_SECONDS,
    }


def upload_id(
    data: bytes, *, model: str | None, idempotency_key: str | None = None, min_confidence: float | None = None
) -> str:
    """The id of an image POSTed to the API, the same when the same request comes again: from the
    client's Idempotency-Key, else from the image's bytes, the model asked and the min_confidence asked
    for (a retry after a timeout finds the first answer; the same image asked of a newer champion, or
    with another min_confidence, is a new question)."""
    asked = "" if min_confidence is None else f"/min_confidence={min_confidence}"
    image = f"image/{model}/{hashlib.sha256(data).hexdigest()}{asked}"
    return hashlib.sha256((f"key/{idempotency_key}" if idempotency_key else image).encode()).hexdigest()[:32]


def classify_upload(
    data: bytes,
    *,
    s3: Any,
    bucket: str,
    classifier: Classifier,
    predictions: Predictions,
    until: float,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """An image POSTed to the API: classified synchronously, kept (feedback may make it training
    data) and recorded; (the record, whether it is new). A request seen before gets its first
    answer, one still being answered InProgress: never a second inference (the record is claimed
    first, as an inbox image's is). Bad images raise InvalidImage and are not kept."""
    prediction_id = upload_id(
        data, model=classifier.model, idempotency_key=idempotency_key, min_confidence=classifier.cut.min_confidence
    )
    earlier = predictions.claim({"id": prediction_id, "source": "api", "bucket": bucket}, until=until)
    if earlier is not None:
        return earlier, False
    try:
        fields = classifier.classify(data)
        content_type = FORMATS[fields["format"]]
        key = f"{UPLOADS_PREFIX}{prediction_id}{SUFFIX[content_type]}"
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    except BaseException:
        predictions.release(prediction_id)
        raise
    return _settled(predictions, {"id": prediction_id, "source": "api", "bucket": bucket, "key": key, **fields})

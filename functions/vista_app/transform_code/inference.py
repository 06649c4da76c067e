"""What SageMaker's TensorFlow Serving container runs for a Vista batch (a Transform job): each image
object as the model's input, and each answer, the model's or its refusal, as JSON, so that one image
the model cannot read is that image's error, not the whole job's failure.

Packed as code/inference.py into the batch copy of a model's archive (vista_app/batches.py); the
container's Python service imports it and hands it every request (aws/sagemaker-tensorflow-serving-
container, docker/build_artifacts/sagemaker/python_service.py: `handler(data, context)`, whose
answer is sent with status 200). It runs on the container's Python, with the standard library only.
"""

import base64
import json
import urllib.error
import urllib.request
from typing import Any

IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png")


def handler(data: Any, context: Any) -> tuple[bytes, str]:
    body = data.read()
    if context.request_content_type in IMAGE_TYPES:
        body = json.dumps({"instances": [{"b64": base64.b64encode(body).decode()}]}).encode()
    # The container's own TF Serving, on localhost (http: its rest_uri).
    request = urllib.request.Request(context.rest_uri, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.read(), "application/json"
    except urllib.error.HTTPError as refused:  # TF Serving's 4xx/5xx: {"error": "..."}, kept as this image's
        text = refused.read().decode("utf-8", "replace")
        try:
            message = json.loads(text).get("error", text)
        except ValueError:
            message = text
        return json.dumps({"error": message, "status": refused.code}).encode(), "application/json"

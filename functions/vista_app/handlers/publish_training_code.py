"""CloudFormation custom resource: copy the training code that `sam build` packed into the
TrainingCode layer (/opt/sourcedir.tar.gz, and /opt/exportdir.tar.gz for ONNX exports) to the
data bucket, where SageMaker's script mode downloads it (`sagemaker_submit_directory`).

The layer's version is a property of the resource, so every deploy that changes
training_job/ publishes a new layer version and the code is copied again.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from vista_app.aws import client

logger = Logger()
LAYER = Path("/opt")
# Each archive of the layer and the property that names its key.
ARCHIVES = {"Key": "sourcedir.tar.gz", "ExportKey": "exportdir.tar.gz"}


def publish(bucket: str, key: str, archive: str) -> str:
    client("s3").upload_file(str(LAYER / archive), bucket, key)
    return f"s3://{bucket}/{key}"


def respond(
    event: dict[str, Any],
    context: LambdaContext,
    status: str,
    reason: str,
    data: dict[str, str] | None = None,
    physical_id: str | None = None,
) -> None:
    """The custom resource protocol: PUT the outcome to the pre-signed ResponseURL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": f"{reason} (log stream {context.log_stream_name})",
            "PhysicalResourceId": physical_id or event.get("PhysicalResourceId") or context.log_stream_name,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data or {},
        }
    ).encode()
    url = event["ResponseURL"]
    if not url.startswith("https://"):
        raise ValueError(f"ResponseURL must be CloudFormation's pre-signed https URL, not {url[:40]}")
    request = urllib.request.Request(  # noqa: S310 (https checked above)
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


# The event is never logged: its ResponseURL is a presigned link anyone reading the logs could use
# to answer CloudFormation in this function's place.
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    properties = event["ResourceProperties"]
    uri = f"s3://{properties['Bucket']}/{properties['Key']}"
    logger.info(f"{event['RequestType']} {event['LogicalResourceId']}: {uri}")
    try:
        if event["RequestType"] in ("Create", "Update"):
            for key, archive in ARCHIVES.items():
                publish(properties["Bucket"], properties[key], archive)
        # Delete: the code stays with the (retained) bucket; old jobs name it.
    except Exception as error:  # any failure must reach CloudFormation, or the stack hangs for an hour
        logger.exception("publishing the training code failed")
        respond(event, context, "FAILED", f"publishing {uri} failed: {error}")
        return
    export_uri = f"s3://{properties['Bucket']}/{properties['ExportKey']}"
    data = {"Uri": uri, "ExportUri": export_uri}
    respond(event, context, "SUCCESS", f"published {uri} and {export_uri}", data=data, physical_id=uri)

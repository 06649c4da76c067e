"""Batch Transform: a model's container over every object of an S3 prefix or manifest.

The rules, from the API reference (CreateTransformJob, TransformInput, TransformS3DataSource,
TransformOutput) and the developer guide ("Use batch transform to run inference"):
- S3Prefix: every object under the prefix; ManifestFile: a JSON list, `{"prefix": "s3://b/p/"}`
  then keys relative to it. Each object is a record (SplitType None): one /invocations request
  with the input's ContentType and the output's Accept. An object over MaxPayloadInMB fails the job.
- Each answer is written to S3OutputPath + the object's key relative to the prefix + ".out"
  (AssembleWith None: the answer as it is); an object that fails is not written, and "if any object
  fails in the transform job batch transform marks the job as failed".
- TransformJobStatus: InProgress, then Completed, Failed, or Stopping then Stopped; each change is
  put on EventBridge as "SageMaker Transform Job State Change".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vista.local.sagemaker.container import s3_parts
from vista.local.sagemaker.state import now

log = logging.getLogger("vista.local.sagemaker")
# The keys of the event's detail: the EventBridge schema aws.sagemaker@SageMakerTransformJobStateChange
# (the CDK's SageMakerTransformJobStateChange pattern lists them), not the whole Describe answer.
TRANSFORM_EVENT_KEYS = (
    "TransformJobName",
    "TransformJobArn",
    "TransformJobStatus",
    "ModelName",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "CreationTime",
    "TransformStartTime",
    "TransformEndTime",
)
# What SageMaker says of a job whose container refused or failed a record; the container's own words
# go to its log (/aws/sagemaker/TransformJobs).
CLIENT_ERROR = "ClientError: See job logs for more information"
DEFAULTS: dict[str, Any] = {"MaxPayloadInMB": 6, "BatchStrategy": "SingleRecord"}  # "The default value is 6 MB"


@dataclass
class TransformJob:
    request: dict[str, Any]
    arn: str
    status: str = "InProgress"
    created: datetime = field(default_factory=now)
    started: datetime | None = None
    ended: datetime | None = None
    failure: str | None = None
    stopping: bool = False

    @property
    def name(self) -> str:
        return self.request["TransformJobName"]

    def describe(self) -> dict[str, Any]:
        request = DEFAULTS | self.request
        request["TransformInput"] = {"CompressionType": "None", "SplitType": "None", **request["TransformInput"]}
        described = {
            **{k: v for k, v in request.items() if k not in ("Tags",)},
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status,
            "CreationTime": self.created,
        }
        for key, value in (
            ("TransformStartTime", self.started),
            ("TransformEndTime", self.ended),
            ("FailureReason", self.failure),
        ):
            if value is not None:
                described[key] = value
        return described

    def summary(self) -> dict[str, Any]:
        described = self.describe()
        keys = ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "TransformJobStatus")
        return {k: described[k] for k in (*keys, "FailureReason") if k in described} | {
            "LastModifiedTime": self.ended or self.started or self.created
        }


def inputs(s3: Any, source: dict[str, str]) -> list[tuple[str, str, str]]:
    """(bucket, key, key relative to the prefix) of each input object, in order."""
    bucket, key = s3_parts(source["S3Uri"])
    if source["S3DataType"] == "ManifestFile":
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        prefix_bucket, prefix = s3_parts(manifest[0]["prefix"])
        return [(prefix_bucket, prefix + relative, relative) for relative in manifest[1:]]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return [
        (bucket, item["Key"], item["Key"][len(key) :])
        for page in pages
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]


def run(job: TransformJob, container: Any, s3: Any) -> tuple[str, str | None]:
    """Each input object through the container, its answer to <S3OutputPath>/<relative>.out; the
    status the job ends in, Completed, Failed (at the first object that failed) or Stopped, and why."""
    request = DEFAULTS | job.request
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    content_type = request["TransformInput"].get("ContentType", "")
    accept = request["TransformOutput"].get("Accept", "")
    out_bucket, out_prefix = s3_parts(request["TransformOutput"]["S3OutputPath"])
    out_prefix = out_prefix.rstrip("/") + "/" if out_prefix else ""
    limit = request["MaxPayloadInMB"] * 1024 * 1024
    job.started = now()
    for bucket, key, relative in inputs(s3, source):
        if job.stopping:
            return "Stopped", None
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if len(body) > limit:
            log.warning("transform job %s: s3://%s/%s is over MaxPayloadInMB", job.name, bucket, key)
            return "Failed", CLIENT_ERROR
        status, answer = container.invoke(body, content_type, accept)
        if status != 200:
            log.warning("transform job %s: s3://%s/%s answered %s %s", job.name, bucket, key, status, answer[:300])
            return "Failed", CLIENT_ERROR
        s3.put_object(Bucket=out_bucket, Key=f"{out_prefix}{relative}.out", Body=answer)
    return "Completed", None

"""What the local SageMaker holds, and what its Describe and List calls make of it.

Each Describe answer has the members of botocore's output shape for it (the oracle tests validate
them strictly); each List call pages and filters as the API reference says: MaxResults (1-100,
default 10), an opaque NextToken, NameContains, StatusEquals, CreationTime bounds, SortBy and
SortOrder with the operation's own defaults.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vista.local.sagemaker import errors

# The keys of a training job's "SageMaker Training Job State Change" detail, as the developer guide's
# sample event has them ("Events that Amazon SageMaker sends to EventBridge"): not the whole Describe
# answer (no ModelArtifacts, metrics or billable time: a handler must describe the job for those).
TRAINING_EVENT_KEYS = (
    "TrainingJobName",
    "TrainingJobArn",
    "TrainingJobStatus",
    "SecondaryStatus",
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "CreationTime",
    "TrainingStartTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "SecondaryStatusTransitions",
    "FailureReason",  # "If the value of TrainingJobStatus is Failed, the event contains the FailureReason"
)
# The same page's tuning job sample (no BestTrainingJob, no HyperParameterTuningJobConfig).
TUNING_EVENT_KEYS = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "TrainingJobDefinition",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)


# botocore's name pattern of a training job, a model package group and most SageMaker entities (EntityName).
NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def now() -> datetime:
    return datetime.now(UTC)


# SecondaryStatusTransitions' messages (DescribeTrainingJob's SecondaryStatusTransition.StatusMessage,
# as SageMaker words them for a script-mode job).
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Interrupted": "The spot instance was interrupted",
    "Restarting": "Restarting the training job on a new instance",
    "Uploading": "Uploading generated training model",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "MaxRuntimeExceeded": "The job exceeded its maximum runtime",
}


def event_detail(described: dict[str, Any], keys: Iterable[str], tags: list[dict[str, str]]) -> dict[str, Any]:
    """A job's state-change detail: the sample's keys, and its tags as a {key: value} object."""
    detail = {k: described[k] for k in keys if k in described}
    return {**detail, "Tags": {t["Key"]: t["Value"] for t in tags}}


@dataclass
class TrainingJob:
    request: dict[str, Any]
    arn: str
    status: str = "InProgress"
    secondary: str = "Starting"
    created: datetime = field(default_factory=now)
    started: datetime | None = None
    ended: datetime | None = None
    failure: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    tuning_arn: str | None = None
    tuned: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)  # the script on each instance
    interrupted: bool = False  # a spot interruption: the job restarts from its checkpoints
    # Hyperband: (objective metric, MaxResource): the trial is stopped once it has reported that many.
    resource_limit: tuple[str, int] | None = None
    # DescribeTrainingJob's SecondaryStatusTransitions: one a secondary status, each ended by the next.
    transitions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._transition(self.secondary)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "secondary" and "transitions" in self.__dict__ and value != self.secondary:
            self._transition(value)
        super().__setattr__(name, value)

    def _transition(self, status: str) -> None:
        moment = now()
        if self.transitions:
            self.transitions[-1]["EndTime"] = moment
        self.transitions.append({"Status": status, "StartTime": moment, "StatusMessage": STATUS_MESSAGES[status]})

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    def running(self) -> list[subprocess.Popen]:
        return [p for p in self.processes if p.poll() is None]

    def terminate(self) -> None:
        """SIGTERM to the script on every instance still running it."""
        for process in self.running():
            process.terminate()

    @property
    def modified(self) -> datetime:
        return self.ended or self.started or self.created

    def describe(self) -> dict[str, Any]:
        request = self.request
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        described: dict[str, Any] = {
            **{k: v for k, v in request.items() if k != "Tags"},
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "ModelArtifacts": {"S3ModelArtifacts": f"{output}/{self.name}/output/model.tar.gz"},
            "FinalMetricDataList": [
                {"MetricName": k, "Value": v, "Timestamp": self.ended or now()} for k, v in self.metrics.items()
            ],
            "EnableManagedSpotTraining": request.get("EnableManagedSpotTraining", False),
            "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
        }
        if self.started:
            described["TrainingStartTime"] = self.started
        if self.ended:
            described["TrainingEndTime"] = self.ended
            seconds = int((self.ended - (self.started or self.created)).total_seconds()) or 1
            # One local "instance" is never reclaimed: billable time is the whole training time.
            described.update(TrainingTimeInSeconds=seconds, BillableTimeInSeconds=seconds)
        if self.failure:
            described["FailureReason"] = self.failure
        if self.tuning_arn:
            described["TuningJobArn"] = self.tuning_arn
        return described

    def summary(self) -> dict[str, Any]:
        """ListTrainingJobs' TrainingJobSummary."""
        row: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "CreationTime": self.created,
            "TrainingJobStatus": self.status,
            "LastModifiedTime": self.modified,
        }
        if self.ended:
            row["TrainingEndTime"] = self.ended
        return row

    def trial_summary(self, tuning_name: str, metric: str) -> dict[str, Any]:
        """ListTrainingJobsForHyperParameterTuningJob's HyperParameterTrainingJobSummary."""
        row: dict[str, Any] = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "TuningJobName": tuning_name,
            "CreationTime": self.created,
            "TrainingJobStatus": self.status,
            "TunedHyperParameters": self.tuned,
        }
        if self.started:
            row["TrainingStartTime"] = self.started
        if self.ended:
            row["TrainingEndTime"] = self.ended
        if self.failure:
            row["FailureReason"] = self.failure
        if metric in self.metrics:
            row["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": metric, "Value": self.metrics[metric]}
            row["ObjectiveStatus"] = "Succeeded"
        elif self.status in ("Failed", "Stopped", "Completed"):
            row["ObjectiveStatus"] = "Failed"
        else:
            row["ObjectiveStatus"] = "Pending"
        return row


@dataclass
class TuningJob:
    request: dict[str, Any]
    arn: str
    status: str = "InProgress"
    created: datetime = field(default_factory=now)
    ended: datetime | None = None
    failure: str | None = None
    trials: list[str] = field(default_factory=list)
    best: dict[str, Any] | None = None
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "Completed": 0,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 0,
            "Stopped": 0,
        }
    )

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            **{k: v for k, v in self.request.items() if k != "Tags"},
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.ended or self.created,
            "TrainingJobStatusCounters": dict(self.counters),
            "ObjectiveStatusCounters": {
                "Succeeded": self.counters["Completed"],
                "Pending": 0,
                "Failed": self.counters["NonRetryableError"],
            },
        }
        if self.ended:
            described["HyperParameterTuningEndTime"] = self.ended
        if self.best:
            described["BestTrainingJob"] = self.best
        if self.failure:
            described["FailureReason"] = self.failure
        return described


@dataclass
class Endpoint:
    name: str
    arn: str
    config: str  # the config DescribeEndpoint shows: the one serving, or being created
    status: str = "Creating"
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)
    failure: str | None = None
    pending: str | None = None  # the config being deployed (PendingDeploymentSummary)
    model: Any = None  # the inference container (inference.Container) serving the loaded model
    concurrency: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    max_concurrency: int = 1
    # What happened, for the reliability tests and the load benchmark.
    calls: int = 0
    in_flight: int = 0
    peak: int = 0
    refused: int = 0  # calls beyond MaxConcurrency
    injected: int = 0  # faults answered on purpose

    def describe(self, config: dict[str, Any], images: dict[str, str]) -> dict[str, Any]:
        """DescribeEndpoint's answer; `images`: each variant's model's container image, which
        SageMaker reports as DeployedImages (specified, resolved to its digest, and when)."""
        described: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config,
            "EndpointStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "ProductionVariants": [
                {
                    "VariantName": v["VariantName"],
                    "DeployedImages": [_deployed(images[v["VariantName"]], self.modified)],
                    "CurrentServerlessConfig": v.get("ServerlessConfig", {}),
                }
                for v in config["ProductionVariants"]
            ],
        }
        if self.pending and self.pending != self.config:
            described["PendingDeploymentSummary"] = {"EndpointConfigName": self.pending}
        if self.failure:
            described["FailureReason"] = self.failure
        return described


def _deployed(image: str, when: datetime) -> dict[str, Any]:
    """A DeployedImage: the image as the model names it, and as SageMaker resolved it (by digest)."""
    digest = hashlib.sha256(image.encode()).hexdigest()
    return {"SpecifiedImage": image, "ResolvedImage": f"{image.split(':')[0]}@sha256:{digest}", "ResolutionTime": when}


def listed(
    items: Iterable[Any],
    request: dict[str, Any],
    *,
    summary: Callable[[Any], dict[str, Any]],
    sort_by: str,
    sort_order: str,
    max_results: int = 10,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a List call: `summary` of each item that passes the request's filters, sorted by
    the request's (or the operation's default) SortBy/SortOrder, and the NextToken of the rest."""
    rows = [summary(item) for item in items]
    name_key = next(iter(rows[0])) if rows else ""  # every summary starts with the resource's name
    status_key = next((k for k in rows[0] if k.endswith("Status")), "") if rows else ""
    if request.get("NameContains"):
        rows = [r for r in rows if request["NameContains"] in r[name_key]]
    if request.get("StatusEquals"):
        rows = [r for r in rows if r.get(status_key) == request["StatusEquals"]]
    for bound, keep in (("CreationTimeAfter", lambda t, b: t > b), ("CreationTimeBefore", lambda t, b: t < b)):
        if bound in request:
            limit = datetime.fromtimestamp(float(request[bound]), UTC)
            rows = [r for r in rows if keep(r["CreationTime"], limit)]
    by = request.get("SortBy", sort_by)
    key = {"Name": name_key, "CreationTime": "CreationTime", "Status": status_key}.get(by, "")
    if by == "FinalObjectiveMetricValue":  # "training jobs that did not return an objective metric are not listed"
        rows = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" in r]
        rows.sort(key=lambda r: r["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    else:
        rows.sort(key=lambda r: r[key])
    if request.get("SortOrder", sort_order) == "Descending":
        rows.reverse()
    start = _offset(request.get("NextToken"))
    size = int(request.get("MaxResults", max_results))
    if not 1 <= size <= 100:
        raise errors.validation(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            "Member must have value less than or equal to 100"
        )
    rest = start + size < len(rows)
    return rows[start : start + size], _token(start + size) if rest else None


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        assert kind == "offset"
        return int(offset)
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise errors.validation("Invalid pagination token.") from None

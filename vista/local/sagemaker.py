"""A local SageMaker: the control-plane and runtime calls Vista's handlers make, for real.

Training jobs run `train.py` from the job's `sagemaker_submit_directory` in a subprocess
under the script-mode contract (channels downloaded from local S3, the three config files,
SM_* variables, sorted `--name value` arguments, the real exit code), parse metrics with the
job's own MetricDefinitions, upload model.tar.gz and output.tar.gz, and emit the EventBridge
state-change events SageMaker emits. Tuning jobs run their trials one after another (random
search over the ranges, whatever the strategy) and pick the best by the objective. Endpoints
load model.tar.gz's SavedModel and answer TF Serving's REST predict format, refusing calls
beyond the serverless MaxConcurrency with ThrottlingException, as SageMaker does.

Errors have AWS's codes and messages (ValidationException "Could not find endpoint ...",
ResourceInUse for a duplicate job name), so the handlers cannot tell the two apart.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from vista.local import toolkit

log = logging.getLogger("vista.local.sagemaker")
NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TUNING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
TRAINING_EVENT = "SageMaker Training Job State Change"
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")  # EndpointStatus values
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


class SageMakerError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)


def _event_default(value: Any) -> Any:
    """EventBridge details carry times as epoch milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    raise TypeError(type(value).__name__)


def _snake(name: str) -> str:
    """CamelCase → Camel_Case: API operations as method names, endpoint statuses as events spell them."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name)


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


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
    process: subprocess.Popen | None = None
    interrupted: bool = False  # a spot interruption: the job restarts from its checkpoints
    # Hyperband: (objective metric, MaxResource): the trial is stopped once it has reported that many.
    resource_limit: tuple[str, int] | None = None

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    def describe(self) -> dict[str, Any]:
        request = self.request
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        described: dict[str, Any] = {
            **{k: v for k, v in request.items() if k != "Tags"},
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary,
            "CreationTime": self.created,
            "LastModifiedTime": self.ended or self.started or self.created,
            "ModelArtifacts": {"S3ModelArtifacts": f"{output}/{self.name}/output/model.tar.gz"},
            "FinalMetricDataList": [
                {"MetricName": k, "Value": v, "Timestamp": self.ended or now()} for k, v in self.metrics.items()
            ],
            "EnableManagedSpotTraining": request.get("EnableManagedSpotTraining", False),
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
    serving: Any = None  # the loaded SavedModel's serving_default
    concurrency: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    max_concurrency: int = 1
    # What happened, for the reliability tests and the load benchmark.
    calls: int = 0
    in_flight: int = 0
    peak: int = 0
    refused: int = 0  # calls beyond MaxConcurrency
    injected: int = 0  # faults answered on purpose

    def describe(self, config: dict[str, Any]) -> dict[str, Any]:
        described: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config,
            "EndpointStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "ProductionVariants": [
                {"VariantName": v["VariantName"], "CurrentServerlessConfig": v.get("ServerlessConfig", {})}
                for v in config["ProductionVariants"]
            ],
        }
        if self.pending and self.pending != self.config:
            described["PendingDeploymentSummary"] = {"EndpointConfigName": self.pending}
        if self.failure:
            described["FailureReason"] = self.failure
        return described


@dataclass
class Faults:
    """Faults a test injects into InvokeEndpoint."""

    throttle_rate: float = 0.0  # this share of calls answered with ThrottlingException
    down: bool = False  # every call answered ServiceUnavailable
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 (not a secret)


class LocalSageMaker:
    def __init__(
        self,
        workdir: Path,
        *,
        region: str,
        account: str,
        s3: Any,
        events: Any,
        logs: Any = None,
        python: str = sys.executable,
        endpoint_delay_s: float = 2.0,
    ) -> None:
        """`logs`, if given, receives each training job's output as SageMaker streams it to
        CloudWatch Logs (/aws/sagemaker/TrainingJobs, one stream per job and host).
        `endpoint_delay_s`: how long an endpoint stays Creating or Updating (minutes on AWS; a
        few seconds here, so that tests meet those states)."""
        self.workdir, self.region, self.account = workdir, region, account
        self.endpoint_delay_s = endpoint_delay_s
        self.s3, self.events, self.logs, self.python = s3, events, logs, python
        self.training: dict[str, TrainingJob] = {}
        self.tuning: dict[str, TuningJob] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.faults = Faults()
        self._server: Any = None

    # ------------------------------------------------------------------ plumbing
    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        try:
            match = re.fullmatch(r"/endpoints/([^/]+)/invocations", request.path)
            if match:
                response = self.invoke_endpoint(match.group(1), request)
            else:
                operation = request.headers.get("X-Amz-Target", "").removeprefix("SageMaker.")
                handler = getattr(self, "op_" + _snake(operation).lower(), None)
                if handler is None:
                    raise SageMakerError(
                        "UnknownOperationException",
                        f"{operation or 'this call'} is not implemented by the local SageMaker",
                        400,
                    )
                body = json.dumps(handler(**json.loads(request.get_data() or b"{}")), default=_json_default)
                response = Response(body, 200, content_type="application/x-amz-json-1.1")
        except SageMakerError as error:
            response = Response(
                json.dumps({"__type": error.code, "message": error.message}),
                error.status,
                content_type="application/x-amz-json-1.1",
                headers={"x-amzn-ErrorType": error.code},
            )
        return response(environ, start_response)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = make_server(host, port, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="local-sagemaker").start()
        return f"http://{host}:{self._server.server_port}"

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            for job in self.training.values():
                if job.process and job.process.poll() is None:
                    job.process.kill()
        if self._server:
            self._server.shutdown()

    def emit(self, detail_type: str, detail: dict[str, Any], resource: str) -> None:
        self.events.put_events(
            Entries=[
                {
                    "Source": "aws.sagemaker",
                    "DetailType": detail_type,
                    "Resources": [resource],
                    "Detail": json.dumps(detail, default=_event_default),
                }
            ]
        )

    # ------------------------------------------------------------------ training jobs
    def op_create_training_job(self, **request: Any) -> dict[str, Any]:
        job = self._new_training_job(request)
        self._emit_training(job)
        threading.Thread(target=self._run_training, args=(job,), daemon=True, name=job.name).start()
        return {"TrainingJobArn": job.arn}

    def _new_training_job(self, request: dict[str, Any], tuning_arn: str | None = None) -> TrainingJob:
        name = request["TrainingJobName"]
        if not NAME.match(name):
            raise SageMakerError(
                "ValidationException",
                f"1 validation error detected: Value '{name}' at "
                "'trainingJobName' failed to satisfy constraint: Member must satisfy regular "
                f"expression pattern: {NAME.pattern}",
            )
        with self.lock:
            if name in self.training:
                raise SageMakerError(
                    "ResourceInUse",
                    "Training job names must be unique within an AWS account "
                    f"and region, and a training job with this name already exists "
                    f"({self.arn('training-job', name)})",
                )
            job = TrainingJob(request, self.arn("training-job", name), tuning_arn=tuning_arn)
            self.training[name] = job
        return job

    def op_describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        with self.lock:
            job = self.training.get(TrainingJobName)
            if job is None:
                raise SageMakerError("ValidationException", "Requested resource not found.")
            return job.describe()

    def op_list_training_jobs(self, **_: Any) -> dict[str, Any]:
        with self.lock:
            return {
                "TrainingJobSummaries": [
                    {
                        "TrainingJobName": j.name,
                        "TrainingJobArn": j.arn,
                        "CreationTime": j.created,
                        "TrainingJobStatus": j.status,
                        **({"TrainingEndTime": j.ended} if j.ended else {}),
                    }
                    for j in sorted(self.training.values(), key=lambda j: j.created, reverse=True)
                ]
            }

    def op_stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        job = self.training.get(TrainingJobName)
        if job is None:
            raise SageMakerError("ValidationException", "Requested resource not found.")
        if job.process and job.process.poll() is None:
            job.secondary = "Stopping"
            job.process.terminate()
        return {}

    def kill_training(self, name: str, *, spot_interruption: bool = False) -> None:
        """Kill a training job's process, as a crash would; or, as a reclaimed spot instance
        would, with the job restarted from its checkpoints (managed spot training)."""
        job = self.training[name]
        if job.process is None or job.process.poll() is not None:
            raise ValueError(f"training job {name} has no running process")
        job.interrupted = spot_interruption and "CheckpointConfig" in job.request
        job.process.kill()

    def _emit_training(self, job: TrainingJob) -> None:
        self.emit(TRAINING_EVENT, job.describe(), job.arn)

    def _run_training(self, job: TrainingJob) -> None:
        try:
            job.status, job.secondary = self._train(job)
        except Exception as error:  # a broken job must end Failed, never hang InProgress
            log.exception("training job %s failed", job.name)
            job.status, job.secondary, job.failure = "Failed", "Failed", f"ClientError: {error}"
        job.ended = now()
        if job.status == "Failed" and not job.failure:
            job.failure = "AlgorithmError: the training script failed"
        self._emit_training(job)

    def _train(self, job: TrainingJob) -> tuple[str, str]:
        request = job.request
        root = self.workdir / "training" / job.name
        ml = root / "opt" / "ml"
        shutil.rmtree(root, ignore_errors=True)
        for folder in ("input/config", "model", "output/data", "code"):
            (ml / folder).mkdir(parents=True, exist_ok=True)
        job.started = now()
        job.secondary = "Downloading"
        self._emit_training(job)
        channels = {}
        for channel in request.get("InputDataConfig", []):
            name = channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            channels[name] = self._download_prefix(uri, ml / "input" / "data" / name)
        hyperparameters = dict(request.get("HyperParameters", {}))
        code = _decoded(hyperparameters.get("sagemaker_submit_directory", '""'))
        program = _decoded(hyperparameters.get("sagemaker_program", '"train.py"'))
        if not str(code).startswith("s3://"):
            raise SageMakerError("ValidationException", "sagemaker_submit_directory must be an s3:// URI")
        bucket, key = _s3_parts(code)
        with tarfile.open(fileobj=io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
            tar.extractall(ml / "code", filter="data")
        checkpoint = request.get("CheckpointConfig")
        checkpoints = ml / "checkpoints"
        if checkpoint:  # a restarted job finds what its last run left, as with spot training
            self._download_prefix(checkpoint["S3Uri"], checkpoints)
        (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        (ml / "input" / "config" / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    c["ChannelName"]: {
                        "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None",
                    }
                    for c in request.get("InputDataConfig", [])
                }
            )
        )
        hosts = ["algo-1"]
        resource_config = {
            "current_host": hosts[0],
            "current_instance_type": request["ResourceConfig"]["InstanceType"],
            "hosts": hosts,
            "network_interface_name": "eth0",
        }
        (ml / "input" / "config" / "resourceconfig.json").write_text(json.dumps(resource_config))
        # The TF container's own rules for what the script gets (vista/local/toolkit.py cites them).
        user = toolkit.user_hyperparameters(hyperparameters, job.name)
        if checkpoint:  # the job's LocalPath is this machine's checkpoint folder
            local_path = checkpoint.get("LocalPath", "/opt/ml/checkpoints")
            user = {k: str(checkpoints) if v == local_path else v for k, v in user.items()}
        arguments = toolkit.to_cmd_args(user)
        # What sagemaker-training's Environment.to_env_vars() exports, with this job's folders; and
        # what SageMaker's platform sets in every training container (TRAINING_JOB_NAME).
        sm = {
            "hosts": hosts,
            "network_interface_name": "eth0",
            "hps": user,
            "user_entry_point": program,
            "resource_config": resource_config,
            "output_data_dir": str(ml / "output" / "data"),
            "channels": sorted(channels),
            "current_host": hosts[0],
            "current_instance_type": resource_config["current_instance_type"],
            "module_name": str(program).removesuffix(".py"),
            "input_dir": str(ml / "input"),
            "input_config_dir": str(ml / "input" / "config"),
            "output_dir": str(ml / "output"),
            "num_cpus": os.cpu_count() or 1,
            "num_gpus": 0,
            "model_dir": str(ml / "model"),
            "module_dir": code,
            "user_args": arguments,
            "output_intermediate_dir": str(ml / "output" / "intermediate"),
            **{f"channel_{name}": path for name, path in channels.items()},
            **{f"hp_{name}": value for name, value in user.items()},
        }
        sm["training_env"] = {k: v for k, v in sm.items() if not k.startswith(("channel_", "hp_"))}
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_"))},
            **{f"SM_{k.upper()}": toolkit.env_value(v) for k, v in sm.items()},
            "TRAINING_JOB_NAME": job.name,
            "SAGEMAKER_REGION": toolkit.region(hyperparameters),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
        }
        log_path = root / "training.log"
        log_path.write_text("")
        while True:
            job.secondary = "Training"
            self._emit_training(job)
            code_ = self._run_script(job, [self.python, program, *arguments], ml, environment, log_path)
            if checkpoint:
                self._upload_prefix(checkpoints, checkpoint["S3Uri"])
            if not job.interrupted or job.secondary == "Stopping":
                break
            # A reclaimed spot instance: SageMaker starts another with the checkpoints synced back.
            job.interrupted = False
            job.secondary = "Interrupted"
            self._emit_training(job)
            shutil.rmtree(checkpoints, ignore_errors=True)
            self._download_prefix(checkpoint["S3Uri"], checkpoints)
            job.secondary = "Restarting"
            self._emit_training(job)
        stopped = job.secondary == "Stopping"
        if code_ != 0 and not stopped:
            failure_file = ml / "output" / "failure"
            tail = log_path.read_text().strip().splitlines()[-3:]
            if failure_file.exists():
                reason = failure_file.read_text().strip()
            elif code_ < 0:
                reason = f"the training process was killed by signal {-code_}; last output: {' '.join(tail)}"
            else:
                reason = " ".join(tail)
            job.failure = f"AlgorithmError: {reason}"[:1024]
            return "Failed", "Failed"
        # A stopped job's model and output are uploaded as they are (SageMaker stops it with SIGTERM
        # and saves what /opt/ml/model holds), so a trial stopped before it exported has an empty model.
        job.secondary = "Uploading"
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        bucket, prefix = _s3_parts(f"{output}/{job.name}/output")
        for archive, folder in (("model.tar.gz", ml / "model"), ("output.tar.gz", ml / "output" / "data")):
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                for path in sorted(folder.iterdir()):
                    tar.add(path, arcname=path.name)
            self.s3.put_object(Bucket=bucket, Key=f"{prefix}/{archive}".lstrip("/"), Body=buffer.getvalue())
        return ("Stopped", "Stopped") if stopped else ("Completed", "Completed")

    def _run_script(
        self, job: TrainingJob, command: list[str], ml: Path, environment: dict[str, str], log_path: Path
    ) -> int:
        """Run the entry point once, appending to the job's log and parsing metrics as they come."""
        definitions = [
            (d["Name"], re.compile(d["Regex"]))
            for d in job.request["AlgorithmSpecification"].get("MetricDefinitions", [])
        ]
        stream = self._log_stream(job)
        with open(log_path, "a") as log_file:
            job.process = subprocess.Popen(  # noqa: S603 (our own python and the job's entry point)
                command,
                cwd=ml / "code",
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert job.process.stdout is not None
            reported = 0
            for line in job.process.stdout:
                log_file.write(line)
                log_file.flush()
                stream(line.rstrip("\n"))
                for name, pattern in definitions:
                    match = pattern.search(line)
                    if match:
                        try:
                            job.metrics[name] = float(match.group(1))
                        except ValueError:
                            continue
                        if job.resource_limit and name == job.resource_limit[0]:
                            reported += 1
                            if reported >= job.resource_limit[1]:  # "Once a job reaches MaxResource, it is stopped"
                                job.secondary = "Stopping"
                                job.process.terminate()
            return job.process.wait()

    def _log_stream(self, job: TrainingJob) -> Callable[[str], None]:
        if self.logs is None:
            return lambda _line: None
        logs = self.logs
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
        stream = f"{job.name}/algo-1-{int(time.time())}"  # a restarted job starts another, as there
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)

        def put(line: str) -> None:
            event = {"timestamp": int(time.time() * 1000), "message": line or " "}
            logs.put_log_events(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=[event])

        return put

    def _download_prefix(self, uri: str, target: Path) -> str:
        bucket, prefix = _s3_parts(uri)
        target.mkdir(parents=True, exist_ok=True)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :].lstrip("/")
                if not relative or relative.endswith("/"):
                    continue
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, item["Key"], str(path))
        return str(target)

    def _upload_prefix(self, folder: Path, uri: str) -> None:
        bucket, prefix = _s3_parts(uri)
        for path in folder.rglob("*"):
            if path.is_file():
                self.s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder)}")

    # ------------------------------------------------------------------ tuning jobs
    def op_create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]
        if not TUNING_NAME.match(name):
            raise SageMakerError(
                "ValidationException",
                f"1 validation error detected: Value '{name}' at "
                "'hyperParameterTuningJobName' failed to satisfy constraint: Member must have "
                "length less than or equal to 32",
            )
        _hyperband_max_resource(request)  # refused here, as SageMaker refuses it, when it cannot be known
        with self.lock:
            if name in self.tuning:
                raise SageMakerError("ResourceInUse", f"Hyperparameter tuning job with name {name} already exists")
            job = TuningJob(request, self.arn("hyper-parameter-tuning-job", name))
            self.tuning[name] = job
        self.emit(TUNING_EVENT, job.describe(), job.arn)
        threading.Thread(target=self._run_tuning, args=(job,), daemon=True, name=name).start()
        return {"HyperParameterTuningJobArn": job.arn}

    def op_describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        with self.lock:
            job = self.tuning.get(HyperParameterTuningJobName)
            if job is None:
                raise SageMakerError(
                    "ResourceNotFound",
                    f"Amazon SageMaker can't find a tuning job with name {HyperParameterTuningJobName}",
                )
            return job.describe()

    def op_list_training_jobs_for_hyper_parameter_tuning_job(
        self, HyperParameterTuningJobName: str, **_: Any
    ) -> dict[str, Any]:
        tuning = self.op_describe_hyper_parameter_tuning_job(HyperParameterTuningJobName)
        metric = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        summaries = []
        with self.lock:
            for job in self.training.values():
                if job.tuning_arn != tuning["HyperParameterTuningJobArn"]:
                    continue
                summary = {
                    "TrainingJobName": job.name,
                    "TrainingJobArn": job.arn,
                    "TuningJobName": HyperParameterTuningJobName,
                    "CreationTime": job.created,
                    "TrainingJobStatus": job.status,
                    "TunedHyperParameters": job.tuned,
                }
                if job.ended:
                    summary["TrainingEndTime"] = job.ended
                if metric in job.metrics:
                    summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                        "MetricName": metric,
                        "Value": job.metrics[metric],
                    }
                    summary["ObjectiveStatus"] = "Succeeded"
                summaries.append(summary)
        return {"TrainingJobSummaries": summaries}

    def _run_tuning(self, tuning: TuningJob) -> None:
        config = tuning.request["HyperParameterTuningJobConfig"]
        definition = tuning.request["TrainingJobDefinition"]
        objective = config["HyperParameterTuningJobObjective"]
        limits = config["ResourceLimits"]
        rng = random.Random(tuning.request["HyperParameterTuningJobName"])  # noqa: S311 (a search, not a secret)
        name = tuning.request["HyperParameterTuningJobName"]
        max_resource = _hyperband_max_resource(tuning.request)
        for index in range(1, limits["MaxNumberOfTrainingJobs"] + 1):
            if self.stopping.is_set():
                break
            tuned = _sample(config.get("ParameterRanges", {}), rng)
            trial_name = f"{name}-{index:03d}-{rng.getrandbits(32):08x}"
            request = {k: v for k, v in definition.items() if k not in ("StaticHyperParameters", "DefinitionName")}
            # SageMaker adds the objective's name to every trial's hyperparameters: the TF container
            # reacts to it (vista/local/toolkit.py).
            hyperparameters = {
                **definition.get("StaticHyperParameters", {}),
                **tuned,
                toolkit.TUNING_METRIC: objective["MetricName"],
            }
            request.update(TrainingJobName=trial_name, HyperParameters=hyperparameters)
            # Every trial gets the definition's CheckpointConfig as it is: the API has one for the
            # whole tuning job, and SageMaker's checkpoint guide says it adds no suffix or prefix.
            trial = self._new_training_job(request, tuning_arn=tuning.arn)
            trial.tuned = tuned
            if max_resource:
                trial.resource_limit = (objective["MetricName"], max_resource)
            tuning.trials.append(trial_name)
            tuning.counters["InProgress"] += 1
            self._emit_training(trial)
            self._run_training(trial)
            tuning.counters["InProgress"] -= 1
            value = trial.metrics.get(objective["MetricName"])
            if trial.status in ("Completed", "Stopped") and value is not None:
                tuning.counters["Completed"] += 1
                better = tuning.best is None or (
                    value > tuning.best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                    if objective["Type"] == "Maximize"
                    else value < tuning.best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
                )
                if better:
                    tuning.best = {
                        "TrainingJobName": trial_name,
                        "TrainingJobArn": trial.arn,
                        "CreationTime": trial.created,
                        "TrainingStartTime": trial.started,
                        "TrainingEndTime": trial.ended,
                        "TrainingJobStatus": trial.status,
                        "TunedHyperParameters": tuned,
                        "ObjectiveStatus": "Succeeded",
                        "FinalHyperParameterTuningJobObjectiveMetric": {
                            "Type": objective["Type"],
                            "MetricName": objective["MetricName"],
                            "Value": value,
                        },
                    }
            else:
                tuning.counters["NonRetryableError"] += 1
        tuning.ended = now()
        if tuning.best is None:
            tuning.status, tuning.failure = "Failed", "No training job succeeded: see the trials' failure reasons"
        else:
            tuning.status = "Completed"
        self.emit(TUNING_EVENT, tuning.describe(), tuning.arn)

    # ------------------------------------------------------------------ models and endpoints
    def op_create_model(self, **request: Any) -> dict[str, Any]:
        name = request["ModelName"]
        with self.lock:
            if name in self.models:
                raise SageMakerError(
                    "ValidationException", f'Cannot create already existing model "{self.arn("model", name)}".'
                )
            self.models[name] = {**request, "ModelArn": self.arn("model", name), "CreationTime": now()}
        return {"ModelArn": self.arn("model", name)}

    def op_describe_model(self, ModelName: str) -> dict[str, Any]:
        model = self.models.get(ModelName)
        if model is None:
            raise SageMakerError("ValidationException", f'Could not find model "{self.arn("model", ModelName)}".')
        return model

    def op_create_endpoint_config(self, **request: Any) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        with self.lock:
            if name in self.configs:
                raise SageMakerError(
                    "ValidationException",
                    f'Cannot create already existing endpoint configuration "{self.arn("endpoint-config", name)}".',
                )
            for variant in request["ProductionVariants"]:
                if variant["ModelName"] not in self.models:
                    raise SageMakerError(
                        "ValidationException", f'Could not find model "{self.arn("model", variant["ModelName"])}".'
                    )
            self.configs[name] = {
                **request,
                "EndpointConfigArn": self.arn("endpoint-config", name),
                "CreationTime": now(),
            }
        return {"EndpointConfigArn": self.arn("endpoint-config", name)}

    def op_describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        config = self.configs.get(EndpointConfigName)
        if config is None:
            raise SageMakerError(
                "ValidationException",
                f'Could not find endpoint configuration "{self.arn("endpoint-config", EndpointConfigName)}".',
            )
        return config

    # Endpoints take time and refuse what SageMaker refuses (the DescribeEndpoint API reference,
    # EndpointStatus): Create/UpdateEndpoint answer at once and finish `endpoint_delay_s` later;
    # "DeleteEndpoint is the only operation that can be performed on a failed endpoint"; a failed
    # update rolls back to the previous config (InService again, FailureReason set). Each state
    # change is put on EventBridge as "SageMaker Endpoint State Change" (the SageMaker developer
    # guide, "Events that Amazon SageMaker sends to EventBridge": EndpointStatus in upper snake
    # case, e.g. IN_SERVICE).
    def op_create_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict[str, Any]:
        with self.lock:
            if EndpointName in self.endpoints:
                raise SageMakerError(
                    "ValidationException",
                    f'Cannot create already existing endpoint "{self.arn("endpoint", EndpointName)}".',
                )
            self.op_describe_endpoint_config(EndpointConfigName)
            endpoint = Endpoint(EndpointName, self.arn("endpoint", EndpointName), EndpointConfigName)
            endpoint.pending = EndpointConfigName
            self.endpoints[EndpointName] = endpoint
        self._emit_endpoint(endpoint)
        threading.Thread(target=self._deploy, args=(endpoint, EndpointConfigName), daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def op_update_endpoint(self, EndpointName: str, EndpointConfigName: str, **_: Any) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(EndpointName)
            if endpoint.status == "Failed":
                raise SageMakerError("ValidationException", f'Cannot update failed endpoint "{endpoint.arn}".')
            if endpoint.status != "InService":
                raise SageMakerError("ValidationException", f'Cannot update in-progress endpoint "{endpoint.arn}".')
            self.op_describe_endpoint_config(EndpointConfigName)
            endpoint.status, endpoint.pending, endpoint.modified = "Updating", EndpointConfigName, now()
        self._emit_endpoint(endpoint)
        threading.Thread(target=self._deploy, args=(endpoint, EndpointConfigName), daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def op_describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(EndpointName)
            return endpoint.describe(self.configs[endpoint.config])

    def op_delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(EndpointName)
            if endpoint.status in IN_PROGRESS:
                raise SageMakerError("ValidationException", f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.status, endpoint.modified = "Deleting", now()
        self._emit_endpoint(endpoint)

        def delete() -> None:
            time.sleep(self.endpoint_delay_s / 2)
            with self.lock:
                if self.endpoints.get(EndpointName) is endpoint:
                    del self.endpoints[EndpointName]

        threading.Thread(target=delete, daemon=True).start()
        return {}

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise SageMakerError("ValidationException", f'Could not find endpoint "{self.arn("endpoint", name)}".')
        return endpoint

    def _emit_endpoint(self, endpoint: Endpoint) -> None:
        with self.lock:
            detail = {
                "EndpointName": endpoint.name,
                "EndpointArn": endpoint.arn,
                "EndpointConfigName": endpoint.config,
                "EndpointStatus": _snake(endpoint.status).upper(),  # InService → IN_SERVICE
                "CreationTime": endpoint.created,
                "LastModifiedTime": endpoint.modified,
                "Tags": {},
            }
            if endpoint.failure:
                detail["FailureReason"] = endpoint.failure
        self.emit(ENDPOINT_EVENT, detail, endpoint.arn)

    def _deploy(self, endpoint: Endpoint, config_name: str) -> None:
        """Bring up the config's model, `endpoint_delay_s` after the call: InService on it, or (it
        cannot be loaded) Failed when creating, back on the previous config when updating."""
        time.sleep(self.endpoint_delay_s)
        try:
            serving = self._load(endpoint, config_name)
        except Exception as error:  # the endpoint fails, as SageMaker's would, with the reason
            log.warning("endpoint %s could not deploy %s: %s", endpoint.name, config_name, error)
            with self.lock:
                endpoint.failure = (  # SageMaker's words, and what the container would have logged
                    "The primary container for production variant AllTraffic did not pass the ping "
                    f"health check. Please check CloudWatch logs for this endpoint. ({error})"
                )
                endpoint.status = "Failed" if endpoint.serving is None else "InService"
                endpoint.pending, endpoint.modified = None, now()
            self._emit_endpoint(endpoint)
            return
        variant = self.configs[config_name]["ProductionVariants"][0]
        concurrency = variant.get("ServerlessConfig", {}).get("MaxConcurrency", 1)
        with self.lock:
            endpoint.serving, endpoint.config, endpoint.failure, endpoint.pending = serving, config_name, None, None
            endpoint.concurrency = threading.Semaphore(concurrency)
            endpoint.max_concurrency = concurrency
            endpoint.status, endpoint.modified = "InService", now()
        self._emit_endpoint(endpoint)

    def _load(self, endpoint: Endpoint, config_name: str) -> Any:
        """The config's SavedModel, as TF Serving loads it: the highest integer version folder."""
        import tensorflow as tf

        variant = self.configs[config_name]["ProductionVariants"][0]
        model = self.models[variant["ModelName"]]
        folder = self.workdir / "endpoints" / endpoint.name / config_name
        bucket, key = _s3_parts(model["PrimaryContainer"]["ModelDataUrl"])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
            tar.extractall(folder, filter="data")
        versions = sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
        if not versions:
            raise ValueError(f"no versions of servable in {key}: expected <version>/saved_model.pb")
        return tf.saved_model.load(str(versions[-1])).signatures["serving_default"]

    def invoke_endpoint(self, name: str, request: Request) -> Response:
        """InvokeEndpoint → TF Serving's REST predict API, as SageMaker's TF inference container serves it."""
        import numpy as np

        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise SageMakerError("ValidationException", f"Endpoint {name} of account {self.account} not found.")
        if endpoint.status != "InService" and endpoint.serving is None:
            raise SageMakerError("ValidationException", f"Endpoint {name} is not in service ({endpoint.status}).")
        with self.lock:
            endpoint.calls += 1
            if self.faults.down:
                endpoint.injected += 1
                raise SageMakerError("ServiceUnavailable", "The service is unavailable. Please try again.", 503)
            if self.faults.rng.random() < self.faults.throttle_rate:
                endpoint.injected += 1
                raise SageMakerError("ThrottlingException", "Rate exceeded", 400)
        if not endpoint.concurrency.acquire(blocking=False):
            with self.lock:
                endpoint.refused += 1
            raise SageMakerError("ThrottlingException", "Rate exceeded", 400)
        with self.lock:
            endpoint.in_flight += 1
            endpoint.peak = max(endpoint.peak, endpoint.in_flight)
        try:
            content_type = (request.content_type or "").split(";")[0].strip()
            if content_type != "application/json":
                return _model_error(415, f"Unsupported content type {content_type or 'none'}; use application/json")
            try:
                body = json.loads(request.get_data())
                instances = body["instances"]
                payload = [base64.b64decode(item["b64"]) for item in instances]
            except (ValueError, KeyError, TypeError) as error:
                return _model_error(400, f'JSON must be {{"instances": [{{"b64": ...}}]}}: {error}')
            import tensorflow as tf

            try:
                outputs = endpoint.serving(image_bytes=tf.constant(payload))
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
                return _model_error(400, error.message.splitlines()[0])
            columns = {k: v.numpy() for k, v in outputs.items()}
            predictions = []
            for index in range(len(payload)):
                row = {}
                for key, values in columns.items():
                    value = values[index]
                    if isinstance(value, np.ndarray):
                        row[key] = [v.decode() if isinstance(v, bytes) else float(v) for v in value.tolist()]
                    else:
                        row[key] = value.decode() if isinstance(value, bytes) else float(value)
                predictions.append(row)
            return Response(
                json.dumps({"predictions": predictions}),
                200,
                content_type="application/json",
                headers={"x-Amzn-Invoked-Production-Variant": "AllTraffic"},
            )
        finally:
            with self.lock:
                endpoint.in_flight -= 1
            endpoint.concurrency.release()


def _model_error(status: int, message: str) -> Response:
    """What InvokeEndpoint returns when the model container answers with an error."""
    body = {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "OriginalStatusCode": status,
        "OriginalMessage": json.dumps({"error": message}),
        "message": f'Received client error ({status}) from primary with message "{{"error": "{message}"}}".',
    }
    return Response(json.dumps(body), 424, content_type="application/json", headers={"x-amzn-ErrorType": "ModelError"})


# botocore's model, HyperbandStrategyConfig.MaxResource: inferred from these static hyperparameters.
HYPERBAND_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def _hyperband_max_resource(request: dict[str, Any]) -> int | None:
    """How many objective reports a Hyperband trial may make before it is stopped; None for other
    strategies. Without MaxResource SageMaker infers it from the static epochs, or refuses the job."""
    config = request["HyperParameterTuningJobConfig"]
    if config.get("Strategy") != "Hyperband":
        return None
    given = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {}).get("MaxResource")
    if given:
        return int(given)
    static = request["TrainingJobDefinition"].get("StaticHyperParameters", {})
    for key in HYPERBAND_EPOCH_KEYS:
        if key in static:
            return int(_decoded(static[key]))
    raise SageMakerError("ValidationException", "Hyperband could not infer MaxResource: set HyperbandStrategyConfig")


def _sample(ranges: dict[str, list[dict[str, Any]]], rng: random.Random) -> dict[str, str]:
    """One point of the search space, encoded as SageMaker passes tuned hyperparameters."""
    import math

    tuned: dict[str, str] = {}
    for spec in ranges.get("ContinuousParameterRanges", []):
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        if spec.get("ScalingType") == "Logarithmic":
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            value = rng.uniform(low, high)
        tuned[spec["Name"]] = f"{value:.6g}"
    for spec in ranges.get("IntegerParameterRanges", []):
        tuned[spec["Name"]] = str(rng.randint(int(spec["MinValue"]), int(spec["MaxValue"])))
    for spec in ranges.get("CategoricalParameterRanges", []):
        tuned[spec["Name"]] = rng.choice(spec["Values"])
    return tuned

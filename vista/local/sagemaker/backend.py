"""A local SageMaker: the control-plane and runtime calls Vista makes, answered as SageMaker answers.

This module holds the operations and their state; `server.py` turns HTTP into calls of them,
`container.py` runs training jobs, `tuner.py` tuning jobs, `inference.py` the inference container
(over `serving.py`'s TF Serving) for endpoints and `transform.py`'s batch transform jobs, and
`errors.py` names AWS's errors. Responses are shaped as botocore's output shapes say (the oracle
tests validate every one strictly); the rules each operation follows are cited beside it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vista.local.sagemaker import errors, transform, tuner
from vista.local.sagemaker.container import ScriptModeContainer, s3_parts
from vista.local.sagemaker.inference import Container
from vista.local.sagemaker.registry import ModelRegistry
from vista.local.sagemaker.state import (
    NAME,
    TRAINING_EVENT_KEYS,
    TUNING_EVENT_KEYS,
    Endpoint,
    TrainingJob,
    TuningJob,
    event_detail,
    listed,
    now,
)

log = logging.getLogger("vista.local.sagemaker")
# botocore's HyperParameterTuningJobName pattern (a training job's is state.NAME).
TUNING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
TRAINING_EVENT = "SageMaker Training Job State Change"
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
TRANSFORM_EVENT = "SageMaker Transform Job State Change"
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")  # EndpointStatus values


def snake(name: str) -> str:
    """CamelCase → Camel_Case: API operations as method names, endpoint statuses as events spell them."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name)


def _event_default(value: Any) -> Any:
    """EventBridge details carry times as epoch milliseconds."""
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    raise TypeError(type(value).__name__)


@dataclass
class Faults:
    """Faults a test injects into InvokeEndpoint: SageMaker's own refusals, and a container that is
    slow or fails (answered as SageMaker answers them: errors.model_timeout, errors.model_error)."""

    throttle_rate: float = 0.0  # this share of calls answered with ThrottlingException
    down: bool = False  # every call answered ServiceUnavailable
    container_delay_s: float = 0.0  # the container takes this long before it answers
    container_status: int | None = None  # the container answers every call with this HTTP status
    # SageMaker's limit for the container's answer: 60 s (serverless: the cold start counts too).
    invocation_timeout_s: float = 60.0
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
        endpoint_delay_s: float = 2.0,
    ) -> None:
        """`logs`, if given, receives each training job's output as SageMaker streams it to
        CloudWatch Logs (/aws/sagemaker/TrainingJobs, one stream per job and host).
        `endpoint_delay_s`: how long an endpoint stays Creating or Updating (minutes on AWS; a
        few seconds here, so that tests meet those states)."""
        self.workdir, self.region, self.account = workdir, region, account
        self.endpoint_delay_s = endpoint_delay_s
        self.s3, self.events = s3, events
        # SageMaker reads and writes S3 with the role of the job or model it works for (cloud.py
        # checks each call against that role); until told how, with the client it was given.
        self.s3_as: Callable[[str], Any] = lambda _role: s3
        self.container = ScriptModeContainer(workdir, s3_as=lambda role: self.s3_as(role), logs=logs, region=region)
        self.training: dict[str, TrainingJob] = {}
        self.tuning: dict[str, TuningJob] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.transforms: dict[str, transform.TransformJob] = {}
        self.registry = ModelRegistry(self.arn)
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.faults = Faults()

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{kind}/{name.lower()}"

    def operation(self, name: str) -> Any:
        """The method for an API operation (CreateTrainingJob → op_create_training_job), or None."""
        method = "op_" + snake(name).lower()
        return getattr(self, method, None) or getattr(self.registry, method, None)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            for job in self.training.values():
                for process in job.running():
                    process.kill()
            for transform_job in self.transforms.values():
                transform_job.stopping = True
            for endpoint in self.endpoints.values():
                if endpoint.model is not None:
                    endpoint.model.close()

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
        job = self.new_training_job(request)
        self.emit_training(job)
        threading.Thread(target=self.run_training, args=(job,), daemon=True, name=job.name).start()
        return {"TrainingJobArn": job.arn}

    def new_training_job(self, request: dict[str, Any], tuning_arn: str | None = None) -> TrainingJob:
        name = request["TrainingJobName"]
        if not NAME.match(name):
            raise errors.pattern_mismatch(name, "trainingJobName", NAME.pattern)
        with self.lock:
            if name in self.training:
                raise errors.in_use(
                    "Training job names must be unique within an AWS account and region, and a training job "
                    f"with this name already exists ({self.arn('training-job', name)})"
                )
            job = TrainingJob(request, self.arn("training-job", name), tuning_arn=tuning_arn)
            self.training[name] = job
        return job

    def _training_job(self, name: str) -> TrainingJob:
        job = self.training.get(name)
        if job is None:
            raise errors.job_not_found()
        return job

    def op_describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        with self.lock:
            return self._training_job(TrainingJobName).describe()

    def op_list_training_jobs(self, **request: Any) -> dict[str, Any]:
        # The API reference: SortBy defaults to CreationTime, SortOrder to Ascending.
        with self.lock:
            rows, token = listed(
                self.training.values(),
                request,
                summary=TrainingJob.summary,
                sort_by="CreationTime",
                sort_order="Ascending",
            )
        return {"TrainingJobSummaries": rows, **({"NextToken": token} if token else {})}

    def op_stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        """StopTrainingJob: the job goes Stopping at once, and Stopped when its process has ended
        (SageMaker sends SIGTERM and, 120 s later, SIGKILL); a job that has already ended cannot be
        stopped ("The training job ... has already been completed"-style ValidationException)."""
        with self.lock:
            job = self._training_job(TrainingJobName)
            if job.status != "InProgress":
                raise errors.validation(f"The request was rejected because the training job is in status {job.status}.")
            job.status, job.secondary = "Stopping", "Stopping"
        job.terminate()
        self.emit_training(job)
        return {}

    def kill_training(self, name: str, *, spot_interruption: bool = False) -> None:
        """Kill a training job's first instance, as a crash would; or, as a reclaimed spot instance
        would, with the job restarted from its checkpoints (managed spot training)."""
        job = self.training[name]
        running = job.running()
        if not running:
            raise ValueError(f"training job {name} has no running process")
        job.interrupted = spot_interruption and "CheckpointConfig" in job.request
        running[0].kill()

    def emit_training(self, job: TrainingJob) -> None:
        with self.lock:
            detail = event_detail(job.describe(), TRAINING_EVENT_KEYS, job.request.get("Tags", []))
        self.emit(TRAINING_EVENT, detail, job.arn)

    def run_training(self, job: TrainingJob) -> None:
        try:
            status, secondary = self.container.run(job, self.emit_training)
        except Exception as error:  # a broken job must end Failed, never hang InProgress
            log.exception("training job %s failed", job.name)
            status, secondary, job.failure = "Failed", "Failed", f"ClientError: {error}"[:1024]
        with self.lock:
            job.status, job.secondary, job.ended = status, secondary, now()
        self.emit_training(job)

    # ------------------------------------------------------------------ tuning jobs
    def op_create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, Any]:
        name = request["HyperParameterTuningJobName"]
        if not TUNING_NAME.match(name):
            raise errors.validation(
                f"1 validation error detected: Value '{name}' at 'hyperParameterTuningJobName' failed to satisfy "
                "constraint: Member must have length less than or equal to 32"
            )
        tuner.hyperband_max_resource(request)  # refused here, as SageMaker refuses it, when it cannot be known
        with self.lock:
            if name in self.tuning:
                raise errors.in_use(f"Hyperparameter tuning job with name {name} already exists")
            job = TuningJob(request, self.arn("hyper-parameter-tuning-job", name))
            self.tuning[name] = job
        self.emit_tuning(job)
        threading.Thread(target=tuner.run_tuning, args=(self, job), daemon=True, name=name).start()
        return {"HyperParameterTuningJobArn": job.arn}

    def emit_tuning(self, tuning: TuningJob) -> None:
        with self.lock:
            detail = event_detail(tuning.describe(), TUNING_EVENT_KEYS, tuning.request.get("Tags", []))
        self.emit(TUNING_EVENT, detail, tuning.arn)

    def _tuning_job(self, name: str) -> TuningJob:
        job = self.tuning.get(name)
        if job is None:
            raise errors.tuning_not_found(name)
        return job

    def op_describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        with self.lock:
            return self._tuning_job(HyperParameterTuningJobName).describe()

    def op_list_training_jobs_for_hyper_parameter_tuning_job(
        self, HyperParameterTuningJobName: str, **request: Any
    ) -> dict[str, Any]:
        # The API reference: SortBy defaults to Name, SortOrder to Ascending, MaxResults to 10.
        with self.lock:
            tuning = self._tuning_job(HyperParameterTuningJobName)
            metric = tuning.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
            trials = [job for job in self.training.values() if job.tuning_arn == tuning.arn]
            rows, token = listed(
                trials,
                request,
                summary=lambda job: job.trial_summary(HyperParameterTuningJobName, metric),
                sort_by="Name",
                sort_order="Ascending",
            )
        return {"TrainingJobSummaries": rows, **({"NextToken": token} if token else {})}

    # ------------------------------------------------------------------ models and endpoints
    def op_create_model(self, **request: Any) -> dict[str, Any]:
        name = request["ModelName"]
        with self.lock:
            if name in self.models:
                raise errors.already_exists("model", self.arn("model", name))
            self.models[name] = {**request, "ModelArn": self.arn("model", name), "CreationTime": now()}
        return {"ModelArn": self.arn("model", name)}

    def op_describe_model(self, ModelName: str) -> dict[str, Any]:
        model = self.models.get(ModelName)
        if model is None:
            raise errors.not_found("model", self.arn("model", ModelName))
        return model

    def op_create_endpoint_config(self, **request: Any) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        with self.lock:
            if name in self.configs:
                raise errors.already_exists("endpoint configuration", self.arn("endpoint-config", name))
            for variant in request["ProductionVariants"]:
                if variant["ModelName"] not in self.models:
                    raise errors.not_found("model", self.arn("model", variant["ModelName"]))
            self.configs[name] = {
                **request,
                "EndpointConfigArn": self.arn("endpoint-config", name),
                "CreationTime": now(),
            }
        return {"EndpointConfigArn": self.arn("endpoint-config", name)}

    def op_describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        config = self.configs.get(EndpointConfigName)
        if config is None:
            raise errors.not_found("endpoint configuration", self.arn("endpoint-config", EndpointConfigName))
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
                raise errors.already_exists("endpoint", self.arn("endpoint", EndpointName))
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
                raise errors.validation(f'Cannot update failed endpoint "{endpoint.arn}".')
            if endpoint.status != "InService":
                raise errors.validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            self.op_describe_endpoint_config(EndpointConfigName)
            endpoint.status, endpoint.pending, endpoint.modified = "Updating", EndpointConfigName, now()
        self._emit_endpoint(endpoint)
        threading.Thread(target=self._deploy, args=(endpoint, EndpointConfigName), daemon=True).start()
        return {"EndpointArn": endpoint.arn}

    def op_describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(EndpointName)
            config = self.configs[endpoint.config]
            images = {
                v["VariantName"]: self.models[v["ModelName"]]["PrimaryContainer"]["Image"]
                for v in config["ProductionVariants"]
            }
            return endpoint.describe(config, images)

    def op_delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        with self.lock:
            endpoint = self._endpoint(EndpointName)
            if endpoint.status in IN_PROGRESS:
                raise errors.validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
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
            raise errors.not_found("endpoint", self.arn("endpoint", name))
        return endpoint

    def _emit_endpoint(self, endpoint: Endpoint) -> None:
        with self.lock:
            detail = {
                "EndpointName": endpoint.name,
                "EndpointArn": endpoint.arn,
                "EndpointConfigName": endpoint.config,
                "EndpointStatus": snake(endpoint.status).upper(),  # InService → IN_SERVICE
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
            model = self._load(endpoint, config_name)
        except Exception as error:  # the endpoint fails, as SageMaker's would, with the reason
            log.warning("endpoint %s could not deploy %s: %s", endpoint.name, config_name, error)
            with self.lock:
                endpoint.failure = (  # SageMaker's words, and what the container would have logged
                    "The primary container for production variant AllTraffic did not pass the ping "
                    f"health check. Please check CloudWatch logs for this endpoint. ({error})"
                )
                endpoint.status = "Failed" if endpoint.model is None else "InService"
                endpoint.pending, endpoint.modified = None, now()
            self._emit_endpoint(endpoint)
            return
        variant = self.configs[config_name]["ProductionVariants"][0]
        concurrency = variant.get("ServerlessConfig", {}).get("MaxConcurrency", 1)
        with self.lock:
            if endpoint.model is not None:
                endpoint.model.close()
            endpoint.model, endpoint.config, endpoint.failure, endpoint.pending = model, config_name, None, None
            endpoint.concurrency = threading.Semaphore(concurrency)
            endpoint.max_concurrency = concurrency
            endpoint.status, endpoint.modified = "InService", now()
        self._emit_endpoint(endpoint)

    def _load(self, endpoint: Endpoint, config_name: str) -> Container:
        variant = self.configs[config_name]["ProductionVariants"][0]
        return self._container(variant["ModelName"], self.workdir / "endpoints" / endpoint.name / config_name)

    def _container(self, model_name: str, folder: Path) -> Container:
        """The model's container, its archive read with the model's role."""
        model = self.models[model_name]
        bucket, key = s3_parts(model["PrimaryContainer"]["ModelDataUrl"])
        archive = self.s3_as(model["ExecutionRoleArn"]).get_object(Bucket=bucket, Key=key)["Body"].read()
        return Container(archive, folder)

    def _container_faults(self, place: errors.EndpointPlace) -> None:
        """A slow container is waited for up to the invocation's limit, then answered as timed out; a
        failing one answers its status (TF Serving's body: {"error": ...})."""
        faults = self.faults
        if faults.container_delay_s:
            time.sleep(min(faults.container_delay_s, faults.invocation_timeout_s))
            if faults.container_delay_s >= faults.invocation_timeout_s:
                raise errors.model_timeout(place)
        if faults.container_status:
            raise errors.model_error(faults.container_status, "the container failed to answer", place)

    def invoke_endpoint(self, name: str, body: bytes, content_type: str) -> bytes:
        """InvokeEndpoint → the TF inference container (inference.py); refused beyond
        the serverless MaxConcurrency, as SageMaker throttles it."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or (endpoint.status != "InService" and endpoint.model is None):
            raise errors.endpoint_not_found(name, self.account)
        with self.lock:
            endpoint.calls += 1
            if self.faults.down:
                endpoint.injected += 1
                raise errors.unavailable()
            if self.faults.rng.random() < self.faults.throttle_rate:
                endpoint.injected += 1
                raise errors.throttled()
        if not endpoint.concurrency.acquire(blocking=False):
            with self.lock:
                endpoint.refused += 1
            raise errors.throttled()
        with self.lock:
            endpoint.in_flight += 1
            endpoint.peak = max(endpoint.peak, endpoint.in_flight)
        place = errors.EndpointPlace(self.region, self.account, name)
        try:
            self._container_faults(place)
            status, answer = endpoint.model.invoke(body, content_type)
            if status != 200:
                raise errors.model_error(status, json.loads(answer).get("error", ""), place)
            return answer
        finally:
            with self.lock:
                endpoint.in_flight -= 1
            endpoint.concurrency.release()

    # ------------------------------------------------------------------ transform jobs
    def op_create_transform_job(self, **request: Any) -> dict[str, Any]:
        name = request["TransformJobName"]
        if not NAME.match(name):
            raise errors.pattern_mismatch(name, "transformJobName", NAME.pattern)
        split = request["TransformInput"].get("SplitType", "None")
        if split != "None" or "DataProcessing" in request:
            raise errors.validation(f"the local SageMaker runs SplitType None without DataProcessing, not {split}")
        with self.lock:
            if name in self.transforms:
                raise errors.in_use(f"Transform job with name {name} already exists")
            if request["ModelName"] not in self.models:
                raise errors.validation(f'Could not find model "{self.arn("model", request["ModelName"])}".')
            job = transform.TransformJob(request, self.arn("transform-job", name))
            self.transforms[name] = job
        self.emit_transform(job)
        threading.Thread(target=self.run_transform, args=(job,), daemon=True, name=name).start()
        return {"TransformJobArn": job.arn}

    def _transform_job(self, name: str) -> transform.TransformJob:
        job = self.transforms.get(name)
        if job is None:
            raise errors.validation(f"Could not find requested job with name {name}")
        return job

    def op_describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        with self.lock:
            return self._transform_job(TransformJobName).describe()

    def op_list_transform_jobs(self, **request: Any) -> dict[str, Any]:
        # The API reference: SortBy defaults to CreationTime, SortOrder to Descending.
        with self.lock:
            rows, token = listed(
                self.transforms.values(),
                request,
                summary=transform.TransformJob.summary,
                sort_by="CreationTime",
                sort_order="Descending",
            )
        return {"TransformJobSummaries": rows, **({"NextToken": token} if token else {})}

    def op_stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        """StopTransformJob: Stopping at once, Stopped once the record in hand is done. What SageMaker
        answers for a job that has ended no page says: the stricter answer, as StopTrainingJob's, a
        ValidationException."""
        with self.lock:
            job = self._transform_job(TransformJobName)
            if job.status != "InProgress":
                raise errors.validation(
                    f"The request was rejected because the transform job is in status {job.status}."
                )
            job.status, job.stopping = "Stopping", True
        self.emit_transform(job)
        return {}

    def emit_transform(self, job: transform.TransformJob) -> None:
        with self.lock:
            detail = event_detail(job.describe(), transform.TRANSFORM_EVENT_KEYS, job.request.get("Tags", []))
        self.emit(TRANSFORM_EVENT, detail, job.arn)

    def run_transform(self, job: transform.TransformJob) -> None:
        model = self.models[job.request["ModelName"]]
        container = None
        try:
            container = self._container(job.request["ModelName"], self.workdir / "transform" / job.name)
            status, failure = transform.run(job, container, self.s3_as(model["ExecutionRoleArn"]))
        except Exception as error:  # a broken job must end Failed, never hang InProgress
            log.exception("transform job %s failed", job.name)
            status, failure = "Failed", f"ClientError: {error}"[:1024]
        finally:
            if container:
                container.close()
        with self.lock:
            job.status, job.failure, job.ended = status, failure, now()
        self.emit_transform(job)

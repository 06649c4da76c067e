"""Turn a validated training request into a SageMaker training or tuning job."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from vista_app import budget, errors
from vista_app.config import Settings
from vista_app.cost_guard import SMALL_DATASET_IMAGES, OverTheCap, check, estimate
from vista_app.costs import load_prices
from vista_app.image_types import SUFFIXES
from vista_app.metric_lines import METRIC_DEFINITIONS
from vista_app.names import job_name
from vista_app.records import Jobs
from vista_app.training_request import (
    TUNABLE_CONTINUOUS,
    WEIGHTS_FILES,
    InvalidRequest,
    TrainingRequest,
    parse_training_request,
)

# Layouts a dataset may have under datasets/<name>/: ours, then Kaggle's Intel download. Either may
# have other/: scenes of none of the classes, on which the job measures how many are answered "unknown".
LAYOUTS = (
    {"train": "train/", "test": "test/", "other": "other/"},
    {"train": "seg_train/seg_train/", "test": "seg_test/seg_test/", "other": "other/"},
)
CHECKPOINT_DIR = "/opt/ml/checkpoints"
# Hyperband stops no trial before it has run this many epochs (its rungs start there).
HYPERBAND_MIN_EPOCHS = 3
SCALING = {"auto": "Auto", "linear": "Linear", "log": "Logarithmic", "reverse_log": "ReverseLogarithmic"}


def find_channels(s3: Any, bucket: str, dataset_prefix: str) -> dict[str, str]:
    """The S3 prefixes of the dataset's train and test splits, whichever layout it has: train/ and
    test/, Kaggle's seg_train/seg_train/ and seg_test/seg_test/, or plain class folders (one train
    channel: the job carves its test split from it). The training split must hold at least two
    class folders."""
    for layout in LAYOUTS:
        found = {}
        for channel, folder in layout.items():
            answer = s3.list_objects_v2(Bucket=bucket, Prefix=dataset_prefix + folder, MaxKeys=1)
            if answer.get("KeyCount", 0):
                found[channel] = f"s3://{bucket}/{dataset_prefix}{folder}"
        if "train" in found:
            _check_classes(s3, bucket, dataset_prefix + layout["train"])
            return found
    folders = _class_folders(s3, bucket, dataset_prefix)
    if folders and not set(folders) & SPLIT_FOLDERS:
        _check_classes(s3, bucket, dataset_prefix)
        return {"train": f"s3://{bucket}/{dataset_prefix}"}
    raise InvalidRequest(
        f"no images under s3://{bucket}/{dataset_prefix}: expected {dataset_prefix}train/<class>/... "
        f"(and test/<class>/...), Kaggle's seg_train/seg_train/<class>/..., or {dataset_prefix}<class>/..."
    )


# Folder names that say a dataset has splits: never taken for a class of a plain class-folder dataset.
SPLIT_FOLDERS = {"train", "test", "validation", "seg_train", "seg_test", "seg_pred"}


def _class_folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    answer = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=1000)
    return sorted(p["Prefix"][len(prefix) :].rstrip("/") for p in answer.get("CommonPrefixes", []))


def _check_classes(s3: Any, bucket: str, prefix: str) -> None:
    classes = _class_folders(s3, bucket, prefix)
    if len(classes) < 2:
        raise InvalidRequest(
            f"s3://{bucket}/{prefix} has {len(classes)} class folder(s) {classes}: at least 2 are needed"
        )


def count_images(s3: Any, uri: str, *, up_to: int) -> int | None:
    """The images under an s3:// prefix, or None when there are more than `up_to` (not counted on)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"MaxItems": up_to + 1, "PageSize": 1000}
    )
    keys = (item["Key"].lower() for page in pages for item in page.get("Contents", []))
    count = sum(1 for key in keys if key.endswith(tuple(SUFFIXES)))
    return count if count <= up_to else None


def find_weights(s3: Any, bucket: str, prefix: str, architectures: set[str]) -> str:
    """The S3 prefix of staged pretrained weights, for a `weights` channel: it must hold the file of
    each architecture tried, named as Keras names it (WEIGHTS_FILES)."""
    prefix = prefix.rstrip("/") + "/"
    answer = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
    staged = {item["Key"].rsplit("/", 1)[-1] for item in answer.get("Contents", [])}
    missing = sorted(
        WEIGHTS_FILES[name] for name in architectures & set(WEIGHTS_FILES) if WEIGHTS_FILES[name] not in staged
    )
    if missing:
        raise InvalidRequest(
            f"s3://{bucket}/{prefix} lacks {', '.join(missing)}: stage Keras's ImageNet files there "
            "under the names Keras gives them (~/.keras/models/ holds them once Keras has downloaded them)"
        )
    return f"s3://{bucket}/{prefix}"


def _hyperparameters(request: TrainingRequest, settings: Settings, region: str) -> dict[str, str]:
    """Static hyperparameters, JSON-encoded as the SageMaker SDK sends them to script mode (the
    SDK always sends `sagemaker_region`: without it the training toolkit's region is "")."""
    values: dict[str, Any] = {
        "architecture": request.architecture,
        **request.hyperparameters.model_dump(exclude_none=True),
    }
    values.update(
        sagemaker_program="train.py",
        sagemaker_submit_directory=settings.training_code_uri,
        sagemaker_container_log_level=20,
        sagemaker_region=region,
    )
    if request.spot:
        values["checkpoint_dir"] = CHECKPOINT_DIR
    if request.instance_count > 1:
        # What the SDK sends for distribution={"multi_worker_mirrored_strategy": {"enabled": True}}:
        # the TF container then gives each instance TF_CONFIG with every host a worker (train.py's strategy).
        values["sagemaker_multi_worker_mirrored_strategy_enabled"] = True
    return {key: json.dumps(value) for key, value in values.items()}


def _definition(request: TrainingRequest, settings: Settings, channels: dict[str, str]) -> dict[str, Any]:
    """What a training job and a tuning job's TrainingJobDefinition share."""
    bucket = settings.data_bucket
    image = settings.training_image_gpu if request.gpu else settings.training_image_cpu
    definition: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRIC_DEFINITIONS,
        },
        "RoleArn": settings.training_role_arn,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/artifacts/training/"},
        "ResourceConfig": {
            "InstanceType": request.instance_type,
            "InstanceCount": request.instance_count,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": request.max_runtime_s},
        "EnableManagedSpotTraining": request.spot,
        # No network inside the job (SageMaker's EnableNetworkIsolation: no outbound calls, not even
        # to AWS; SageMaker itself moves the channels and outputs), unless it must download ImageNet
        # weights: the training code needs nothing else (what it imports, the TF image has).
        "EnableNetworkIsolation": not request.downloads_weights,
    }
    if request.spot:
        # Spot capacity may take a while to come and may be reclaimed: wait up to twice the runtime.
        definition["StoppingCondition"]["MaxWaitTimeInSeconds"] = 2 * request.max_runtime_s
    return definition


def _parameter_ranges(request: TrainingRequest) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    assert request.tuning is not None
    for name, spec in request.tuning.ranges.items():
        if isinstance(spec, list):
            ranges["CategoricalParameterRanges"].append({"Name": name, "Values": [json.dumps(value) for value in spec]})
        elif name in TUNABLE_CONTINUOUS:
            ranges["ContinuousParameterRanges"].append(
                {
                    "Name": name,
                    "MinValue": str(spec.min),
                    "MaxValue": str(spec.max),
                    "ScalingType": SCALING[spec.scale],
                }
            )
        else:
            ranges["IntegerParameterRanges"].append(
                {
                    "Name": name,
                    "MinValue": str(int(spec.min)),
                    "MaxValue": str(int(spec.max)),
                    "ScalingType": SCALING[spec.scale],
                }
            )
    return {kind: values for kind, values in ranges.items() if values}


def check_instance_type(sagemaker: Any, instance_type: str) -> None:
    """Refuse an instance type SageMaker does not train on, from the API model botocore already holds."""
    known = sagemaker.meta.service_model.shape_for("TrainingInstanceType").enum
    if instance_type not in known:
        gpus = [t for t in known if t.startswith(("ml.g5.", "ml.g6."))][:4]
        raise InvalidRequest(
            f"instance_type {instance_type} is not a SageMaker training instance type (e.g. {', '.join(gpus)})"
        )


def create_job(
    sagemaker: Any, request: TrainingRequest, settings: Settings, name: str, channels: dict[str, str]
) -> str:
    """Call CreateTrainingJob or CreateHyperParameterTuningJob; returns the job's kind."""
    definition = _definition(request, settings, channels)
    hyperparameters = _hyperparameters(request, settings, sagemaker.meta.region_name)
    tags = [{"Key": "vista:stack-prefix", "Value": settings.name_prefix}]
    if request.spot:
        # A tuning job's trials all get this one prefix: train.py keeps each job's checkpoints in
        # a folder named after the job (TRAINING_JOB_NAME).
        definition["CheckpointConfig"] = {
            "S3Uri": f"s3://{settings.data_bucket}/artifacts/checkpoints/{name}/",
            "LocalPath": CHECKPOINT_DIR,
        }
    if request.tuning is None:
        sagemaker.create_training_job(TrainingJobName=name, HyperParameters=hyperparameters, Tags=tags, **definition)
        return "training"
    tuning = request.tuning
    ranges = _parameter_ranges(request)
    for kind in ranges.values():
        for spec in kind:
            hyperparameters.pop(spec["Name"], None)
    definition["StaticHyperParameters"] = hyperparameters
    config: dict[str, Any] = {}
    if tuning.strategy == "Hyperband":
        # Without MaxResource SageMaker infers it from the static `epochs` and stops each trial
        # there, but transfer models train epochs + fine_tune_epochs and export only at the end.
        # Hyperband counts each objective metric line as one unit and "once a job reaches the
        # MaxResource value, it is stopped" (botocore's model, HyperbandStrategyConfig): train.py
        # prints one per epoch, both phases, and a `final:` one, so one more than the most it
        # prints lets a trial that is not stopped early export its model.
        lines = request.objective_lines()
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": min(HYPERBAND_MIN_EPOCHS, request.most_epochs()),
                "MaxResource": lines + 1,
            }
        }
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            **config,
            "Strategy": tuning.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize" if tuning.objective.endswith("loss") else "Maximize",
                "MetricName": tuning.objective,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": tuning.max_jobs,
                "MaxParallelTrainingJobs": tuning.max_parallel_jobs,
            },
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off" if tuning.strategy == "Hyperband" else "Auto",
        },
        TrainingJobDefinition=definition,
        Tags=tags,
    )
    return "tuning"


MAX_REQUEST_BYTES = 64 * 1024


def read_request_object(s3: Any, bucket: str, key: str, version_id: str | None) -> bytes:
    """The body of a `jobs/*.json` object; InvalidRequest when it is gone or too large to be a request."""
    request = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
    try:
        body = s3.get_object(**request)["Body"].read(MAX_REQUEST_BYTES + 1)
    except ClientError as error:
        raise InvalidRequest(f"cannot read s3://{bucket}/{key}: {error.response['Error']['Code']}") from None
    if len(body) > MAX_REQUEST_BYTES:
        raise InvalidRequest(f"a training request is at most {MAX_REQUEST_BYTES:,} bytes")
    return body


@dataclass(frozen=True)
class Prepared:
    """A request checked against everything it names: its channels found, its cost estimated."""

    request: TrainingRequest
    channels: dict[str, str]
    estimate: dict[str, Any]


def prepare(request: TrainingRequest, *, settings: Settings, s3: Any, sagemaker: Any) -> Prepared:
    """Check a valid request against the stack (InvalidRequest says what is wrong) and estimate its
    cost; the cap is not applied here."""
    check_instance_type(sagemaker, request.instance_type)
    channels = find_channels(s3, settings.data_bucket, request.dataset_prefix)
    if request.weights_prefix:
        channels["weights"] = find_weights(
            s3, settings.data_bucket, request.weights_prefix, request.tried_architectures()
        )
    estimated = estimate(
        request,
        region=sagemaker.meta.region_name,
        prices=load_prices(s3, settings.data_bucket),
        images=count_images(s3, channels["train"], up_to=SMALL_DATASET_IMAGES),
        cap=settings.max_training_cost_per_request,
    )
    return Prepared(request, channels, estimated)


def dry_run_request(request: TrainingRequest, *, settings: Settings, s3: Any, sagemaker: Any) -> dict[str, Any]:
    """What starting the request would do, starting nothing: its kind, jobs and estimate, and whether
    the cap lets it start (`accepted`, else `reason`). InvalidRequest for a request that cannot train."""
    prepared = prepare(request, settings=settings, s3=s3, sagemaker=sagemaker)
    today = budget.standing(Jobs(settings.jobs_table), settings.max_training_cost_per_day)
    answer = {
        "dry_run": True,
        "kind": prepared.request.kind,
        "estimate": prepared.estimate,
        "budget": today,
        "accepted": True,
    }
    try:
        check(prepared.estimate)
        budget.check(prepared.estimate, today)
    except (OverTheCap, budget.OverTheBudget) as error:
        answer.update(accepted=False, reason=str(error))
    return answer


def start_training(
    *,
    load: Callable[[], str | bytes | dict],
    name: str,
    source: str,
    settings: Settings,
    s3: Any,
    sagemaker: Any,
    jobs: Jobs,
    requested_by: str,
) -> dict[str, Any]:
    """Load, validate, cost, record and start one job (or a comparison's jobs). Idempotent on
    `name`; never raises for a bad request or one over the cost cap.

    The Jobs record is written first (status Starting), and a failure at any step leaves a Failed
    record that says why. A delivery that finds the record past Starting stops there. One that finds
    it Starting finishes the work: the attempt that wrote it may have died (a read timeout, the
    function's own timeout) before or after SageMaker took the job, and starting it again is safe, as
    SageMaker refuses a second job of the same name (the job is then recorded as started).
    """
    record: dict[str, Any] = {"name": name, "source": source, "status": "Starting", "requested_by": requested_by}
    if not jobs.create(record):
        found = jobs.get(name) or record
        if found["status"] != "Starting":
            return found
    request: TrainingRequest | None = None
    prepared: Prepared | None = None
    try:
        request = parse_training_request(load())
        prepared = prepare(request, settings=settings, s3=s3, sagemaker=sagemaker)
        check(prepared.estimate)
        budget.reserve(jobs, name, prepared.estimate, settings.max_training_cost_per_day)
    except (OverTheCap, budget.OverTheBudget) as error:
        return _fail(jobs, name, prepared or request, f"refused before it started: {error}")
    except InvalidRequest as error:
        return _fail(jobs, name, prepared or request, f"invalid training request: {error}")
    channels = prepared.channels
    if not request.architectures:
        return _launch(prepared, name, settings=settings, sagemaker=sagemaker, jobs=jobs, reserved=True)
    members = []
    for member in request.members():
        member_name = job_name(settings.name_prefix, f"{name}/{member.architecture}")
        jobs.create(
            {
                "name": member_name,
                "source": source,
                "status": "Starting",
                "comparison": name,
                "requested_by": requested_by,
            }
        )
        share = Prepared(member, channels, prepared.estimate | _member_cost(prepared.estimate, len(request.members())))
        members.append(_launch(share, member_name, settings=settings, sagemaker=sagemaker, jobs=jobs))
    changes = _summary(prepared) | {"members": [m["name"] for m in members], "status": "InProgress"}
    if all(m["status"] == "Failed" for m in members):
        changes.update(status="Failed", failure_reason="no job of the comparison started: see each job's reason")
        budget.release(jobs, name)
    return _settle(jobs, name, changes)


def _member_cost(estimated: dict[str, Any], members: int) -> dict[str, Any]:
    """A comparison member's share of its request's estimate: every member runs alike."""
    share: dict[str, Any] = {"jobs": estimated["jobs"] // members}
    for key in ("max_cost", "typical_cost"):
        if key in estimated:
            share[key] = round(estimated[key] / members, 2)
    return share


def _launch(
    prepared: Prepared, name: str, *, settings: Settings, sagemaker: Any, jobs: Jobs, reserved: bool = False
) -> dict[str, Any]:
    """Create the SageMaker job of an already recorded request; its record says how that went (and a
    job that `reserved` its budget gives it back if SageMaker refuses it)."""
    try:
        create_job(sagemaker, prepared.request, settings, name, prepared.channels)
    except ClientError as error:
        if not errors.is_already_existing(error):  # else an earlier attempt's call got through
            if reserved:
                budget.release(jobs, name)
            message = error.response["Error"].get("Message", str(error))
            return _fail(jobs, name, prepared, f"SageMaker refused the job: {message}")
    return _settle(jobs, name, _summary(prepared) | {"status": "InProgress"})


def _summary(known: Prepared | TrainingRequest | None) -> dict[str, Any]:
    """What the Jobs record says of the request: as much as is known of it."""
    if known is None:
        return {}
    request = known.request if isinstance(known, Prepared) else known
    summary = {
        "request": request.model_dump(mode="json", exclude_none=True),
        "kind": request.kind,
        "network_isolation": not request.downloads_weights,
    }
    if isinstance(known, Prepared):
        summary["estimate"] = known.estimate
    if request.architectures:
        return summary | {"architecture": ", ".join(request.architectures)}
    return summary | {"architecture": request.architecture}


def _fail(jobs: Jobs, name: str, prepared: Prepared | TrainingRequest | None, reason: str) -> dict[str, Any]:
    return _settle(jobs, name, _summary(prepared) | {"status": "Failed", "failure_reason": reason})


def _settle(jobs: Jobs, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """How starting ended, written only while the record still says Starting: a concurrent delivery,
    or the job's own state-change events, may have recorded more since (the record as it is, then)."""
    settled = jobs.update(
        name, changes, condition="#status = :starting", values={":starting": "Starting"}, names={"#status": "status"}
    )
    return settled or jobs.get(name) or {"name": name, **changes}

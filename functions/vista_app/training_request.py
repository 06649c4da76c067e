"""The training request: one pydantic model for `jobs/*.json` and `POST /training-jobs`."""

from __future__ import annotations

import difflib
import functools
import math
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from vista_app.errors import BadRequest

# The names training_job/architectures.py builds; a test keeps the two lists equal.
Architecture = Literal[
    "base_cnn", "fine_cnn", "vgg16", "resnet50", "resnet101", "resnet152", "efficientnetv2b0", "mobilenetv3large"
]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
# Those with a pretrained base (train.py runs `epochs` with it frozen, then `fine_tune_epochs` more),
# each with the file its ImageNet weights come in without the top, named as keras.applications
# names it (resnet.py, vgg16.py, efficientnet_v2.py, mobilenet_v3.py): what a `weights` channel holds.
WEIGHTS_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet101": "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet152": "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "efficientnetv2b0": "efficientnetv2-b0_notop.h5",
    "mobilenetv3large": "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
}
PRETRAINED = tuple(WEIGHTS_FILES)
GPU_FAMILIES = ("ml.p", "ml.g")  # instance families with GPUs: the training image for GPUs

DatasetPrefix = Annotated[
    str,
    Field(pattern=r"^datasets/[A-Za-z0-9][A-Za-z0-9._-]{0,99}/?$", description="datasets/<name>"),
]


@functools.cache
def instance_types(shape: str) -> frozenset[str]:
    """The instance types a SageMaker call takes: an enum of SageMaker's service model, as botocore
    ships it (sagemaker/*/service-2.json): TrainingInstanceType, TransformInstanceType."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for(shape).enum)


def instance_type_of(shape: str, what: str, examples: str) -> AfterValidator:
    """A validator of one of `shape`'s instance types that names the nearest when it is not one."""

    def known(name: str) -> str:
        choices = instance_types(shape)
        if name not in choices:
            nearest = difflib.get_close_matches(name, sorted(choices), n=3, cutoff=0.6)
            hint = f"; the nearest are {', '.join(nearest)}" if nearest else f" (e.g. {examples})"
            raise ValueError(f"{name!r} is not a SageMaker {what} instance type{hint}")
        return name

    return AfterValidator(known)


InstanceType = Annotated[str, instance_type_of("TrainingInstanceType", "training", "ml.g5.xlarge, ml.m5.xlarge")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def search(minimum: float, maximum: float, scale: str, *, tuned: bool) -> dict:
    """A hyperparameter's suggested search range, in its JSON Schema as `x-search`: the console's
    training form offers a range row for each, ticked when `tuned` (a test checks each is valid)."""
    return {"x-search": {"min": minimum, "max": maximum, "scale": scale, "tuned": tuned}}


class Hyperparameters(Strict):
    """What training_job/train.py accepts (a test keeps the two in step)."""

    epochs: int = Field(10, ge=1, le=500)
    fine_tune_epochs: int = Field(5, ge=0, le=500)
    fine_tune_stages: int = Field(
        1, ge=0, le=6, description="top stages of the pretrained base unfrozen, whole, for fine-tuning"
    )
    fine_tune_learning_rate: float = Field(1e-5, gt=0, le=1, description="Adam's while the base's top trains")
    batch_size: int = Field(32, ge=1, le=1024)
    learning_rate: float = Field(1e-3, gt=0, le=1, json_schema_extra=search(1e-4, 1e-2, "log", tuned=True))
    dropout: float = Field(0.3, ge=0, lt=1, json_schema_extra=search(0.1, 0.5, "linear", tuned=True))
    l2: float = Field(1e-4, ge=0, le=1, json_schema_extra=search(1e-6, 1e-3, "log", tuned=False))
    augment: bool = True
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="balanced: each class's loss weighted inversely to its share of the training split"
    )
    image_size: int = Field(150, ge=32, le=600)
    weights: Literal["imagenet", "none"] = "imagenet"
    validation_split: float = Field(0.15, gt=0, lt=1)
    test_split: float = Field(0.15, gt=0, lt=1, description="carved from train when the dataset has no test split")
    seed: int = Field(42, ge=0)
    target_precision: float = Field(
        0.95,
        gt=0,
        le=1,
        description="each class's threshold is the lowest at which its answers on the validation split are this "
        "precise (else the best F1's); an answer under its class's threshold is unknown",
    )
    early_stopping_patience: int = Field(5, ge=1, le=500)
    time_budget_s: int = Field(0, ge=0, le=432_000, description="no epoch ends past this many seconds (0: none)")
    mixed_precision: Literal["auto", "on", "off"] = "auto"
    xla: bool = False
    memory_cache_gb: float = Field(
        4,
        ge=0,
        le=1024,
        description="decoded images are cached in memory up to this; beyond it, on the instance's disk",
    )


class ContinuousRange(Strict):
    min: float
    max: float
    scale: Literal["auto", "linear", "log", "reverse_log"] = Field(
        "auto",
        description="log: min > 0; reverse_log: continuous hyperparameters only, 0 <= min < max < 1",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ContinuousRange:
        if not self.min < self.max:
            raise ValueError(f"range min {self.min} must be below max {self.max}")
        if self.scale == "log" and self.min <= 0:
            raise ValueError("a log-scaled range needs min > 0")
        return self


TUNABLE_CONTINUOUS = ("learning_rate", "fine_tune_learning_rate", "dropout", "l2")
TUNABLE_INTEGER = ("epochs", "fine_tune_epochs", "batch_size", "fine_tune_stages", "image_size")
TUNABLE_CATEGORICAL = ("architecture", "augment", "class_weight", "weights", "mixed_precision", "xla")


# CategoricalParameterRange.Values (botocore's sagemaker model, ParameterValues): 1 to 30 values.
MAX_CATEGORICAL_VALUES = 30
MAX_TUNING_JOBS = 500  # Vista's own bound on one request's trials


class Tuning(Strict):
    max_jobs: int = Field(
        12,
        ge=1,
        le=MAX_TUNING_JOBS,
        description="trials at most; Grid runs every combination (leave it out, or give that count)",
    )
    max_parallel_jobs: int = Field(3, ge=1, le=100)
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = Field(
        "Bayesian", description="Grid takes only lists of values (no min/max ranges)"
    )
    objective: Literal["val_accuracy", "val_loss"] = "val_accuracy"
    ranges: dict[str, ContinuousRange | list[str | int | float | bool]] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_ranges(self) -> Tuning:
        if self.strategy == "Grid":
            self._grid()
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError("max_parallel_jobs cannot exceed max_jobs")
        for name, spec in self.ranges.items():
            if isinstance(spec, list):
                _check_values(name, spec)
            else:
                _check_range(name, spec)
        return self

    def _grid(self) -> None:
        """Grid search "supports only categorical parameters" and runs every combination of them;
        MaxNumberOfTrainingJobs, if given, must be that number (the developer guide, "Understand the
        hyperparameter tuning strategies available in Amazon SageMaker AI", Grid search). Vista
        sends the count, so the cost guard estimates the jobs Grid really runs."""
        ranged = sorted(name for name, spec in self.ranges.items() if not isinstance(spec, list))
        if ranged:
            raise ValueError(
                f"Grid search takes only lists of values: give {ranged} as a list, or use another strategy"
            )
        combinations = math.prod(len(spec) for spec in self.ranges.values() if isinstance(spec, list))
        if "max_jobs" in self.model_fields_set and self.max_jobs != combinations:
            raise ValueError(
                f"Grid search runs all {combinations} combinations: leave max_jobs out or set it to {combinations}"
            )
        if combinations > MAX_TUNING_JOBS:
            raise ValueError(f"Grid search would run {combinations} combinations; at most {MAX_TUNING_JOBS}")
        self.max_jobs = combinations


def _check_values(name: str, values: list[str | int | float | bool]) -> None:
    if name not in TUNABLE_CATEGORICAL + TUNABLE_INTEGER:
        raise ValueError(f"'{name}' cannot take a list of values")
    if not 1 <= len(values) <= MAX_CATEGORICAL_VALUES:
        raise ValueError(f"'{name}' needs 1 to {MAX_CATEGORICAL_VALUES} values; it has {len(values)}")
    if name == "architecture":
        unknown = sorted(set(map(str, values)) - set(ARCHITECTURES))
        if unknown:
            raise ValueError(f"unknown architecture(s) {unknown}; known: {list(ARCHITECTURES)}")
        return
    for value in values:
        _held_to_its_field(name, value)


def _held_to_its_field(name: str, value: str | int | float | bool) -> None:
    """A value the tuner may try, held to its hyperparameter's own type and bounds (a tuned batch
    size of 0 or image size of 100000 would otherwise reach SageMaker)."""
    try:
        Hyperparameters.model_validate({name: value})
    except ValidationError as error:
        raise ValueError(f"'{name}' value {value!r}: {error.errors(include_url=False)[0]['msg']}") from None


def _check_range(name: str, spec: ContinuousRange) -> None:
    if name not in TUNABLE_CONTINUOUS + TUNABLE_INTEGER:
        raise ValueError(f"'{name}' is not tunable as a range; tunable: {list(TUNABLE_CONTINUOUS + TUNABLE_INTEGER)}")
    for bound in (spec.min, spec.max):
        _held_to_its_field(name, bound)
    if spec.scale != "reverse_log":
        return
    # botocore's sagemaker model: IntegerParameterRange.ScalingType is Auto, Linear or Logarithmic;
    # ContinuousParameterRange's ReverseLogarithmic "works only for ranges that are entirely within
    # the range 0<=x<1.0".
    if name in TUNABLE_INTEGER:
        raise ValueError(f"'{name}' is an integer: its scale is auto, linear or log, not reverse_log")
    if not (spec.min >= 0 and spec.max < 1):
        raise ValueError(f"'{name}': a reverse_log range must lie within 0 <= x < 1")


class TrainingRequest(Strict):
    dataset: DatasetPrefix
    architecture: Architecture = "resnet50"
    # A comparison: one job per architecture (each tuned alike when `tuning` is given), one leaderboard.
    architectures: list[Architecture] | None = Field(None, min_length=2)
    hyperparameters: Hyperparameters = Hyperparameters()
    tuning: Tuning | None = None
    weights_prefix: str | None = Field(
        None,
        pattern=r"^weights/[A-Za-z0-9._-]{1,100}/?$",
        description=(
            "where Keras's no-top ImageNet files (named as Keras names them) are staged in the data bucket "
            "(weights/<name>/): given to the job as its `weights` channel, so it needs no internet access"
        ),
    )
    instance_type: InstanceType = "ml.g5.xlarge"
    instance_count: int = Field(1, ge=1, le=16)
    spot: bool = Field(True, description="cheaper; SageMaker may interrupt it and resume from a checkpoint")
    max_runtime_s: int = Field(7200, ge=60, le=432000, description="seconds; SageMaker stops the job then")

    @model_validator(mode="after")
    def _comparison(self) -> TrainingRequest:
        if self.architectures is None:
            return self
        if "architecture" in self.model_fields_set:
            raise ValueError("give architecture (one job) or architectures (a comparison), not both")
        if len(set(self.architectures)) != len(self.architectures):
            raise ValueError("architectures lists an architecture twice")
        if self.tuning and "architecture" in self.tuning.ranges:
            raise ValueError("a comparison tunes each architecture on its own: leave architecture out of tuning.ranges")
        return self

    @property
    def kind(self) -> str:
        return "comparison" if self.architectures else "tuning" if self.tuning else "training"

    def members(self) -> list[TrainingRequest]:
        """The one-architecture requests a comparison runs."""
        return [self.model_copy(update={"architecture": a, "architectures": None}) for a in self.architectures or []]

    @property
    def gpu(self) -> bool:
        return self.instance_type.startswith(GPU_FAMILIES)

    def highest(self, name: str) -> int:
        """The largest value a hyperparameter takes in any job of this request (its tuning range's top)."""
        spec = (self.tuning.ranges if self.tuning else {}).get(name)
        if spec is None:
            return int(getattr(self.hyperparameters, name))
        return int(max(spec)) if isinstance(spec, list) else int(spec.max)

    def tried_architectures(self) -> set[str]:
        """Every architecture a job of this request may train: tuned over, compared, or the one."""
        tuned = (self.tuning.ranges if self.tuning else {}).get("architecture")
        if isinstance(tuned, list):
            return set(map(str, tuned))
        return set(self.architectures or [self.architecture])

    @property
    def downloads_weights(self) -> bool:
        """Whether a job of this request would download ImageNet weights (Keras fetches them from
        the internet) rather than read them from its `weights` channel: only such a job needs
        network access."""
        tuned = (self.tuning.ranges if self.tuning else {}).get("weights")
        weights = set(map(str, tuned)) if isinstance(tuned, list) else {self.hyperparameters.weights}
        pretrained = self.tried_architectures() & set(PRETRAINED)
        return "imagenet" in weights and bool(pretrained) and not self.weights_prefix

    def most_epochs(self) -> int:
        """The most epochs one job (or tuning trial) of this request can run."""
        fine_tunes = self.tried_architectures() & set(PRETRAINED) and self.highest("fine_tune_stages") > 0
        return self.highest("epochs") + (self.highest("fine_tune_epochs") if fine_tunes else 0)

    def objective_lines(self) -> int:
        """The most objective lines one trial prints, what Hyperband counts as its resource: one an
        epoch, and train.py's `final:` line (the exported model on the validation split)."""
        return self.most_epochs() + 1

    @property
    def dataset_prefix(self) -> str:
        return self.dataset.rstrip("/") + "/"


class InvalidRequest(BadRequest):
    """A request that cannot be trained, with a message meant for the person who sent it."""


def parse_training_request(body: str | bytes | dict) -> TrainingRequest:
    """Validate a request from JSON text or a decoded dict; InvalidRequest says what is wrong."""
    try:
        if isinstance(body, dict):
            return TrainingRequest.model_validate(body)
        return TrainingRequest.model_validate_json(body)
    except ValidationError as error:
        raise InvalidRequest(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, `field.path: message`, without pydantic's URLs."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "request"
        if item["type"] == "json_invalid":
            problems.append(f"request is not valid JSON: {item['ctx'].get('error', item['msg'])}")
        else:
            problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)

"""The local tuner: a HyperParameterTuningJob's trials, one after another.

Every strategy is run as random search over the ranges (the point is that trials really train and
are compared, not the search). What follows SageMaker: each trial's hyperparameters are the static
ones, the sampled ones as strings, and `_tuning_objective_metric` (the TF container reacts to it);
every trial gets the definition's CheckpointConfig as it is ("SageMaker adds no suffix or prefix");
Hyperband stops a trial once it has reported the objective MaxResource times; the best trial is the
one with the best final objective, Stopped ones included.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any

from vista.local.sagemaker import errors, toolkit
from vista.local.sagemaker.state import TuningJob, now

if TYPE_CHECKING:
    from vista.local.sagemaker.backend import LocalSageMaker


def run_tuning(sagemaker: LocalSageMaker, tuning: TuningJob) -> None:
    """Run a tuning job's trials one after another, and pick the best by its objective."""
    config = tuning.request["HyperParameterTuningJobConfig"]
    definition = tuning.request["TrainingJobDefinition"]
    objective = config["HyperParameterTuningJobObjective"]
    limits = config["ResourceLimits"]
    rng = random.Random(tuning.request["HyperParameterTuningJobName"])  # noqa: S311 (a search, not a secret)
    name = tuning.request["HyperParameterTuningJobName"]
    max_resource = hyperband_max_resource(tuning.request)
    for index in range(1, limits["MaxNumberOfTrainingJobs"] + 1):
        if sagemaker.stopping.is_set():
            break
        tuned = sample(config.get("ParameterRanges", {}), rng)
        trial_name = f"{name}-{index:03d}-{rng.getrandbits(32):08x}"
        request = {k: v for k, v in definition.items() if k not in ("StaticHyperParameters", "DefinitionName")}
        # SageMaker adds the objective's name to every trial's hyperparameters: the TF container
        # reacts to it (toolkit.py).
        hyperparameters = {
            **definition.get("StaticHyperParameters", {}),
            **tuned,
            toolkit.TUNING_METRIC: objective["MetricName"],
        }
        request.update(TrainingJobName=trial_name, HyperParameters=hyperparameters)
        # Every trial gets the definition's CheckpointConfig as it is: the API has one for the
        # whole tuning job, and SageMaker's checkpoint guide says it adds no suffix or prefix.
        trial = sagemaker.new_training_job(request, tuning_arn=tuning.arn)
        trial.tuned = tuned
        if max_resource:
            trial.resource_limit = (objective["MetricName"], max_resource)
        tuning.trials.append(trial_name)
        tuning.counters["InProgress"] += 1
        sagemaker.emit_training(trial)
        sagemaker.run_training(trial)
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
    sagemaker.emit_tuning(tuning)


# botocore's model, HyperbandStrategyConfig.MaxResource: inferred from these static hyperparameters.
HYPERBAND_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def hyperband_max_resource(request: dict[str, Any]) -> int | None:
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
            return int(toolkit.decoded({key: static[key]})[key])
    raise errors.validation("Hyperband could not infer MaxResource: set HyperbandStrategyConfig")


def sample(ranges: dict[str, list[dict[str, Any]]], rng: random.Random) -> dict[str, str]:
    """One point of the search space, encoded as SageMaker passes tuned hyperparameters."""
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

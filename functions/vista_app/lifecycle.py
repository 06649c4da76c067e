"""What happens when SageMaker says a job changed state: record it, gate the model, promote it.

Every step is safe to repeat: EventBridge delivers at least once and out of order, so
the job's state is read back from SageMaker (Describe*) rather than from the event,
records are written with conditions, and a model whose gate decision is still open
(state `candidate`) is decided again on the next delivery.

What matters most is written first: a job's status (and a tuning job's best trial), then its
model's gate, then the details. A tuning job's trials (up to 500 DescribeTrainingJob calls) are
described while the function has time, kept as they are, and finished by Lambda's retry of the
event (an asynchronous invocation that fails is retried twice): no trial is described twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vista_app import lazy, registry
from vista_app.config import Settings
from vista_app.costs import cost_per_1000_predictions, job_cost, sum_costs
from vista_app.exports import finish_export
from vista_app.job_outputs import archive_of_model, read_job_outputs
from vista_app.leaderboard import ranked
from vista_app.names import TERMINAL, is_tuning_child
from vista_app.promotion import request_promotion
from vista_app.records import Jobs, Models

# Loaded by the first event that ends a job: most state changes (Starting, Downloading,
# Training, ...) write no report, and the page and its charts are 10 ms of a cold start.
with lazy.importing():
    from vista_app.report import page as report_page

logger = logging.getLogger(__name__)

TRAINING_EVENT = "SageMaker Training Job State Change"
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
# The function's time kept back from describing trials: the writes, the report and the gate's
# promotion after them fit in it.
RESERVE_MS = 20_000
TRIALS_PAGE = 25  # trials described between two writes of the record


class TrialsPending(RuntimeError):
    """The function ran out of time describing a tuning job's trials: its retry goes on from there."""


def _unlimited() -> int:
    return 2**31


@dataclass(frozen=True)
class Dependencies:
    """What one delivery works with: the settings, the AWS clients, the tables and the prices."""

    settings: Settings
    sagemaker: Any
    s3: Any
    jobs: Jobs
    models: Models
    prices: dict[str, Any]
    archives: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_left_ms: Callable[[], int] = _unlimited  # the invocation's (LambdaContext.get_remaining_time_in_millis)

    def outputs(self, archive: str) -> dict[str, Any]:
        """A job's output archive, downloaded once however many steps of the delivery read it
        (the model's metrics, then its report)."""
        if archive not in self.archives:
            self.archives[archive] = read_job_outputs(self.s3, archive)
        return self.archives[archive]


def on_job_state_change(detail_type: str, detail: dict[str, Any], deps: Dependencies) -> dict[str, Any]:
    """Returns what was done, for the log: {"job", "outcome", ...}."""
    prefix, jobs = deps.settings.name_prefix, deps.jobs
    tuning = detail_type == TUNING_EVENT
    name = detail.get("HyperParameterTuningJobName" if tuning else "TrainingJobName", "")
    if not name.startswith(prefix + "-") or (not tuning and is_tuning_child(name, prefix)):
        return {"job": name, "outcome": "ignored: not a job this stack started"}
    record = jobs.get(name)
    if record is None:
        return {"job": name, "outcome": "ignored: no Jobs record"}
    region = deps.sagemaker.meta.region_name

    if tuning:
        description = deps.sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        status = description["HyperParameterTuningJobStatus"]
        changes = _tuning_fields(description)
        best = description.get("BestTrainingJob", {}).get("TrainingJobName")
    else:
        description = deps.sagemaker.describe_training_job(TrainingJobName=name)
        status = description["TrainingJobStatus"]
        changes = _training_fields(description) | job_cost(description, region=region, prices=deps.prices)
        best = name
    changes["status"] = status
    if record.get("kind") == "export":  # a model's export: its archive and figures, no model of its own
        if status == "Completed":
            changes |= finish_export(description, deps.outputs(description["ModelArtifacts"]["S3ModelArtifacts"]))
        jobs.update(name, changes)
        return {"job": name, "outcome": f"recorded export {status}"}
    jobs.update(name, changes)
    result = {"job": name, "outcome": f"recorded {status}"}
    if status == "Completed":
        result = _register_and_gate(name, best, None if tuning else description, record, deps)
    described, total = record_trials(name, deps) if tuning and status in TERMINAL else (0, 0)
    pending = total - described
    if status in TERMINAL:
        job = jobs.get(name) or record
        if job.get("model"):
            board = ranked(deps.models.all())
            report = report_page.write_job_report(
                job, leaderboard=board, outputs=deps.outputs, s3=deps.s3, bucket=deps.settings.data_bucket
            )
            jobs.update(name, {"report": report})
        if job.get("comparison") and not pending:
            result["comparison"] = settle_comparison(job["comparison"], deps)
    if pending:
        raise TrialsPending(f"{name}: described {described} of {total} trials; the retry describes the rest")
    return result


def _register_and_gate(
    name: str, best: str | None, description: dict[str, Any] | None, record: dict[str, Any], deps: Dependencies
) -> dict[str, Any]:
    """Register a completed job's model (`description`: the best training job's, when at hand) and gate it."""
    jobs, models = deps.jobs, deps.models
    if not best:
        jobs.update(
            name, {"status": "Failed", "failure_reason": "the tuning job completed without a best training job"}
        )
        return {"job": name, "outcome": "failed: no best training job"}
    model = models.get(best)
    if model is None:
        description = description or deps.sagemaker.describe_training_job(TrainingJobName=best)
        model = register_model(
            description,
            job=name,
            dataset=record.get("request", {}).get("dataset"),
            outputs=deps.outputs(archive_of_model(description["ModelArtifacts"]["S3ModelArtifacts"])),
            region=deps.s3.meta.region_name,
            models=models,
            memory_mb=deps.settings.serverless_memory_mb,
            prices=deps.prices,
        )
    model = registry.register(model, settings=deps.settings, sagemaker=deps.sagemaker, s3=deps.s3, models=models)
    jobs.update(name, {"model": model["name"]})
    if model["state"] != "candidate":
        return {"job": name, "model": model["name"], "outcome": f"model already {model['state']}"}
    gated = gate(model, settings=deps.settings, sagemaker=deps.sagemaker, models=models)
    return {"job": name, "model": model["name"], **gated}


def record_trials(name: str, deps: Dependencies) -> tuple[int, int]:
    """Describe an ended tuning job's trials not yet in its record, while the function has time,
    writing them (and the job's summed cost) every TRIALS_PAGE; (trials described, trials)."""
    pages = deps.sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=name, PaginationConfig={"PageSize": 100}
    )
    summaries = [summary for page in pages for summary in page["TrainingJobSummaries"]]
    trials = {t["name"]: t for t in (deps.jobs.get(name) or {}).get("trials", [])}
    todo = [s for s in summaries if s["TrainingJobName"] not in trials]
    region = deps.sagemaker.meta.region_name
    for count, summary in enumerate(todo, start=1):
        if deps.time_left_ms() < RESERVE_MS:
            break
        trials[summary["TrainingJobName"]] = _trial(summary, deps.sagemaker, region=region, prices=deps.prices)
        if count % TRIALS_PAGE == 0:
            _write_trials(name, trials, len(summaries), deps.jobs)
    _write_trials(name, trials, len(summaries), deps.jobs)
    return len(trials), len(summaries)


def _write_trials(name: str, trials: dict[str, dict[str, Any]], total: int, jobs: Jobs) -> None:
    described = sorted(trials.values(), key=lambda t: t["name"])
    changes = {"trials": described, **sum_costs(described)}
    if len(described) < total:
        jobs.update(name, changes | {"trials_pending": total - len(described)})
    else:
        jobs.update(name, changes, remove=("trials_pending",))


def _trial(summary: dict[str, Any], sagemaker: Any, *, region: str, prices: dict[str, Any]) -> dict[str, Any]:
    """One trial: its tuned values and objective (from the listing), times and cost (described)."""
    description = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
    return {
        "name": summary["TrainingJobName"],
        "status": summary["TrainingJobStatus"],
        "hyperparameters": {k: _loads(v) for k, v in summary.get("TunedHyperParameters", {}).items()},
        "objective": summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
        "training_seconds": description.get("TrainingTimeInSeconds"),
        "billable_seconds": description.get("BillableTimeInSeconds"),
        **job_cost(description, region=region, prices=prices),
    }


def settle_comparison(parent: str, deps: Dependencies) -> dict[str, Any]:
    """A comparison ends when all its member jobs have: its status, summed cost, models and report."""
    jobs = deps.jobs
    comparison = jobs.get(parent)
    if comparison is None:
        return {"name": parent, "outcome": "no Jobs record"}
    members = [jobs.get(member) or {"name": member, "status": "Starting"} for member in comparison["members"]]
    waiting = [m["name"] for m in members if m["status"] not in TERMINAL]
    if waiting:
        return {"name": parent, "outcome": f"waiting for {len(waiting)} of {len(members)} jobs"}
    names = [m["model"] for m in members if m.get("model")]
    changes: dict[str, Any] = {
        "status": "Completed" if names else "Failed",
        "models": names,
        **sum_costs(members),
    }
    if not names:
        changes["failure_reason"] = "no member job produced a model: see each job's failure reason"
    board = [m for m in ranked(deps.models.all()) if m["name"] in names]
    if board:  # the report first: a comparison reads Completed only once its report is there
        changes["report"] = report_page.write_job_report(
            comparison | changes,
            leaderboard=board,
            outputs=deps.outputs,
            s3=deps.s3,
            bucket=deps.settings.data_bucket,
            tuning_jobs=[m for m in members if m.get("trials")],
        )
    jobs.update(parent, changes)
    return {"name": parent, "outcome": changes["status"]}


def _training_fields(description: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "secondary_status": description.get("SecondaryStatus"),
        "metrics": {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])},
        "instance_type": description["ResourceConfig"]["InstanceType"],
        "instance_count": description["ResourceConfig"].get("InstanceCount", 1),
    }
    for key, name in (
        ("FailureReason", "failure_reason"),
        ("BillableTimeInSeconds", "billable_seconds"),
        ("TrainingTimeInSeconds", "training_seconds"),
    ):
        if description.get(key) is not None:
            fields[name] = description[key]
    billable, trained = fields.get("billable_seconds"), fields.get("training_seconds")
    if description.get("EnableManagedSpotTraining") and billable is not None and trained:
        fields["spot_savings"] = round(1 - billable / trained, 4)
    return fields


def _tuning_fields(description: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"trial_counts": description.get("TrainingJobStatusCounters", {})}
    if description.get("FailureReason"):
        fields["failure_reason"] = description["FailureReason"]
    best = description.get("BestTrainingJob")
    if best:
        fields["best_training_job"] = best["TrainingJobName"]
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric")
        if objective:
            fields["metrics"] = {objective["MetricName"]: objective["Value"]}
    return fields


def register_model(
    description: dict[str, Any],
    *,
    job: str,
    dataset: str | None,
    outputs: dict[str, Any],
    region: str,
    models: Models,
    memory_mb: int,
    prices: dict[str, Any],
) -> dict[str, Any]:
    """The Models record of a completed training job, from its DescribeTrainingJob answer and what
    it wrote (`outputs`, its output archive's files); created once: a concurrent delivery's record
    wins and is read back."""
    training_job = description["TrainingJobName"]
    metrics = job_metrics(description, outputs)
    hyperparameters = {
        k: _loads(v) for k, v in description.get("HyperParameters", {}).items() if not k.startswith(("sagemaker_", "_"))
    }
    record: dict[str, Any] = {
        "name": training_job,
        "job": job,
        "dataset": dataset,
        "state": "candidate",
        "architecture": hyperparameters.get("architecture"),
        "hyperparameters": hyperparameters,
        "artifact": description["ModelArtifacts"]["S3ModelArtifacts"],
        "training_job_arn": description["TrainingJobArn"],
        "metrics": metrics,
        "classes": metrics.get("class_names"),
        # How sure it must be of each class (calibrated on its validation split): under it, "unknown".
        "thresholds": metrics.get("thresholds"),
        "distance_threshold": metrics.get("distance_threshold"),
        "test_set": (metrics.get("test_set") or {}).get("digest"),
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "loss": metrics.get("loss"),
        "parameters": metrics.get("parameters"),
        "serving_latency_ms": metrics.get("serving_latency_ms"),
        "request_bytes": metrics.get("request_bytes"),
        "training_seconds": description.get("TrainingTimeInSeconds"),
        "billable_seconds": description.get("BillableTimeInSeconds"),
        "instance_type": description["ResourceConfig"]["InstanceType"],
        "training_cost": job_cost(description, region=region, prices=prices).get("cost"),
        "cost_per_1000_predictions": cost_per_1000_predictions(
            latency_ms=metrics.get("serving_latency_ms"),
            payload_bytes=metrics.get("request_bytes"),
            memory_mb=memory_mb,
            region=region,
            prices=prices,
        ),
        "serverless_memory_mb": memory_mb,
    }
    if record["accuracy"] is None:
        record.update(state="rejected", reason="the job reported no test accuracy")
    return models.create({k: v for k, v in record.items() if v is not None}) or models.get(training_job) or record


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def job_metrics(description: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The metrics.json train.py wrote; else the final values SageMaker parsed from the log."""
    if isinstance(outputs.get("metrics.json"), dict):
        return outputs["metrics.json"]
    logger.warning("no metrics.json for %s: using SageMaker's final metrics", description["TrainingJobName"])
    final = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
    metrics: dict[str, Any] = {}
    for source, target in (("test_accuracy", "accuracy"), ("test_loss", "loss"), ("test_macro_f1", "macro_f1")):
        if source in final:
            metrics[target] = final[source]
    return metrics


def unlike(model: dict[str, Any], rival: dict[str, Any]) -> str | None:
    """Why two models' test accuracies cannot be compared (None when they can): another class set, or
    a test accuracy measured on other images (metrics.json's test_set: the split's content digest)."""
    ours, theirs = sorted(model.get("classes") or []), sorted(rival.get("classes") or [])
    if ours != theirs:
        return (
            f"trained on {len(ours)} classes {ours}, while {rival['state']} {rival['name']} answers with "
            f"{len(theirs)} {theirs}: a model of another class set is never promoted automatically "
            "(promote it by hand, with force, if it should replace it)"
        )
    if not model.get("test_set") or model.get("test_set") != rival.get("test_set"):
        return (
            f"its test accuracy was measured on other images than {rival['state']} {rival['name']}'s, so the two "
            "are not compared: promote it by hand if it is the better model"
        )
    return None


def gate(model: dict[str, Any], *, settings: Settings, sagemaker: Any, models: Models) -> dict[str, Any]:
    """Champion/challenger: promote only when the candidate beats the model in service and every
    model on its way there (a pending promotion is the next champion), each judged on the same test
    images and classes; a candidate that cannot be compared stays a candidate, with the reason."""
    rivals = [m for m in (models.champion(), *models.in_state("promoting")) if m and m["name"] != model["name"]]
    for rival in rivals:
        reason = unlike(model, rival)
        if reason:
            models.update(
                model["name"],
                {"reason": reason},
                condition="#s = :candidate",
                values={":candidate": "candidate"},
                names={"#s": "state"},
            )
            return {"outcome": "kept as a candidate", "reason": reason}
    best = max(rivals, key=lambda m: m.get("accuracy") or 0, default=None)
    if best is not None:
        needed = (best.get("accuracy") or 0) + settings.promotion_margin
        if not model["accuracy"] > needed:
            reason = (
                f"test accuracy {model['accuracy']:.4f} does not beat {best['state']} {best['name']} "
                f"({best.get('accuracy') or 0:.4f} + margin {settings.promotion_margin})"
            )
            models.update(
                model["name"],
                {"state": "rejected", "reason": reason},
                condition="#s = :candidate",
                values={":candidate": "candidate"},
                names={"#s": "state"},
            )
            registry.follow(model["name"], sagemaker=sagemaker, models=models)
            return {"outcome": "rejected", "reason": reason}
    promoted = request_promotion(model, settings=settings, sagemaker=sagemaker, models=models)
    return {"outcome": "promotion requested", "state": promoted["state"], "replacing": best and best["name"]}

"""on_training_event: job state changes → Jobs / Models records, champion/challenger, endpoint."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import answer, describe_from_event, record_calls, response
from tests.helpers.stack import LambdaContext, load_event
from tests.helpers.support import call, request, start_job, state_change, write_metrics


def deliver(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from vista_app.handlers import on_training_event

    return on_training_event.lambda_handler(event, context)


def records(name: str) -> tuple[dict | None, dict | None]:
    from vista_app.config import settings
    from vista_app.records import Jobs, Models

    return Jobs(settings().jobs_table).get(name), Models(settings().models_table).get(name)


def endpoint_model() -> str:
    sagemaker = boto3.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="vista-classifier")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return config["ProductionVariants"][0]["ModelName"]


def endpoint_event(detail: dict[str, Any]) -> dict[str, Any]:
    event = load_event("on_training_event_endpoint_in_service")
    return {**event, "detail": {**event["detail"], **detail}}


def completed_model(context: Any, accuracy: float, key: str) -> str:
    name = start_job(context, key=key)
    write_metrics(name, accuracy)
    deliver(state_change(name), context)
    return name


def test_first_completed_job_becomes_champion_on_a_serverless_endpoint(aws: None, context: Any, settings: Any) -> None:
    from vista_app.aws import client

    # GIVEN a job that finished with a metrics.json
    name = start_job(context)
    write_metrics(name, 0.91)
    created: list[dict[str, Any]] = []  # CreateModel as sent (moto's DescribeModel drops EnableNetworkIsolation)
    client("sagemaker").meta.events.register(
        "provide-client-params.sagemaker.CreateModel", lambda params, **_: created.append(dict(params))
    )
    # WHEN SageMaker says it completed
    result = deliver(state_change(name), context)
    # THEN the job is recorded, its model is champion and serves from the serverless endpoint
    # (moto's endpoints are InService at once: the promotion goes all the way in one call)
    assert result["outcome"] == "promotion requested" and result["state"] == "champion"
    job, model = records(name)
    assert job["status"] == "Completed" and job["model"] == name
    assert model["state"] == "champion" and model["accuracy"] == 0.91 and model["architecture"] == "resnet50"
    assert model["artifact"].endswith(f"artifacts/training/{name}/output/model.tar.gz")
    sagemaker = boto3.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=model["endpoint_config"])
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {
        "MemorySizeInMB": settings.serverless_memory_mb,
        "MaxConcurrency": settings.serverless_max_concurrency,
    }
    model = sagemaker.describe_model(ModelName=name)
    assert model["PrimaryContainer"]["Image"].endswith("tensorflow-inference:2.19-cpu")
    # A model needs nothing from the internet, and runs as the serving role
    [sent] = created
    assert sent["EnableNetworkIsolation"] is True and model["ExecutionRoleArn"] == settings.serving_role_arn
    assert endpoint_model() == name


def test_images_that_came_before_any_model_are_sent_to_classify_once_one_serves(
    aws: None, context: Any, settings: Any
) -> None:
    from vista_app.records import WAITING_FOR, Predictions

    # GIVEN an image that waits for a model (classify recorded it so)
    Predictions(settings.predictions_table).create(
        {
            "id": "early",
            "status": "WAITING",
            "waiting": WAITING_FOR,
            "bucket": "b",
            "key": "inbox/a b.jpg",
            "version": "e",
        }
    )
    sqs = boto3.client("sqs")
    # WHEN the first model is crowned
    name = start_job(context)
    write_metrics(name, 0.91)
    assert deliver(state_change(name), context)["released"] == 1
    # THEN the image's S3 notification is in the inbox queue again, naming the same object
    [message] = sqs.receive_message(QueueUrl=settings.inbox_queue_url)["Messages"]
    [s3] = [r["s3"] for r in json.loads(message["Body"])["Records"]]
    assert (s3["bucket"]["name"], s3["object"]["key"], s3["object"]["eTag"]) == ("b", "inbox/a+b.jpg", "e")


def test_failed_job_records_sagemakers_reason_and_promotes_nothing(aws: None, context: Any) -> None:
    from vista_app.aws import client

    name = start_job(context)
    event = state_change(name, "on_training_event_training_failed")
    answer(
        client("sagemaker"),
        "DescribeTrainingJob",
        lambda request: response(request.url, 200, describe_from_event(event["detail"])),
    )
    result = deliver(event, context)
    job, model = records(name)
    assert result["outcome"] == "recorded Failed"
    assert job["status"] == "Failed"
    assert (
        job["failure_reason"] == "AlgorithmError: ExecuteUserScriptError: ValueError: dataset has fewer than 2 classes"
    )
    assert model is None
    with pytest.raises(boto3.client("sagemaker").exceptions.ClientError, match="Could not find endpoint"):
        boto3.client("sagemaker").describe_endpoint(EndpointName="vista-classifier")


def test_worse_challenger_is_rejected_and_the_champion_keeps_serving(aws: None, context: Any) -> None:
    champion = completed_model(context, 0.92, "jobs/a.json")
    challenger = completed_model(context, 0.90, "jobs/b.json")
    _, model = records(challenger)
    assert model["state"] == "rejected"
    assert f"does not beat champion {champion}" in model["reason"]
    assert records(champion)[1]["state"] == "champion"
    assert endpoint_model() == champion


def test_better_challenger_is_promoting_until_the_endpoint_serves_it(
    aws: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vista_app.aws import client

    champion = completed_model(context, 0.90, "jobs/a.json")
    # moto has no UpdateEndpoint: record what SageMaker would get (its endpoint stays on the champion)
    updates = record_calls(monkeypatch, client("sagemaker"), "update_endpoint", {"EndpointArn": "arn"})
    challenger = completed_model(context, 0.95, "jobs/b.json")
    [update] = updates
    assert update["EndpointName"] == "vista-classifier"
    config = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=update["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == challenger
    # Until the endpoint says otherwise, the champion is the model it serves.
    assert records(challenger)[1]["state"] == "promoting" and records(challenger)[1]["deploying_at"]
    assert records(champion)[1]["state"] == "champion"
    assert endpoint_model() == champion
    # An endpoint event that shows the old config changes nothing (and asks nothing more of SageMaker).
    detail = {"EndpointName": "vista-classifier", "EndpointStatus": "IN_SERVICE"}
    assert deliver(endpoint_event(detail), context)["outcome"] == "nothing to do"
    assert len(updates) == 1


def test_endpoint_events_of_other_endpoints_are_ignored(aws: None, context: Any) -> None:
    result = deliver(endpoint_event({"EndpointName": "someone-elses", "EndpointStatus": "FAILED"}), context)
    assert result["outcome"].startswith("ignored")


def test_a_repeated_event_changes_nothing(aws: None, context: Any) -> None:
    name = completed_model(context, 0.9, "jobs/a.json")
    again = deliver(state_change(name), context)
    assert again["outcome"] == "model already champion"
    assert len(boto3.client("sagemaker").list_models()["Models"]) == 1


@pytest.mark.parametrize("name", ["someone-elses-job", "vista-0000000000000000"])
def test_jobs_that_are_not_ours_are_ignored(aws: None, context: Any, name: str) -> None:
    result = deliver(state_change(name), context)
    assert result["outcome"].startswith("ignored")
    assert records(name) == (None, None)


class TuningJob:
    """A completed tuning job of `trials` trials as SageMaker answers for it: the tuning job, its
    trials listed in pages of 100, and each trial described (`described` counts the calls, and each
    call uses `call_ms` of the function's time: `clock`, read by the context)."""

    def __init__(self, context: Any, monkeypatch: pytest.MonkeyPatch, trials: int, call_ms: int = 0) -> None:
        from tests.helpers.support import REQUEST
        from vista_app.aws import client

        tuning = {"max_jobs": 3, "max_parallel_jobs": 1, "ranges": {"dropout": {"min": 0.1, "max": 0.6}}}
        self.name = name = start_job(context, {**REQUEST, "tuning": tuning})
        self.event = event = load_event("on_training_event_tuning_completed")
        event["detail"]["HyperParameterTuningJobName"] = name
        self.best = best = f"{name}-002-6e2f1c9a"
        event["detail"]["BestTrainingJob"]["TrainingJobName"] = best
        event["detail"]["TrainingJobStatusCounters"]["Completed"] = trials
        self.trial = describe_from_event(load_event("on_training_event_training_completed")["detail"])
        self.trial.update(
            TuningJobArn=f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name}",
            ModelArtifacts={
                "S3ModelArtifacts": f"s3://vista-data-123456789012-us-east-1/artifacts/training/{best}/output/model.tar.gz"
            },
        )
        self.summaries = [
            {
                "TrainingJobName": f"{name}-{i:03d}-6e2f1c9a",
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}-{i:03d}-6e2f1c9a",
                "CreationTime": 1764317000,
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {"dropout": str(0.1 * i)},
                "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "val_accuracy", "Value": 0.9 + i / 100},
            }
            for i in range(1, trials + 1)
        ]
        self.described: list[str] = []
        self.call_ms, self.clock = call_ms, 0
        sagemaker = client("sagemaker")
        answer(
            sagemaker,
            "DescribeHyperParameterTuningJob",
            lambda r: response(r.url, 200, describe_from_event(event["detail"])),
        )
        answer(sagemaker, "DescribeTrainingJob", self._describe)
        monkeypatch.setattr(sagemaker, "list_training_jobs_for_hyper_parameter_tuning_job", self._list)
        write_metrics(best, 0.947)

    def _describe(self, request: Any) -> Any:
        name = json.loads(request.body)["TrainingJobName"]
        self.described.append(name)
        self.clock += self.call_ms
        return response(request.url, 200, {**self.trial, "TrainingJobName": name})

    def _list(
        self, HyperParameterTuningJobName: str, MaxResults: int = 100, NextToken: str | None = None, **_: Any
    ) -> dict[str, Any]:
        start = int(NextToken or 0)
        page: dict[str, Any] = {"TrainingJobSummaries": self.summaries[start : start + MaxResults]}
        if start + MaxResults < len(self.summaries):
            page["NextToken"] = str(start + MaxResults)
        return page


def test_tuning_job_promotes_its_best_training_job(aws: None, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tuning = TuningJob(context, monkeypatch, trials=3)
    name, best = tuning.name, tuning.best

    # A trial's own state change is not a candidate: only the tuning job's is.
    assert deliver(state_change(best), context)["outcome"].startswith("ignored")
    result = deliver(tuning.event, context)

    job, _ = records(name)
    _, model = records(best)
    assert result["outcome"] == "promotion requested"
    assert job["status"] == "Completed" and job["best_training_job"] == best and job["trial_counts"]["Completed"] == 3
    # Every trial is in the record with its tuned value and objective, and the job costs what its trials cost.
    assert [(t["hyperparameters"]["dropout"], t["objective"]) for t in job["trials"]] == [
        (0.1, 0.91),
        (0.2, 0.92),
        (0.30000000000000004, 0.93),
    ]
    assert job["cost"] == pytest.approx(3 * 330 * 1.408 / 3600, abs=1e-6)
    assert job["on_demand_cost"] == pytest.approx(3 * 1100 * 1.408 / 3600, abs=1e-6)
    assert job["report"] == f"s3://vista-data-123456789012-us-east-1/artifacts/reports/{name}/report.html"
    assert (
        model["state"] == "champion" and model["job"] == name and model["hyperparameters"]["architecture"] == "fine_cnn"
    )
    assert json.loads(json.dumps(model))["billable_seconds"] == 330


def test_a_big_tuning_job_is_recorded_ended_first_and_its_trials_described_in_pages_that_survive_a_retry(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a tuning job of 250 trials, and a function whose 60 s run out after about 100 describes
    tuning = TuningJob(LambdaContext(), monkeypatch, trials=250, call_ms=400)

    class Clocked(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
            return 60_000 - tuning.clock

    # WHEN its end is delivered, the function stops before its timeout and fails the invocation (Lambda retries it)
    with pytest.raises(Exception, match=r"described 100 of 250 trials"):
        deliver(tuning.event, Clocked())
    # THEN the job is already recorded as ended, with its best trial, and that model gated
    job, _ = records(tuning.name)
    _, model = records(tuning.best)
    assert job["status"] == "Completed" and job["best_training_job"] == tuning.best
    assert model["state"] == "champion"
    assert len(job["trials"]) == 100 and job["trials_pending"] == 150
    # AND Lambda's retry (a new invocation, a new 60 s) describes the rest, none of them twice
    tuning.clock, tuning.call_ms = 0, 200
    deliver(tuning.event, Clocked())
    job, _ = records(tuning.name)
    assert len(job["trials"]) == 250 and "trials_pending" not in job
    # (the best trial was described once more, to register its model)
    assert Counter(tuning.described) == Counter([s["TrainingJobName"] for s in tuning.summaries] + [tuning.best])
    assert job["cost"] == pytest.approx(250 * 330 * 1.408 / 3600, abs=1e-6)
    assert job["report"].endswith(f"/{tuning.name}/report.html")


def test_a_stale_crown_is_refused_so_there_is_never_a_second_champion(aws: None) -> None:
    # GIVEN b crowned by one delivery, then c crowned over it by the next
    from vista_app.config import settings
    from vista_app.records import History, Models

    models, history = Models(settings().models_table), History(settings().history_table)

    def crown(name: str, replacing: list[str]) -> bool:
        change = history.put(model=name, before=(replacing or [None])[0], after=name, why="gate")
        return models.crown(name, endpoint="vista-classifier", replacing=replacing, change=change)

    for name in ("vista-b", "vista-c"):
        models.create({"name": name, "state": "promoting", "artifact": f"s3://x/{name}.tar.gz"})
    assert crown("vista-b", [])
    assert crown("vista-c", ["vista-b"])
    # WHEN a delivery that read b as still promoting (and no champion) crowns it late
    late = crown("vista-b", [])
    # THEN the transaction is refused and c stays the only champion; the history has the two changes only
    assert late is False
    assert [m["name"] for m in models.in_state("champion")] == ["vista-c"]
    assert models.get("vista-b")["state"] == "retired"
    changes = history.newest()["items"]
    assert [(c.get("from"), c["to"]) for c in changes] == [("vista-b", "vista-c"), (None, "vista-b")]


def test_the_developer_guides_sample_job_events_go_through_the_handler(aws: None, context: Any) -> None:
    """events/aws_sagemaker_*_state_change.json: the SageMaker developer guide's samples, as AWS sends
    them (the whole Describe answer, other jobs' names), through the handler."""
    # GIVEN one of this stack's jobs finished, announced by the sample training-job event
    name = start_job(context)
    write_metrics(name, 0.88)
    result = deliver(state_change(name, "aws_sagemaker_training_job_state_change"), context)
    # THEN it is recorded and promoted as with any completion
    assert result["outcome"] == "promotion requested"
    assert records(name)[0]["status"] == "Completed" and records(name)[1]["accuracy"] == 0.88
    # AND the sample tuning-job event, about a job this stack never started, changes nothing
    sample = load_event("aws_sagemaker_tuning_job_state_change")
    outcome = deliver(sample, context)["outcome"]
    assert outcome == "ignored: not a job this stack started"
    assert records(sample["detail"]["HyperParameterTuningJobName"]) == (None, None)


def test_a_model_of_another_class_set_never_replaces_the_champion_by_itself(
    aws: None, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vista_app.aws import client

    # GIVEN a six-class scenes model serving
    six = ("buildings", "forest", "glacier", "mountain", "sea", "street")
    champion = start_job(context, key="jobs/scenes.json")
    write_metrics(champion, 0.95, classes=six)
    deliver(state_change(champion), context)
    # WHEN a two-class forest/sea model scores 100% on its own two-class test split
    other = start_job(context, key="jobs/forest-or-sea.json")
    write_metrics(other, 1.0, classes=("forest", "sea"), test_set="forest-sea-test")
    result = deliver(state_change(other), context)
    # THEN it stays a candidate, saying why, and the six-class model keeps serving
    _, model = records(other)
    assert result["outcome"] == "kept as a candidate" and model["state"] == "candidate"
    assert "never promoted automatically" in model["reason"] and "promote it by hand, with force" in model["reason"]
    assert records(champion)[1]["state"] == "champion" and endpoint_model() == champion
    # AND a person promoting it must say so: without force 400 with the reason, with force it goes
    status, refused = call(request("api_post_models_promote", path={"name": other}), context)
    assert status == 400 and "Promote it with force" in refused["message"]
    updates = record_calls(monkeypatch, client("sagemaker"), "update_endpoint", {"EndpointArn": "arn"})
    forced = request("api_post_models_promote", path={"name": other}, body='{"force": true}')
    assert call(forced, context)[0] == 202 and len(updates) == 1


def test_a_challenger_measured_on_other_test_images_is_not_compared(aws: None, context: Any) -> None:
    champion = completed_model(context, 0.90, "jobs/first.json")
    challenger = start_job(context, key="jobs/second.json")
    write_metrics(challenger, 0.99, test_set="a-different-test-split")
    result = deliver(state_change(challenger), context)
    _, model = records(challenger)
    assert result["outcome"] == "kept as a candidate" and model["state"] == "candidate"
    assert f"measured on other images than champion {champion}" in model["reason"]
    assert records(champion)[1]["state"] == "champion"

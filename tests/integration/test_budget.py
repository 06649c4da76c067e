"""The daily training budget (MaxTrainingCostPerDay) across requests, with moto's DynamoDB."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.helpers.fakes import answer, response
from tests.helpers.support import REQUEST, put_request_event, upload_dataset

# 30 trials of ml.g5.xlarge ($1.408/h) for at most 2 h each: a ceiling of $84.48, within the
# $100 a request; three fit the default $300 a day, a fourth does not.
TUNED = {
    **REQUEST,
    "spot": False,
    "tuning": {"max_jobs": 30, "max_parallel_jobs": 3, "ranges": {"dropout": {"min": 0.1, "max": 0.5}}},
}


def start(key: str, context: Any, body: dict[str, Any] = TUNED, event: dict[str, Any] | None = None) -> dict[str, Any]:
    from vista_app.config import settings
    from vista_app.handlers import start_training
    from vista_app.records import Jobs

    [job] = start_training.lambda_handler(event or put_request_event(key, body), context)["jobs"]
    return Jobs(settings().jobs_table).get(job["name"]) or {}


def reserved_today() -> float:
    from vista_app import budget
    from vista_app.config import settings
    from vista_app.records import Jobs

    config = settings()
    return (budget.standing(Jobs(config.jobs_table), config.max_training_cost_per_day) or {})["reserved"]


def test_requests_within_their_cap_are_refused_once_the_day_s_budget_is_spent(aws: None, context: Any) -> None:
    upload_dataset()
    # GIVEN three requests of $84.48 each started today, each within the $100 a request
    started = [start(f"jobs/request-{i}.json", context) for i in range(3)]
    assert [j["status"] for j in started] == ["InProgress"] * 3
    assert reserved_today() == pytest.approx(3 * 84.48)
    # WHEN a fourth comes
    fourth = start("jobs/request-3.json", context)
    # THEN it is refused before anything starts, saying why
    assert fourth["status"] == "Failed"
    assert "$253.44 of today's $300.00 budget (the stack's MaxTrainingCostPerDay" in fourth["failure_reason"]
    assert len(boto3.client("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]) == 3
    # AND the dry run says so, with the budget as it stands
    from vista_app.aws import client
    from vista_app.config import settings
    from vista_app.training import dry_run_request
    from vista_app.training_request import parse_training_request

    dry = dry_run_request(
        parse_training_request(TUNED), settings=settings(), s3=client("s3"), sagemaker=client("sagemaker")
    )
    assert dry["accepted"] is False and "MaxTrainingCostPerDay" in dry["reason"]
    assert dry["budget"]["reserved"] == pytest.approx(253.44) and dry["budget"]["left"] == pytest.approx(46.56)


def test_a_request_sagemaker_refuses_gives_its_reservation_back(aws: None, context: Any) -> None:
    from vista_app.aws import client

    upload_dataset()
    answer(
        client("sagemaker"),
        "CreateHyperParameterTuningJob",
        lambda request: response(request.url, 400, {"message": "account limit"}, "ResourceLimitExceeded"),
    )
    assert start("jobs/refused.json", context)["status"] == "Failed"
    assert reserved_today() == 0


def test_a_request_delivered_twice_reserves_once(aws: None, context: Any) -> None:
    upload_dataset()
    event = put_request_event("jobs/twice.json", TUNED)
    first = start("", context, event=event)
    second = start("", context, event=event)
    assert first["name"] == second["name"] and reserved_today() == pytest.approx(84.48)

"""The cost ledger: SageMaker's own fields and the price file, checked by hand arithmetic."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import describe_from_event
from tests.helpers.stack import BUCKET, load_event

PRICES = {
    "currency": "USD",
    "regions": {
        "us-east-1": {
            "training_per_hour": {"ml.g5.xlarge": 1.408, "ml.p3.2xlarge": 3.825},
            "serverless_inference_per_gb_second": 0.00002,
            "serverless_data_per_gb": 0.016,
        }
    },
}


def test_a_spot_training_job_costs_its_billable_seconds_at_the_on_demand_rate() -> None:
    from vista_app.costs import job_cost

    # GIVEN SageMaker's description of a managed-spot job: 2 x ml.p3.2xlarge, 1,800 s trained, 600 s billed
    description = describe_from_event(load_event("on_training_event_training_completed")["detail"])
    description.update(
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        TrainingTimeInSeconds=1800,
        BillableTimeInSeconds=600,
    )
    # WHEN its cost is worked out
    cost = job_cost(description, region="us-east-1", prices=PRICES)
    # THEN by hand: 600 s x 2 instances x $3.825/h = $1.275; on demand 1,800 s x 2 x $3.825/h = $3.825
    assert cost["cost"] == pytest.approx(1.275)
    assert cost["on_demand_cost"] == pytest.approx(3.825)
    assert cost["savings"] == pytest.approx(2.55)


def test_an_instance_or_region_without_a_price_says_so_instead_of_guessing() -> None:
    from vista_app.costs import training_cost

    answer = training_cost(
        instance_type="ml.g5.xlarge",
        instance_count=1,
        training_seconds=10,
        billable_seconds=10,
        region="eu-west-3",
        prices=PRICES,
    )
    assert "cost" not in answer and "eu-west-3" in answer["cost_note"]


def test_serverless_cost_per_1000_predictions_from_latency_memory_and_payload() -> None:
    from vista_app.costs import cost_per_1000_predictions

    # 40 ms at 3,072 MB: 0.04 s x 3 GB x $0.00002 = $0.0000024 per call; 1 MiB in: 1/1024 GB x $0.016
    per_1000 = cost_per_1000_predictions(
        latency_ms=40, payload_bytes=1024**2, memory_mb=3072, region="us-east-1", prices=PRICES
    )
    assert per_1000 == pytest.approx(1000 * (0.04 * 3 * 0.00002 + 0.016 / 1024))


def test_the_bucket_price_file_overrides_the_bundled_one(aws: None) -> None:
    from vista_app.costs import load_prices

    bundled = load_prices()
    assert bundled["as_of"] and bundled["source"].startswith("https://aws.amazon.com/sagemaker/pricing/")
    override = {
        "regions": {
            "us-east-1": {"training_per_hour": {"ml.g5.xlarge": 1.0}},
            "eu-west-3": PRICES["regions"]["us-east-1"],
        }
    }
    boto3.client("s3").put_object(Bucket=BUCKET, Key="config/prices.json", Body=json.dumps(override).encode())
    prices = load_prices(boto3.client("s3"), BUCKET)
    assert prices["regions"]["us-east-1"]["training_per_hour"]["ml.g5.xlarge"] == 1.0
    assert (
        prices["regions"]["us-east-1"]["training_per_hour"]["ml.m5.xlarge"]
        == bundled["regions"]["us-east-1"]["training_per_hour"]["ml.m5.xlarge"]
    )
    assert "eu-west-3" in prices["regions"] and "config/prices.json" in prices["source"]


def test_ledger_sums_training_once_and_serving_per_prediction_by_day_job_and_model() -> None:
    from vista_app.costs import ledger

    jobs: list[dict[str, Any]] = [
        {"name": "j1", "kind": "training", "created_at": "2026-11-27T10:00:00", "cost": 1.0, "on_demand_cost": 3.0},
        {"name": "j2", "kind": "tuning", "created_at": "2026-11-28T10:00:00", "cost": 2.0, "on_demand_cost": 2.0},
        {"name": "c", "kind": "comparison", "created_at": "2026-11-28T10:00:00", "cost": 3.0},  # = j1 + j2
        {"name": "j3", "kind": "training", "created_at": "2026-11-28T11:00:00", "status": "Failed"},  # no cost yet
    ]
    models = [{"name": "m1", "training_cost": 1.0, "cost_per_1000_predictions": 0.01}, {"name": "m2"}]
    predictions = [
        {"model": "m1", "status": "OK", "latency_ms": 1000, "bytes": 0, "created_at": "2026-11-28T12:00:00"},
        {"model": "m1", "status": "OK", "latency_ms": 500, "bytes": 0, "created_at": "2026-11-28T12:01:00"},
        {"model": "m1", "status": "FAILED", "created_at": "2026-11-28T12:02:00"},
    ]
    book = ledger(jobs, models, predictions, memory_mb=2048, region="us-east-1", prices=PRICES)
    serving = 1.5 * 2 * 0.00002  # 1.5 s of 2 GB
    assert [(d["day"], d["training_cost"], d["serving_cost"]) for d in book["by_day"]] == [
        ("2026-11-27", 1.0, 0.0),
        ("2026-11-28", 2.0, pytest.approx(serving)),
    ]
    assert [r["job"] for r in book["by_job"]] == ["j1", "j2"]
    assert book["by_model"][0] == {
        "model": "m1",
        "training_cost": 1.0,
        "predictions": 2,
        "serving_cost": pytest.approx(serving),
        "cost_per_1000_predictions": 0.01,
        "total": pytest.approx(1.0 + serving),
    }
    assert book["total"] == pytest.approx(3.0 + serving)

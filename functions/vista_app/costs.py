"""What training and serving cost, from SageMaker's own figures and one price file.

Prices live in `prices.json` beside this module (with their date and source); a file of the
same shape at `s3://<data bucket>/config/prices.json` replaces any region or instance it
names. Training is billed per instance-second: BillableTimeInSeconds x InstanceCount at the
instance's on-demand rate (managed spot shows up as fewer billable than training seconds).
Serverless inference is billed per GB-second of compute plus the data processed.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors

logger = logging.getLogger(__name__)
PRICES_FILE = Path(__file__).with_name("prices.json")
OVERRIDE_KEY = "config/prices.json"


def load_prices(s3: Any = None, bucket: str | None = None) -> dict[str, Any]:
    """The bundled prices, with the bucket's config/prices.json laid over them when there is one."""
    prices = json.loads(PRICES_FILE.read_text())
    if s3 is None or bucket is None:
        return prices
    try:
        override = json.loads(s3.get_object(Bucket=bucket, Key=OVERRIDE_KEY)["Body"].read())
    except ClientError as error:
        if not errors.is_missing_object(error):
            raise
        return prices
    except ValueError as error:
        logger.warning("ignoring s3://%s/%s: not JSON (%s)", bucket, OVERRIDE_KEY, error)
        return prices
    for region, values in override.get("regions", {}).items():
        merged = prices["regions"].setdefault(region, {})
        merged.setdefault("training_per_hour", {}).update(values.get("training_per_hour", {}))
        merged.update({k: v for k, v in values.items() if k != "training_per_hour"})
    prices["source"] = f"{prices['source']}; overridden by s3://{bucket}/{OVERRIDE_KEY}"
    return prices


def training_cost(
    *,
    instance_type: str,
    instance_count: int,
    training_seconds: float | None,
    billable_seconds: float | None,
    region: str,
    prices: dict[str, Any],
) -> dict[str, Any]:
    """{"price_per_hour", "on_demand_cost", "cost", "savings"} or {"cost_note"} without a price."""
    rate = prices["regions"].get(region, {}).get("training_per_hour", {}).get(instance_type)
    if rate is None:
        return {"cost_note": f"no price for {instance_type} in {region}: add it to {OVERRIDE_KEY}"}
    if billable_seconds is None:
        return {"price_per_hour": rate}
    cost = billable_seconds * instance_count * rate / 3600
    on_demand = (training_seconds or billable_seconds) * instance_count * rate / 3600
    return {"price_per_hour": rate, "on_demand_cost": on_demand, "cost": cost, "savings": on_demand - cost}


def job_cost(description: dict[str, Any], *, region: str, prices: dict[str, Any]) -> dict[str, Any]:
    """training_cost() of a DescribeTrainingJob answer."""
    resources = description["ResourceConfig"]
    return training_cost(
        instance_type=resources["InstanceType"],
        instance_count=resources.get("InstanceCount", 1),
        training_seconds=description.get("TrainingTimeInSeconds"),
        billable_seconds=description.get("BillableTimeInSeconds"),
        region=region,
        prices=prices,
    )


def sum_costs(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Costs of several jobs (a tuning job's trials, a comparison's members) added up."""
    total = {"on_demand_cost": 0.0, "cost": 0.0, "savings": 0.0}
    for part in parts:
        for key in total:
            total[key] += part.get(key) or 0.0
    return total


def serving_cost(
    *, seconds: float, payload_bytes: float, memory_mb: int, region: str, prices: dict[str, Any]
) -> float | None:
    """One serverless invocation: compute (GB-seconds) plus the data processed in and out."""
    regional = prices["regions"].get(region, {})
    per_gb_second = regional.get("serverless_inference_per_gb_second")
    if per_gb_second is None:
        return None
    data = payload_bytes / 1024**3 * regional.get("serverless_data_per_gb", 0.0)
    return seconds * memory_mb / 1024 * per_gb_second + data


def cost_per_1000_predictions(
    *, latency_ms: float | None, payload_bytes: float | None, memory_mb: int, region: str, prices: dict[str, Any]
) -> float | None:
    if latency_ms is None:
        return None
    one = serving_cost(
        seconds=latency_ms / 1000, payload_bytes=payload_bytes or 0, memory_mb=memory_mb, region=region, prices=prices
    )
    return None if one is None else 1000 * one


def ledger(
    jobs: Iterable[dict[str, Any]],
    models: Iterable[dict[str, Any]],
    predictions: Iterable[dict[str, Any]],
    *,
    memory_mb: int,
    region: str,
    prices: dict[str, Any],
) -> dict[str, Any]:
    """Costs summed by day, by job and by model.

    Training counts once, on the job that paid for it (a tuning job's trials are inside it,
    a comparison is only the sum of its member jobs). Serving is estimated per OK prediction
    from its measured latency and size at the endpoint's memory size."""
    by_day: dict[str, dict[str, float]] = defaultdict(lambda: {"training": 0.0, "serving": 0.0})
    job_rows = []
    for job in jobs:
        if job.get("kind") == "comparison" or "cost" not in job:
            continue
        day = job.get("created_at", "")[:10]
        by_day[day]["training"] += job["cost"]
        job_rows.append(
            {
                "job": job["name"],
                "day": day,
                "kind": job.get("kind"),
                "instance_type": job.get("instance_type"),
                "training_seconds": job.get("training_seconds"),
                "billable_seconds": job.get("billable_seconds"),
                "on_demand_cost": job.get("on_demand_cost"),
                "cost": job["cost"],
                "savings": job.get("savings"),
            }
        )
    serving: dict[str, dict[str, float]] = defaultdict(lambda: {"predictions": 0, "cost": 0.0})
    for prediction in predictions:
        if prediction.get("status") != "OK" or prediction.get("latency_ms") is None:
            continue
        cost = serving_cost(
            seconds=prediction["latency_ms"] / 1000,
            payload_bytes=prediction.get("bytes", 0) * 4 / 3,
            memory_mb=memory_mb,
            region=region,
            prices=prices,
        )
        if cost is None:
            continue
        serving[prediction.get("model") or "-"]["predictions"] += 1
        serving[prediction.get("model") or "-"]["cost"] += cost
        by_day[prediction.get("created_at", "")[:10]]["serving"] += cost
    model_rows = []
    for model in models:
        served = serving.pop(model["name"], {"predictions": 0, "cost": 0.0})
        model_rows.append(
            {
                "model": model["name"],
                "training_cost": model.get("training_cost"),
                "predictions": served["predictions"],
                "serving_cost": served["cost"],
                "cost_per_1000_predictions": model.get("cost_per_1000_predictions"),
                "total": (model.get("training_cost") or 0.0) + served["cost"],
            }
        )
    day_rows = [
        {
            "day": day,
            "training_cost": v["training"],
            "serving_cost": v["serving"],
            "total": v["training"] + v["serving"],
        }
        for day, v in sorted(by_day.items())
    ]
    return {
        "currency": prices.get("currency", "USD"),
        "prices": {"as_of": prices.get("as_of"), "source": prices.get("source"), "region": region},
        "by_day": day_rows,
        "by_job": sorted(job_rows, key=lambda r: (r["day"], r["job"])),
        "by_model": sorted(model_rows, key=lambda r: -r["total"]),
        "total": sum(r["total"] for r in day_rows),
    }

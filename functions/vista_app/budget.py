"""The stack's daily training budget (MaxTrainingCostPerDay): what every request started on one UTC
day may cost at most, all together. The per-request cap (cost_guard) bounds one request; this bounds
a hundred requests of $99 each.

Each started request reserves its ceiling (the estimate's `max_cost`: the most it can be billed) in
a budget item of the Jobs table, one per day (`budget#2026-12-07`: no `listing`, so no list shows
it). The reservation and the job's own record are written in one DynamoDB transaction, each with
its condition: the day's total stays within the budget however many requests start at once, and a
request retried after a timeout never reserves twice. A request SageMaker then refuses gives its
reservation back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from vista_app.records import Jobs, from_item, to_item


class OverTheBudget(ValueError):
    """A request whose ceiling does not fit what is left of the day's budget."""


def day_key(now: datetime | None = None) -> str:
    return f"budget#{(now or datetime.now(UTC)).date().isoformat()}"


def standing(jobs: Jobs, cap: float, now: datetime | None = None) -> dict[str, Any] | None:
    """The day's budget as it stands: spent (reserved), the cap, what is left; None without a cap."""
    if not cap:
        return None
    item = jobs.table.get_item(Key={"name": day_key(now)}, ConsistentRead=True).get("Item")
    spent = from_item(item).get("reserved", 0) if item else 0
    return {"day": day_key(now).removeprefix("budget#"), "reserved": spent, "cap": cap, "left": max(0, cap - spent)}


def check(estimated: dict[str, Any], budget: dict[str, Any] | None) -> None:
    """Refuse a request that cannot fit what is left today (the dry run's check; `reserve` decides)."""
    if budget is None:
        return
    cost = _ceiling(estimated, budget["cap"])
    if cost > budget["left"]:
        raise OverTheBudget(_refusal(cost, budget["reserved"], budget["cap"]))


def reserve(jobs: Jobs, name: str, estimated: dict[str, Any], cap: float, now: datetime | None = None) -> None:
    """Reserve the estimate's ceiling of today's budget for the Starting job `name`, once;
    OverTheBudget if it does not fit. A job that has reserved already (a retry) reserves nothing more."""
    if not cap:
        return
    cost = _ceiling(estimated, cap)
    if cost > cap:
        raise OverTheBudget(_refusal(cost, 0, cap))
    day = day_key(now)
    try:
        jobs.table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": jobs.table.name,
                        "Key": {"name": day},
                        "UpdateExpression": "SET reserved = if_not_exists(reserved, :zero) + :cost",
                        "ConditionExpression": "attribute_not_exists(reserved) OR reserved <= :room",
                        "ExpressionAttributeValues": to_item({":zero": 0, ":cost": cost, ":room": cap - cost}),
                    }
                },
                {
                    "Update": {
                        "TableName": jobs.table.name,
                        "Key": {"name": name},
                        "UpdateExpression": "SET reserved = :cost, budget_day = :day",
                        "ConditionExpression": "attribute_not_exists(reserved)",
                        "ExpressionAttributeValues": to_item({":cost": cost, ":day": day}),
                    }
                },
            ]
        )
    except ClientError as error:
        reasons = error.response.get("CancellationReasons", [])
        if len(reasons) == 2 and reasons[1].get("Code") == "ConditionalCheckFailed":
            return  # reserved by an earlier attempt
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            spent = (standing(jobs, cap, now) or {}).get("reserved", 0)
            raise OverTheBudget(_refusal(cost, spent, cap)) from None
        raise


def release(jobs: Jobs, name: str) -> None:
    """Give back what the job `name` reserved (it never started), once."""
    job = jobs.get(name) or {}
    if not job.get("reserved"):
        return
    jobs.table.meta.client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": jobs.table.name,
                    "Key": {"name": job["budget_day"]},
                    "UpdateExpression": "SET reserved = reserved - :cost",
                    "ExpressionAttributeValues": to_item({":cost": job["reserved"]}),
                }
            },
            {
                "Update": {
                    "TableName": jobs.table.name,
                    "Key": {"name": name},
                    "UpdateExpression": "SET reserved = :zero",
                    "ConditionExpression": "reserved = :cost",
                    "ExpressionAttributeValues": to_item({":zero": 0, ":cost": job["reserved"]}),
                }
            },
        ]
    )


def _ceiling(estimated: dict[str, Any], cap: float) -> float:
    """The most the request can cost; OverTheBudget when it has no price to hold to the budget."""
    if "max_cost" not in estimated:
        raise OverTheBudget(f"without a price the daily budget of ${cap:,.2f} cannot be checked")
    return estimated["max_cost"]


def _refusal(cost: float, spent: float, cap: float) -> str:
    return (
        f"this request may cost up to ${cost:,.2f}, and ${spent:,.2f} of today's ${cap:,.2f} budget (the stack's "
        f"MaxTrainingCostPerDay, UTC days) is already reserved by requests started today: wait for tomorrow, "
        "ask for less, or raise the budget"
    )

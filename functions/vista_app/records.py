"""DynamoDB access, one small repository per table.

Items are plain dicts of JSON types; floats become Decimal on the way in and come
back as int/float on the way out, so callers never see DynamoDB's number types.
"""

from __future__ import annotations

import base64
import functools
import json
import operator
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from vista_app import errors
from vista_app.aws import table
from vista_app.errors import BadRequest, Unavailable

LISTING_INDEX = "by_created"  # GSI: listing (constant per table) + created_at, newest first


def timestamp() -> str:
    """Now, as the tables store every time: ISO 8601 in UTC, to the microsecond (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(item, default=_number))


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encode_token(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(from_item(key)).encode()).decode() if key else None


def _decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        return to_item(json.loads(base64.urlsafe_b64decode(token.encode())))
    except ValueError:
        raise InvalidToken("next_token is not one this API returned") from None


def _set_and_remove(changes: dict[str, Any], remove: tuple[str, ...]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An UpdateExpression that sets `changes` and removes `remove`, with its names and values."""
    expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
    names = {f"#f{i}": field for i, field in enumerate(changes)}
    if remove:
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        names |= {f"#r{i}": field for i, field in enumerate(remove)}
    return expression, names, {f":v{i}": value for i, value in enumerate(changes.values())}


class InvalidToken(BadRequest):
    pass


class Repository:
    key = "name"
    listing: str

    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={self.key: key}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Write a new item and return it as `get` would; None when one with the same key exists
        (a redelivered event)."""
        stamped = to_item({"listing": self.listing, "created_at": timestamp(), **item})
        try:
            self.table.put_item(
                Item=stamped,
                ConditionExpression=f"attribute_not_exists(#{self.key})",
                ExpressionAttributeNames={f"#{self.key}": self.key},
            )
        except ClientError as error:
            if errors.is_conditional_failure(error):
                return None
            raise
        return from_item(stamped)

    def update(
        self,
        key: str,
        changes: dict[str, Any],
        *,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        remove: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        """Set fields of an existing item (and remove the fields in `remove`); the item as it is
        now, or None when it does not exist or `condition` does not hold."""
        update, set_names, set_values = _set_and_remove({**changes, "updated_at": timestamp()}, remove)
        names = set_names | (names or {}) | {f"#{self.key}": self.key}
        expression = f"attribute_exists(#{self.key})"
        if condition:
            expression += f" AND ({condition})"
        try:
            answer = self.table.update_item(
                Key={self.key: key},
                UpdateExpression=update,
                ConditionExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(set_values | (values or {})),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if errors.is_conditional_failure(error):
                return None
            raise
        return from_item(answer["Attributes"])

    def newest(
        self, *, limit: int = 25, next_token: str | None = None, matching: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One page, newest first: {"items": [...], "next_token": str | None}."""
        return self._page(LISTING_INDEX, "listing", self.listing, limit=limit, next_token=next_token, matching=matching)

    def _page(
        self,
        index: str,
        attribute: str,
        value: str,
        *,
        limit: int,
        next_token: str | None,
        matching: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One page of an index's items whose partition `attribute` is `value`, sort key
        descending; `matching` keeps only items whose attributes have those values (a filter:
        the page may come back short, with a token to go on)."""
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": attribute},
            "ExpressionAttributeValues": {":k": value},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if matching:
            from boto3.dynamodb.conditions import Attr  # boto3 is ~70 ms of a cold start: only when filtering

            query["FilterExpression"] = functools.reduce(
                operator.and_, (Attr(name).eq(wanted) for name, wanted in sorted(matching.items()))
            )
        start = _decode_token(next_token)
        if start:
            query["ExclusiveStartKey"] = start
        answer = self.table.query(**query)
        return {
            "items": [from_item(i) for i in answer["Items"]],
            "next_token": _encode_token(answer.get("LastEvaluatedKey")),
        }

    def all(self) -> Iterator[dict[str, Any]]:
        """Every record, page after page (a scan: for small tables and tools). A record has a
        `listing`; the Jobs table's daily budget items (budget.py) do not."""
        query: dict[str, Any] = {
            "FilterExpression": "attribute_exists(#listing)",
            "ExpressionAttributeNames": {"#listing": "listing"},
        }
        while True:
            answer = self.table.scan(**query)
            yield from (from_item(i) for i in answer["Items"])
            if "LastEvaluatedKey" not in answer:
                return
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


class Jobs(Repository):
    listing = "job"


# The by_waiting index's one key: a prediction waiting for a model to be in service carries it.
WAITING_FOR = "model"
# A prediction's status while a function asks the endpoint (until its `claimed_until`).
CLASSIFYING = "CLASSIFYING"


class InProgress(Unavailable):
    """The same image (or request) is being classified by another delivery: ask again shortly (the
    IETF Idempotency-Key draft's 409 for a request still in progress)."""

    status = 409
    retry_after_s = 5


class Predictions(Repository):
    key = "id"
    listing = "prediction"

    def needing_review(
        self, *, limit: int = 25, next_token: str | None = None, matching: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Low-confidence predictions nobody has labelled yet, newest first (a sparse index)."""
        return self._page("by_review", "review", "needed", limit=limit, next_token=next_token, matching=matching)

    def labelled(self, model: str, *, limit: int, next_token: str | None = None) -> dict[str, Any]:
        """The model's predictions that have feedback, most recently labelled first."""
        return self._page("by_model_feedback", "model", model, limit=limit, next_token=next_token)

    def waiting(self, *, limit: int = 100, next_token: str | None = None) -> dict[str, Any]:
        """Images that came before any model was in service, newest first (a sparse index)."""
        return self._page("by_waiting", "waiting", WAITING_FOR, limit=limit, next_token=next_token)

    def claim(self, item: dict[str, Any], *, until: float) -> dict[str, Any] | None:
        """Take the prediction for classifying until `until` (epoch seconds: the deadline of the
        function that asks), before the endpoint is asked: the one idempotency mechanism of both ways
        in. None: taken, go on. Otherwise the answer already on record, or InProgress while another
        delivery holds an unexpired claim. A record waiting for a model, or a claim whose function
        died, is taken over. A claim is not listed (it has no `listing`) until it holds an answer."""
        claim = to_item({**item, "status": CLASSIFYING, "claimed_until": int(until)})
        try:
            self.table.put_item(
                Item=claim,
                ConditionExpression="attribute_not_exists(#id) OR #status = :waiting"
                " OR (#status = :classifying AND #until < :now)",
                ExpressionAttributeNames={"#id": self.key, "#status": "status", "#until": "claimed_until"},
                ExpressionAttributeValues={
                    ":waiting": "WAITING",
                    ":classifying": CLASSIFYING,
                    ":now": int(time.time()),
                },
            )
        except ClientError as error:
            if not errors.is_conditional_failure(error):
                raise
            earlier = self.get(item[self.key])
            if earlier is None or earlier["status"] == CLASSIFYING:  # None: released in between
                raise InProgress(f"prediction {item[self.key]} is being classified; ask again shortly") from None
            return earlier
        return None

    def settle(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Write the claimed prediction's outcome (its answer, FAILED, or WAITING) over the claim;
        None when the claim is no longer this caller's (it ran out and another took it over). A write
        that fails gives the claim up, so the retry takes the image at once."""
        stamped = to_item({"listing": self.listing, "created_at": timestamp(), **item})
        try:
            self.table.put_item(
                Item=stamped,
                ConditionExpression="#status = :classifying",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":classifying": CLASSIFYING},
            )
        except ClientError as error:
            if errors.is_conditional_failure(error):
                return None
            self.release(item[self.key])
            raise
        return from_item(stamped)

    def release(self, key: str) -> None:
        """Give a claim up (what was asked may succeed later): the next delivery takes it at once."""
        try:
            self.table.delete_item(
                Key={self.key: key},
                ConditionExpression="#status = :classifying",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":classifying": CLASSIFYING},
            )
        except ClientError as error:
            if not errors.is_conditional_failure(error):
                raise


class Models(Repository):
    listing = "model"

    def in_state(self, state: str) -> list[dict[str, Any]]:
        """Every model in `state` (candidate, promoting, champion, ...), oldest first."""
        query: dict[str, Any] = {
            "IndexName": "by_state",
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {":s": state},
        }
        found = []
        while True:
            answer = self.table.query(**query)
            found += [from_item(i) for i in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return found
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def crown(self, name: str, *, endpoint: str, replacing: list[str], change: dict[str, Any]) -> bool:
        """`name` (still `promoting`) becomes the champion and each of `replacing` (still
        champions) retired, with `change` (History.put) written in the same transaction: no
        reader ever sees two champions, or none, or a change of champion the history lacks.
        False when either no longer holds (a concurrent delivery crowned first: look again)."""
        stamp = timestamp()
        crowned = self._transition(
            name,
            {"state": "champion", "promoted_at": stamp, "endpoint": endpoint},
            "promoting",
            ("deploying_at", "retired_at", "reason"),
        )
        retired = [
            self._transition(
                other, {"state": "retired", "retired_at": stamp, "reason": f"replaced by {name}"}, "champion"
            )
            for other in replacing
            if other != name
        ]
        return self._transact([crowned, *retired, change])

    def fail(self, name: str, reason: str, *, was: str, change: dict[str, Any]) -> bool:
        """The endpoint could not serve the model: `failed` with SageMaker's reason, and `change`
        (History.put) written with it; False when it was no longer in state `was`."""
        failed = self._transition(name, {"state": "failed", "reason": reason[:1000]}, was, ("deploying_at",))
        return self._transact([failed, change])

    def _transition(self, key: str, fields: dict[str, Any], was: str, remove: tuple[str, ...] = ()) -> dict[str, Any]:
        """A TransactWriteItems Update of a model in state `was` (the resource's client takes and
        gives plain values, as the table does)."""
        expression, names, values = _set_and_remove({**fields, "updated_at": timestamp()}, remove)
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": {self.key: key},
                "UpdateExpression": expression,
                "ConditionExpression": "#state = :was",
                "ExpressionAttributeNames": names | {"#state": "state"},
                "ExpressionAttributeValues": to_item(values | {":was": was}),
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        try:
            self.table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def champion(self) -> dict[str, Any] | None:
        champions = sorted(self.in_state("champion"), key=lambda m: m.get("promoted_at", ""))
        return champions[-1] if champions else None

    def open_window(self, name: str, classes: list[str]) -> None:
        """Give a model recorded before drift windows existed its empty one (ADD needs the map);
        a window another writer opened meanwhile is kept."""
        empty = {"predictions": 0, "confidence": 0, "classes": dict.fromkeys(classes, 0)}
        self.table.update_item(
            Key={self.key: name},
            UpdateExpression="SET #w = if_not_exists(#w, :empty)",
            ConditionExpression="attribute_exists(#key)",
            ExpressionAttributeNames={"#w": "window", "#key": self.key},
            ExpressionAttributeValues=to_item({":empty": empty}),
        )

    def tally(self, name: str, counts: dict[str, int], confidence: int) -> dict[str, Any]:
        """Add answers to the model's open drift window (drift.py) in one atomic update: their
        number, their summed confidence (in drift's integer units) and how many gave each class;
        the record after it."""
        names = {"#w": "window", "#n": "predictions", "#s": "confidence", "#k": "classes"}
        names |= {f"#c{i}": label for i, label in enumerate(counts)}
        adds = ", ".join(["#w.#n :n", "#w.#s :s", *(f"#w.#k.#c{i} :c{i}" for i in range(len(counts)))])
        values = {":n": sum(counts.values()), ":s": confidence} | {f":c{i}": k for i, k in enumerate(counts.values())}
        answer = self.table.update_item(
            Key={self.key: name},
            UpdateExpression=f"ADD {adds}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
            ReturnValues="ALL_NEW",
        )
        return from_item(answer["Attributes"])

    def close_window(self, name: str, window: dict[str, Any], drift: dict[str, Any], history: list[Any]) -> None:
        """Take a closed window's answers out of the open one (what came after them stays) and
        record its drift, and the history of closed windows the console charts."""
        classes = {label: count for label, count in window["classes"].items() if count}
        names = {"#w": "window", "#n": "predictions", "#s": "confidence", "#k": "classes", "#d": "drift"}
        names |= {"#h": "drift_history"} | {f"#c{i}": label for i, label in enumerate(classes)}
        subtract = ", ".join(["#w.#n :n", "#w.#s :s", *(f"#w.#k.#c{i} :c{i}" for i in range(len(classes)))])
        values = {":n": -window["predictions"], ":s": -window["confidence"], ":d": drift, ":h": history}
        values |= {f":c{i}": -count for i, count in enumerate(classes.values())}
        self.table.update_item(
            Key={self.key: name},
            UpdateExpression=f"ADD {subtract} SET #d = :d, #h = :h",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )


class History(Repository):
    """Every change of champion, and every deploy that failed to make one: when, from, to, why
    (gate, manual, rollback, failed deploy), who asked and what was said. Written in the same
    transaction as the decision's outcome (Models.crown, Models.fail); read newest first."""

    key = "id"
    listing = "change"

    def put(self, *, model: str, before: str | None, after: str | None, why: str, **details: Any) -> dict[str, Any]:
        """A TransactWriteItems Put of a new change: `model` the decision was about, the champion
        `before` and `after` it (the same one when a deploy failed)."""
        stamp = timestamp()
        change = {"from": before, "to": after, "model": model, "why": why, **details}
        item = {"id": f"{stamp} {model}", "listing": self.listing, "created_at": stamp, **change}
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": to_item({k: v for k, v in item.items() if v is not None}),
                "ConditionExpression": "attribute_not_exists(#id)",
                "ExpressionAttributeNames": {"#id": self.key},
            }
        }

    def crowning(self, champion: str) -> dict[str, Any] | None:
        """The newest change that made `champion` the champion (its `from` served before it)."""
        token = None
        while True:
            page = self.newest(limit=100, next_token=token)
            found = next((c for c in page["items"] if c.get("to") == champion and c.get("from") != champion), None)
            if found or not page["next_token"]:
                return found
            token = page["next_token"]

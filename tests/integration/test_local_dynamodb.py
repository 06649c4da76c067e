"""Local mode's DynamoDB held to DynamoDB's isolation (vista/local/dynamodb.py): deliveries that
crown the same model at once leave one champion, as on DynamoDB. moto in this process."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

ROUNDS, DELIVERIES = 40, 4


@pytest.fixture
def switching_often() -> Iterator[None]:
    """Threads switch every microsecond, so a request can land inside another's transaction."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_concurrent_crowns_of_one_model_leave_one_champion(aws: None, settings, switching_often: None) -> None:
    from vista.local.dynamodb import isolate_as_dynamodb_does
    from vista_app.records import History, Models

    with isolate_as_dynamodb_does():
        crown_concurrently(Models(settings.models_table), History(settings.history_table))


def crown_concurrently(models: Any, history: Any) -> None:
    for n in range(200):  # a table of some size: moto copies it whole at each transaction
        models.create({"name": f"old-{n:03d}", "state": "retired", "reason": "x" * 200})
    models.create({"name": "m-00", "state": "champion"})
    champions = []
    for round_ in range(1, ROUNDS + 1):
        name = f"m-{round_:02d}"
        models.create({"name": name, "state": "promoting"})
        replacing = [m["name"] for m in models.in_state("champion")]
        crowned = []

        def deliver(name: str = name, replacing: list[str] = replacing, crowned: list[bool] = crowned) -> None:
            change = history.put(model=name, before=replacing[0], after=name, why="gate")
            crowned.append(models.crown(name, endpoint="vista-classifier", replacing=replacing, change=change))

        threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert crowned.count(True) == 1, crowned  # one delivery's transaction, the others cancelled
        champions.append(sorted(m["name"] for m in models.in_state("champion")))
    assert champions == [[f"m-{n:02d}"] for n in range(1, ROUNDS + 1)]
    # and the history has each change once: a cancelled transaction wrote none of its change
    changes = sorted((c["from"], c["to"]) for c in history.newest(limit=100)["items"])
    assert changes == [(f"m-{n - 1:02d}", f"m-{n:02d}") for n in range(1, ROUNDS + 1)]

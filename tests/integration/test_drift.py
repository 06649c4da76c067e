"""Drift windows on the Models table (moto): atomic tallies, windows closed once, the record and metrics."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import CLASSES, FakeEndpoint
from tests.helpers.stack import BUCKET, image_bytes
from tests.helpers.support import call, champion_on_record, request

WINDOW = 10
EVEN = {c: round(1 / len(CLASSES), 4) for c in CLASSES}


@pytest.fixture
def champion(aws: None, endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A champion whose test split was answered evenly at 90% confidence; a 10-answer drift window."""
    from vista_app import config

    monkeypatch.setenv("DRIFT_WINDOW", str(WINDOW))
    config.settings.cache_clear()
    return champion_on_record(
        hyperparameters={"architecture": "resnet50"},
        metrics={"reference": {"class_mix": EVEN, "mean_confidence": 0.9}, "class_names": CLASSES},
    )


def observe(model: dict[str, Any], answers: list[tuple[str, float]]) -> dict[str, Any] | None:
    from vista_app.config import settings
    from vista_app.drift import observe as observe_answers
    from vista_app.records import Models

    models = Models(settings().models_table)
    return observe_answers(answers, model=models.get(model["name"]), models=models, settings=settings())


def test_a_window_closes_once_on_the_batch_that_fills_it_and_the_next_one_opens(champion: dict[str, Any]) -> None:
    from vista_app.config import settings
    from vista_app.records import Models

    even = [(CLASSES[i % len(CLASSES)], 0.9) for i in range(6)]
    assert observe(champion, even) is None  # 6 of 10
    drift = observe(champion, even)  # 12: this batch filled it
    assert drift["predictions"] == 12 and drift["drifted"] is False and drift["divergence"] == 0
    record = Models(settings().models_table).get(champion["name"])
    assert record["drift"] == drift and record["window"] == {
        "predictions": 0,
        "confidence": 0,
        "classes": dict.fromkeys(CLASSES, 0),
    }
    assert [p["divergence"] for p in record["drift_history"]] == [0]
    # One class only: the next window drifts, and says why.
    drift = observe(champion, [("sea", 0.9)] * WINDOW)
    assert drift["drifted"] and drift["reason"].startswith("class mix diverged 0.6")
    assert len(Models(settings().models_table).get(champion["name"])["drift_history"]) == 2


def test_a_model_with_nothing_to_compare_with_opens_no_window(champion: dict[str, Any]) -> None:
    from vista_app.config import settings
    from vista_app.records import Models

    Models(settings().models_table).create({"name": "old", "state": "retired", "metrics": {}})
    assert observe({"name": "old"}, [("sea", 0.9)] * WINDOW) is None
    assert "window" not in Models(settings().models_table).get("old")


def test_api_predictions_fill_the_window_and_a_drifted_one_is_published_and_retrains_when_asked(
    champion: dict[str, Any],
    endpoint: FakeEndpoint,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import base64

    from vista_app import config

    monkeypatch.setenv("RETRAIN_ON_DRIFT", "true")
    config.settings.cache_clear()
    endpoint.confidence = 0.5  # the endpoint grew unsure: 40 points under the test split's 90%
    for i in range(WINDOW):
        body = base64.b64encode(image_bytes(color=(i * 20, 100, 200 - i * 15))).decode()
        status, created = call(request("api_post_predictions_jpeg", body=body, b64=True), context)
        assert status == 201, created
    published = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"ConfidenceDrop"' in line]
    assert len(published) == 1 and published[0]["ConfidenceDrop"] == [40.0] and published[0]["model"] == "vista-job"
    assert published[0]["MeanConfidence"] == [50.0] and 0 <= published[0]["ClassMixDivergence"][0] <= 1
    request_key = "jobs/retrain-vista-job.json"
    body = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=request_key)["Body"].read())
    assert body["dataset"] == "datasets/intel" and body["architecture"] == "resnet50"

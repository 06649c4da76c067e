""" "unknown": an answer under its class's threshold (the champion's, calibrated by its training job) or
under a caller's min_confidence, recorded with its best guess, flagged for review, counted by drift,
labelled like any other."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.helpers.fakes import CLASSES, FakeEndpoint, label_of
from tests.helpers.stack import image_bytes
from tests.helpers.support import call, champion_on_record, request

WINDOW = 10
EVEN = {c: round(1 / len(CLASSES), 4) for c in CLASSES}


@pytest.fixture
def unsure(aws: None, endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch) -> FakeEndpoint:
    """A champion whose thresholds are 0.95 a class, answering at 0.9 (under them); 10-answer drift windows."""
    from vista_app import config

    monkeypatch.setenv("DRIFT_WINDOW", str(WINDOW))
    config.settings.cache_clear()
    champion_on_record(
        thresholds=dict.fromkeys(CLASSES, 0.95),
        metrics={"reference": {"class_mix": EVEN | {"unknown": 0.0}, "mean_confidence": 0.9}, "class_names": CLASSES},
    )
    endpoint.confidence = 0.9
    return endpoint


def post(context: Any, image: bytes, query: dict[str, str] | None = None) -> tuple[int, Any]:
    body = base64.b64encode(image).decode()
    event = request("api_post_predictions_jpeg", body=body, content_type="image/jpeg", b64=True, query=query)
    return call(event, context)


def test_an_answer_under_its_class_threshold_is_unknown_with_its_best_guess_and_needs_review(
    unsure: FakeEndpoint, context: Any
) -> None:
    image = image_bytes(color=(10, 120, 30))
    status, created = post(context, image)
    assert status == 201
    assert created["label"] == "unknown" and created["review"] == "needed" and created["threshold"] == 0.95
    assert created["best_guess"] == {"label": label_of(image), "probability": 0.9}
    assert created["unknown_because"] == "not sure enough"
    assert created["probabilities"][label_of(image)] == 0.9  # every probability kept
    _, flagged = call(request("api_get_predictions", query={"review": "true"}), context)
    assert [p["id"] for p in flagged["items"]] == [created["id"]]
    _, unknowns = call(request("api_get_predictions", query={"label": "unknown"}), context)
    assert [p["id"] for p in unknowns["items"]] == [created["id"]]


def test_min_confidence_overrides_the_thresholds_and_is_a_question_of_its_own(
    unsure: FakeEndpoint, context: Any
) -> None:
    image = image_bytes(color=(200, 40, 30))
    _, unknown = post(context, image)
    status, answered = post(context, image, {"min_confidence": "0.5"})
    assert status == 201 and answered["id"] != unknown["id"]
    assert answered["label"] == label_of(image) and "best_guess" not in answered and "review" not in answered
    status, stricter = post(context, image, {"min_confidence": "0.99"})
    assert status == 201 and stricter["label"] == "unknown" and stricter["threshold"] == 0.99


@pytest.mark.parametrize("given", ["1.5", "-0.1", "high", "nan"])
def test_a_min_confidence_that_is_not_a_probability_is_400(unsure: FakeEndpoint, context: Any, given: str) -> None:
    status, body = post(context, image_bytes(), {"min_confidence": given})
    assert status == 400 and body["message"] == f"min_confidence must be a number from 0 to 1, not {given!r}"
    assert unsure.calls == 0


def test_a_model_without_thresholds_never_answers_unknown(endpoint: FakeEndpoint, context: Any) -> None:
    champion_on_record()
    endpoint.confidence = 0.2
    _, created = post(context, image_bytes())
    assert created["label"] in CLASSES and "best_guess" not in created and "threshold" not in created


def test_drift_counts_unknown_answers_and_feedback_on_one_labels_it(unsure: FakeEndpoint, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import Models

    created = [post(context, image_bytes(color=(i * 25, 90, 200)))[1] for i in range(WINDOW)]
    assert {c["label"] for c in created} == {"unknown"}
    drift = Models(settings().models_table).get("vista-job")["drift"]
    assert drift["class_mix"]["unknown"] == 1.0 and drift["drifted"] is True
    body = json.dumps({"label": CLASSES[0]})
    event = request("api_post_prediction_feedback", body=body, path={"prediction_id": created[0]["id"]})
    status, answer = call(event, context)
    assert status == 200
    assert answer["prediction"]["feedback_label"] == CLASSES[0] and answer["prediction"]["correct"] is False


def test_a_sure_answer_for_an_image_unlike_the_training_images_is_unknown(endpoint: FakeEndpoint, context: Any) -> None:
    """The model answers each image's distance to the class it gives (training_job/typicality.py): past the
    distance threshold its training job calibrated, however sure the softmax, the answer is unknown."""
    champion_on_record(thresholds=dict.fromkeys(CLASSES, 0.5), distance_threshold=1.2)
    endpoint.confidence, endpoint.distance = 0.99, 4.5
    image = image_bytes(color=(240, 200, 90))
    _, created = post(context, image)
    assert created["label"] == "unknown" and created["unknown_because"] == "unlike the images it was trained on"
    assert created["distance"] == 4.5 and created["best_guess"]["label"] == label_of(image)
    _, anyway = post(context, image, {"min_confidence": "0"})  # the caller takes the decision: a class
    assert anyway["label"] == label_of(image) and anyway["distance"] == 4.5 and "unknown_because" not in anyway
    endpoint.distance = 0.8
    _, typical = post(context, image_bytes(color=(20, 200, 90)))
    assert typical["label"] in CLASSES and typical["distance"] == 0.8 and "unknown_because" not in typical

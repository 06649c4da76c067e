"""What the Model Registry is told of a model: its approval status from its record, its test metrics
in Model Monitor's model-quality format."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("record", "status", "says"),
    [
        (
            {"state": "champion", "promoted_at": "2026-12-07T10:00:00+00:00"},
            "Approved",
            "the champion since 2026-12-07",
        ),
        ({"state": "retired", "promoted_at": "2026-12-07T10:00:00+00:00"}, "Approved", "now retired"),
        # once champion, always approved: a later failed promotion of it does not undo what served
        ({"state": "failed", "promoted_at": "2026-12-07T10:00:00+00:00", "reason": "x"}, "Approved", "now failed"),
        ({"state": "rejected", "reason": "test accuracy 0.8 does not beat"}, "Rejected", "does not beat"),
        (
            {"state": "failed", "reason": "SageMaker rolled the endpoint back: x"},
            "Rejected",
            "rolled the endpoint back",
        ),
        ({"state": "candidate", "reason": "measured on other images"}, "PendingManualApproval", "other images"),
        ({"state": "promoting"}, "PendingManualApproval", "not served yet"),
    ],
)
def test_the_approval_status_follows_what_vista_decided(record: dict, status: str, says: str) -> None:
    from vista_app.registry import approval

    assert approval({"name": "m", **record})[0] == status
    assert says in approval({"name": "m", **record})[1]


def test_test_metrics_are_model_monitors_multiclass_statistics() -> None:
    from vista_app.registry import model_quality

    metrics = {
        "accuracy": 0.75,
        "class_names": ["forest", "sea"],
        "confusion_matrix": [[3, 1], [0, 0]],
        "per_class": {
            "forest": {"precision": 1.0, "recall": 0.75, "f1": 0.8571, "support": 4},
            "sea": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0},
        },
        "test_images": 4,
    }
    quality = model_quality(metrics)
    figures = quality["multiclass_classification_metrics"]
    assert figures["confusion_matrix"] == {"forest": {"forest": 3, "sea": 1}, "sea": {"forest": 0, "sea": 0}}
    assert figures["accuracy"] == {"value": 0.75, "standard_deviation": "NaN"}
    assert figures["weighted_recall"]["value"] == 0.75 and figures["weighted_f1"]["value"] == 0.8571
    assert quality["dataset"] == {"item_count": 4}
    # a job that wrote only its accuracy (SageMaker's final metrics): that, and nothing made up
    assert model_quality({"accuracy": 0.5}) == {
        "version": 0.0,
        "dataset": {"item_count": 0},
        "multiclass_classification_metrics": {"accuracy": {"value": 0.5, "standard_deviation": "NaN"}},
    }

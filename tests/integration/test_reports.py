"""The HTML report: the Models table's numbers, the job's own pictures, SVG charts of the rest."""

from __future__ import annotations

import base64
import re
from typing import Any

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def model(name: str, accuracy: float, state: str, **extra: Any) -> dict[str, Any]:
    per_class = {"forest": {"precision": 0.8, "recall": 0.75, "f1": 0.7742, "support": 4}}
    return {
        "name": name,
        "state": state,
        "architecture": "fine_cnn",
        "accuracy": accuracy,
        "macro_f1": accuracy - 0.01,
        "loss": 0.4321,
        "parameters": 123456,
        "training_seconds": 61,
        "billable_seconds": 20,
        "training_cost": 0.0078,
        "serving_latency_ms": 12.5,
        "cost_per_1000_predictions": 0.00091,
        "metrics": {"per_class": per_class},
        **extra,
    }


def test_report_shows_the_models_numbers_pictures_and_tuning_trials() -> None:
    from vista_app.reports import build_report

    # GIVEN a leaderboard of two models, the first with the pictures its job drew, and a tuning job
    board = [model("vista-good", 0.9375, "champion"), model("vista-poor", 0.5, "rejected", reason="worse")]
    outputs = {
        "vista-good": {
            "confusion_matrix.png": PNG,
            "training_curves.png": PNG,
            "misclassified.png": PNG,
            "misclassified.json": [
                {"file": "7.jpg", "true": "sea", "predicted": "glacier", "probabilities": {"sea": 0.3, "glacier": 0.6}}
            ],
        }
    }
    trials = [
        {"name": f"t{i}", "status": "Completed", "objective": 0.5 + i / 10, "hyperparameters": hp}
        for i, hp in enumerate(
            [{"learning_rate": 0.001, "augment": True}, {"learning_rate": 0.01, "augment": False}], start=1
        )
    ]
    job = {
        "name": "vista-tune",
        "kind": "tuning",
        "status": "Completed",
        "cost": 0.5,
        "trials": trials,
        "request": {
            "dataset": "datasets/scenes",
            "tuning": {
                "objective": "val_accuracy",
                "ranges": {"learning_rate": {"min": 1e-4, "max": 0.1, "scale": "log"}, "augment": [True, False]},
            },
        },
    }
    # WHEN the page is built
    page = build_report(title="t", leaderboard=board, focus=board, outputs=outputs, job=job, tuning_jobs=[job])
    # THEN the leaderboard holds each model's own figures, in its order
    rows = re.findall(r'<tr id="row-([^"]+)">(.*?)</tr>', page)
    assert [name for name, _ in rows] == ["vista-good", "vista-poor"]
    assert all(cell in rows[0][1] for cell in ("93.8%", "92.8%", "0.4321", "123,456", "61 s", "$0.0078", "12.5 ms"))
    # AND the bar chart, the job's three pictures (embedded), per-class metrics and mistakes are there
    assert page.count("<svg") >= 4  # leaderboard, F1 per class x2, trials
    assert page.count("data:image/png;base64,") == 3
    assert "(confusion_matrix.png was not written by this job)" in page  # the second model has none
    assert "<td>forest</td><td class='num'>80.0%</td><td class='num'>75.0%</td><td class='num'>77.4%</td>" in page
    assert "<td>7.jpg</td><td>sea</td><td>glacier</td><td class='num'>60.0%</td><td class='num'>30.0%</td>" in page
    # AND the trials: objective against the log-scaled learning rate, and the best per categorical value
    assert "val_accuracy against learning_rate" in page and "learning_rate (log)" in page
    assert "best val_accuracy by augment" in page and "worse" in page


def test_report_escapes_what_people_typed() -> None:
    from vista_app.reports import build_report

    page = build_report(
        title="<script>x</script>", leaderboard=[model("<b>m</b>", 0.5, "candidate")], focus=[], outputs={}
    )
    assert "<script>x" not in page and "&lt;b&gt;m&lt;/b&gt;" in page


def test_missing_or_broken_job_outputs_leave_the_pictures_out(aws: None) -> None:
    import boto3

    from tests.helpers.stack import BUCKET
    from vista_app.reports import read_outputs

    artifact = f"s3://{BUCKET}/artifacts/training/job/output/model.tar.gz"
    assert read_outputs(boto3.client("s3"), {"artifact": artifact}) == {}
    boto3.client("s3").put_object(Bucket=BUCKET, Key="artifacts/training/job/output/output.tar.gz", Body=b"not a tar")
    assert read_outputs(boto3.client("s3"), {"artifact": artifact}) == {}


def test_the_best_trial_is_the_lowest_loss_when_the_objective_is_a_loss() -> None:
    from vista_app.reports import scatter

    svg = scatter([(1.0, 0.5), (2.0, 0.2), (3.0, 0.9)], x_label="dropout", y_label="val_loss", maximize=False)
    circles = re.findall(r"<circle [^>]*>", svg)
    assert ['stroke="#1b7f3b"' in circle for circle in circles] == [False, True, False]

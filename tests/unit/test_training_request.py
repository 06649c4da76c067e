"""The training request model and the SageMaker requests built from it: pure logic."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers.stack import load_event
from vista_app.metric_lines import METRIC_DEFINITIONS
from vista_app.names import is_tuning_child, job_name
from vista_app.training import _parameter_ranges
from vista_app.training_request import InvalidRequest, parse_training_request

EXAMPLE = json.loads(load_event("api_post_training_jobs")["body"])


def test_the_example_request_is_valid() -> None:
    request = parse_training_request(json.dumps(EXAMPLE))
    assert request.architecture == "resnet50"
    assert request.dataset_prefix == "datasets/intel/"
    assert request.hyperparameters.batch_size == 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": "resnet9000"}, "architecture: Input should be 'base_cnn'"),
        ({"dataset": None}, "dataset: Field required"),
        ({"dataset": "datasets/../secrets"}, "dataset: String should match pattern"),
        ({"dataset": "elsewhere/intel"}, "dataset: String should match pattern"),
        # The nearest names SageMaker takes (botocore's TrainingInstanceType), not a regular expression
        (
            {"instance_type": "ml.g5.xlage"},
            "instance_type: Value error, 'ml.g5.xlage' is not a SageMaker training instance type; "
            "the nearest are ml.g5.xlarge",
        ),
        ({"instance_type": "m5.large"}, "'m5.large' is not a SageMaker training instance type"),
        ({"hyperparameters": {"learning_rate": -1}}, "hyperparameters.learning_rate: Input should be greater than 0"),
        ({"hyperparameters": {"epochs": "ten"}}, "hyperparameters.epochs: Input should be a valid integer"),
        ({"hyperparameters": {"momentum": 0.9}}, "hyperparameters.momentum: Extra inputs are not permitted"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        (
            {"tuning": {"max_jobs": 2, "max_parallel_jobs": 3, "ranges": {"dropout": {"min": 0.1, "max": 0.5}}}},
            "max_parallel_jobs cannot exceed max_jobs",
        ),
        (
            {"tuning": {"ranges": {"learning_rate": {"min": 0, "max": 1, "scale": "log"}}}},
            "log-scaled range needs min > 0",
        ),
        ({"tuning": {"ranges": {"dropout": {"min": 0.6, "max": 0.1}}}}, "must be below max"),
        ({"tuning": {"ranges": {"architecture": ["resnet50", "alexnet"]}}}, "unknown architecture"),
        ({"tuning": {"ranges": {"optimizer": ["adam"]}}}, "'optimizer' cannot take a list"),
        ({"tuning": {"ranges": {}}}, "ranges: Dictionary should have at least 1 item"),
        # What SageMaker refuses (botocore's sagemaker model; the developer guide's tuning strategies)
        (
            {"tuning": {"strategy": "Grid", "ranges": {"dropout": {"min": 0.1, "max": 0.5}}}},
            "Grid search takes only lists of values: give ['dropout'] as a list",
        ),
        (
            {"tuning": {"strategy": "Grid", "max_jobs": 12, "ranges": {"batch_size": [16, 32], "augment": [1, 0]}}},
            "Grid search runs all 4 combinations: leave max_jobs out or set it to 4",
        ),
        (
            {"tuning": {"ranges": {"epochs": {"min": 5, "max": 50, "scale": "reverse_log"}}}},
            "'epochs' is an integer: its scale is auto, linear or log, not reverse_log",
        ),
        (
            {"tuning": {"ranges": {"l2": {"min": 0.5, "max": 1, "scale": "reverse_log"}}}},
            "'l2': a reverse_log range must lie within 0 <= x < 1",
        ),
        ({"tuning": {"ranges": {"batch_size": list(range(1, 32))}}}, "'batch_size' needs 1 to 30 values; it has 31"),
        # Every tuned value within its hyperparameter's own bounds
        (
            {"tuning": {"ranges": {"epochs": {"min": 1, "max": 100000000}}}},
            "'epochs' value 100000000.0: Input should be less than or equal to 500",
        ),
        (
            {"tuning": {"ranges": {"batch_size": [0]}}},
            "'batch_size' value 0: Input should be greater than or equal to 1",
        ),
        ({"tuning": {"ranges": {"image_size": [100000]}}}, "'image_size' value 100000: Input should be less than"),
        (
            {"tuning": {"ranges": {"epochs": {"min": 2.5, "max": 9}}}},
            "'epochs' value 2.5: Input should be a valid integer",
        ),
        (
            {"tuning": {"ranges": {"dropout": {"min": 0.1, "max": 1.5}}}},
            "'dropout' value 1.5: Input should be less than 1",
        ),
    ],
)
def test_bad_requests_say_what_is_wrong(change: dict, message: str) -> None:
    body = {k: v for k, v in {**EXAMPLE, **change}.items() if v is not None}
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        parse_training_request(body)


@pytest.mark.parametrize("body", [b"not json", b"{", b"[]", b'"text"', b"\xff\xfe"])
def test_non_json_or_non_object_requests_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_training_request(body)


def test_deeply_nested_request_is_refused_without_crashing() -> None:
    nested = "[" * 5000 + "]" * 5000
    with pytest.raises(InvalidRequest):
        parse_training_request('{"dataset": "datasets/x", "hyperparameters": ' + nested + "}")


def test_job_names_are_deterministic_and_fit_tuning_jobs() -> None:
    name = job_name("vista", "bucket/jobs/a.json/v1")
    assert name == job_name("vista", "bucket/jobs/a.json/v1") != job_name("vista", "bucket/jobs/a.json/v2")
    assert len(name) <= 32 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
    assert is_tuning_child(f"{name}-003-6e2f1c9a", "vista")
    assert not is_tuning_child(name, "vista")


def test_metric_definitions_parse_the_lines_training_prints() -> None:
    line = "epoch=3; train_loss=0.4123; train_accuracy=0.8812; val_loss=0.3561; val_accuracy=0.9023;"
    found = {}
    for definition in METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    assert found == {
        "epoch": 3,
        "train_loss": 0.4123,
        "train_accuracy": 0.8812,
        "val_loss": 0.3561,
        "val_accuracy": 0.9023,
    }


def test_tuning_ranges_become_sagemaker_parameter_ranges() -> None:
    request = parse_training_request(
        {
            **EXAMPLE,
            "tuning": {
                "ranges": {
                    "learning_rate": {"min": 1e-5, "max": 1e-2, "scale": "log"},
                    "dropout": {"min": 0.1, "max": 0.6},
                    "fine_tune_stages": {"min": 1, "max": 3},
                    "architecture": ["resnet50", "resnet101"],
                }
            },
        }
    )
    assert _parameter_ranges(request) == {
        "ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": "1e-05", "MaxValue": "0.01", "ScalingType": "Logarithmic"},
            {"Name": "dropout", "MinValue": "0.1", "MaxValue": "0.6", "ScalingType": "Auto"},
        ],
        "IntegerParameterRanges": [
            {"Name": "fine_tune_stages", "MinValue": "1", "MaxValue": "3", "ScalingType": "Auto"}
        ],
        "CategoricalParameterRanges": [{"Name": "architecture", "Values": ['"resnet50"', '"resnet101"']}],
    }


def test_the_consoles_training_form_takes_every_field_from_the_schema() -> None:
    """The form (console/static/training-form.js) is built from GET /schemas/training-request: it
    names no hyperparameter, and each search range the schema suggests is one the API accepts."""
    from tests.helpers.stack import ROOT
    from vista_app.training_request import TUNABLE_CONTINUOUS, ContinuousRange, Hyperparameters, TrainingRequest

    form = (ROOT / "functions" / "vista_app" / "console" / "static" / "training-form.js").read_text()
    named = [name for name in Hyperparameters.model_fields if re.search(rf"\b{name}\b", form)]
    assert named == []
    properties = TrainingRequest.model_json_schema()["$defs"]["Hyperparameters"]["properties"]
    suggested = {name: p["x-search"] for name, p in properties.items() if "x-search" in p}
    assert set(suggested) == {"learning_rate", "dropout", "l2"} <= set(TUNABLE_CONTINUOUS)
    for name, search in suggested.items():
        ContinuousRange.model_validate({k: v for k, v in search.items() if k != "tuned"})
        default = getattr(Hyperparameters(), name)
        assert search["min"] <= default <= search["max"], name
        Hyperparameters.model_validate({name: search["min"]})
        Hyperparameters.model_validate({name: search["max"]})


def test_grid_search_runs_every_combination_and_says_so_to_sagemaker() -> None:
    grid = {
        "strategy": "Grid",
        "max_parallel_jobs": 2,
        "ranges": {"batch_size": [16, 32, 64], "augment": [True, False]},
    }
    request = parse_training_request({**EXAMPLE, "tuning": grid})
    assert request.tuning is not None and request.tuning.max_jobs == 6
    assert parse_training_request({**EXAMPLE, "tuning": {**grid, "max_jobs": 6}}).tuning.max_jobs == 6


def test_reverse_log_is_taken_for_a_continuous_range_within_zero_and_one() -> None:
    tuning = {"ranges": {"dropout": {"min": 0.0, "max": 0.9, "scale": "reverse_log"}}}
    ranges = _parameter_ranges(parse_training_request({**EXAMPLE, "tuning": tuning}))
    assert ranges["ContinuousParameterRanges"][0]["ScalingType"] == "ReverseLogarithmic"

"""The cost guard: every request's estimate, the cap, and the instance choices that are a poor fit."""

from __future__ import annotations

from typing import Any

import pytest

from vista_app.cost_guard import OverTheCap, check, estimate
from vista_app.costs import load_prices
from vista_app.training_request import parse_training_request

PRICES = load_prices()
BASE = {"dataset": "datasets/intel", "architecture": "resnet50", "instance_type": "ml.g5.xlarge", "max_runtime_s": 3600}


def estimated(images: int | None = 14034, cap: float = 100, **request: Any) -> dict[str, Any]:
    body = {k: v for k, v in (BASE | request).items() if v is not None}
    return estimate(parse_training_request(body), region="us-east-1", prices=PRICES, images=images, cap=cap)


def test_one_job_costs_at_most_its_instances_for_its_max_runtime() -> None:
    rate = PRICES["regions"]["us-east-1"]["training_per_hour"]["ml.g5.2xlarge"]
    one = estimated(instance_type="ml.g5.2xlarge", instance_count=2, max_runtime_s=5400, spot=False)
    assert one["price_per_hour"] == rate and one["jobs"] == 1
    assert one["max_cost"] == one["typical_cost"] == round(rate * 2 * 1.5, 2)
    assert one["basis"] == f"${rate:,.3f}/h x 2 instance(s) x 1.5 h max runtime x 1 job(s)"
    # Managed spot cannot raise the ceiling; what it typically costs is shown beside it.
    spot = estimated(instance_type="ml.g5.2xlarge", instance_count=2, max_runtime_s=5400, spot=True)
    assert spot["max_cost"] == one["max_cost"] and spot["typical_cost"] == round(one["max_cost"] * 0.3, 2)
    assert spot["basis"].endswith("; spot typically 70% less")


def test_a_tuning_job_costs_its_trials_and_a_comparison_every_member_s() -> None:
    tuning = {"max_jobs": 12, "max_parallel_jobs": 3, "ranges": {"dropout": {"min": 0.1, "max": 0.5}}}
    tuned = estimated(tuning=tuning, spot=False)
    assert tuned["jobs"] == 12 and tuned["max_cost"] == round(1.408 * 12, 2)
    compared = estimated(architecture=None, architectures=["resnet50", "resnet101", "vgg16"], tuning=tuning)
    assert compared["jobs"] == 36 and compared["max_cost"] == round(1.408 * 36, 2)


def test_a_grid_search_costs_the_combinations_it_runs() -> None:
    grid = {
        "strategy": "Grid",
        "max_parallel_jobs": 2,
        "ranges": {"batch_size": [16, 32, 64], "augment": [True, False]},
    }
    assert estimated(tuning=grid, spot=False)["jobs"] == 6


def test_a_request_over_the_cap_is_refused_with_its_estimate_and_the_cap() -> None:
    tuning = {"max_jobs": 40, "max_parallel_jobs": 4, "ranges": {"dropout": {"min": 0.1, "max": 0.5}}}
    over = estimated(tuning=tuning, max_runtime_s=7200)
    assert over["max_cost"] == 112.64 and over["cap"] == 100
    with pytest.raises(OverTheCap) as refused:
        check(over)
    assert "may cost up to $112.64 ($1.408/h x 1 instance(s) x 2 h max runtime x 40 job(s)" in str(refused.value)
    assert "over the cap of $100.00 a request (the stack's MaxTrainingCostPerRequest)" in str(refused.value)
    check(estimated(tuning=tuning, max_runtime_s=7200, cap=0))  # 0: no cap
    check(estimated(tuning=tuning, max_runtime_s=6300))  # $98.56: within it


def test_an_instance_with_no_price_cannot_pass_a_cap() -> None:
    unpriced = estimated(instance_type="ml.trn1.2xlarge")
    assert "max_cost" not in unpriced and "no price for ml.trn1.2xlarge in us-east-1" in unpriced["cost_note"]
    with pytest.raises(OverTheCap, match=r"without a price the cost cap of \$100\.00 cannot be checked"):
        check(unpriced)
    check(estimated(instance_type="ml.trn1.2xlarge", cap=0))


@pytest.mark.parametrize(
    ("request_", "images", "warning"),
    [
        # A GPU for a small CNN on a small dataset: a CPU instance is the cheaper choice.
        (
            {"architecture": "base_cnn", "instance_type": "ml.g5.xlarge"},
            1000,
            "a GPU instance (ml.g5.xlarge, $1.408/h) for base_cnn on 1,000 training images: a CPU instance such as "
            "ml.m5.xlarge ($0.230/h)",
        ),
        # A CPU for a deep pretrained network on large images: the cheapest GPU is.
        (
            {"architecture": "resnet152", "instance_type": "ml.m5.4xlarge", "hyperparameters": {"image_size": 224}},
            14034,
            "a CPU instance (ml.m5.4xlarge, $0.922/h) for resnet152 at 224 px: the cheapest GPU instance, "
            "ml.g4dn.xlarge ($0.736/h)",
        ),
        # Tuned over architectures and image sizes: the fits of every trial are checked.
        (
            {
                "instance_type": "ml.c5.2xlarge",
                "tuning": {"max_jobs": 4, "ranges": {"architecture": ["fine_cnn", "vgg16"], "image_size": [96, 192]}},
            },
            900,
            "a CPU instance (ml.c5.2xlarge, $0.408/h) for vgg16 at 192 px",
        ),
    ],
)
def test_a_poor_fit_gets_a_warning_with_the_cheaper_choice(request_: dict, images: int, warning: str) -> None:
    [said] = estimated(images=images, **request_)["warnings"]
    assert said.startswith(warning), said


@pytest.mark.parametrize(
    ("request_", "images"),
    [
        ({"architecture": "base_cnn", "instance_type": "ml.m5.xlarge"}, 1000),
        ({"architecture": "base_cnn", "instance_type": "ml.g5.xlarge"}, None),  # more than 5,000 images
        ({"architecture": "resnet50", "instance_type": "ml.g5.xlarge", "hyperparameters": {"image_size": 224}}, 100),
        ({"architecture": "resnet50", "instance_type": "ml.m5.xlarge", "hyperparameters": {"image_size": 96}}, 100),
    ],
)
def test_a_good_fit_gets_no_warning(request_: dict, images: int | None) -> None:
    assert estimated(images=images, **request_)["warnings"] == []

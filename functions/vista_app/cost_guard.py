"""What a training request may cost, known before it starts: the estimate every request gets, the
stack's cap on it (MaxTrainingCostPerRequest), and the instance choices that are a poor fit.

The estimate is the most the request can be billed: SageMaker stops a job at MaxRuntimeInSeconds
and bills its instances for at most that long (BillableTimeInSeconds; botocore's
DescribeTrainingJob), so the ceiling is price per hour x instances x max runtime x jobs, where a
tuning job runs up to `max_jobs` trials and a comparison each member's. Managed spot is billed at
the Spot price, at most the on-demand one, so it cannot raise the ceiling; what it typically costs
is shown beside it, and the cap holds the ceiling, which is a promise, not the typical figure.
"""

from __future__ import annotations

from typing import Any

from vista_app.costs import OVERRIDE_KEY
from vista_app.training_request import TrainingRequest

# AWS: managed spot training "can optimize the cost of training models up to 90% over on-demand
# instances" (SageMaker developer guide, model-managed-spot-training.html). Spot prices move and a
# job may wait or be interrupted, so the typical figure shown plans with less: 70% off.
SPOT_TYPICAL_SAVING = 0.7
# Poor fits, and the cheaper choice named instead. A small CNN on a few thousand images keeps no GPU
# busy (the CPU input pipeline feeds it: make bench's throughput table), so a CPU instance trains
# it for a fraction of the price; a deep pretrained network on large images is many times slower on
# CPUs than on the cheapest GPU, which then costs less in all.
SMALL_CNNS = ("base_cnn", "fine_cnn")
SMALL_DATASET_IMAGES = 5000
DEEP_NETWORKS = ("vgg16", "resnet50", "resnet101", "resnet152")
LARGE_IMAGE_PX = 160
CPU_CHOICE = "ml.m5.xlarge"
GPU_CHOICE = "ml.g4dn.xlarge"


class OverTheCap(ValueError):
    """A request whose estimate is over MaxTrainingCostPerRequest (or cannot be checked against it)."""


def jobs_of(request: TrainingRequest) -> int:
    """How many training jobs the request can run: its trials for a tuning job, every member's for a comparison."""
    trials = request.tuning.max_jobs if request.tuning else 1
    return trials * len(request.architectures or [request.architecture])


def warnings(request: TrainingRequest, *, images: int | None, prices: dict[str, float]) -> list[str]:
    """The request's poor fits, each with the cheaper choice and both prices."""
    found = []

    def priced(instance: str) -> str:
        return f"${prices[instance]:,.3f}/h" if instance in prices else "no price on file"

    small = sorted(request.tried_architectures() & set(SMALL_CNNS))
    if request.gpu and small and images is not None and images <= SMALL_DATASET_IMAGES:
        found.append(
            f"a GPU instance ({request.instance_type}, {priced(request.instance_type)}) for {', '.join(small)} on "
            f"{images:,} training images: a CPU instance such as {CPU_CHOICE} ({priced(CPU_CHOICE)}) trains a "
            "small CNN on this few images for less"
        )
    deep = sorted(request.tried_architectures() & set(DEEP_NETWORKS))
    size = request.highest("image_size")
    if not request.gpu and deep and size >= LARGE_IMAGE_PX:
        found.append(
            f"a CPU instance ({request.instance_type}, {priced(request.instance_type)}) for {', '.join(deep)} at "
            f"{size} px: the cheapest GPU instance, {GPU_CHOICE} ({priced(GPU_CHOICE)}), trains it many times "
            "faster and costs less in all"
        )
    return found


def estimate(
    request: TrainingRequest, *, region: str, prices: dict[str, Any], images: int | None, cap: float
) -> dict[str, Any]:
    """The request's estimate: its ceiling (`max_cost`), what spot typically makes of it, how it was
    reckoned, the cap and whether it is within it, and the poor-fit warnings."""
    table = prices["regions"].get(region, {}).get("training_per_hour", {})
    rate = table.get(request.instance_type)
    jobs = jobs_of(request)
    result: dict[str, Any] = {
        "currency": "USD",
        "instance_type": request.instance_type,
        "instance_count": request.instance_count,
        "max_runtime_s": request.max_runtime_s,
        "jobs": jobs,
        "spot": request.spot,
        "cap": cap or None,
        "training_images": images,
        "warnings": warnings(request, images=images, prices=table),
    }
    if request.downloads_weights:
        result["network_access"] = (
            "this request downloads ImageNet weights, so its jobs run with network access: stage Keras's "
            "no-top files (by the names Keras gives them) under weights/<name>/ and name it in weights_prefix to run "
            "them isolated"
        )
    if rate is None:
        return result | {"cost_note": f"no price for {request.instance_type} in {region}: add it to {OVERRIDE_KEY}"}
    ceiling = rate * request.instance_count * request.max_runtime_s / 3600 * jobs
    result.update(
        price_per_hour=rate,
        max_cost=round(ceiling, 2),
        typical_cost=round(ceiling * (1 - SPOT_TYPICAL_SAVING), 2) if request.spot else round(ceiling, 2),
        basis=(
            f"${rate:,.3f}/h x {request.instance_count} instance(s) x {request.max_runtime_s / 3600:g} h "
            f"max runtime x {jobs} job(s)"
            + (f"; spot typically {SPOT_TYPICAL_SAVING:.0%} less" if request.spot else "")
        ),
    )
    return result


def check(estimated: dict[str, Any]) -> None:
    """Refuse a request over the cap, or one with no price to hold it to a cap."""
    cap = estimated["cap"]
    if not cap:
        return
    if "max_cost" not in estimated:
        raise OverTheCap(f"{estimated['cost_note']}; without a price the cost cap of ${cap:,.2f} cannot be checked")
    if estimated["max_cost"] > cap:
        raise OverTheCap(
            f"this request may cost up to ${estimated['max_cost']:,.2f} ({estimated['basis']}), over the cap of "
            f"${cap:,.2f} a request (the stack's MaxTrainingCostPerRequest): lower max_runtime_s, the tuning's "
            "max_jobs, the instance count or the instance type, or raise the cap"
        )

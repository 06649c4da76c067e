"""Inbox or batch: what 1,000 photos cost and how long they take through the inbox (classify in Lambda
reduces each photo, the serverless endpoint answers it) and as one batch (a Transform job on
ml.m5.xlarge or ml.g4dn.xlarge, its TF Serving decoding each original), and from how many photos a
batch costs less, for camera photos (12 MP) and web-sized ones (0.5 MP). The times are measured here,
per image, on this machine's CPU (the SavedModel on the reduced photo and on the original, and
Vista's reduction); the prices are the price table's (functions/vista_app/prices.json). A GPU
instance is shown with the CPU's time, an upper bound.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.batch_vs_inbox [--architecture A] [--runs 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.serving import MEMORY_MB

IMAGE_SIZE = 150  # the request default
IMAGES = 1000
CLASSIFY_MEMORY_MB = 512  # the classify function's MemorySize
INBOX_CONCURRENCY = 5  # the template's default ServerlessMaxConcurrency (the classify queue's cap too)
INSTANCES = ("ml.m5.xlarge", "ml.g4dn.xlarge")


PHOTOS = {"12 MP camera photos": (4000, 3000), "0.5 MP web photos": (800, 600)}


def measure(architecture: str, runs: int) -> dict[str, dict[str, float]]:
    """Per photo size, median milliseconds: Vista's reduction, the model on the reduced photo and on
    the original; and the bytes the inbox sends."""
    import keras
    import tensorflow as tf

    from architectures import build_model
    from export import export_savedmodel
    from synthetic import camera_jpeg
    from vista_app.images import decode_budget

    budget = decode_budget(CLASSIFY_MEMORY_MB)
    measured = {}
    with tempfile.TemporaryDirectory() as folder:
        keras.utils.set_random_seed(0)
        model = build_model(architecture, 6, image_size=IMAGE_SIZE, weights=None).model
        export_savedmodel(model, list("abcdef"), IMAGE_SIZE, Path(folder))
        serve = tf.saved_model.load(str(Path(folder) / "1")).signatures["serving_default"]
        for label, (width, height) in PHOTOS.items():
            measured[label] = _timed(serve, camera_jpeg(width, height), width * height, runs, budget)
    return measured


def _timed(serve: Any, photo: bytes, pixels: int, runs: int, budget: int) -> dict[str, float]:
    import tensorflow as tf

    from vista_app.images import inspect_image, reduce_for_model

    info = inspect_image(photo, max_bytes=len(photo), max_pixels=pixels)
    reduced = reduce_for_model(photo, info, IMAGE_SIZE, budget=budget)
    for data in (photo, reduced):
        serve(image_bytes=tf.constant([data]))  # warm
    calls = {
        "reduce": lambda: reduce_for_model(photo, info, IMAGE_SIZE, budget=budget),
        "reduced": lambda: serve(image_bytes=tf.constant([reduced])),
        "original": lambda: serve(image_bytes=tf.constant([photo])),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):  # interleaved: a drift in the machine's speed falls on all alike
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()} | {"sent_bytes": len(reduced) * 4 / 3}


def compare(measured: dict[str, float], prices: dict[str, Any], region: str = "us-east-1") -> list[dict[str, Any]]:
    """Cost and wall time of IMAGES photos each way, and the batch's break-even against the inbox."""
    from vista_app.batches import STARTUP_S
    from vista_app.costs import serving_cost

    table = prices["regions"][region]
    endpoint_s, lambda_s = measured["reduced"] / 1000, (measured["reduce"] + measured["reduced"]) / 1000
    endpoint = serving_cost(
        seconds=endpoint_s, payload_bytes=measured["sent_bytes"], memory_mb=MEMORY_MB, region=region, prices=prices
    )
    function = lambda_s * CLASSIFY_MEMORY_MB / 1024 * table["lambda_arm64_per_gb_second"] + table["lambda_per_request"]
    inbox_per_image = (endpoint or 0.0) + function
    rows = [
        {
            "path": f"inbox (Lambda {CLASSIFY_MEMORY_MB} MB + serverless {MEMORY_MB} MB, {INBOX_CONCURRENCY} at once)",
            "seconds_per_image": round(lambda_s, 3),
            "cost_per_image": inbox_per_image,
            "cost_per_1000": round(IMAGES * inbox_per_image, 4),
            "minutes_for_1000": round(IMAGES * lambda_s / INBOX_CONCURRENCY / 60, 1),
            "cheaper_from": None,
        }
    ]
    batch_s = measured["original"] / 1000
    for instance in INSTANCES:
        rate = table["training_per_hour"][instance] / 3600
        start_cost, per_image = STARTUP_S * rate, batch_s * rate
        cheaper = math.ceil(start_cost / (inbox_per_image - per_image)) if inbox_per_image > per_image else None
        rows.append(
            {
                "path": f"batch on {instance}" + (" (CPU time: an upper bound)" if ".g" in instance else ""),
                "seconds_per_image": round(batch_s, 3),
                "cost_per_image": per_image,
                "cost_per_1000": round(start_cost + IMAGES * per_image, 4),
                "minutes_for_1000": round((STARTUP_S + IMAGES * batch_s) / 60, 1),
                "cheaper_from": cheaper,
            }
        )
    return rows


def table(rows: list[dict[str, Any]], architecture: str) -> str:
    lines = [
        f"{IMAGES:,} photos, {architecture} at {IMAGE_SIZE} px, times measured on this CPU (us-east-1 prices)",
        "| photos | path | s an image | $ per 1,000 | minutes for 1,000 | a batch is cheaper from |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cheaper = (
            "-" if r["path"].startswith("inbox") else f"{r['cheaper_from']:,} photos" if r["cheaper_from"] else "never"
        )
        lines.append(
            f"| {r['photos']} | {r['path']} | {r['seconds_per_image']:.3f} | ${r['cost_per_1000']:.4f} "
            f"| {r['minutes_for_1000']:.1f} | {cheaper} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    from vista_app.costs import load_prices

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="resnet50")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    prices = load_prices()
    rows = [
        {"photos": label, **row}
        for label, measured in measure(args.architecture, args.runs).items()
        for row in compare(measured, prices)
    ]
    print(table(rows, args.architecture))
    return rows


if __name__ == "__main__":
    main()

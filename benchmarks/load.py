"""Pipeline and load: many images dropped into inbox/ at once, in local mode, through the whole
pipeline (S3 notification → SQS → classify → local serverless endpoint → DynamoDB).

Counts what matters (records lost, doubled, failed; the endpoint's peak concurrency against
its MaxConcurrency; calls it refused) and measures throughput and each image's latency from
its upload to its record, against the baseline of the bare model (the endpoint's loaded
SavedModel called directly, one image after another, on the same images): the share of time
Vista adds per image at steady state. Bounded: a fixed number of images, 127.0.0.1 only.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.load [--images 1000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any


def train_champion(target: Any, data: Path) -> str:
    """A small fine_cnn on the synthetic scenes, promoted and in service."""
    from vista import client

    client.upload_dataset(target, data, "load")
    request = client.cpu_request("datasets/load", "fine_cnn", epochs=3, image_size=48)
    return client.train_champion(target, request, "load", timeout_s=600)["name"]


def measure(cloud: Any, target: Any, images: list[Path], prefix: str = "inbox/load") -> dict[str, Any]:
    """Drop every image at once (8 uploads in parallel) and wait for their records."""
    from vista.client import wait_for
    from vista_app.records import Predictions

    s3 = target.client("s3")
    bucket = target.output("DataBucketName")
    endpoint = cloud.sagemaker.endpoints[target.output("EndpointName")]
    calls_before = endpoint.calls
    uploaded: dict[str, float] = {}

    def put(path: Path) -> None:
        key = f"{prefix}/{path.parent.name}-{path.name}"
        uploaded[key] = time.time()
        s3.upload_file(str(path), bucket, key)

    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, images))
    predictions = Predictions(target.output("PredictionsTableName"))

    def mine() -> list[dict[str, Any]]:
        return [r for r in predictions.all() if r.get("key", "").startswith(prefix + "/")]

    wait_for(f"{len(images)} records", lambda: len(mine()) >= len(images), 60 + 2 * len(images))
    time.sleep(3)  # anything doubled shows up now
    records = mine()
    keys = Counter(r["key"] for r in records)
    ends = {r["key"]: datetime.fromisoformat(r["created_at"]).timestamp() for r in records}
    latencies = sorted(ends[k] - uploaded[k] for k in ends)
    finished = max(ends.values())
    model_ms = bare_model_ms(endpoint, images)
    vista_ms = 1000 * (finished - started) / len(images)
    return {
        "images": len(images),
        "records": len(records),
        "ok": sum(r["status"] == "OK" for r in records),
        "lost": len(set(uploaded) - set(keys)),
        "doubled": sum(n - 1 for n in keys.values()),
        "seconds": round(finished - started, 1),
        "images_per_s": round(len(images) / (finished - started), 1),
        "latency_p50_s": round(statistics.median(latencies), 2),
        "latency_p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
        "vista_ms_per_image": round(vista_ms, 1),
        "bare_model_ms_per_image": round(model_ms, 1),
        "vista_adds": f"{vista_ms / model_ms - 1:.0%}",
        "endpoint_calls": endpoint.calls - calls_before,
        "endpoint_peak_concurrency": endpoint.peak,
        "endpoint_max_concurrency": endpoint.max_concurrency,
        "endpoint_refused": endpoint.refused,
    }


def bare_model_ms(endpoint: Any, images: list[Path]) -> float:
    """The baseline: the endpoint's own SavedModel on the same images, one after another."""
    import tensorflow as tf

    payloads = [path.read_bytes() for path in images]
    signature = endpoint.model.model.signatures["serving_default"]  # the container's loaded SavedModel
    signature(image_bytes=tf.constant(payloads[:1]))  # warm
    started = time.perf_counter()
    for data in payloads:
        signature(image_bytes=tf.constant([data]))
    return 1000 * (time.perf_counter() - started) / len(payloads)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args(argv)

    import boto3

    from synthetic import generate
    from vista.local.cloud import REGION, LocalCloud
    from vista.target import Target

    with tempfile.TemporaryDirectory() as folder, LocalCloud(Path(folder) / "cloud") as cloud:
        data = Path(folder) / "data"
        generate(data, train_per_class=10, test_per_class=-(-args.images // 6), size=48, seed=13)
        target = Target(cloud.outputs, REGION, boto3.Session(region_name=REGION))
        train_champion(target, data)
        images = sorted((data / "seg_test" / "seg_test").rglob("*.jpg"))[: args.images]
        result = measure(cloud, target, images)
    print(f"Pipeline: {result['images']:,} images dropped into inbox/ at once (local mode, this machine)")
    print("| figure | value |\n|---|---|")
    for name, value in result.items():
        print(
            f"| {name.replace('_', ' ')} | {value:,} |"
            if isinstance(value, int)
            else f"| {name.replace('_', ' ')} | {value} |"
        )
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

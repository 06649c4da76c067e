"""Serving: each architecture's exported SavedModel (what the endpoint loads) at batch 1 on this
CPU, against calling the same Keras model eagerly on the same image already decoded; its
`serving_default` in a SavedModel without the `explain` signature (which must cost nothing while
unused) and what `explain` itself takes; the
request a client sends (base64 JPEG in JSON) against the same image as a JSON float array;
and the serverless cost per 1,000 predictions that latency implies.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.serving [--architectures ...] [--runs 50]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MEMORY_MB = 3072  # the template's default ServerlessMemorySizeInMB


def percentiles(*calls: Callable[[], Any], runs: int) -> list[tuple[float, float]]:
    """Median and p99 milliseconds of each call, the calls taken in turn (a drift in the machine's
    speed falls on all alike)."""
    for call in calls:
        for _ in range(3):  # warm-up: tracing, allocation
            call()
    timings: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, times in zip(calls, timings, strict=True):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return [(statistics.median(t), sorted(t)[min(len(t) - 1, int(0.99 * len(t)))]) for t in timings]


def jpeg(image_size: int) -> bytes:
    """A synthetic scene, as a client would send it."""
    from synthetic import scene

    buffer = io.BytesIO()
    scene("mountain", np.random.default_rng(1), image_size).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def measure(architecture: str, image_size: int, runs: int) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from architectures import build_model
    from export import export_savedmodel
    from preprocessing import decode_resize
    from vista_app.costs import cost_per_1000_predictions, load_prices

    model = build_model(architecture, 6, image_size=image_size, augment=False).model
    data = jpeg(image_size)
    pixels = decode_resize(tf.constant(data), image_size)[tf.newaxis]
    classes = [f"class{i}" for i in range(6)]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as alone:
        export_savedmodel(model, classes, image_size, folder)
        export_savedmodel(model, classes, image_size, alone, explain=False)
        loaded = tf.saved_model.load(f"{folder}/1")
        serve, explain = loaded.signatures["serving_default"], loaded.signatures["explain"]
        serve_alone = tf.saved_model.load(f"{alone}/1").signatures["serving_default"]
        (saved_p50, saved_p99), (alone_p50, alone_p99), (explain_p50, _) = percentiles(
            lambda: serve(image_bytes=tf.constant([data])),
            lambda: serve_alone(image_bytes=tf.constant([data])),
            lambda: explain(image_bytes=tf.constant([data])),
            runs=runs,
        )
    [(eager_p50, eager_p99)] = percentiles(lambda: model(pixels, training=False), runs=runs)
    keras.backend.clear_session()
    b64_request = json.dumps({"instances": [{"b64": base64.b64encode(data).decode()}]})
    array_request = json.dumps({"instances": [pixels[0].numpy().round(1).tolist()]})
    return {
        "architecture": architecture,
        "parameters": model.count_params(),
        "savedmodel_p50_ms": round(saved_p50, 2),
        "savedmodel_p99_ms": round(saved_p99, 2),
        "without_explain_p50_ms": round(alone_p50, 2),
        "without_explain_p99_ms": round(alone_p99, 2),
        "with_explain_vs_without": round(saved_p50 / alone_p50, 2),
        "explain_p50_ms": round(explain_p50, 2),
        "eager_p50_ms": round(eager_p50, 2),
        "eager_p99_ms": round(eager_p99, 2),
        "vs_eager": round(saved_p50 / eager_p50, 2),
        "request_bytes_b64_jpeg": len(b64_request),
        "request_bytes_float_array": len(array_request),
        "payload_smaller": round(len(array_request) / len(b64_request), 1),
        "cost_per_1000_usd": cost_per_1000_predictions(
            latency_ms=saved_p50,
            payload_bytes=len(b64_request),
            memory_mb=MEMORY_MB,
            region="us-east-1",
            prices=load_prices(),
        ),
    }


def table(rows: list[dict[str, Any]], image_size: int, runs: int) -> str:
    lines = [
        f"Serving at batch 1 on this CPU, {image_size}x{image_size}, median/p99 of {runs} calls; "
        f"cost at {MEMORY_MB} MB serverless (us-east-1 prices)",
        "| architecture | SavedModel (bytes in) p50 / p99 | eager Keras (pixels in) p50 / p99 | vs eager "
        "| without `explain` p50 / p99 | with / without | `explain` p50 "
        "| request: b64 JPEG / float array | smaller | $ per 1,000 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['architecture']} | {r['savedmodel_p50_ms']:.1f} / {r['savedmodel_p99_ms']:.1f} ms "
            f"| {r['eager_p50_ms']:.1f} / {r['eager_p99_ms']:.1f} ms | {r['vs_eager']:.2f}x "
            f"| {r['without_explain_p50_ms']:.1f} / {r['without_explain_p99_ms']:.1f} ms "
            f"| {r['with_explain_vs_without']:.2f}x | {r['explain_p50_ms']:.1f} ms "
            f"| {r['request_bytes_b64_jpeg']:,} / {r['request_bytes_float_array']:,} B | {r['payload_smaller']:.0f}x "
            f"| ${r['cost_per_1000_usd']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="base_cnn,fine_cnn,mobilenetv3large,resnet50")
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    rows = [measure(name, args.image_size, args.runs) for name in args.architectures.split(",")]
    print(table(rows, args.image_size, args.runs))
    return rows


if __name__ == "__main__":
    main()

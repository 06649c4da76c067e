"""Reduction: what classify does in Lambda to a 12 MP camera JPEG before it asks the endpoint
(decode at a reduced scale, resize, re-encode: images.reduce_for_model), against what it saves —
the endpoint decoding the whole photo itself (the SavedModel's serving signature on the original
bytes, which, base64-encoded, would not even fit the serverless endpoint's 4 MB payload) — and the
payload each sends. Medians of repeated runs, interleaved.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.reduction [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

IMAGE_SIZE = 150  # the request default


def measure(runs: int) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from architectures import build_model
    from export import export_savedmodel
    from synthetic import camera_jpeg
    from vista_app.images import decode_budget, inspect_image, reduce_for_model

    budget = decode_budget(512)  # the classify function's MemorySize

    photo = camera_jpeg(4000, 3000)
    info = inspect_image(photo, max_bytes=len(photo), max_pixels=4000 * 3000)
    with tempfile.TemporaryDirectory() as folder:
        keras.utils.set_random_seed(0)
        export_savedmodel(
            build_model("fine_cnn", 6, image_size=IMAGE_SIZE).model, list("abcdef"), IMAGE_SIZE, Path(folder)
        )
        serve = tf.saved_model.load(str(Path(folder) / "1")).signatures["serving_default"]
        reduced = reduce_for_model(photo, info, IMAGE_SIZE, budget=budget)
        for data in (photo, reduced):
            serve(image_bytes=tf.constant([data]))  # warm
        times: dict[str, list[float]] = {"reduce": [], "serve_original": [], "serve_reduced": []}
        for _ in range(runs):
            for name, call in (
                ("reduce", lambda: reduce_for_model(photo, info, IMAGE_SIZE, budget=budget)),
                ("serve_original", lambda: serve(image_bytes=tf.constant([photo]))),
                ("serve_reduced", lambda: serve(image_bytes=tf.constant([reduced]))),
            ):
                started = time.perf_counter()
                call()
                times[name].append((time.perf_counter() - started) * 1000)
    ms = {name: statistics.median(values) for name, values in times.items()}
    return {
        "photo": f"{info.width}x{info.height} JPEG, {len(photo):,} B",
        "reduced_bytes": len(reduced),
        "payload_original_b64": (len(photo) + 2) // 3 * 4,
        "payload_reduced_b64": (len(reduced) + 2) // 3 * 4,
        "reduce_ms": round(ms["reduce"], 1),
        "serve_original_ms": round(ms["serve_original"], 1),
        "serve_reduced_ms": round(ms["serve_reduced"], 1),
        "endpoint_ms_saved": round(ms["serve_original"] - ms["serve_reduced"], 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    result = measure(parser.parse_args(argv).runs)
    print(f"Reduction of a {result['photo']} for a {IMAGE_SIZE}x{IMAGE_SIZE} model (median ms)")
    print(f"  Lambda: decode-reduce-encode          {result['reduce_ms']:>8.1f}")
    print(f"  endpoint on the original (baseline)   {result['serve_original_ms']:>8.1f}")
    print(f"  endpoint on the reduced image         {result['serve_reduced_ms']:>8.1f}")
    print(f"  payload: {result['payload_original_b64']:,} B base64 -> {result['payload_reduced_b64']:,} B")
    return result


if __name__ == "__main__":
    main()

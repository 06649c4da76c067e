"""`make bench`: every benchmark, each figure against a baseline measured in the same run.

Prints each benchmark's table, then a summary of the goals, and writes everything as JSON to
build/benchmarks.json (with the machine it ran on). Sized to finish in a few minutes on a
2-core machine; each module takes its own flags when run alone (`python -m benchmarks.serving -h`).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    batch_vs_inbox,
    cold_start,
    formats,
    input_pipeline,
    load,
    per_image,
    reduction,
    serving,
    training_throughput,
)

OUT = Path(__file__).resolve().parent.parent / "build" / "benchmarks.json"


def machine() -> dict[str, Any]:
    import tensorflow as tf

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per figure: its baseline, the goal, met or not (None: measured, no goal)."""
    cold = results["cold_start"]
    baseline_ms = next(r["median_ms"] for r in cold if r["kind"] == "baseline")
    served = results["serving"]
    pipe = results["pipeline"]
    steady = results["input_pipeline"][1]
    reduced = results["reduction"]
    per_image = results["per_image"]
    rows = [
        {
            "figure": f"cold start, {r['function']}",
            "value": f"{r['ratio']:.2f}x ({r['median_ms']:.0f} ms)",
            "baseline": f"bare `import boto3`: {baseline_ms:.0f} ms; {r['floor']} alone: {r['floor_ratio']:.2f}x",
            "goal": "<= 1.3x" if r["request_path"] else "measured (event path)",
            "met": r["ratio"] <= 1.3 if r["request_path"] else None,
        }
        for r in cold
        if r["kind"] == "handler" and r["function"] != "PublishTrainingCodeFunction"
    ]
    rows += [
        {
            "figure": f"Vista's own work per image, {r['path']}, {r['architecture']}",
            "value": f"{r['vista_ms']:.1f} ms ({r['vista_share']:.0%} of the model)",
            "baseline": f"the SavedModel's own time on the same image: {r['model_ms']:.1f} ms",
            "goal": "<= 25%" if r["default_model"] else "measured (a smaller model than the default)",
            "met": r["vista_share"] <= 0.25 if r["default_model"] else None,
        }
        for r in per_image
    ]
    rows += [
        {
            "figure": "serving latency, SavedModel at batch 1 (p50)",
            "value": ", ".join(f"{r['architecture']} {r['savedmodel_p50_ms']:.1f} ms" for r in served),
            "baseline": "the same Keras model called eagerly on decoded pixels: "
            + ", ".join(f"{r['vs_eager']:.2f}x" for r in served),
            "goal": "measured",
            "met": None,
        },
        {
            "figure": "serving_default beside the `explain` signature (p50)",
            "value": ", ".join(f"{r['architecture']} {r['with_explain_vs_without']:.2f}x" for r in served),
            "baseline": "the same model exported without `explain`: "
            + ", ".join(f"{r['without_explain_p50_ms']:.1f} ms" for r in served),
            "goal": "same within noise (<= 1.1x)",
            "met": all(r["with_explain_vs_without"] <= 1.1 for r in served),
        },
        {
            "figure": "request payload, base64 JPEG in JSON",
            "value": f"{served[0]['request_bytes_b64_jpeg']:,} B",
            "baseline": f"the image as a JSON float array: {served[0]['request_bytes_float_array']:,} B "
            f"({served[0]['payload_smaller']:.0f}x smaller)",
            "goal": ">= 25x smaller",
            "met": served[0]["payload_smaller"] >= 25,
        },
        {
            "figure": f"pipeline, {pipe['images']} images inbox -> record",
            "value": f"{pipe['images_per_s']} img/s, p50 {pipe['latency_p50_s']} s, p99 {pipe['latency_p99_s']} s, "
            f"{pipe['vista_ms_per_image']} ms per image",
            "baseline": f"the bare model on the same images: {pipe['bare_model_ms_per_image']} ms per image "
            f"(Vista adds {pipe['vista_adds']})",
            "goal": "measured (local mode: moto and the emulators in the same process)",
            "met": None,
        },
        {
            "figure": "a 12 MP camera JPEG reduced in Lambda",
            "value": f"{reduced['reduce_ms']} ms, {reduced['payload_reduced_b64']:,} B sent",
            "baseline": f"the endpoint decoding the original: {reduced['serve_original_ms']} ms "
            f"(saves {reduced['endpoint_ms_saved']} ms), {reduced['payload_original_b64']:,} B (over the 4 MB limit)",
            "goal": "Lambda time < endpoint time saved",
            "met": reduced["reduce_ms"] < reduced["endpoint_ms_saved"],
        },
        *(
            {
                "figure": f"{r['path']}, 1,000 {r['photos']}",
                "value": f"${r['cost_per_1000']:.4f}, {r['minutes_for_1000']:.1f} min",
                "baseline": "the inbox: "
                + next(f"${i['cost_per_1000']:.4f}" for i in results["batch_vs_inbox"] if i["photos"] == r["photos"]),
                "goal": "measured: cheaper than the inbox from "
                + (f"{r['cheaper_from']:,} photos" if r["cheaper_from"] else "no number of photos"),
                "met": None,
            }
            for r in results["batch_vs_inbox"]
            if r["path"].startswith("batch")
        ),
        *(
            {
                "figure": f"a 4 MP {r['format']} checked and sent (first in a process, then warm)",
                "value": f"{r['first_ms']:.0f} ms, then {r['warm_ms']:.0f} ms",
                "baseline": f"the same photo as a JPEG: {r['first_vs_jpeg']:.1f}x, then {r['warm_vs_jpeg']:.1f}x",
                "goal": "measured",
                "met": None,
            }
            for r in results["formats"][1:]
        ),
        {
            "figure": "input pipeline, cached epochs",
            "value": f"{steady['later_epochs']:,.0f} img/s",
            "baseline": f"keras.utils.image_dataset_from_directory: {steady['ratio']:.1f}x",
            "goal": ">= 2x",
            "met": steady["ratio"] >= 2,
        },
        {
            "figure": "serverless cost per 1,000 predictions (3,072 MB)",
            "value": ", ".join(f"{r['architecture']} ${r['cost_per_1000_usd']:.4f}" for r in served),
            "baseline": "from the measured SavedModel latency and request size",
            "goal": "measured",
            "met": None,
        },
    ]
    return rows


def main() -> int:
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine()}
    steps = [
        ("cold_start", lambda: cold_start.main(["--runs", "11"])),
        ("serving", lambda: serving.main([])),
        ("per_image", lambda: per_image.main([])),
        ("reduction", lambda: reduction.main([])),
        ("formats", lambda: formats.main([])),
        ("batch_vs_inbox", lambda: batch_vs_inbox.main([])),
        ("input_pipeline", lambda: input_pipeline.main(["--per-class", "60"])),
        ("training_throughput", lambda: training_throughput.main([])),
        ("pipeline", lambda: load.main(["--images", "200"])),
    ]
    for name, run in steps:
        print(f"\n== {name}", flush=True)
        results[name] = run()
    results["summary"] = summary(results)
    results["seconds"] = round(time.monotonic() - started)
    print(
        f"\n== summary ({results['machine']['cpus']} CPUs, {results['machine']['processor']}, "
        f"TensorFlow {results['machine']['tensorflow']}, {results['seconds']} s)"
    )
    print("| figure | value | baseline (same run) | goal | met |\n|---|---|---|---|---|")
    for row in results["summary"]:
        print(
            f"| {row['figure']} | {row['value']} | {row['baseline']} | {row['goal']} | "
            f"{ {True: 'yes', False: 'no', None: '-'}[row['met']] } |"
        )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=str))
    print(f"\n{OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

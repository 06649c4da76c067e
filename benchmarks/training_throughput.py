"""Training throughput: images/s per architecture, float32 against mixed precision, and each
with XLA, on synthetic in-memory data; with `--input-pipeline`, training_job's tf.data pipeline
too, alone on JPEG files and feeding the fastest variant, so a starved accelerator shows.

Backend-neutral Keras: runs unchanged on this CPU (TensorFlow) and on a GPU machine, where
`KERAS_BACKEND=jax` (always compiled with XLA) or tensorflow with CUDA may be what is there.

    PYTHONPATH=training_job .venv/bin/python -m benchmarks.training_throughput \\
        [--architectures base_cnn,resnet50] [--image-size 96] [--batch-size 32] [--steps 8]
    # on a GPU (`make bench-gpu`); NVIDIA's reference, ResNet-50 v1.5 in TensorFlow at batch 256 on
    # one A100 40GB: TF32 + XLA 909 img/s, mixed precision + XLA 2,375 img/s (DeepLearningExamples,
    # TensorFlow/Classification/ConvNets/resnet50v1.5/README.md, "Training performance results"):
    ... --architectures resnet50 --image-size 224 --batch-size 256 --steps 30 --input-pipeline
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = (("float32", False), ("mixed_float16", False), ("float32", True), ("mixed_float16", True))


def has_gpu() -> bool:
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def images_per_second(
    name: str, policy: str, xla: bool, image_size: int, batch_size: int, steps: int, fed: Any = None
) -> float:
    """One variant's training images/s: on in-memory arrays, or on `fed` = (tf.data dataset, its
    number of images), one epoch of it after one that compiles, warms up and fills its cache."""
    import keras

    from architectures import build_model

    keras.mixed_precision.set_global_policy(policy)
    model = build_model(name, 6, image_size=image_size, augment=False).model
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        jit_compile=xla if keras.backend.backend() == "tensorflow" else "auto",
    )
    if fed is None:
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (batch_size * steps, image_size, image_size, 3)).astype("float32")
        y = rng.integers(0, 6, batch_size * steps)
        model.fit(x[: batch_size * 2], y[: batch_size * 2], batch_size=batch_size, epochs=1, verbose=0)  # compile
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        images = batch_size * steps
    else:
        dataset, images = fed
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
        started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
    seconds = time.perf_counter() - started
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    return images / seconds


def input_pipeline(
    name: str, best: dict[str, Any], image_size: int, batch_size: int, steps: int
) -> list[dict[str, Any]]:
    """training_job's pipeline on `steps` batches of JPEGs (150 px, as the Intel dataset's): alone,
    epoch 1 (read and decode) and epoch 2 (from its cache); then feeding `best`, the fastest
    variant, against that variant on in-memory arrays. Under 1.0x: the model waits for data."""
    from benchmarks.input_pipeline import epoch_rates
    from data import list_classes, pipeline, scan
    from synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, train_per_class=-(-batch_size * steps // 6), test_per_class=0, size=150, seed=0)
        root = Path(tmp) / "seg_train"
        split = scan(root, list_classes(root), converted=Path(tmp) / "converted")
        dataset = pipeline(split, image_size=image_size, batch_size=batch_size, training=True, seed=0)
        first, cached = epoch_rates(dataset, len(split), 2)
        fed = images_per_second(
            name, best["precision"], best["xla"], image_size, batch_size, steps, (dataset, len(split))
        )
    return [
        {"case": "input pipeline alone, epoch 1 (read, decode, resize)", "images_per_s": first, "ratio": None},
        {"case": "input pipeline alone, later epochs (cached)", "images_per_s": cached, "ratio": None},
        {
            "case": f"{name} {best['precision']}{' + XLA' if best['xla'] else ''} fed by the pipeline",
            "images_per_s": fed,
            "ratio": fed / best["images_per_s"],
        },
    ]


def device() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name") if gpus else "CPU"
    elif backend == "jax":
        import jax

        name = jax.devices()[0].device_kind
    else:
        name = "unknown"
    return f"{name} (Keras {keras.__version__}, {backend} backend)"


def measure(
    architectures: list[str], image_size: int, batch_size: int, steps: int, variants: tuple[tuple[str, bool], ...]
) -> list[dict[str, Any]]:
    rows = []
    for name in architectures:
        baseline = None
        for policy, xla in variants:
            rate = images_per_second(name, policy, xla, image_size, batch_size, steps)
            baseline = baseline or rate
            rows.append(
                {"architecture": name, "precision": policy, "xla": xla, "images_per_s": rate, "ratio": rate / baseline}
            )
    return rows


def pipeline_table(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["case"]) for r in rows)
    lines = [f"{'input pipeline':<{width}}  {'images/s':>10}  {'vs in-memory':>12}"]
    lines += [
        f"{r['case']:<{width}}  {r['images_per_s']:>10.1f}  "
        + (f"{r['ratio']:>11.2f}x" if r["ratio"] is not None else f"{'':>12}")
        for r in rows
    ]
    return "\n".join(lines)


def table(rows: list[dict[str, Any]], image_size: int, batch_size: int) -> str:
    lines = [
        f"Training throughput on {device()}: {image_size}x{image_size}, batch {batch_size}, "
        "synthetic data (ratio: against float32 without XLA, same architecture)",
        f"{'architecture':<18}{'precision':<15}{'xla':<6}{'images/s':>10}{'ratio':>8}",
    ]
    lines += [
        f"{r['architecture']:<18}{r['precision']:<15}{'on' if r['xla'] else 'off':<6}"
        f"{r['images_per_s']:>10.1f}{r['ratio']:>7.2f}x"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="base_cnn,fine_cnn,mobilenetv3large,resnet50")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument(
        "--all-variants",
        action="store_true",
        help="mixed precision on a CPU too (without float16 units it is ~100x slower)",
    )
    parser.add_argument(
        "--input-pipeline",
        action="store_true",
        help="also the tf.data pipeline on JPEGs, alone and feeding the first architecture's fastest variant",
    )
    parser.add_argument("--json", type=Path, help="also write the rows, with the device, to this file")
    args = parser.parse_args(argv)
    gpu = has_gpu()
    variants = VARIANTS if gpu or args.all_variants else tuple(v for v in VARIANTS if v[0] == "float32")
    architectures = args.architectures.split(",")
    rows = measure(architectures, args.image_size, args.batch_size, args.steps, variants)
    print(table(rows, args.image_size, args.batch_size))
    if variants != VARIANTS:
        print("mixed precision: skipped without a GPU (--all-variants measures it anyway)")
    if args.input_pipeline:
        best = max((r for r in rows if r["architecture"] == architectures[0]), key=lambda r: r["images_per_s"])
        fed = input_pipeline(architectures[0], best, args.image_size, args.batch_size, args.steps)
        print(pipeline_table(fed))
        rows += [{"architecture": architectures[0], **r} for r in fed]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"device": device(), "arguments": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2)
        )
    return rows


if __name__ == "__main__":
    main()

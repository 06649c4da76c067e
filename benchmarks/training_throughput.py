"""Training throughput: images/s per architecture, float32 against mixed precision, and each
with XLA, on synthetic in-memory data (the input pipeline is measured on its own).

Backend-neutral Keras: runs unchanged on this CPU (TensorFlow) and on a GPU machine, where
`KERAS_BACKEND=jax` (always compiled with XLA) or tensorflow with CUDA may be what is there.

    PYTHONPATH=training_job .venv/bin/python -m benchmarks.training_throughput \\
        [--architectures base_cnn,resnet50] [--image-size 96] [--batch-size 32] [--steps 8]
    # on a GPU (NVIDIA's reference: TF ResNet-50, one A100, mixed precision + XLA ≈ 2,375 img/s):
    ... --architectures resnet50 --image-size 224 --batch-size 256 --steps 30
"""

from __future__ import annotations

import argparse
import time
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


def images_per_second(name: str, policy: str, xla: bool, image_size: int, batch_size: int, steps: int) -> float:
    import keras

    from architectures import build_model

    keras.mixed_precision.set_global_policy(policy)
    model = build_model(name, 6, image_size=image_size, augment=False).model
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        jit_compile=xla if keras.backend.backend() == "tensorflow" else "auto",
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size * steps, image_size, image_size, 3)).astype("float32")
    y = rng.integers(0, 6, batch_size * steps)
    model.fit(x[: batch_size * 2], y[: batch_size * 2], batch_size=batch_size, epochs=1, verbose=0)  # compile, warm up
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    return batch_size * steps / seconds


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
    args = parser.parse_args(argv)
    gpu = has_gpu()
    variants = VARIANTS if gpu or args.all_variants else tuple(v for v in VARIANTS if v[0] == "float32")
    rows = measure(args.architectures.split(","), args.image_size, args.batch_size, args.steps, variants)
    print(table(rows, args.image_size, args.batch_size))
    if variants != VARIANTS:
        print("mixed precision: skipped without a GPU (--all-variants measures it anyway)")
    return rows


if __name__ == "__main__":
    main()

"""Input pipeline: images/s of training_job's tf.data pipeline (parallel decode, cache,
prefetch) against `keras.utils.image_dataset_from_directory` on the same files, same run.

    PYTHONPATH=training_job .venv/bin/python -m benchmarks.input_pipeline [--per-class 100] [--epochs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


def epoch_rates(dataset: Any, images: int, epochs: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        started = time.perf_counter()
        for _batch in dataset:
            pass
        rates.append(images / (time.perf_counter() - started))
    return rates


def measure(per_class: int, epochs: int, image_size: int, batch_size: int) -> list[dict[str, Any]]:
    import keras

    from data import list_classes, pipeline, scan
    from synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp, train_per_class=per_class, test_per_class=0, size=150, seed=0)
        root = Path(tmp) / "seg_train"
        split = scan(root, list_classes(root), converted=Path(tmp) / "converted")
        ours = pipeline(split, image_size=image_size, batch_size=batch_size, training=True, seed=0)
        keras_dataset = keras.utils.image_dataset_from_directory(
            root / "seg_train", image_size=(image_size, image_size), batch_size=batch_size, seed=0, verbose=False
        )
        baseline = epoch_rates(keras_dataset, len(split), epochs)
        vista = epoch_rates(ours, len(split), epochs)
    steady_baseline = sum(baseline[1:]) / max(len(baseline) - 1, 1)
    return [
        {
            "case": "keras image_dataset_from_directory (baseline)",
            "first_epoch": baseline[0],
            "later_epochs": steady_baseline,
            "ratio": 1.0,
        },
        {
            "case": "training_job pipeline (decode once, cache, prefetch)",
            "first_epoch": vista[0],
            "later_epochs": sum(vista[1:]) / max(len(vista) - 1, 1),
            "ratio": (sum(vista[1:]) / max(len(vista) - 1, 1)) / steady_baseline,
        },
    ]


def table(rows: list[dict[str, Any]], images: int) -> str:
    width = max(len(r["case"]) for r in rows)
    lines = [
        f"Input pipeline: {images} JPEGs 150x150 → batches (images/s; 'later' = epochs 2+)",
        f"{'case':<{width}}  {'epoch 1':>9}  {'later':>9}  {'vs keras':>8}",
    ]
    lines += [
        f"{r['case']:<{width}}  {r['first_epoch']:>9.0f}  {r['later_epochs']:>9.0f}  {r['ratio']:>7.1f}x" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    rows = measure(args.per_class, args.epochs, args.image_size, args.batch_size)
    print(table(rows, args.per_class * 6))
    return rows


if __name__ == "__main__":
    main()

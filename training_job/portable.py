"""A trained model in forms other runtimes take, each checked before it is offered.

- `savedmodel`: the TF Serving folder as the endpoint serves it (encoded image bytes in);
- `tflite`: TensorFlow Lite, float32 (phones, edge devices);
- `tflite-int8`: TensorFlow Lite with int8 weights and activations, calibrated on the model's own
  training images (float32 in and out), about 4x smaller;
- `onnx`: ONNX (opset 17) by tf2onnx, for ONNX Runtime and what reads ONNX.

The TFLite and ONNX models are converted from the SavedModel's `pixels` signature: float32 RGB
[batch, size, size, 3], 0-255, the photo resized to the model's size as serving resizes it
(preprocessing.decode_resize), giving every class's probability. Each is checked on the model's
test images: top-1 agreement with the served model (at least 99% for the float formats; reported
for int8), its size, and its median batch-1 latency on the CPU it was checked on. Beside the model go
`metrics.json` with those figures, `classes.txt` and a README saying how to feed it: run as a
SageMaker job (export_job.py), the job's model.tar.gz is the archive a user downloads.

    python portable.py --model-dir <model.tar.gz, extracted> --test <test images> --calibration <training images> \
        --format tflite --out <dir>
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from data import IMAGE_SUFFIXES
from preprocessing import decode_resize

FORMATS = ("savedmodel", "tflite", "tflite-int8", "onnx")
FLOAT_AGREEMENT = 0.99  # the float formats must answer as the served model does on this share at least
LATENCY_RUNS = 30
CALIBRATION_IMAGES = 100
FILES = {"savedmodel": "savedmodel", "tflite": "model.tflite", "tflite-int8": "model-int8.tflite", "onnx": "model.onnx"}


class NotOffered(ValueError):
    """An export that does not answer as the served model does."""


def served(model_dir: Path) -> tuple[Any, list[str], int]:
    """The SavedModel's highest version, its classes and its input size."""
    versions = sorted((p for p in model_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    loaded = tf.saved_model.load(str(versions[-1]))
    spec = loaded.signatures["pixels"].structured_input_signature[1]["pixels"]
    probe = loaded.signatures["serving_default"](image_bytes=tf.constant([_blank_png()]))
    classes = [c.decode() for c in probe["classes"].numpy()[0]]
    return loaded, classes, int(spec.shape[1])


def _blank_png() -> bytes:
    return tf.io.encode_png(tf.zeros([8, 8, 3], tf.uint8)).numpy()


def images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def pixels_of(paths: list[Path], size: int) -> np.ndarray:
    return np.stack([decode_resize(tf.constant(p.read_bytes()), size).numpy() for p in paths])


def convert(fmt: str, model_dir: Path, loaded: Any, size: int, calibration: np.ndarray, out: Path) -> Path:
    """The model in `fmt`, written under `out`."""
    version = max((p for p in model_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    target = out / FILES[fmt]
    if fmt == "savedmodel":
        shutil.copytree(version, target / version.name)
        return target
    if fmt == "onnx":
        import tf2onnx

        spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="pixels")
        function = tf.function(lambda pixels: loaded.signatures["pixels"](pixels=pixels), input_signature=[spec])
        proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=17)
        target.write_bytes(proto.SerializeToString())
        return target
    converter = tf.lite.TFLiteConverter.from_saved_model(str(version), signature_keys=["pixels"])
    if fmt == "tflite-int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[np.newaxis]] for image in calibration)
    target.write_bytes(converter.convert())
    return target


def predictor(fmt: str, artifact: Path, loaded: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Pixels [batch, size, size, 3] → probabilities, as the export answers them."""
    if fmt == "savedmodel":
        return lambda pixels: loaded.signatures["pixels"](pixels=tf.constant(pixels))["probabilities"].numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
        return lambda pixels: session.run(["probabilities"], {"pixels": pixels.astype(np.float32)})[0]
    runner = tf.lite.Interpreter(model_path=str(artifact)).get_signature_runner("pixels")
    return lambda pixels: np.concatenate(
        [runner(pixels=p[np.newaxis].astype(np.float32))["probabilities"] for p in pixels]
    )


def check(
    fmt: str, answer: Callable[[np.ndarray], np.ndarray], loaded: Any, paths: list[Path], size: int
) -> dict[str, Any]:
    """Top-1 agreement with the served model (its serving signature on each test image's bytes), and
    the export's median batch-1 latency."""
    serve = loaded.signatures["serving_default"]
    expected = [int(np.argmax(serve(image_bytes=tf.constant([p.read_bytes()]))["probabilities"][0])) for p in paths]
    pixels = pixels_of(paths, size)
    got = [int(np.argmax(answer(pixels[i : i + 1])[0])) for i in range(len(paths))]
    timings = []
    for i in range(LATENCY_RUNS):
        started = time.perf_counter()
        answer(pixels[i % len(paths)][np.newaxis])
        timings.append((time.perf_counter() - started) * 1000)
    agreement = sum(a == b for a, b in zip(expected, got, strict=True)) / len(paths)
    return {
        "format": fmt,
        "test_images": len(paths),
        "top1_agreement": round(agreement, 4),
        "latency_ms": round(statistics.median(timings), 2),
    }


def readme(fmt: str, classes: list[str], size: int, figures: dict[str, Any]) -> str:
    feed = (
        "Send encoded JPEG or PNG bytes to its `serving_default` signature (`image_bytes`, a batch of strings), "
        "as TF Serving does; it answers `probabilities`, `label`, `classes` and `model`."
        if fmt == "savedmodel"
        else f"Input `pixels`: float32 [batch, {size}, {size}, 3], RGB values 0-255 (not scaled), the photo "
        f"resized to {size}x{size} (bilinear, antialiased). Output `probabilities`: float32 [batch, {len(classes)}], "
        "in the order of classes.txt."
    )
    return (
        f"# {FILES[fmt]} ({fmt})\n\n{feed}\n\nClasses, in order: {', '.join(classes)}.\n\n"
        f"Checked on {figures['test_images']} test images: top-1 agreement with the served model "
        f"{figures['top1_agreement']:.1%}; size {figures['size_bytes']:,} bytes; median batch-1 latency "
        f"{figures['latency_ms']} ms on the CPU that checked it.\n"
    )


def export(model_dir: Path, test: list[Path], fmt: str, out: Path, calibration: list[Path]) -> dict[str, Any]:
    """The model in `fmt` written into `out` (the model, metrics.json, classes.txt, README.md),
    checked on the `test` images; its figures. NotOffered when a float export agrees with the served
    model on fewer than FLOAT_AGREEMENT of them (nothing is written then)."""
    loaded, classes, size = served(model_dir)
    if not test:
        raise NotOffered("no test images: an export is checked on them before it is offered")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        artifact = convert(fmt, model_dir, loaded, size, pixels_of(calibration[:CALIBRATION_IMAGES], size), work)
        figures = check(fmt, predictor(fmt, artifact, loaded), loaded, test, size)
        figures["size_bytes"] = sum(p.stat().st_size for p in [artifact, *artifact.rglob("*")] if p.is_file())
        if fmt != "tflite-int8" and figures["top1_agreement"] < FLOAT_AGREEMENT:
            raise NotOffered(
                f"{fmt} agrees with the served model on {figures['top1_agreement']:.1%} of the test images"
            )
        (work / "metrics.json").write_text(json.dumps(figures, indent=2))
        (work / "classes.txt").write_text("\n".join(classes) + "\n")
        (work / "README.md").write_text(readme(fmt, classes, size, figures))
        out.mkdir(parents=True, exist_ok=True)
        for path in work.iterdir():
            shutil.move(path, out / path.name)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--calibration", type=Path, required=True, help="training images, int8's calibration")
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        figures = export(args.model_dir, images_under(args.test), args.format, args.out, images_under(args.calibration))
    except NotOffered as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

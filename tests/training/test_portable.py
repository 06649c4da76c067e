"""The portable exports (training_job/portable.py): each format converted from a trained model loads
in its own runtime and answers as the served model does, with its figures in the archive."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.training.test_training_job import run_train, sagemaker_environment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic classes in Kaggle's layout: 8 training and 3 test images each, 48 px."""
    from synthetic import generate

    out = tmp_path_factory.mktemp("scenes")
    generate(out, train_per_class=8, test_per_class=3, size=48, seed=3)
    return out


@pytest.fixture(scope="module")
def model_dir(scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("portable")
    args = ["--architecture", '"base_cnn"', "--epochs", "2", "--image-size", "48", "--weights", "none"]
    result = run_train([*args, "--model_dir", "s3://bucket/prefix/model"], sagemaker_environment(tmp, scenes))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "model"


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "tflite-int8", "onnx"])
def test_each_export_loads_in_its_runtime_and_answers_as_the_served_model(
    fmt: str, model_dir: Path, scenes: Path, tmp_path: Path
) -> None:
    import tensorflow as tf
    from portable import FILES, export, images_under, pixels_of, served

    test, train = scenes / "seg_test", scenes / "seg_train"
    figures = export(model_dir, test, fmt, tmp_path, calibration=train)
    with tarfile.open(tmp_path / f"{fmt}.tar.gz") as archive:
        archive.extractall(tmp_path / "x", filter="data")
    unpacked = tmp_path / "x"
    assert json.loads((unpacked / "metrics.json").read_text()) == figures
    assert figures["test_images"] == 18 and figures["size_bytes"] > 10_000 and figures["latency_ms"] > 0
    if fmt != "tflite-int8":
        assert figures["top1_agreement"] >= 0.99
    loaded, classes, size = served(model_dir)
    assert (unpacked / "classes.txt").read_text().split() == classes
    assert f"[batch, {size}, {size}, 3]" in (unpacked / "README.md").read_text() or fmt == "savedmodel"
    paths = images_under(test)[:4]
    pixels = pixels_of(paths, size)
    expected = loaded.signatures["pixels"](pixels=tf.constant(pixels))["probabilities"].numpy()
    artifact = unpacked / FILES[fmt]
    if fmt == "savedmodel":
        serve = tf.saved_model.load(str(artifact / "1")).signatures["serving_default"]
        got = np.concatenate([serve(image_bytes=tf.constant([p.read_bytes()]))["probabilities"].numpy() for p in paths])
    elif fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
        got = session.run(["probabilities"], {"pixels": pixels})[0]
    else:
        runner = tf.lite.Interpreter(model_path=str(artifact)).get_signature_runner("pixels")
        got = np.concatenate([runner(pixels=p[np.newaxis])["probabilities"] for p in pixels])
    assert got.shape == (4, len(classes))
    assert np.allclose(got, expected, atol=0.05 if fmt == "tflite-int8" else 1e-4)

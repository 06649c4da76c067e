"""training_job under the script-mode contract: its arguments, its time budget, what a job writes,
its portable exports."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.jobs import run_job, run_train, sagemaker_environment


def test_script_mode_arguments_as_sagemaker_sends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from train import parse_args

    monkeypatch.setenv("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training")
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    args = parse_args(
        [
            "--architecture",
            '"resnet50"',
            "--batch_size",
            "64",
            "--learning-rate",
            "0.01",
            "--augment",
            "false",
            "--model_dir",
            "s3://bucket/job/model",
            "--sagemaker_region",
            "x",
        ]
    )
    assert args.architecture == "resnet50" and args.batch_size == 64 and args.learning_rate == 0.01
    assert args.augment is False
    assert args.train == "/opt/ml/input/data/training"
    assert args.model_dir == "/opt/ml/model"  # not the container's s3:// --model_dir


class Clock:
    """time.perf_counter as a test sets it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_time_budget_stops_before_an_epoch_that_would_end_past_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import train

    clock = Clock()
    monkeypatch.setattr(train.time, "perf_counter", clock)
    budget = train.TimeBudget(100, planned_epochs=30)
    budget.set_model(type("Model", (), {"stop_training": False})())  # what fit sets and reads
    # the first epoch traces the graph (30 s), the others take 20 s: 30, 50, 70, 90 s; a fifth ends at 110
    for epoch, seconds in enumerate([30, 20, 20, 20]):
        budget.on_epoch_begin(epoch)
        clock.now += seconds
        budget.on_epoch_end(epoch)
        assert budget.model.stop_training is (epoch == 3)
    etas = [line for line in capsys.readouterr().out.splitlines() if line.startswith("eta_s=")]
    # epochs left at the pace so far, as many as the budget holds: 2 (of 29 planned) after 30 s, 2, 1, 0
    assert [line.split(";")[0] for line in etas] == ["eta_s=60", "eta_s=40", "eta_s=20", "eta_s=0"]
    assert budget.exhausted and budget.done == 4


def test_without_a_budget_the_eta_is_the_planned_epochs_left(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import train

    clock = Clock()
    monkeypatch.setattr(train.time, "perf_counter", clock)
    budget = train.TimeBudget(0, planned_epochs=5)
    budget.set_model(type("Model", (), {"stop_training": False})())
    for epoch in range(2):
        budget.on_epoch_begin(epoch)
        clock.now += 10
        budget.on_epoch_end(epoch)
    assert not budget.model.stop_training and not budget.exhausted
    assert capsys.readouterr().out.splitlines()[-1].startswith("eta_s=30;")


PHONE_FORMATS = {".webp": "WEBP", ".heic": "HEIF", ".avif": "AVIF", ".tif": "TIFF"}


@pytest.fixture(scope="module")
def phone_dataset(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset with four training photos as a phone or the web saves them (WebP, HEIC, AVIF,
    TIFF: none of which TensorFlow decodes) and one HEIC that is not one; its test split untouched."""
    import shutil

    from synthetic import encoded

    copy = tmp_path_factory.mktemp("phone") / "scenes"
    shutil.copytree(tiny_dataset, copy)
    forest = sorted((copy / "seg_train").rglob("forest/*.jpg"))
    for (suffix, fmt), photo in zip(PHONE_FORMATS.items(), forest, strict=False):
        photo.with_suffix(suffix).write_bytes(encoded(Image.open(photo).convert("RGB"), fmt))
        photo.unlink()
    next((copy / "seg_train").rglob("sea")).joinpath("broken.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    return copy


@pytest.fixture(scope="module")
def trained(phone_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("job")
    result = run_train(
        [
            "--architecture",
            '"base_cnn"',
            "--epochs",
            "2",
            "--image-size",
            "48",
            "--batch-size",
            "16",
            "--weights",
            "none",
            "--model_dir",
            "s3://bucket/prefix/model",
        ],
        sagemaker_environment(tmp, phone_dataset),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, result


def test_the_tuners_objective_is_the_exported_models(trained: tuple[Path, subprocess.CompletedProcess]) -> None:
    from vista_app.metric_lines import METRIC_DEFINITIONS

    _, result = trained
    epochs = [
        dict(re.findall(r"(\w+)=([-0-9.e]+);", line))
        for line in result.stdout.splitlines()
        if line.startswith("epoch=")
    ]
    best = min(epochs, key=lambda e: float(e["val_loss"]))  # what EarlyStopping restores and the job exports
    # SageMaker's final objective is the last value its metric definition finds in the log
    definition = next(d for d in METRIC_DEFINITIONS if d["Name"] == "val_accuracy")
    matches = [
        (m.group(1), line) for line in result.stdout.splitlines() for m in re.finditer(definition["Regex"], line)
    ]
    value, line = matches[-1]
    assert line.startswith("final: ")  # the exported weights evaluated once more, after the last epoch
    assert abs(float(value) - float(best["val_accuracy"])) < 1e-3


def test_a_job_writes_metrics_its_mistakes_and_a_servable_model(
    trained: tuple[Path, subprocess.CompletedProcess],
) -> None:
    tmp, result = trained
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch=")]
    assert [line.split(";")[0] for line in lines] == ["epoch=1", "epoch=2"]
    assert "val_accuracy=" in lines[0] and "test_accuracy=" in result.stdout
    assert "eta_s=0;" in result.stdout and "fit_seconds=" in result.stdout  # the job's ETA and training time
    metrics = json.loads((tmp / "model" / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"buildings", "forest", "glacier", "mountain", "sea", "street"}
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["test_images"] == 18
    assert 0 <= metrics["accuracy"] <= 1
    # the phone's formats trained on from their JPEG conversion; the HEIC that is not one skipped
    assert metrics["converted_files"] == len(PHONE_FORMATS) and metrics["skipped_files"] == 1
    assert f"converted_files={len(PHONE_FORMATS)};" in result.stdout
    # converted into the run's own folder, gone with it: nothing a later run could take for its own
    assert not list((tmp / "tmp").iterdir()) and not list((tmp / "input").iterdir())
    assert metrics["test_set"]["images"] == 18 and len(metrics["test_set"]["digest"]) == 64  # what the gate compares
    assert (tmp / "model" / "1" / "saved_model.pb").exists()
    # What the report draws from: each epoch's history, and each mistake with its thumbnail under its heatmap.
    history = json.loads((tmp / "output" / "data" / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_accuracy"]) == 2
    wrong = json.loads((tmp / "output" / "data" / "misclassified.json").read_text())
    assert len(wrong) == min(12, round((1 - metrics["accuracy"]) * 18))
    for mistake in wrong:
        prefix, _, data = mistake["thumbnail"].partition(",")
        assert prefix == "data:image/jpeg;base64" and max(Image.open(io.BytesIO(base64.b64decode(data))).size) <= 160
    assert json.loads((tmp / "output" / "data" / "metrics.json").read_text()) == metrics


def test_the_served_model_answers_each_images_distance_as_its_job_calibrated_it(
    trained: tuple[Path, subprocess.CompletedProcess], tiny_dataset: Path
) -> None:
    """serving_default's `distance` (typicality.py, in the graph) is the distance the job measured: on the
    test split, the same share of answers clears the thresholds as the job's `thresholded` figures say."""
    import tensorflow as tf

    from thresholds import Cuts

    tmp, result = trained
    metrics = json.loads((tmp / "model" / "metrics.json").read_text())
    assert "thresholds: answered_and_right=" in result.stdout and metrics["distance_threshold"] > 0
    classes = sorted(metrics["thresholds"])
    serve = tf.saved_model.load(str(tmp / "model" / "1")).signatures["serving_default"]
    paths = sorted((tiny_dataset / "seg_test").rglob("*.jpg"))
    answers = [serve(image_bytes=tf.constant([p.read_bytes()])) for p in paths]
    probabilities = np.concatenate([a["probabilities"].numpy() for a in answers])
    distance = np.concatenate([a["distance"].numpy() for a in answers])
    cuts = Cuts([metrics["thresholds"][c] for c in classes], metrics["distance_threshold"])
    kept = cuts.kept(probabilities, distance)
    assert round(float(1 - kept.mean()), 4) == pytest.approx(metrics["thresholded"]["unknown_share"], abs=1 / 18)


def test_a_mistakes_thumbnail_is_red_where_the_model_looked_and_unchanged_elsewhere(tmp_path: Path) -> None:
    from evaluation import RED, thumbnail

    Image.new("RGB", (400, 200), (40, 160, 60)).save(tmp_path / "wide.png")
    uri = thumbnail(tmp_path / "wide.png", [[1.0, 0.0], [0.0, 0.0]])
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.partition(",")[2]))), dtype=float)
    assert picture.shape == (80, 160, 3)  # at most 160 px, the shape kept
    looked, elsewhere = picture[2, 2], picture[-3, -3]
    assert np.abs(elsewhere - (40, 160, 60)).max() < 8
    assert np.abs(looked - (0.4 * np.array((40, 160, 60)) + 0.6 * np.array(RED))).max() < 12


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "tflite-int8", "onnx"])
def test_each_portable_export_loads_in_its_runtime_and_answers_as_the_served_model(
    fmt: str, trained: tuple[Path, subprocess.CompletedProcess], tiny_dataset: Path, tmp_path: Path
) -> None:
    """training_job/portable.py: the trained model as TFLite (float, int8), ONNX or the served folder,
    each loaded in its own runtime (TF's TFLite interpreter, ONNX Runtime), its figures beside it."""
    import tensorflow as tf

    from portable import FILES, export, images_under, pixels_of, served

    model_dir = trained[0] / "model"
    test, train = tiny_dataset / "seg_test", tiny_dataset / "seg_train"
    unpacked = tmp_path / "x"
    figures = export(model_dir, images_under(test), fmt, unpacked, calibration=images_under(train))
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


def test_the_savedmodel_holds_each_weight_once(trained: tuple[Path, subprocess.CompletedProcess]) -> None:
    tmp, _ = trained
    metrics = json.loads((tmp / "model" / "metrics.json").read_text())
    variables = sum(p.stat().st_size for p in (tmp / "model" / "1" / "variables").iterdir())
    assert metrics["parameters"] * 4 <= variables < metrics["parameters"] * 4 * 1.1


def _model_archive(trained: tuple[Path, subprocess.CompletedProcess], folder: Path) -> Path:
    """The model channel of an export job: the model's model.tar.gz, as SageMaker uploaded it."""
    folder.mkdir()
    with tarfile.open(folder / "model.tar.gz", "w:gz") as archive:
        for path in (trained[0] / "model").iterdir():
            archive.add(path, arcname=path.name)
    return folder


def test_an_export_job_checks_the_export_on_the_models_own_test_split(
    trained: tuple[Path, subprocess.CompletedProcess], tiny_dataset: Path, tmp_path: Path
) -> None:
    """training_job/export_job.py under script mode: the model's hyperparameters, channels and a `model`
    channel in; the export and its figures in SM_MODEL_DIR (the job's model.tar.gz is the download)."""
    metrics = json.loads((trained[0] / "model" / "metrics.json").read_text())
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    environment["SM_CHANNEL_MODEL"] = str(_model_archive(trained, tmp_path / "channel"))
    arguments = ["--format", '"tflite"', "--test_set", json.dumps(metrics["test_set"]["digest"]), "--seed", "42"]
    result = run_job("export_job.py", arguments, environment)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = tmp_path / "model"
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "classes.txt", "metrics.json", "model.tflite"]
    figures = json.loads((exported / "metrics.json").read_text())
    assert figures["test_images"] == metrics["test_set"]["images"] and figures["top1_agreement"] >= 0.99


def test_an_export_job_refuses_a_dataset_changed_since_the_model_was_trained(
    trained: tuple[Path, subprocess.CompletedProcess], tiny_dataset: Path, tmp_path: Path
) -> None:
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    environment["SM_CHANNEL_MODEL"] = str(_model_archive(trained, tmp_path / "channel"))
    result = run_job("export_job.py", ["--format", '"onnx"', "--test_set", '"0123456789abcdef"'], environment)
    assert result.returncode == 2
    assert "ValueError: the dataset's test split is not the one the model was judged on" in result.stderr
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())

"""training_job: data, architectures, training under the script-mode contract, export, resume."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vista.project import ROOT

TRAIN = ROOT / "training_job" / "train.py"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six synthetic classes in Kaggle's layout: 8 training and 3 test images each, 48 px."""
    from synthetic import generate

    out = tmp_path_factory.mktemp("scenes")
    generate(out, train_per_class=8, test_per_class=3, size=48, seed=3)
    return out


def sagemaker_environment(tmp: Path, dataset: Path) -> dict[str, str]:
    """The variables SageMaker's TensorFlow container sets for a script-mode job."""
    environment = dict(os.environ)
    environment.update(
        SM_CHANNEL_TRAIN=str(dataset / "seg_train"),
        SM_CHANNEL_TEST=str(dataset / "seg_test"),
        SM_MODEL_DIR=str(tmp / "model"),
        SM_OUTPUT_DATA_DIR=str(tmp / "output" / "data"),
        SM_OUTPUT_DIR=str(tmp / "output"),
        SM_HOSTS='["algo-1"]',
        SM_CURRENT_HOST="algo-1",
        SM_NUM_GPUS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return environment


def train_command(**options: object) -> list[str]:
    """train.py on a tiny base_cnn, with `options` as its flags (epochs=3 → --epochs 3)."""
    flags = {"architecture": "base_cnn", "image_size": 48, "weights": "none", **options}
    return [sys.executable, str(TRAIN), *(a for k, v in flags.items() for a in (f"--{k.replace('_', '-')}", str(v)))]


def run_train(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TRAIN), *args], env=environment, capture_output=True, text=True, timeout=600, check=False
    )


# --------------------------------------------------------------------------- data


def test_kaggle_layout_and_classes_from_folder_names(tiny_dataset: Path) -> None:
    from data import class_root, list_classes

    assert class_root(tiny_dataset / "seg_train") == tiny_dataset / "seg_train" / "seg_train"
    assert list_classes(tiny_dataset / "seg_train") == ["buildings", "forest", "glacier", "mountain", "sea", "street"]


def test_corrupt_files_are_skipped_and_counted(tiny_dataset: Path, tmp_path: Path) -> None:
    from data import list_classes, scan

    root = tmp_path / "train"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 20), (i * 50, 10, 10)).save(root / label / f"{i}.png")
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "b" / "notes.jpg").write_text("hello")
    split = scan(root, list_classes(root))
    assert len(split) == 6
    assert sorted(Path(p).name for p in split.skipped) == ["broken.jpg", "notes.jpg"]


def test_one_class_or_an_empty_class_fails_early_and_clearly(tmp_path: Path) -> None:
    from data import DatasetError, list_classes, scan

    (tmp_path / "only" / "forest").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "forest" / "0.png")
    with pytest.raises(DatasetError, match="at least 2 are needed"):
        list_classes(tmp_path / "only")
    (tmp_path / "only" / "sea").mkdir()
    with pytest.raises(DatasetError, match="class 'sea' has no images"):
        scan(tmp_path / "only", list_classes(tmp_path / "only"))


def test_validation_split_is_seeded_and_stratified() -> None:
    from data import Split, carve

    split = Split([f"{c}{i}" for c in "ab" for i in range(20)], [0] * 20 + [1] * 20)
    train, validation = carve(split, 0.25, seed=1)
    assert validation.labels.count(0) == validation.labels.count(1) == 5
    assert not set(train.paths) & set(validation.paths)
    assert carve(split, 0.25, seed=1)[1].paths == validation.paths


def test_synthetic_dataset_is_deterministic_and_in_kaggle_layout(tmp_path: Path) -> None:
    from synthetic import CLASSES, generate

    a, b = tmp_path / "a", tmp_path / "b"
    assert generate(a, train_per_class=2, test_per_class=1, size=40, seed=5) == {"train": 12, "test": 6}
    generate(b, train_per_class=2, test_per_class=1, size=40, seed=5)
    files = sorted(p.relative_to(a) for p in a.rglob("*.jpg"))
    assert {p.parts[2] for p in files} == set(CLASSES)
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in files)


# --------------------------------------------------------------------------- architectures


def test_vgg16_without_top_has_the_published_parameter_count() -> None:
    from architectures import build_model

    assert build_model("vgg16", 6, image_size=64, augment=False).base.count_params() == 14_714_688


@pytest.mark.parametrize(
    "name",
    [
        "base_cnn",
        "fine_cnn",
        "mobilenetv3large",
        "efficientnetv2b0",
        pytest.param("vgg16", marks=pytest.mark.slow),
        pytest.param("resnet50", marks=pytest.mark.slow),
        pytest.param("resnet101", marks=pytest.mark.slow),
        pytest.param("resnet152", marks=pytest.mark.slow),
    ],
)
def test_every_architecture_trains_a_step_and_explains_its_answer(name: str) -> None:
    import keras

    from architectures import build_model
    from explain import explainer

    keras.utils.set_random_seed(0)
    built = build_model(name, 3, image_size=32, dropout=0.2, l2=1e-4, augment=True)
    # One step, eagerly: tracing ResNet-152's training graph costs over a minute for a single step;
    # the job's graph mode runs the same train_step (the jobs below train in it).
    built.model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True
    )
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    before = [w.copy() for w in built.model.get_weights()]
    history = built.model.fit(images, np.array([0, 1, 2, 0]), epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, built.model.get_weights(), strict=True))
    assert built.model.output_shape == (None, 3)
    # Grad-CAM on the last convolutional block: one grid a image, in [0, 1], beside the same answer.
    probabilities, heatmaps = explainer(built.model)(images)
    np.testing.assert_allclose(probabilities, built.model(images, training=False), rtol=1e-5, atol=1e-6)
    assert heatmaps.shape[0] == 4 and heatmaps.shape[1] == heatmaps.shape[2] >= 1
    assert float(np.min(heatmaps)) >= 0 and float(np.max(heatmaps)) <= 1
    keras.backend.clear_session()


def test_weights_come_from_a_channel_when_the_job_has_no_network(tmp_path: Path) -> None:
    from architectures import resolve_weights

    (tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"h5")
    assert resolve_weights("resnet50", "imagenet", str(tmp_path)).endswith(
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    assert resolve_weights("resnet50", "imagenet", None) == "imagenet"
    assert resolve_weights("fine_cnn", "imagenet", None) is None
    assert resolve_weights("vgg16", "none", None) is None
    with pytest.raises(FileNotFoundError, match=r"no vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 .*for vgg16"):
        resolve_weights("vgg16", "imagenet", str(tmp_path))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # Keras's legacy HDF5 writer
@pytest.mark.parametrize(
    ("architecture", "keras_file"),
    [
        # Each as keras.applications names it (keras/src/applications: resnet.py, vgg16.py,
        # efficientnet_v2.py and mobilenet_v3.py, where include_top=False)
        ("resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        ("efficientnetv2b0", "efficientnetv2-b0_notop.h5"),
        ("mobilenetv3large", "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"),
    ],
)
def test_a_job_starts_from_exactly_the_weights_in_its_weights_channel(
    architecture: str, keras_file: str, tiny_dataset: Path, tmp_path: Path
) -> None:
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from architectures import APPLICATIONS
    from train import weights_digest

    # GIVEN a no-top base's weights saved as Keras publishes its ImageNet files (legacy HDF5, its file
    # name), staged in a `weights` channel as a network-isolated SageMaker job would get them
    keras.utils.set_random_seed(5)
    base = APPLICATIONS[architecture].factory(include_top=False, weights=None, input_shape=(32, 32, 3))
    channel = tmp_path / "input" / "data" / "weights"
    channel.mkdir(parents=True)
    with h5py.File(channel / keras_file, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, base)
    expected = weights_digest(base)
    keras.backend.clear_session()
    # WHEN a job for that architecture starts with weights=imagenet and that channel
    environment = sagemaker_environment(tmp_path, tiny_dataset) | {"SM_CHANNEL_WEIGHTS": str(channel)}
    arguments = ["--architecture", architecture, "--weights", "imagenet", "--image-size", "32", "--epochs", "1"]
    process = subprocess.Popen(
        [sys.executable, str(TRAIN), *arguments], env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:  # what it starts from is all this test asks: the job is stopped once it has said so
        started = next((line for line in process.stdout if line.startswith("base_weights=")), "")
    finally:
        process.kill()
        process.wait()
    # THEN it starts from exactly those weights (not ImageNet's from the internet, nor random ones)
    assert started.strip() == f"base_weights={keras_file}; base_sha256={expected};"


def test_the_stack_and_training_agree_on_hyperparameters_and_architectures() -> None:
    from architectures import APPLICATIONS, BUILDERS
    from train import parse_args
    from vista_app.training_request import ARCHITECTURES, WEIGHTS_FILES, Hyperparameters

    assert set(BUILDERS) == set(ARCHITECTURES)
    assert {name: app.weights_file for name, app in APPLICATIONS.items()} == WEIGHTS_FILES
    from data import IMAGE_SUFFIXES
    from vista_app.image_types import SUFFIXES

    assert set(SUFFIXES) == IMAGE_SUFFIXES  # training reads what the stack counts and takes
    parsed = vars(parse_args(["--train", "x"]))
    assert set(Hyperparameters.model_fields) <= set(parsed)


# --------------------------------------------------------------------------- the script


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


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
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
        sagemaker_environment(tmp, tiny_dataset),
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
    assert 0 <= metrics["accuracy"] <= 1 and metrics["skipped_files"] == 0
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
    each loaded in its own runtime (TF's TFLite interpreter, ONNX Runtime), its figures in the archive."""
    import tensorflow as tf
    from portable import FILES, export, images_under, pixels_of, served

    model_dir = trained[0] / "model"
    test, train = tiny_dataset / "seg_test", tiny_dataset / "seg_train"
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


def test_the_savedmodel_holds_each_weight_once(trained: tuple[Path, subprocess.CompletedProcess]) -> None:
    tmp, _ = trained
    metrics = json.loads((tmp / "model" / "metrics.json").read_text())
    variables = sum(p.stat().st_size for p in (tmp / "model" / "1" / "variables").iterdir())
    assert metrics["parameters"] * 4 <= variables < metrics["parameters"] * 4 * 1.1


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def test_exported_model_answers_image_bytes_like_the_model_in_memory(tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    from architectures import build_model
    from export import export_savedmodel
    from preprocessing import decode_resize
    from synthetic import scene

    keras.utils.set_random_seed(1)
    classes = ["forest", "sea", "street"]
    model = build_model("fine_cnn", 3, image_size=40, augment=True).model
    export_savedmodel(model, classes, 40, tmp_path)
    serve = tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"]
    rng = np.random.default_rng(0)
    images = [scene("sea", rng, 150), scene("forest", rng, 64).resize((97, 33)), scene("street", rng, 300).convert("L")]
    payloads = [
        encode(images[0], "JPEG"),
        encode(images[1], "PNG"),
        encode(images[2], "PNG"),
        encode(images[0].convert("RGBA"), "PNG"),
    ]
    answer = serve(image_bytes=tf.constant(payloads))
    expected = model(tf.stack([decode_resize(tf.constant(p), 40) for p in payloads]), training=False).numpy()
    np.testing.assert_allclose(answer["probabilities"].numpy(), expected, rtol=1e-4, atol=1e-5)
    labels = [label.decode() for label in answer["label"].numpy()]
    assert labels == [classes[i] for i in expected.argmax(axis=1)]
    assert answer["classes"].numpy().tolist() == [[c.encode() for c in classes]] * 4
    # The `explain` signature beside it leaves serving_default as it is without: same outputs, same values.
    export_savedmodel(model, classes, 40, tmp_path / "alone", explain=False)
    alone = tf.saved_model.load(str(tmp_path / "alone" / "1")).signatures
    assert sorted(alone) == ["pixels", "serving_default"]
    signatures = tf.saved_model.load(str(tmp_path / "1")).signatures
    assert sorted(signatures) == ["explain", "pixels", "serving_default"]
    # `pixels` (what the portable exports convert) answers decoded pixels as serving answers their bytes.
    pixels = tf.stack([decode_resize(tf.constant(p), 40) for p in payloads])
    np.testing.assert_allclose(
        signatures["pixels"](pixels=pixels)["probabilities"].numpy(), answer["probabilities"].numpy(), atol=1e-6
    )
    without = alone["serving_default"](image_bytes=tf.constant(payloads))
    assert sorted(without) == sorted(answer)
    np.testing.assert_array_equal(without["probabilities"].numpy(), answer["probabilities"].numpy())


# What a camera stores for each EXIF Orientation: the upright picture turned the other way
# (exif_transpose undoes it).
STORED_AS = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def as_a_phone_stores_it(upright: Image.Image, orientation: int) -> bytes:
    """A JPEG of `upright` as a phone saves a portrait photo: sideways pixels + the Orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    upright.transpose(STORED_AS[orientation]).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_portrait_photo_is_read_upright_in_training_and_in_serving(tmp_path: Path, orientation: int) -> None:
    import keras
    import tensorflow as tf
    from PIL import ImageOps

    from architectures import build_model
    from export import export_savedmodel
    from preprocessing import decode_resize, exif_orientation
    from synthetic import scene

    # GIVEN a portrait picture, as a phone stores it and as it really stands (pixels turned upright)
    upright = scene("mountain", np.random.default_rng(orientation), 240).resize((180, 240))
    phone = as_a_phone_stores_it(upright, orientation)
    turned = encode(ImageOps.exif_transpose(Image.open(io.BytesIO(phone))), "JPEG")
    assert Image.open(io.BytesIO(phone)).size == (240, 180)  # the pixels are landscape
    assert int(exif_orientation(tf.constant(phone))) == orientation
    # WHEN training's decode and the exported model read both
    decoded = [decode_resize(tf.constant(data), 64).numpy() for data in (phone, turned)]
    keras.utils.set_random_seed(2)
    classes = ["forest", "mountain", "sea"]
    export_savedmodel(build_model("fine_cnn", 3, image_size=64, augment=False).model, classes, 64, tmp_path)
    serve = tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"]
    answers = serve(image_bytes=tf.constant([phone, turned]))["probabilities"].numpy()
    # THEN they see the same upright picture (JPEG's own re-encoding apart) and answer alike
    assert np.abs(decoded[0] - decoded[1]).mean() < 4
    np.testing.assert_allclose(answers[0], answers[1], atol=0.01)
    sideways = decode_resize(tf.constant(encode(upright.transpose(STORED_AS[orientation]), "JPEG")), 64).numpy()
    assert np.abs(decoded[0] - sideways).mean() > 4 * np.abs(decoded[0] - decoded[1]).mean()


def test_a_bad_dataset_fails_with_a_reason_sagemaker_can_show(tmp_path: Path) -> None:
    (tmp_path / "data" / "forest").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "data" / "forest" / "0.png")
    environment = sagemaker_environment(tmp_path, tmp_path)
    environment["SM_CHANNEL_TRAIN"] = str(tmp_path / "data")
    (tmp_path / "output").mkdir()
    result = run_train(["--weights", "none"], environment)
    assert result.returncode == 2
    assert "at least 2 are needed" in result.stderr
    assert "at least 2 are needed" in (tmp_path / "output" / "failure").read_text()


@pytest.mark.slow
def test_a_killed_job_resumes_from_its_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    args = train_command(epochs=12, batch_size=16, early_stopping_patience=50, checkpoint_dir=tmp_path / "checkpoints")
    # GIVEN a job killed (as a reclaimed spot instance is) right after its second epoch
    process = subprocess.Popen(args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if line.startswith("epoch=2;") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)  # the line is printed once the epoch's checkpoint is written
    process.wait(timeout=30)
    process.stdout.close()
    # WHEN it is started again with the same checkpoint folder
    result = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=300, check=False)
    # THEN it carries on where it stopped instead of starting over
    assert result.returncode == 0, result.stderr[-3000:]
    epochs = [
        int(line.split(";")[0].removeprefix("epoch="))
        for line in result.stdout.splitlines()
        if line.startswith("epoch=")
    ]
    assert 3 <= epochs[0] < 12 and epochs[-1] == 12
    history = json.loads((tmp_path / "output" / "data" / "history.json").read_text())
    assert len(history["loss"]) == 12


@pytest.mark.slow
def test_a_job_killed_in_the_first_pass_of_a_file_cache_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    # GIVEN a job whose decoded images are cached in a file (the in-memory limit set to 0), killed as a
    # reclaimed spot instance is while that first pass is still writing the cache
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    checkpoints = tmp_path / "checkpoints"
    args = train_command(epochs=3, batch_size=4, memory_cache_gb=0, checkpoint_dir=checkpoints)
    first_instance = tmp_path / "instance-1"
    first_instance.mkdir()
    process = subprocess.Popen(
        args, env={**environment, "TMPDIR": str(first_instance)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.rglob("*.lockfile")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the first run ended before its cache's first pass was cut"
    # WHEN SageMaker starts another instance with the checkpoint folder restored (nothing else)
    second_instance = tmp_path / "instance-2"
    second_instance.mkdir()
    result = subprocess.run(
        args,
        env={**environment, "TMPDIR": str(second_instance)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it trains to the end, and the checkpoint folder (synced to S3) holds no cache
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch=3;" in result.stdout, result.stdout + result.stderr[-3000:]
    assert not [p for p in checkpoints.rglob("*") if "cache" in p.name]
    assert list(second_instance.iterdir()) == []  # the cache goes with the run


def test_a_test_split_is_known_by_its_images_not_their_names(tiny_dataset: Path, tmp_path: Path) -> None:
    import shutil

    from data import fingerprint, list_classes, scan

    test = tiny_dataset / "seg_test"
    classes = list_classes(test)
    moved = tmp_path / "elsewhere"
    shutil.copytree(test, moved)
    for path in sorted(moved.rglob("*.jpg")):  # the same images under other names
        path.rename(path.with_name("renamed-" + path.name))
    assert fingerprint(scan(moved, classes), classes) == fingerprint(scan(test, classes), classes)
    changed = sorted(moved.rglob("*.jpg"))[0]
    changed.write_bytes(next(iter(sorted((tiny_dataset / "seg_train").rglob("*.jpg")))).read_bytes())
    assert fingerprint(scan(moved, classes), classes) != fingerprint(scan(test, classes), classes)


def test_a_dataset_of_plain_class_folders_is_tested_on_images_carved_from_it(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    import shutil

    # GIVEN <class>/*.jpg and no test channel (find_channels gives a plain class-folder dataset so)
    flat = tmp_path / "flat"
    shutil.copytree(tiny_dataset / "seg_train" / "seg_train", flat)
    environment = sagemaker_environment(tmp_path, tiny_dataset) | {"SM_CHANNEL_TRAIN": str(flat)}
    environment.pop("SM_CHANNEL_TEST")
    result = subprocess.run(
        train_command(epochs=1), env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # THEN a seeded, stratified test split of its own (one of each class's 8), apart from validation's
    assert "train=36 validation=6 test=6 (carved from train);" in result.stdout
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["evaluated_on"] == "test (carved from train)" and metrics["test_set"]["images"] == 6


@pytest.mark.slow
def test_fine_tuning_unfreezes_the_top_stage_at_the_guides_learning_rate(tiny_dataset: Path, tmp_path: Path) -> None:
    # VGG16: the family whose graph builds fastest (each family's stages: test_recipe.py)
    command = train_command(architecture="vgg16", image_size=32, epochs=1, fine_tune_epochs=1)
    result = subprocess.run(
        command, env=sagemaker_environment(tmp_path, tiny_dataset), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Keras's transfer-learning guide fine-tunes at 1e-5, whatever the head's learning rate was
    assert "fine-tuning the top 1 stage(s) of vgg16 (4 layers)" in result.stdout
    assert "at learning rate 1e-05 from epoch 2" in result.stdout

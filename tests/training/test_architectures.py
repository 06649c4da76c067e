"""training_job's architectures: each trains and explains, starts from the weights it is given, and
fine-tunes as Keras's guide does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.jobs import TRAIN, sagemaker_environment, train_command


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

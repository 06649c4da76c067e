"""The `explain` signature: Grad-CAM heatmaps that point at what decided the class."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.helpers.jobs import run_train, sagemaker_environment

SIZE = 48
CORNERS = {"top left": (0, 0), "top right": (0, 1), "bottom left": (1, 0), "bottom right": (1, 1)}


def picture(shape: str, corner: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Grey noise with one object, the class, somewhere inside the given quadrant."""
    image = Image.fromarray(rng.normal(128, 18, (SIZE, SIZE, 3)).clip(0, 255).astype(np.uint8))
    half, size = SIZE // 2, int(rng.integers(9, 13))
    top = corner[0] * half + int(rng.integers(1, half - size))
    left = corner[1] * half + int(rng.integers(1, half - size))
    box = (left, top, left + size, top + size)
    draw = ImageDraw.Draw(image)
    if shape == "disc":
        draw.ellipse(box, fill=(250, 250, 250))
    else:
        draw.rectangle(box, fill=(10, 10, 10))
    return image


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def quadrant(heatmap: np.ndarray) -> tuple[int, int]:
    """(row, column), each 0 or 1, of the quadrant holding the heatmap's peak."""
    row, column = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return int(row >= heatmap.shape[0] / 2), int(column >= heatmap.shape[1] / 2)


@pytest.fixture(scope="module")
def objects_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base_cnn trained on discs and squares placed anywhere: its model folder."""
    data = tmp_path_factory.mktemp("objects")
    rng = np.random.default_rng(11)
    for split, count in (("train", 60), ("test", 8)):
        for shape in ("disc", "square"):
            folder = data / split / shape
            folder.mkdir(parents=True)
            for i in range(count):
                picture(shape, list(CORNERS.values())[i % 4], rng).save(folder / f"{i}.jpg", quality=95)
    tmp = tmp_path_factory.mktemp("job")
    environment = sagemaker_environment(tmp, data)
    environment.update(SM_CHANNEL_TRAIN=str(data / "train"), SM_CHANNEL_TEST=str(data / "test"))
    options = {"architecture": "base_cnn", "epochs": 12, "image-size": SIZE, "batch-size": 16, "weights": "none"}
    options["augment"] = "false"  # the objects' places are the point: no flips or shifts
    result: subprocess.CompletedProcess[str] = run_train(
        [x for k, v in options.items() for x in (f"--{k}", str(v))], environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp / "model" / "metrics.json").read_text())["accuracy"] == 1.0, result.stdout[-2000:]
    return tmp / "model"


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["disc", "square"])
def test_the_heatmap_peaks_in_the_quadrant_that_holds_the_object(objects_model: Path, shape: str) -> None:
    import tensorflow as tf

    model = tf.saved_model.load(str(objects_model / "1"))
    rng = np.random.default_rng(99)
    images = [jpeg(picture(shape, corner, rng)) for corner in CORNERS.values()]
    answer = model.signatures["explain"](image_bytes=tf.constant(images))
    assert [label.decode() for label in answer["label"].numpy()] == [shape] * 4
    heatmaps = answer["heatmap"].numpy()
    assert heatmaps.shape == (4, 6, 6) and heatmaps.min() >= 0 and np.allclose(heatmaps.max(axis=(1, 2)), 1)
    assert {where: quadrant(h) for where, h in zip(CORNERS, heatmaps, strict=True)} == CORNERS
    # The same answer as serving_default gives, which the second signature leaves as it was.
    served = model.signatures["serving_default"](image_bytes=tf.constant(images))
    np.testing.assert_allclose(answer["probability"].numpy(), served["probabilities"].numpy().max(axis=1), rtol=1e-5)

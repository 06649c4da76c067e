"""The training recipe held to Keras's own guides and sources: what each layer of it really does."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from architectures import augmentation


def test_the_augmentations_are_independent_and_contrast_goes_both_ways() -> None:
    # GIVEN 64 copies of one image, each augmentation layer applied as training applies it (a batch a call)
    image = np.random.default_rng(0).uniform(100, 155, (32, 32, 3)).astype("float32")
    batch = np.repeat(image[None], 64, axis=0)
    out = {layer.__class__.__name__: np.asarray(layer(batch, training=True)) for layer in augmentation(42).layers}
    # WHEN each image's draw is read back from what the layer did to it
    flipped = np.array([np.allclose(o, image[:, ::-1]) for o in out["RandomFlip"]], float)
    contrast = np.array([o.std() / image.std() for o in out["RandomContrast"]])
    brightness = np.array([o.mean() - image.mean() for o in out["RandomBrightness"]])
    # THEN no two move together (one shared seed made them correlate 0.89 to 1.0)...
    correlations = np.corrcoef([flipped, contrast, brightness])
    assert np.abs(correlations[np.triu_indices(3, 1)]).max() < 0.4, correlations
    # ...and contrast is lowered as often as raised, within [0.8, 1.2] (RandomContrast(0.2) only raised it)
    assert 0.8 <= contrast.min() < 0.9 and 1.1 < contrast.max() <= 1.2
    assert 0.25 < flipped.mean() < 0.75


# A block: the unit Keras's guides say is turned on or off whole ("Not respecting blocks also
# significantly harms the final performance": keras-io, EfficientNet fine-tuning).
BLOCK = re.compile(r"^(block\d[a-z]?|conv\d_block\d+|conv\d|pool\d|expanded_conv(?:_\d+)?|stem|top|conv_1|conv)(?:_|$)")
TOP_STAGE = {
    "vgg16": ("block5_",),
    "resnet50": ("conv5_",),
    "efficientnetv2b0": ("block6", "top_"),
    "mobilenetv3large": ("expanded_conv_12_", "expanded_conv_13_", "expanded_conv_14_", "conv_1"),
}


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "efficientnetv2b0", "mobilenetv3large"])
def test_fine_tuning_unfreezes_whole_stages_of_the_base(name: str) -> None:
    from architectures import build_model, unfreeze_top_stages

    built = build_model(name, 6, image_size=64, augment=False, weights=None)
    assert built.base is not None
    weighted = [layer for layer in built.base.layers if layer.weights]
    for stages in (1, 2):
        unfreeze_top_stages(built.base, name, stages)
        blocks: dict[str, set[bool]] = {}
        for layer in weighted:
            if not isinstance(layer, keras.layers.BatchNormalization):  # its statistics stay frozen
                block = BLOCK.match(layer.name)
                assert block, f"{layer.name} belongs to no block"
                blocks.setdefault(block.group(1), set()).add(layer.trainable)
        split = [block for block, flags in blocks.items() if len(flags) > 1]
        assert split == [], f"{name}: blocks cut in two: {split}"
        if stages == 1:  # the top stage, and nothing below it
            trainable = {layer.name for layer in weighted if layer.trainable}
            expected = {
                layer.name
                for layer in weighted
                if layer.name.startswith(TOP_STAGE[name]) and not isinstance(layer, keras.layers.BatchNormalization)
            }
            assert trainable == expected
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in weighted)


def test_every_class_is_in_the_first_batch_of_a_class_sorted_training_set(tmp_path: Path) -> None:
    from PIL import Image

    import data

    # GIVEN 12,000 training images listed class by class (as scan lists them), more than the shuffle buffer
    classes = 6
    files = []
    for label in range(classes):
        path = tmp_path / f"{label}.jpg"
        Image.new("RGB", (8, 8), (40 * label, 0, 0)).save(path)
        files.append(str(path))
    split = data.Split([files[i // 2000] for i in range(12_000)], [i // 2000 for i in range(12_000)])
    # WHEN the training pipeline gives its first batch
    batch = next(iter(data.pipeline(split, image_size=8, batch_size=64, training=True, seed=1)))
    # THEN it holds every class (a 10,000-image buffer over the sorted list never reached the last one)
    assert set(batch[1].numpy().tolist()) == set(range(classes))

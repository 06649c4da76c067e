"""Model factories: `build_model(name, num_classes, ...)` for every architecture Vista trains.

Every model takes float32 RGB in [0, 255] and normalises itself (a layer inside the
model), applies augmentation only while training, and ends in a float32 softmax. Transfer
models return their pretrained base too, so training can freeze it and later unfreeze its top.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
from keras import layers, regularizers

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
# Faster-moving batch-norm statistics than Keras' 0.99: small datasets give few steps per epoch,
# and with 0.99 the inference statistics lag far behind the weights.
BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="vista")
class CaffeNormalization(layers.Layer):
    """RGB [0, 255] → BGR minus the ImageNet mean: what VGG16 and ResNet were trained on."""

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1)
        return bgr - keras.ops.cast(keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR), bgr.dtype)


@dataclass(frozen=True)
class Built:
    model: keras.Model
    base: keras.Model | None  # the pretrained part of a transfer model, else None
    # What typicality.py measures an image's distance in: a small CNN's every block's feature maps, each
    # averaged over the picture (its colours and textures as well as its shapes: Lee et al.'s feature
    # ensemble); a transfer model's pooled base output (ImageNet's features are rich already).
    features: Any

    def with_features(self) -> keras.Model:
        """The model answering [features, probabilities]."""
        return keras.Model(self.model.inputs, [self.features, self.model.output])


def augmentation(seed: int) -> keras.Sequential:
    """Active in training only: Keras preprocessing layers are the identity at inference.

    Each layer has a seed of its own: a Keras 3 layer's SeedGenerator starts from [seed, 0], so
    layers given one seed draw the same numbers for an image and move together. A single float
    for RandomContrast is [1, 1 + f] (Keras sets the lower bound to max(-f, 0)); the pair is both ways."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.05, seed=seed + 1),
            layers.RandomZoom(0.15, seed=seed + 2),
            layers.RandomTranslation(0.08, 0.08, seed=seed + 3),
            layers.RandomContrast((0.2, 0.2), seed=seed + 4),
            layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed + 5),
        ],
        name="augmentation",
    )


def _head(x, num_classes: int, dropout: float, l2: float):
    if dropout:
        x = layers.Dropout(dropout)(x)
    # float32 softmax even under mixed precision, for stable probabilities.
    return layers.Dense(
        num_classes,
        activation="softmax",
        dtype="float32",
        kernel_regularizer=regularizers.l2(l2) if l2 else None,
        name="probabilities",
    )(x)


def _cnn(tuned: bool) -> Callable[..., Built]:
    def build(
        num_classes: int, image_size: int, dropout: float, l2: float, augment: bool, seed: int, weights: str | None
    ) -> Built:
        regularizer = regularizers.l2(l2) if tuned and l2 else None
        inputs = keras.Input((image_size, image_size, 3), name="image")
        x = augmentation(seed)(inputs) if augment else inputs
        x = layers.Rescaling(1 / 255.0, name="normalize")(x)
        blocks = []
        for filters in (32, 64, 128) + ((256,) if tuned else ()):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=not tuned, kernel_regularizer=regularizer)(x)
            if tuned:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = layers.Activation("relu")(x)
            if tuned:
                x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=regularizer)(x)
                x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
                x = layers.Activation("relu")(x)
            x = layers.MaxPooling2D()(x)
            blocks.append(x)
        # Not on the way to the answer: the features typicality.py measures in (Built.features).
        features = layers.Concatenate(name="features")([layers.GlobalAveragePooling2D()(b) for b in blocks])
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(128, activation="relu", kernel_regularizer=regularizer)(x)
        outputs = _head(x, num_classes, dropout if tuned else 0.0, l2 if tuned else 0.0)
        return Built(keras.Model(inputs, outputs, name="fine_cnn" if tuned else "base_cnn"), None, features)

    return build


@dataclass(frozen=True)
class Application:
    factory: Callable[..., keras.Model]
    normalization: Callable[[], layers.Layer] | None  # None: the application normalises itself
    weights_file: str  # the file Keras keeps its no-top ImageNet weights in (its name for it)
    stage: Callable[[str], int | None]  # a layer's stage, from its name (None: the stage of the layer before)


def _stage(*rules: tuple[str, int | None]) -> Callable[[str], int | None]:
    """A family's stages from keras.applications' layer names: the first rule whose pattern matches
    the name gives the stage (None as its stage: the number the pattern captures)."""

    def stage(name: str) -> int | None:
        for pattern, number in rules:
            found = re.match(pattern, name)
            if found:
                return int(found.group(1)) if number is None else number
        return None

    return stage


# MobileNetV3Large's bottleneck blocks (expanded_conv, expanded_conv_1 ... _14) by stage, as the
# paper's table groups them by output channels: 16 | 24 x2 | 40 x3 | 80 x4 | 112 x2 | 160 x3.
MOBILENET_V3_LARGE_STAGES = (1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 6, 6, 6)
VGG_STAGES = _stage((r"block(\d)_", None))
RESNET_STAGES = _stage((r"conv(\d)_", None), (r"pool1_", 1))
# EfficientNetV2-B0's last 1x1 convolution (top_) goes with its last stage of blocks (block6).
EFFICIENTNET_V2_B0_STAGES = _stage((r"stem_", 0), (r"block(\d)[a-z]_", None), (r"top_", 6))


def _mobilenet_v3_large_stage(name: str) -> int | None:
    block = re.match(r"expanded_conv(?:_(\d+))?_", name)
    if block:
        return MOBILENET_V3_LARGE_STAGES[int(block.group(1) or 0)]
    return _stage((r"conv_1(?:_|$)", 6), (r"conv(?:_bn)?$", 0))(name)


def _transfer(app: Application) -> Callable[..., Built]:
    def build(
        num_classes: int, image_size: int, dropout: float, l2: float, augment: bool, seed: int, weights: str | None
    ) -> Built:
        shape = (image_size, image_size, 3)
        base = app.factory(include_top=False, weights=weights, input_shape=shape)
        inputs = keras.Input(shape, name="image")
        x = augmentation(seed)(inputs) if augment else inputs
        if app.normalization is not None:
            x = app.normalization()(x)
        # training=False keeps batch-norm statistics frozen, also once the top is unfrozen.
        x = base(x, training=False)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = _head(x, num_classes, dropout, l2)
        return Built(keras.Model(inputs, outputs, name=base.name), base, x)

    return build


APPLICATIONS = {
    "vgg16": Application(
        keras.applications.VGG16, CaffeNormalization, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", VGG_STAGES
    ),
    "resnet50": Application(
        keras.applications.ResNet50,
        CaffeNormalization,
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET_STAGES,
    ),
    "resnet101": Application(
        keras.applications.ResNet101,
        CaffeNormalization,
        "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET_STAGES,
    ),
    "resnet152": Application(
        keras.applications.ResNet152,
        CaffeNormalization,
        "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
        RESNET_STAGES,
    ),
    "efficientnetv2b0": Application(
        keras.applications.EfficientNetV2B0, None, "efficientnetv2-b0_notop.h5", EFFICIENTNET_V2_B0_STAGES
    ),
    "mobilenetv3large": Application(
        keras.applications.MobileNetV3Large,
        None,
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        _mobilenet_v3_large_stage,
    ),
}
BUILDERS: dict[str, Callable[..., Built]] = {
    "base_cnn": _cnn(tuned=False),
    "fine_cnn": _cnn(tuned=True),
    **{name: _transfer(app) for name, app in APPLICATIONS.items()},
}


def unfreeze_top_stages(base: keras.Model, name: str, stages: int) -> int:
    """Make the top `stages` stages of a pretrained base trainable, whole (a block is never cut in
    two), batch norm excepted (its statistics stay frozen); returns how many layers train."""
    stage_of, current, placed = APPLICATIONS[name].stage, 0, []
    for layer in base.layers:
        found = stage_of(layer.name)
        current = current if found is None else found
        placed.append((layer, current))
    top = set(sorted({stage for _, stage in placed})[-stages:]) if stages > 0 else set()
    base.trainable = True
    for layer, stage in placed:
        layer.trainable = stage in top and not isinstance(layer, layers.BatchNormalization)
    return sum(layer.trainable for layer, _ in placed)


def resolve_weights(name: str, weights: str, weights_dir: str | None) -> str | None:
    """'imagenet' (Keras downloads them), a local .h5 path, the architecture's file in a `weights`
    channel (network-isolated jobs: Keras's own name for it), or 'none'."""
    if name not in APPLICATIONS or weights.lower() == "none":
        return None
    if weights != "imagenet":
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file {weights} does not exist")
        return weights
    if weights_dir:
        wanted = APPLICATIONS[name].weights_file
        found = sorted(Path(weights_dir).rglob(wanted))
        if not found:
            raise FileNotFoundError(
                f"no {wanted} (Keras's name for its no-top ImageNet file) for {name} in {weights_dir}"
            )
        return str(found[0])
    return "imagenet"


def build_model(
    name: str,
    num_classes: int,
    *,
    image_size: int = 150,
    dropout: float = 0.3,
    l2: float = 1e-4,
    augment: bool = True,
    seed: int = 42,
    weights: str | None = None,
) -> Built:
    if name not in BUILDERS:
        raise ValueError(f"unknown architecture '{name}'; known: {sorted(BUILDERS)}")
    return BUILDERS[name](num_classes, image_size, dropout, l2, augment, seed, weights)


def parameter_counts(image_size: int = 150, num_classes: int = 6) -> list[tuple[str, int, int]]:
    """(architecture, parameters of the pretrained base or 0, parameters of the whole model)."""
    rows = []
    for name in BUILDERS:
        built = build_model(name, num_classes, image_size=image_size, augment=False)
        rows.append((name, built.base.count_params() if built.base else 0, built.model.count_params()))
        keras.backend.clear_session()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Print each architecture's parameter counts")
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--classes", type=int, default=6)
    args = parser.parse_args()
    print(f"{'architecture':<18}{'base (no top)':>16}{'whole model':>16}")
    for name, base, total in parameter_counts(args.image_size, args.classes):
        print(f"{name:<18}{base:>16,}{total:>16,}")


if __name__ == "__main__":
    main()

"""Model factories: `build_model(name, num_classes, ...)` for every architecture Vista trains.

Every model takes float32 RGB in [0, 255] and normalises itself (a layer inside the
model), applies augmentation only while training, and ends in a float32 softmax. Transfer
models return their pretrained base too, so training can freeze it and later unfreeze its top.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


def augmentation(seed: int) -> keras.Sequential:
    """Active in training only: Keras preprocessing layers are the identity at inference."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.05, seed=seed),
            layers.RandomZoom(0.15, seed=seed),
            layers.RandomTranslation(0.08, 0.08, seed=seed),
            layers.RandomContrast(0.2, seed=seed),
            layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed),
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
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(128, activation="relu", kernel_regularizer=regularizer)(x)
        outputs = _head(x, num_classes, dropout if tuned else 0.0, l2 if tuned else 0.0)
        return Built(keras.Model(inputs, outputs, name="fine_cnn" if tuned else "base_cnn"), None)

    return build


@dataclass(frozen=True)
class Application:
    factory: Callable[..., keras.Model]
    normalization: Callable[[], layers.Layer] | None  # None: the application normalises itself
    weights_name: str  # how Keras names its ImageNet *_notop.h5 file


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
        return Built(keras.Model(inputs, outputs, name=base.name), base)

    return build


APPLICATIONS = {
    "vgg16": Application(keras.applications.VGG16, CaffeNormalization, "vgg16"),
    "resnet50": Application(keras.applications.ResNet50, CaffeNormalization, "resnet50"),
    "resnet101": Application(keras.applications.ResNet101, CaffeNormalization, "resnet101"),
    "resnet152": Application(keras.applications.ResNet152, CaffeNormalization, "resnet152"),
    "efficientnetv2b0": Application(keras.applications.EfficientNetV2B0, None, "efficientnetv2-b0"),
    "mobilenetv3large": Application(keras.applications.MobileNetV3Large, None, "mobilenet_v3_large"),
}
BUILDERS: dict[str, Callable[..., Built]] = {
    "base_cnn": _cnn(tuned=False),
    "fine_cnn": _cnn(tuned=True),
    **{name: _transfer(app) for name, app in APPLICATIONS.items()},
}


def resolve_weights(name: str, weights: str, weights_dir: str | None) -> str | None:
    """'imagenet' (Keras downloads them), a local *_notop.h5 path, the file for this
    architecture in a `weights` channel (network-isolated jobs), or 'none'."""
    if name not in APPLICATIONS or weights.lower() == "none":
        return None
    if weights != "imagenet":
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file {weights} does not exist")
        return weights
    if weights_dir:
        wanted = APPLICATIONS[name].weights_name
        found = sorted(p for p in Path(weights_dir).rglob("*notop*.h5") if wanted in p.name.lower())
        if not found:
            raise FileNotFoundError(f"no *_notop.h5 file for {name} (named like '*{wanted}*') in {weights_dir}")
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

"""Why the model said it: Grad-CAM (Selvaraju et al., 2017, arXiv:1610.02391) on the last
convolutional block, the same for every architecture Vista trains.

Every model ends `feature map → GlobalAveragePooling2D → dense head` (architectures.py), so the
last convolutional block is whatever that pooling layer pools: the CNNs' last block, a transfer
model's whole pretrained base. The heatmap of an image is the ReLU of that feature map's channels
weighted by the mean gradient of the predicted class's score over each channel, scaled to [0, 1]:
a coarse grid (the feature map's size, e.g. 18x18 for base_cnn at 150 px, 5x5 for
ResNet-50) where 1 marks what pushed the model most towards its answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf
from keras import layers

from preprocessing import decode_resize


def _pooling(model: keras.Model) -> int:
    found = [i for i, layer in enumerate(model.layers) if isinstance(layer, layers.GlobalAveragePooling2D)]
    if len(found) != 1:
        raise ValueError(f"{model.name} has {len(found)} GlobalAveragePooling2D layers; Grad-CAM needs exactly one")
    return found[0]


def explainer(model: keras.Model) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """images (float32 RGB in [0, 255], batch-major) → (probabilities, heatmaps in [0, 1])."""
    index = _pooling(model)
    features_of = keras.Model(model.inputs, model.layers[index].input, name=f"{model.name}_features")
    # What follows the pooling is a chain (dropout, dense layers): applied in order, it is the head.
    head = model.layers[index:]

    def explain(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        features = tf.cast(features_of(images, training=False), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(features)
            x = features
            for layer in head:
                x = layer(x, training=False)
            probabilities = tf.cast(x, tf.float32)
            # The paper takes the class's score before the softmax; the models end in one, and the
            # log-probability (the score less the log-sum-exp of all) does not vanish as the softmax
            # saturates on a confident answer, as the probability's gradient does.
            score = tf.math.log(tf.reduce_max(probabilities, axis=-1) + 1e-12)
        weights = tf.reduce_mean(tape.gradient(score, features), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(features * weights, axis=-1))
        low = tf.reduce_min(cam, axis=(1, 2), keepdims=True)
        span = tf.reduce_max(cam, axis=(1, 2), keepdims=True) - low
        return probabilities, tf.math.divide_no_nan(cam - low, span)

    return explain


def heatmaps_of(model: keras.Model, paths: list[str], image_size: int) -> list[list[list[float]]]:
    """Each image file's heatmap by the model, read and resized as serving reads it."""
    if not paths:
        return []
    images = tf.stack([decode_resize(tf.constant(Path(p).read_bytes()), image_size) for p in paths])
    return explainer(model)(images)[1].numpy().tolist()

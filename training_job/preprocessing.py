"""Image decoding shared by training and serving, so the two can never disagree.

Models take float32 RGB in [0, 255] at their image size and normalise inside
themselves (architectures.py), so the exported SavedModel needs nothing but bytes.
"""

from __future__ import annotations

import tensorflow as tf


def decode_resize(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes (any size, grey or colour, PNG alpha dropped) → float32 [size, size, 3] in [0, 255]."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    image = tf.clip_by_value(image, 0.0, 255.0)
    return tf.ensure_shape(image, (image_size, image_size, 3))

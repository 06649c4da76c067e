"""The TF Serving artifact: `<model_dir>/1/` whose `serving_default` takes encoded image bytes.

Decoding, resizing and normalising happen inside the graph with training's own
`decode_resize`, so clients send `{"instances": [{"b64": ...}]}` and nothing else.
Written with `keras.export.ExportArchive` without `track(model)`: the endpoint's captured
variables are saved once, and no optimizer state is.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from preprocessing import decode_resize

SERVING_VERSION = "1"  # TF Serving finds "no versions of servable" without an integer folder


def serving_function(
    model: keras.Model, classes: list[str], image_size: int, model_name: str = ""
) -> tf.types.experimental.Function:
    names = tf.constant(classes)
    name = tf.constant(model_name)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.map_fn(
            lambda data: decode_resize(data, image_size),
            image_bytes,
            fn_output_signature=tf.TensorSpec((image_size, image_size, 3), tf.float32),
        )
        probabilities = tf.cast(model(images, training=False), tf.float32)
        batch = tf.shape(probabilities)[0]
        return {
            "probabilities": probabilities,
            "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
            "classes": tf.tile(names[tf.newaxis], [batch, 1]),
            "model": tf.fill([batch], name),
        }

    return serve


def export_savedmodel(
    model: keras.Model, classes: list[str], image_size: int, model_dir: str | Path, *, model_name: str = ""
) -> Path:
    """`model_name` is answered beside every prediction (`model`): the training job's name, so a
    prediction made while the endpoint switches models is stamped with the one that answered."""
    target = Path(model_dir) / SERVING_VERSION
    archive = keras.export.ExportArchive()
    archive.add_endpoint("serving_default", serving_function(model, classes, image_size, model_name))
    archive.write_out(str(target), verbose=False)
    return target

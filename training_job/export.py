"""The TF Serving artifact: `<model_dir>/1/` whose signatures take encoded image bytes.

Decoding, resizing and normalising happen inside the graph with training's own
`decode_resize`, so clients send `{"instances": [{"b64": ...}]}` and nothing else.
`serving_default` classifies; `explain` (asked by `"signature_name": "explain"` in the same
request, which SageMaker's TF Serving container passes through to TF Serving's REST API) also
answers the Grad-CAM heatmap (explain.py); `pixels` takes decoded pixels, what the portable
exports convert (portable.py). A signature costs nothing until it is called.
Written with `keras.export.ExportArchive` without `track(model)`: the endpoint's captured
variables are saved once, and no optimizer state is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from explain import explainer
from preprocessing import decode_resize
from typicality import Typicality


@dataclass(frozen=True)
class Typical:
    """What serving needs to answer each image's distance: the model answering [features,
    probabilities] (architectures.Built.with_features) and the measure fitted on its training split."""

    model: keras.Model
    measure: Typicality


SERVING_VERSION = "1"  # TF Serving finds "no versions of servable" without an integer folder


IMAGE_BYTES = tf.TensorSpec([None], tf.string, name="image_bytes")


def _decoded(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    return tf.map_fn(
        lambda data: decode_resize(data, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec((image_size, image_size, 3), tf.float32),
    )


def serving_function(
    model: keras.Model, classes: list[str], image_size: int, model_name: str = "", typical: Typical | None = None
) -> tf.types.experimental.Function:
    """Every class's probability, the top class, the classes and the model's name; with `typical`, each
    image's `distance` to the class it is given (typicality.py), which the functions hold to the
    model's distance threshold."""
    names = tf.constant(classes)
    name = tf.constant(model_name)
    answering = typical.model if typical else model
    whitening = tf.constant(typical.measure.whitening if typical else [[0.0]])
    means = tf.constant(typical.measure.means if typical else [[0.0]])

    @tf.function(input_signature=[IMAGE_BYTES])
    def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        answer = answering(_decoded(image_bytes, image_size), training=False)
        features, probabilities = answer if typical else (None, answer)
        probabilities = tf.cast(probabilities, tf.float32)
        batch = tf.shape(probabilities)[0]
        top = tf.argmax(probabilities, axis=-1)
        answer = {
            "probabilities": probabilities,
            "label": tf.gather(names, top),
            "classes": tf.tile(names[tf.newaxis], [batch, 1]),
            "model": tf.fill([batch], name),
        }
        if typical is not None:
            whitened = tf.matmul(tf.cast(features, tf.float32), whitening)
            nearest = tf.gather(means, top)
            answer["distance"] = tf.reduce_mean(tf.square(whitened - nearest), axis=-1)
        return answer

    return serve


def explain_function(
    model: keras.Model, classes: list[str], image_size: int, model_name: str = ""
) -> tf.types.experimental.Function:
    """The predicted class, its probability and the heatmap ([batch, rows, columns] in [0, 1])."""
    names = tf.constant(classes)
    name = tf.constant(model_name)
    explain = explainer(model)

    @tf.function(input_signature=[IMAGE_BYTES])
    def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities, heatmap = explain(_decoded(image_bytes, image_size))
        return {
            "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
            "probability": tf.reduce_max(probabilities, axis=-1),
            "heatmap": heatmap,
            "model": tf.fill([tf.shape(probabilities)[0]], name),
        }

    return serve


def pixels_function(model: keras.Model, image_size: int) -> tf.types.experimental.Function:
    """The model without decoding: RGB pixels as `decode_resize` gives them (float32, 0-255, resized to
    the model's size) → every class's probability. What the portable exports convert (portable.py)."""

    @tf.function(input_signature=[tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="pixels")])
    def serve(pixels: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.cast(model(pixels, training=False), tf.float32)}

    return serve


def export_savedmodel(
    model: keras.Model,
    classes: list[str],
    image_size: int,
    model_dir: str | Path,
    *,
    model_name: str = "",
    explain: bool = True,
    typical: Typical | None = None,
) -> Path:
    """`model_name` is answered beside every prediction (`model`): the training job's name, so a
    prediction made while the endpoint switches models is stamped with the one that answered.
    `explain=False` leaves the `explain` signature out (the serving benchmark's baseline)."""
    target = Path(model_dir) / SERVING_VERSION
    archive = keras.export.ExportArchive()
    archive.add_endpoint("serving_default", serving_function(model, classes, image_size, model_name, typical))
    archive.add_endpoint("pixels", pixels_function(model, image_size))
    if explain:
        archive.add_endpoint("explain", explain_function(model, classes, image_size, model_name))
    archive.write_out(str(target), verbose=False)
    return target

"""The exported SavedModel: it answers image bytes as the model in memory does, and reads a portrait photo upright."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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


def test_the_api_offers_the_formats_the_training_code_exports() -> None:
    from portable import FORMATS as EXPORTED
    from vista_app.exports import FORMATS

    assert FORMATS == EXPORTED

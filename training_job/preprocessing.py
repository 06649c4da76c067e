"""Image decoding shared by training and serving, so the two can never disagree.

Models take float32 RGB in [0, 255] at their image size and normalise inside
themselves (architectures.py), so the exported SavedModel needs nothing but bytes.

Pictures are decoded upright, as the person took them: a phone stores a portrait photo as
landscape pixels plus an EXIF Orientation tag (TIFF 6.0 tag 274; CIPA DC-008 "Exif" 4.6.4), and
`tf.io.decode_image` ignores the tag. The tag is read here in graph ops (no Python in the
SavedModel) and applied as Pillow's `ImageOps.exif_transpose` applies it, so training, the
endpoint and anything that reduces an image first see the same upright picture.
"""

from __future__ import annotations

import tensorflow as tf

# The Orientation entry of an EXIF IFD: tag 0x0112, type SHORT (3), count 1, then the value, in the
# byte order of the TIFF header ("II" little-endian, "MM" big-endian). The APP1 segment holding EXIF
# comes first in a JPEG and is at most 64 KiB, so the search reads no further.
EXIF_WINDOW = 65536
LITTLE_ENDIAN = (0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00)
BIG_ENDIAN = (0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01)


def _first_match(window: tf.Tensor, signature: tuple[int, ...]) -> tf.Tensor:
    """The offset just past the first occurrence of `signature` in `window` (uint8), or -1."""
    span = tf.shape(window)[0] - len(signature)

    def search() -> tf.Tensor:
        hits = tf.ones([span], tf.bool)
        for offset, byte in enumerate(signature):
            hits &= tf.equal(window[offset : offset + span], byte)
        found = tf.where(hits)
        return tf.cond(
            tf.shape(found)[0] > 0, lambda: tf.cast(found[0, 0], tf.int32) + len(signature), lambda: tf.constant(-1)
        )

    return tf.cond(span > 0, search, lambda: tf.constant(-1))


def exif_orientation(image_bytes: tf.Tensor) -> tf.Tensor:
    """The EXIF Orientation (1-8) of encoded image bytes; 1 (as stored) where there is none."""
    head = tf.strings.substr(image_bytes, 0, EXIF_WINDOW)
    window = tf.io.decode_raw(head, tf.uint8)
    little, big = _first_match(window, LITTLE_ENDIAN), _first_match(window, BIG_ENDIAN)
    size = tf.shape(window)[0]

    def value(at: tf.Tensor, low_first: bool) -> tf.Tensor:
        low, high = (at, at + 1) if low_first else (at + 1, at)
        return tf.cast(window[low], tf.int32) + 256 * tf.cast(window[high], tf.int32)

    orientation = tf.case(
        [
            (tf.logical_and(little >= 0, little + 1 < size), lambda: value(little, True)),
            (tf.logical_and(big >= 0, big + 1 < size), lambda: value(big, False)),
        ],
        default=lambda: tf.constant(1),
    )
    return tf.where(tf.logical_and(orientation >= 1, orientation <= 8), orientation, 1)


def upright(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Pixels as stored → as meant, for each Orientation value (Pillow's exif_transpose methods:
    2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
    8 ROTATE_90; tf.image.rot90 turns counter-clockwise, as Pillow's ROTATE_* do)."""
    swapped = tf.transpose(image, [1, 0, 2])
    branches = [
        lambda: image,
        lambda: tf.image.flip_left_right(image),
        lambda: tf.image.rot90(image, 2),
        lambda: tf.image.flip_up_down(image),
        lambda: swapped,
        lambda: tf.image.rot90(image, 3),
        lambda: tf.image.rot90(swapped, 2),
        lambda: tf.image.rot90(image, 1),
    ]
    return tf.switch_case(orientation - 1, branches)


def decode_resize(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes (any size, grey or colour, PNG alpha dropped, EXIF orientation applied)
    → float32 [size, size, 3] in [0, 255]."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image = upright(image, exif_orientation(image_bytes))
    image = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    image = tf.clip_by_value(image, 0.0, 255.0)
    return tf.ensure_shape(image, (image_size, image_size, 3))

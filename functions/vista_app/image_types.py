"""The photos Vista takes, by content type and by file suffix: one list for the API, uploads, the
inbox, dataset counts and the `vista` command. (training_job/data.py keeps a copy, since SageMaker
runs training_job/ without vista_app; a test holds the two equal.)

JPEG and PNG go to the model as they are (reduced when big); the others a phone, a browser or an
archive makes are converted to the JPEG the model was trained on (images.py)."""

from __future__ import annotations

from typing import Literal, get_args

ContentType = Literal[
    "image/jpeg",
    "image/png",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "image/gif",
    "image/bmp",
    "image/tiff",
]
CONTENT_TYPES: tuple[str, ...] = get_args(ContentType)
# The type of each format images.inspect_image reads (its ImageInfo.format).
FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "HEIF": "image/heic",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
# The suffix a file of each type is named with, where Vista names it (uploads, copies into a dataset).
SUFFIX = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}
# Each suffix a photo may have, and its type.
SUFFIXES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}

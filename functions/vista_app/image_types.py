"""The photos Vista takes, by content type and by file suffix: one list for the API, uploads, the
inbox, dataset counts and the `vista` command. (training_job/data.py keeps a copy, since SageMaker
runs training_job/ without vista_app; a test holds the two equal.)"""

from __future__ import annotations

from typing import Literal, get_args

ContentType = Literal["image/jpeg", "image/png"]
CONTENT_TYPES: tuple[str, ...] = get_args(ContentType)
# The suffix a file of each type is named with, where Vista names it (uploads, copies into a dataset).
SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png"}
# The type of each format images.inspect_image reads (its ImageInfo.format).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
# Each suffix a photo may have, and its type.
SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}

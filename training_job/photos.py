"""Photos TensorFlow cannot decode (HEIC/HEIF, AVIF, WebP, TIFF), converted once to the JPEG the
pipeline reads: the first frame or page, upright, 8-bit sRGB (pixels.py, the very code the functions
convert with: a test holds the two to the same pixels).

Pillow decodes them; HEIF needs pi-heif (the imaging layer's decoder), imported when a HEIF file
comes. The TF training image has neither pi-heif nor a Pillow that reads AVIF: the training archive
installs the imaging layer's own (training_job/Makefile). Without them, such files are skipped,
counted, with the reason in the log.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from pixels import heif_or_avif, upright_srgb

# What tf.io.decode_image reads ("One of JPEG, PNG, GIF, BMP required"); the rest is converted.
DECODED_BY_TENSORFLOW = {".jpg", ".jpeg", ".png", ".gif", ".bmp"}
QUALITY = 95


def needs_conversion(path: str | Path) -> bool:
    return Path(path).suffix.lower() not in DECODED_BY_TENSORFLOW


def converted(path: str | Path, cache: Path) -> Path:
    """The photo as a JPEG in `cache`, named by its content's digest (made once, whatever its name or
    however many splits list it); raises OSError/ValueError for a file nothing here can read."""
    data = Path(path).read_bytes()
    target = cache / f"{hashlib.sha256(data).hexdigest()}.jpg"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(to_jpeg(data))
        partial.replace(target)
    return target


def to_jpeg(data: bytes) -> bytes:
    from PIL import Image

    if heif_or_avif(data) == "HEIF":  # Pillow reads AVIF itself
        _heif_opener()
    with Image.open(io.BytesIO(data)) as image:
        pixels = upright_srgb(image)
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def _heif_opener() -> None:
    try:
        import pi_heif
    except ImportError:
        raise ValueError("a HEIF image, and no HEIF decoder (pi-heif) in this training image") from None
    pi_heif.register_heif_opener()

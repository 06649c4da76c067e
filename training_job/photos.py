"""Photos TensorFlow cannot decode (HEIC/HEIF, AVIF, WebP, TIFF), converted once to the JPEG the
pipeline reads: the first frame or page, turned upright by its EXIF orientation (HEIF's `irot` and
`imir` are applied by libheif), its colour profile converted to sRGB, 16-bit samples scaled to 8.
What the functions send a model for such a photo is converted the same way
(functions/vista_app/images.py: a test holds the two to the same pixels).

Pillow decodes them; HEIF needs pi-heif (the imaging layer's decoder), imported when a HEIF file
comes. The TF training image has neither pi-heif nor a Pillow that reads AVIF: the training archive
installs the imaging layer's own (training_job/Makefile). Without them, such files are skipped,
counted, with the reason in the log.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

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
    from PIL import Image, ImageOps

    if data[4:8] == b"ftyp" and b"avif" not in data[8:32]:  # HEIF's brands (Pillow reads AVIF itself)
        _heif_opener()
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        image.load()
        pixels = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    eight_bit_srgb(pixels).save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def eight_bit_srgb(image: Any) -> Any:
    """8-bit RGB in sRGB: an embedded colour profile converted (Little CMS), 16-bit and 32-bit grey
    scaled to 8 bits (Pillow's convert would clip them), alpha dropped."""
    from PIL import ImageCms

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        high = 65535 if image.mode.startswith("I;16") else max(1, image.getextrema()[1])
        image = image.convert("I").point(lambda value: value * (255 / high)).convert("L")
    elif image.mode == "F":
        image = image.point(lambda value: value * 255).convert("L")
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except ImageCms.PyCMSError:
            pass  # a profile Little CMS cannot read: the samples as they are
    return image if image.mode == "RGB" else image.convert("RGB")


def _heif_opener() -> None:
    try:
        import pi_heif
    except ImportError:
        raise ValueError("a HEIF image, and no HEIF decoder (pi-heif) in this training image") from None
    pi_heif.register_heif_opener()

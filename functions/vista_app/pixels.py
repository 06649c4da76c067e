"""A photo as the model is trained on it and served it: HEIF told from AVIF by its brands (they share
a container, and only HEIF needs pi-heif), and decoded, its first frame or page, upright by its EXIF
orientation (HEIF's `irot` and `imir` are applied by libheif as it decodes), 8-bit RGB in sRGB. One
copy for both sides: the training job (training_job/photos.py, which links this file, as it cannot
import vista_app) and the functions (vista_app/images.py). Pillow is imported by the caller, which
has already opened the image."""

from __future__ import annotations

import io
import struct
from typing import Any

# ISO base media file brands (the `ftyp` box): HEIF's (ISO/IEC 23008-12) and AVIF's.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}


def heif_or_avif(data: bytes) -> str | None:
    """ "HEIF" or "AVIF" by the `ftyp` box's brands (the major one, then the compatible ones; an AVIF
    also lists mif1, so a HEIF major brand decides), else None."""
    if data[4:8] != b"ftyp":
        return None
    (size,) = struct.unpack(">I", data[:4])
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, min(size, len(data)) - 3, 4)}
    if brands & AVIF_BRANDS and not {data[8:12]} & HEIF_BRANDS:
        return "AVIF"
    return "HEIF" if brands & HEIF_BRANDS else None


def upright_srgb(image: Any) -> Any:
    """The first frame of `image` (an open PIL image), upright, 8-bit sRGB RGB (a new image)."""
    from PIL import ImageOps

    image.seek(0)  # the first frame of an animation, the first page of a TIFF
    image.load()
    return eight_bit_srgb(ImageOps.exif_transpose(image))  # upright (a copy), its Orientation tag dropped


def eight_bit_srgb(image: Any) -> Any:
    """8-bit RGB in sRGB: an embedded colour profile converted (Little CMS), 16-bit and 32-bit grey
    scaled to 8 bits (Pillow's convert would clip them), alpha dropped as the PNG path drops it."""
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

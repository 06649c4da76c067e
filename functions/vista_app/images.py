"""Check image bytes before paying for inference, and make a camera's photo small enough to send.

`inspect_image` reads only headers and chunk structure (no decoding): the format by its magic
bytes, the pixel size, and whether the file is complete, so what the endpoint would reject, or
what would waste its time, gets a clear reason up front (a decompression bomb is refused by its
declared pixels, before anything decodes it).

`reduce_for_model` turns a photo of any size a camera makes into a few tens of KB for the endpoint:
a JPEG decoded at a reduced scale (libjpeg's DCT scaling via Pillow's `draft`: a fraction of a full
decode), resized so its shorter side is twice the model's input, and re-encoded with the EXIF
Orientation kept, so the model's own decode turns it upright exactly as it would the original
(training_job/preprocessing.py). Pillow is imported only there: functions that never reduce do not
pay for it at cold start.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from vista_app.errors import BadRequest

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
OTHER_FORMATS = {
    b"GIF8": "GIF",
    b"RIFF": "RIFF (WebP?)",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
    b"PK\x03\x04": "ZIP",
    b"%PDF": "PDF",
    b"<": "text/HTML",
}


class InvalidImage(BadRequest):
    """Bytes that are not a complete JPEG or PNG within the limits."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    if not data:
        raise InvalidImage("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise InvalidImage(f"image is {len(data):,} bytes; the limit is {max_bytes:,}")
    if data.startswith(JPEG_MAGIC):
        info = _jpeg(data)
    elif data.startswith(PNG_MAGIC):
        info = _png(data)
    else:
        raise InvalidImage(f"not a JPEG or PNG image ({_guess(data)})")
    if info.width == 0 or info.height == 0:
        raise InvalidImage(f"{info.format} declares an empty size {info.width}x{info.height}")
    if info.width * info.height > max_pixels:
        raise InvalidImage(
            f"{info.format} is {info.width}x{info.height} = {info.width * info.height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    return info


def _guess(data: bytes) -> str:
    head = data[:16].lstrip()
    for magic, name in OTHER_FORMATS.items():
        if head.startswith(magic):
            return f"looks like {name}"
    return f"starts with {data[:8].hex(' ')}"


def _jpeg(data: bytes) -> ImageInfo:
    """The frame size, once the image data is known to be complete: every marker segment walked,
    through each scan's entropy-coded data (where a 0xFF byte is always followed by 0x00 or a
    restart marker, ITU-T T.81 B.1.1.5), up to the end-of-image marker. What follows it is not the
    image's: Google's and Samsung's motion photos append their video there."""
    size: tuple[int, int] | None = None
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            raise InvalidImage(f"corrupt JPEG: bad marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            if size is None:
                raise InvalidImage("corrupt JPEG: no frame header (SOF) before the image data")
            return ImageInfo("JPEG", *size)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > len(data):
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in JPEG_SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        pos += 2 + length
        if marker == 0xDA:  # start of scan: its entropy-coded data runs to the next marker
            if size is None:
                raise InvalidImage("corrupt JPEG: no frame header (SOF) before the image data")
            pos = _end_of_scan(data, pos)
    raise InvalidImage("truncated JPEG: the image data ends before its end-of-image marker")


def _end_of_scan(data: bytes, pos: int) -> int:
    """Where the marker after a scan's entropy-coded data starts (len(data) if none does)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        follower = data[pos + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7:  # a stuffed 0xFF, a restart marker
            pos += 2
            continue
        return pos


def _png(data: bytes) -> ImageInfo:
    pos = len(PNG_MAGIC)
    size: tuple[int, int] | None = None
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) != crc:
            raise InvalidImage(f"corrupt PNG: bad CRC in the {kind.decode('latin-1')} chunk")
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        if kind == b"IEND":
            if size is None:
                raise InvalidImage("corrupt PNG: no IHDR chunk")
            return ImageInfo("PNG", *size)
        pos = end
    raise InvalidImage("truncated PNG: the IEND chunk is missing")


ORIENTATION = 0x0112  # the EXIF tag
REDUCED_QUALITY = 90
# An image whose shorter side is at most this many times the model's input is sent as it is.
SIDE_PER_INPUT = 2


def reduce_for_model(data: bytes, info: ImageInfo, image_size: int) -> bytes:
    """The bytes to send for a model that reads `image_size` x `image_size`: `data` itself when it is
    no bigger than needed, else a JPEG whose shorter side is SIDE_PER_INPUT x `image_size`."""
    target = SIDE_PER_INPUT * image_size
    if min(info.width, info.height) <= target:
        return data
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # inspect_image has held the declared pixels to the limit
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (target, target))  # JPEG: decoded at 1/2, 1/4 or 1/8 scale, still >= target
        orientation = image.getexif().get(ORIENTATION)
        pixels = image.convert("RGB")
    scale = target / min(pixels.size)
    if scale < 1:
        size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
        pixels = pixels.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    reduced = io.BytesIO()
    pixels.save(reduced, "JPEG", quality=REDUCED_QUALITY, exif=exif.tobytes())
    return reduced.getvalue()

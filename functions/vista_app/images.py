"""Check image bytes before paying for inference, and make a camera's photo small enough to send.

`inspect_image` reads only headers and chunk structure (no decoding): the format by its magic
bytes, the pixel size, and whether the file is complete, so what the endpoint would reject, or
what would waste its time, gets a clear reason up front (a decompression bomb is refused by its
declared pixels, before anything decodes it). JPEG and PNG are read here; HEIC/HEIF, WebP, AVIF,
GIF, BMP and TIFF by their decoder's header reader (Pillow's plugin for the format, pi-heif's for
HEIF), loaded only when such bytes arrive, and always converted (`reduce_for_model`): the first
frame or page, turned upright by its EXIF orientation (HEIF's `irot`/`imir` are applied by
libheif), its colour profile converted to sRGB, 16-bit samples scaled to 8, sent as the JPEG the
model was trained on.

Only the first frame header counts (Pillow reads the first): a second IHDR or SOF, or an IHDR that
is not a PNG's first chunk, is refused, so no header can claim a size the decoder will not use.

`decode_peak` is what decoding an image costs in memory, from its header: Pillow keeps 4 bytes a
pixel for RGB (and RGBA, LA), a PNG has no reduced-scale decode, and a progressive or multi-scan JPEG
makes libjpeg buffer every DCT coefficient of the frame (2 bytes each, per component) whatever scale
it outputs. `reduce_for_model` refuses an image whose peak would not fit the function's memory
(`decode_budget`) with the reason, rather than let the function die and its whole batch be retried.

`reduce_for_model` turns a photo of any size a camera makes into a few tens of KB for the endpoint:
a JPEG decoded at a reduced scale (libjpeg's DCT scaling via Pillow's `draft`: a fraction of a full
decode), resized so its shorter side is twice the model's input, and re-encoded with the EXIF
Orientation kept, so the model's own decode turns it upright exactly as it would the original
(training_job/preprocessing.py). Pillow is imported only there: functions that never reduce do not
pay for it at cold start.
"""

from __future__ import annotations

import importlib
import io
import struct
import zlib
from dataclasses import dataclass

from vista_app.errors import BadRequest
from vista_app.pixels import heif_or_avif, upright_srgb

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
# The formats converted to JPEG, each read by this Pillow plugin (HEIF by pi-heif's).
CONVERTED = {
    "HEIF": None,
    "AVIF": "AvifImagePlugin",
    "WEBP": "WebPImagePlugin",
    "GIF": "GifImagePlugin",
    "BMP": "BmpImagePlugin",
    "TIFF": "TiffImagePlugin",
}
OTHER_FORMATS = {
    b"PK\x03\x04": "ZIP",
    b"%PDF": "PDF",
    b"<": "text/HTML",
}


TAKEN = "JPEG, PNG, HEIC, WebP, AVIF, GIF, BMP or TIFF"


class InvalidImage(BadRequest):
    """Bytes that are not a complete image of a format Vista takes, within the limits."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    # What decoding costs beyond the output pixels: a JPEG whose frame libjpeg buffers whole (progressive,
    # or several scans), with the share of full-size samples its components hold (3.0 for 4:4:4, 1.5
    # for 4:2:0); a PNG's bytes a pixel as Pillow holds it, and whether its mode converts before it reduces.
    buffered_samples: float = 0.0
    png_bytes_per_pixel: int = 4
    png_converts_first: bool = False
    # What converting it takes, in bytes a pixel (DECODE_BYTES: its format's, and its sample width's).
    decoded_bytes_per_pixel: float = 0.0


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    if not data:
        raise InvalidImage("empty file (0 bytes)")
    if len(data) > max_bytes:
        raise InvalidImage(f"image is {len(data):,} bytes; the limit is {max_bytes:,}")
    fmt = _format_of(data)
    if fmt == "JPEG":
        info = _jpeg(data)
    elif fmt == "PNG":
        info = _png(data)
    elif fmt in CONVERTED:
        info = _by_decoder(data, fmt, max_pixels)
    else:
        raise InvalidImage(f"not a {TAKEN} image ({_guess(data)})")
    if info.width == 0 or info.height == 0:
        raise InvalidImage(f"{info.format} declares an empty size {info.width}x{info.height}")
    if info.width * info.height > max_pixels:
        raise InvalidImage(
            f"{info.format} is {info.width}x{info.height} = {info.width * info.height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    return info


def _format_of(data: bytes) -> str | None:
    """The format its first bytes say (each format's signature), never its name's suffix."""
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:2] == b"BM" and len(data) >= 26 and struct.unpack("<I", data[14:18])[0] in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"  # BM and a known DIB header size (the header's bytes 14-17)
    return heif_or_avif(data)


def opener(fmt: str) -> str:
    """Load the one decoder `fmt` needs (a cold start pays for no other); the Pillow format id."""
    if fmt == "HEIF":
        import pi_heif

        pi_heif.register_heif_opener()
    else:
        importlib.import_module(f"PIL.{CONVERTED[fmt]}")
    return fmt


def _by_decoder(data: bytes, fmt: str, max_pixels: int) -> ImageInfo:
    """A converted format's size and decoded frame size, from its decoder's header reader."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels  # its own guard: a header past twice the limit is refused at once
    try:
        with Image.open(io.BytesIO(data), formats=[opener(fmt)]) as image:
            width, height, mode = image.width, image.height, image.mode
    except Image.DecompressionBombError:
        raise InvalidImage(f"{fmt} declares over {2 * max_pixels:,} pixels; the limit is {max_pixels:,}") from None
    except UnidentifiedImageError:  # its decoder's words name the BytesIO, not the problem
        raise InvalidImage(f"corrupt {fmt}: its decoder cannot read its header (truncated or damaged)") from None
    except (OSError, ValueError, SyntaxError, struct.error, EOFError) as error:
        raise InvalidImage(f"corrupt {fmt}: {str(error).strip()}") from None
    wide = 4 if mode.startswith("I;16") else 0  # 16-bit samples, and their 32-bit scaling
    return ImageInfo(fmt, width, height, decoded_bytes_per_pixel=DECODE_BYTES[fmt] + wide)


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
    frame = b""
    progressive, scans = False, 0
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
            buffered = _samples(frame) if progressive or scans > 1 else 0.0
            return ImageInfo("JPEG", *size, buffered_samples=buffered)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > len(data):
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in JPEG_SOF and pos + 9 <= len(data):
            if size is not None:
                raise InvalidImage("corrupt JPEG: a second frame header (SOF); only single-frame JPEGs are taken")
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size, frame = (width, height), data[pos + 4 : pos + 2 + length]
            progressive = marker in JPEG_PROGRESSIVE
        pos += 2 + length
        if marker == 0xDA:  # start of scan: its entropy-coded data runs to the next marker
            scans += 1
            if size is None:
                raise InvalidImage("corrupt JPEG: no frame header (SOF) before the image data")
            pos = _end_of_scan(data, pos)
    raise InvalidImage("truncated JPEG: the image data ends before its end-of-image marker")


def _samples(frame: bytes) -> float:
    """A frame's DCT samples per pixel: each component's sampling factors against the largest
    (ITU-T T.81 B.2.2: Nf, then per component C, Hi/Vi, Tq)."""
    if len(frame) < 6:
        return 3.0
    count = frame[5]
    factors = [(frame[7 + 3 * i] >> 4, frame[7 + 3 * i] & 15) for i in range(count) if 8 + 3 * i < len(frame)]
    if not factors:
        return 3.0
    h_max, v_max = max(h for h, _ in factors) or 1, max(v for _, v in factors) or 1
    return sum(h * v / (h_max * v_max) for h, v in factors)


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
    header: bytes | None = None
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
            if header is not None:
                raise InvalidImage("corrupt PNG: a second IHDR chunk")
            header = body
        elif header is None:
            raise InvalidImage(f"corrupt PNG: IHDR is not its first chunk ({kind.decode('latin-1')} is)")
        if kind == b"IEND":
            return _png_info(header)
        pos = end
    raise InvalidImage("truncated PNG: the IEND chunk is missing")


def _png_info(header: bytes) -> ImageInfo:
    """Size and decoding cost from IHDR: 8-bit grey, grey+alpha, RGB and RGBA decode to Pillow modes
    it reduces in place; palette, 1-bit and 16-bit grey are converted to RGB first."""
    if len(header) < 13:
        raise InvalidImage("corrupt PNG: a short IHDR chunk")
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if colour == 0 and depth == 8:
        return ImageInfo("PNG", width, height, png_bytes_per_pixel=1)
    if colour in (2, 4, 6):
        return ImageInfo("PNG", width, height, png_bytes_per_pixel=4)
    return ImageInfo("PNG", width, height, png_bytes_per_pixel=4 if depth == 16 else 1, png_converts_first=True)


MB = 1024 * 1024
# What a function holds besides the image being decoded: the runtime, boto3, Powertools and Pillow,
# the photo's own bytes (up to 15 MB) and what is sent (measured: tests/training/test_image_memory.py).
RESERVED_BYTES = 200 * MB
RGB_BYTES = 4  # Pillow keeps an RGB pixel in 4 bytes
# What converting a photo of each format takes at its peak, in bytes a pixel: the decoder's own buffers,
# Pillow's frame, the upright and RGB copies. Measured as peak RSS (tests/training/test_image_memory.py:
# WebP 16.4, HEIF 8.5, AVIF 10.5, TIFF 8.4 (16-bit grey 12.1), GIF 6.1, BMP 8.4), with a fifth more.
DECODE_BYTES = {"WEBP": 20, "HEIF": 11, "AVIF": 13, "TIFF": 11, "GIF": 8, "BMP": 11}
COEFFICIENT_BYTES = 2  # a JPEG DCT coefficient (JCOEF)


def decode_budget(memory_mb: int) -> int:
    """The bytes a function of `memory_mb` (its MemorySize) can give to decoding one image."""
    return max(0, memory_mb * MB - RESERVED_BYTES)


def _draft_scale(width: int, height: int, target: int) -> int:
    """The reduced scale Pillow's JpegImageFile.draft picks for (target, target): 1, 2, 4 or 8."""
    scale = min(width // target, height // target)
    return next(s for s in (8, 4, 2, 1) if scale >= s)


def decode_peak(info: ImageInfo, image_size: int) -> int:
    """The most memory decoding and reducing `info`'s image for a model of `image_size` takes, in bytes."""
    target = SIDE_PER_INPUT * image_size
    pixels = info.width * info.height
    if info.format in CONVERTED:  # always decoded, whatever its size
        return int(pixels * info.decoded_bytes_per_pixel)
    if min(info.width, info.height) <= target:
        return 0  # sent as it is, never decoded here
    if info.format == "JPEG":
        scale = _draft_scale(info.width, info.height, target)
        out = -(-info.width // scale) * -(-info.height // scale) * RGB_BYTES
        return int(out * 1.25 + pixels * info.buffered_samples * COEFFICIENT_BYTES)
    if info.png_converts_first:
        return pixels * (info.png_bytes_per_pixel + RGB_BYTES) + pixels * RGB_BYTES // 4
    return pixels * info.png_bytes_per_pixel + pixels * RGB_BYTES // 4


ORIENTATION = 0x0112  # the EXIF tag
REDUCED_QUALITY = 90
# An image whose shorter side is at most this many times the model's input is sent as it is.
SIDE_PER_INPUT = 2


def reduce_for_model(data: bytes, info: ImageInfo, image_size: int, *, budget: int) -> bytes:
    """The bytes to send for a model that reads `image_size` x `image_size`: `data` itself when it is
    no bigger than needed, else a JPEG whose shorter side is SIDE_PER_INPUT x `image_size`. Refused
    when decoding it would take more than `budget` bytes; whatever the decoder says of bad data is
    InvalidImage."""
    target = SIDE_PER_INPUT * image_size
    if min(info.width, info.height) <= target and info.format not in CONVERTED:
        return data
    peak = decode_peak(info, image_size)
    if peak > budget:
        raise InvalidImage(
            f"{info.format} of {info.width}x{info.height} needs about {peak // MB} MB to decode; this function "
            f"has {budget // MB} MB for it: send it smaller (or as a JPEG, which decodes at a reduced scale)"
        )
    from PIL import Image

    try:
        if info.format in CONVERTED:
            return _converted(data, info, target)
        return _reduced(data, info, target)
    except (OSError, ValueError, SyntaxError, struct.error, EOFError, Image.DecompressionBombError) as error:
        raise InvalidImage(f"{info.format} could not be decoded: {str(error).strip()}") from None


def _reduced(data: bytes, info: ImageInfo, target: int) -> bytes:
    from PIL import Image

    # Pillow's own guard at the size the header declared: anything it opens bigger is refused.
    Image.MAX_IMAGE_PIXELS = info.width * info.height
    with Image.open(io.BytesIO(data)) as image:
        if image.size != (info.width, info.height):
            raise InvalidImage(f"{info.format} declares {info.width}x{info.height} but holds {image.size}")
        image.draft("RGB", (target, target))  # JPEG: decoded at 1/2, 1/4 or 1/8 scale, still >= target
        orientation = image.getexif().get(ORIENTATION)
        image.load()
        pixels: Image.Image = image
        factor = min(pixels.size) // target
        if factor > 1 and pixels.mode in ("L", "LA", "RGB", "RGBA"):
            pixels = pixels.reduce(factor)  # a box filter in place of a full-size RGB copy
        if pixels.mode != "RGB":
            pixels = pixels.convert("RGB")
    scale = target / min(pixels.size)
    if scale < 1:
        size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
        pixels = pixels.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    exif = Image.Exif()
    if isinstance(orientation, int) and 1 <= orientation <= 8:  # a SHORT; any other value is ignored
        exif[ORIENTATION] = orientation
    reduced = io.BytesIO()
    pixels.save(reduced, "JPEG", quality=REDUCED_QUALITY, exif=exif.tobytes())
    return reduced.getvalue()


def _converted(data: bytes, info: ImageInfo, target: int) -> bytes:
    """A converted format's first frame as the JPEG the model was trained on: upright, sRGB, 8-bit
    RGB, its shorter side at most `target`."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = info.width * info.height
    with Image.open(io.BytesIO(data), formats=[opener(info.format)]) as image:
        pixels = upright_srgb(image)
    scale = target / min(pixels.size)
    if scale < 1:
        size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
        pixels = pixels.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    converted = io.BytesIO()
    pixels.save(converted, "JPEG", quality=REDUCED_QUALITY)
    return converted.getvalue()

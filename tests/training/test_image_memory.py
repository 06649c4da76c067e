"""Images crafted to get past the header checks, and the memory the largest accepted ones take to
decode, measured in a process of their own (Pillow's buffers are C memory: its peak RSS)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import Image

from tests.helpers.support import png_header_only
from vista_app.images import InvalidImage, decode_budget, decode_peak, inspect_image, reduce_for_model

LIMITS = {"max_bytes": 15 * 1024 * 1024, "max_pixels": 100_000_000}
FUNCTION_MB = 512  # classify's MemorySize (template.yaml Globals)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ihdr(width: int, height: int) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def plain_png(width: int, height: int) -> bytes:
    """A real PNG of one colour: a few hundred KB that decode to width x height pixels."""
    row = b"\x00" + b"\x40\x80\xc0" * width
    idat = zlib.compress(row * height, 9)
    return b"\x89PNG\r\n\x1a\n" + ihdr(width, height) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_png_with_a_second_ihdr_is_refused() -> None:
    # 12000² pixels inside, a harmless 2000² IHDR last: Pillow reads the first
    data = plain_png(1200, 1200)
    crafted = data[:-12] + ihdr(2000, 2000) + data[-12:]
    with pytest.raises(InvalidImage, match="a second IHDR"):
        inspect_image(crafted, **LIMITS)


def test_a_png_whose_first_chunk_is_not_ihdr_is_refused() -> None:
    data = plain_png(64, 64)
    crafted = data[:8] + chunk(b"tEXt", b"Comment\x00hi") + data[8:]
    with pytest.raises(InvalidImage, match="IHDR is not its first chunk"):
        inspect_image(crafted, **LIMITS)


def test_a_jpeg_with_a_second_frame_header_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "JPEG")
    data = buffer.getvalue()
    sof = data.index(b"\xff\xc0")
    length = struct.unpack(">H", data[sof + 2 : sof + 4])[0]
    frame = data[sof : sof + 2 + length]
    giant = frame[:5] + struct.pack(">HH", 65000, 65000) + frame[9:]
    small = frame[:5] + struct.pack(">HH", 2000, 2000) + frame[9:]
    eoi = data.rindex(b"\xff\xd9")
    crafted = data[:sof] + giant + data[sof + 2 + length : eoi] + small + data[eoi:]
    with pytest.raises(InvalidImage, match="a second frame header"):
        inspect_image(crafted, **LIMITS)


def test_an_exif_orientation_stored_as_text_does_not_stop_the_image() -> None:
    image = Image.new("RGB", (900, 700), (120, 60, 30))
    # EXIF (a little-endian TIFF) whose one entry, Orientation, is a SHORT stored as the text "6"
    entry = struct.pack("<HHI", 0x0112, 2, 2) + b"6\x00\x00\x00"
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    info = inspect_image(data, **LIMITS)
    sent = reduce_for_model(data, info, 150, budget=decode_budget(FUNCTION_MB))
    assert Image.open(io.BytesIO(sent)).size == (386, 300)


def test_a_png_that_would_not_fit_the_functions_memory_is_refused_with_the_reason() -> None:
    data = plain_png(10_000, 10_000)  # 292 KB
    info = inspect_image(data, **LIMITS)
    with pytest.raises(InvalidImage, match=r"needs about \d+ MB to decode; this function has \d+ MB for it"):
        reduce_for_model(data, info, 150, budget=decode_budget(FUNCTION_MB))


MEASURE = """
import json, sys
sys.path.insert(0, "functions")
from vista_app.images import decode_budget, inspect_image, reduce_for_model

def high_water_mb():  # VmHWM: this process's peak RSS (ru_maxrss would carry the forking parent's over exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

data = open(sys.argv[1], "rb").read()
info = inspect_image(data, max_bytes=len(data), max_pixels=10**9)
before = high_water_mb()
reduce_for_model(data, info, 150, budget=decode_budget(int(sys.argv[2])))
print(json.dumps({"before_mb": before, "peak_mb": high_water_mb()}))
"""


def largest_accepted_png() -> bytes:
    """The largest square plain PNG (8-bit RGB) the budget of a 512 MB function takes."""
    budget = decode_budget(FUNCTION_MB)
    sides = range(1000, 10_001, 100)
    side = max(s for s in sides if decode_peak(inspect_image(png_header_only(s, s), **LIMITS), 150) <= budget)
    return plain_png(side, side)


def largest_accepted(fmt: str, mode: str = "RGB") -> bytes:
    """The largest square picture of `fmt` (in Pillow `mode`) the budget of a 512 MB function takes,
    by the decoded size its header declares."""
    from dataclasses import replace

    from synthetic import encoded

    budget = decode_budget(FUNCTION_MB)
    sample = inspect_image(encoded(Image.new(mode, (16, 16)), fmt), **LIMITS)
    side = max(s for s in range(1000, 10_001, 100) if decode_peak(replace(sample, width=s, height=s), 150) <= budget)
    return encoded(Image.new(mode, (side, side), 40_000 if mode == "I;16" else (90, 140, 200)), fmt)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["png", "progressive-jpeg", "heic", "webp", "tiff-16-bit"])
def test_the_largest_accepted_image_decodes_within_the_functions_memory(kind: str, tmp_path) -> None:
    if kind == "png":
        data = largest_accepted_png()
    elif kind in ("heic", "webp"):
        data = largest_accepted({"heic": "HEIF", "webp": "WEBP"}[kind])
    elif kind == "tiff-16-bit":
        data = largest_accepted("TIFF", "I;16")
    else:  # progressive JPEG at the 100 MP limit: libjpeg buffers every coefficient of the frame
        buffer = io.BytesIO()
        Image.new("RGB", (10_000, 10_000), (90, 140, 200)).save(buffer, "JPEG", progressive=True, quality=50)
        data = buffer.getvalue()
    path = tmp_path / "image"
    path.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(FUNCTION_MB)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode:
        assert "InvalidImage" in result.stderr, result.stderr[-2000:]  # refused with a reason: also within memory
        return
    measured = json.loads(result.stdout)
    # Python, Pillow and the image's bytes are here already; Lambda's runtime and boto3 add ~90 MB more
    assert measured["peak_mb"] < FUNCTION_MB - 90, measured

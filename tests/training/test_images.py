"""Image checks before inference: pure functions, no AWS."""

from __future__ import annotations

import pytest

from synthetic import camera_jpeg
from tests.helpers.stack import image_bytes
from tests.helpers.support import png_header_only
from vista_app.images import ImageInfo, InvalidImage, inspect_image

LIMITS = {"max_bytes": 3_000_000, "max_pixels": 40_000_000}


@pytest.mark.parametrize(("fmt", "size"), [("JPEG", (150, 150)), ("PNG", (64, 48)), ("JPEG", (1, 1))])
def test_valid_images_report_format_and_size(fmt: str, size: tuple[int, int]) -> None:
    info = inspect_image(image_bytes(fmt, size), **LIMITS)
    assert (info.format, info.width, info.height) == (fmt, *size)


def test_progressive_jpeg_is_read() -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (120, 80), (10, 200, 10)).save(buffer, "JPEG", progressive=True)
    assert inspect_image(buffer.getvalue(), **LIMITS).width == 120


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"hello, this is text", "not a JPEG, PNG, HEIC, WebP, AVIF, GIF, BMP or TIFF"),
        (b"<html><body>nope</body></html>", "text/HTML"),
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
        (b"GIF89a" + b"\x00" * 40, "corrupt GIF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "corrupt WEBP"),
        (b"II*\x00" + b"\x00" * 40, "corrupt TIFF"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "corrupt HEIF"),
    ],
)
def test_non_images_are_refused_with_what_they_look_like(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidImage, match=reason):
        inspect_image(data, **LIMITS)


def test_truncated_jpeg_is_refused() -> None:
    data = image_bytes("JPEG", (200, 200))
    with pytest.raises(InvalidImage, match="truncated JPEG"):
        inspect_image(data[: len(data) // 2], **LIMITS)


def test_a_motion_photo_is_read_by_its_image_data_not_its_last_bytes() -> None:
    """Google's and Samsung's motion photos: a complete JPEG, then an MP4 after its end-of-image marker."""
    import os

    jpeg = image_bytes("JPEG", (320, 240))
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(4096) + b"\xff\xd9\x00\x01"
    assert inspect_image(jpeg + video, **LIMITS) == ImageInfo("JPEG", 320, 240)
    # ... while image data cut short is truncated, though its last bytes are zero padding
    with pytest.raises(InvalidImage, match="truncated JPEG"):
        inspect_image(jpeg[:-200] + b"\x00" * 64, **LIMITS)


def test_png_with_bad_crc_is_refused() -> None:
    data = bytearray(image_bytes("PNG", (20, 20)))
    data[20] ^= 0xFF  # inside IHDR
    with pytest.raises(InvalidImage, match="bad CRC in the IHDR chunk"):
        inspect_image(bytes(data), **LIMITS)


def test_truncated_png_is_refused() -> None:
    data = image_bytes("PNG", (40, 40))
    with pytest.raises(InvalidImage, match="truncated PNG"):
        inspect_image(data[:-12], **LIMITS)


def test_decompression_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(InvalidImage, match=r"10000x10000 = 100,000,000 pixels; the limit is 40,000,000"):
        inspect_image(png_header_only(10_000, 10_000), **LIMITS)


def test_oversize_file_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidImage, match="the limit is 1,000"):
        inspect_image(image_bytes("PNG", (100, 100)) + b"\x00" * 1000, max_bytes=1000, max_pixels=10**9)


@pytest.mark.parametrize("orientation", [None, 6])
def test_a_camera_photo_is_reduced_to_what_the_model_reads_and_read_the_same(orientation: int | None) -> None:
    import tensorflow as tf

    from preprocessing import decode_resize, exif_orientation
    from vista_app.images import decode_budget, reduce_for_model

    # GIVEN a 12 MP photo of 3-8 MB (a portrait one stored sideways, with its Orientation tag)
    photo = camera_jpeg(4000, 3000, orientation=orientation)
    assert 3_000_000 <= len(photo) <= 8_000_000
    info = inspect_image(photo, max_bytes=15 * 1024 * 1024, max_pixels=100_000_000)
    # WHEN it is reduced for a model reading 150x150
    reduced = reduce_for_model(photo, info, 150, budget=decode_budget(512))
    # THEN a few tens of KB go to the endpoint, 300 px on the shorter side, its orientation kept, and
    # the model's own decode reads it as it reads the original
    assert len(reduced) < 100_000
    assert inspect_image(reduced, **LIMITS) == ImageInfo("JPEG", 400, 300)
    assert int(exif_orientation(tf.constant(reduced))) == (orientation or 1)
    original, small = (decode_resize(tf.constant(data), 150).numpy() for data in (photo, reduced))
    other = decode_resize(tf.constant(camera_jpeg(4000, 3000, orientation=orientation, seed=1)), 150).numpy()
    assert abs(original - small).mean() < 3.0 < 10 * 3.0 < abs(original - other).mean()  # of 255


def test_an_image_no_bigger_than_the_model_needs_is_sent_as_it_is() -> None:
    from vista_app.images import decode_budget, reduce_for_model

    data = image_bytes("JPEG", (300, 200))
    assert reduce_for_model(data, inspect_image(data, **LIMITS), 150, budget=decode_budget(512)) is data


def test_no_handler_imports_pillow_at_cold_start() -> None:
    """Pillow is imported where a photo is reduced, never on the import path Lambda's init pays for."""
    import subprocess
    import sys

    from benchmarks.cold_start import lambda_environment

    code = (
        "import sys, vista_app.handlers.classify, vista_app.handlers.api, vista_app.handlers.on_training_event; "
        "print('PIL' in sys.modules)"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], env=lambda_environment("ClassifyFunction"), capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.strip() == "False"

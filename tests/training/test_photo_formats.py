"""The formats a phone, a browser or an archive makes (HEIC, WebP, AVIF, GIF, BMP, TIFF), made by
their own encoders here (Pillow; pillow-heif for HEIC): each is read by its bytes and sent to the
model as the JPEG it was trained on, upright, 8-bit sRGB, its first frame; a damaged one refused
with the reason. Pure functions, no AWS."""

from __future__ import annotations

import io
import platform
import sys
from typing import Any

import numpy as np
import pytest
from PIL import Image

from synthetic import encoded
from vista_app.images import MB, ImageInfo, InvalidImage, decode_budget, inspect_image, reduce_for_model

LIMITS = {"max_bytes": 15_000_000, "max_pixels": 40_000_000}
FORMATS = ("HEIF", "WEBP", "AVIF", "GIF", "BMP", "TIFF")
ORIENTATION = 0x0112


def sent(data: bytes, image_size: int = 64) -> Image.Image:
    """What the model is sent for `data`, decoded."""
    info = inspect_image(data, **LIMITS)
    return Image.open(io.BytesIO(reduce_for_model(data, info, image_size, budget=decode_budget(1024))))


def halves() -> Image.Image:
    """Red over blue: which way up it is read is plain."""
    pixels = np.zeros((120, 160, 3), np.uint8)
    pixels[:60], pixels[60:] = (220, 30, 30), (30, 30, 220)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_sent_as_the_jpeg_of_the_same_picture(fmt: str) -> None:
    from synthetic import scene

    picture = scene("forest", np.random.default_rng(3), size=150)
    as_jpeg, as_fmt = sent(encoded(picture, "JPEG")), sent(encoded(picture, fmt))
    assert inspect_image(encoded(picture, fmt), **LIMITS).format == fmt  # by its bytes, whatever its name
    assert as_fmt.format == "JPEG" and as_fmt.mode == "RGB" and as_fmt.size == as_jpeg.size
    difference = np.abs(np.asarray(as_fmt, np.int16) - np.asarray(as_jpeg, np.int16)).mean()
    assert difference < 8, f"{fmt}: {difference:.1f} levels from the JPEG's pixels"  # GIF's palette is the worst


@pytest.mark.parametrize("fmt", ["HEIF", "WEBP", "AVIF", "TIFF"])
def test_a_photo_taken_sideways_is_read_upright(fmt: str) -> None:
    # GIVEN the picture as a sensor held sideways stores it, with EXIF Orientation 6 ("rotate 90 CW to
    # show"); pillow-heif stores HEIC's as the `irot` box, as phones do
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    stored = halves().transpose(Image.Transpose.ROTATE_90)
    shown = sent(encoded(stored, fmt, exif=exif.tobytes()))
    pixels = np.asarray(shown)
    assert shown.width > shown.height  # landscape again
    assert pixels[2, shown.width // 2, 0] > 150 and pixels[-3, shown.width // 2, 2] > 150  # red above blue
    assert ORIENTATION not in shown.getexif()  # upright already: nothing for the model to turn again


def test_sixteen_bit_samples_are_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 200), (100, 1)).astype(np.uint16)
    shown = np.asarray(sent(encoded(Image.fromarray(ramp), "TIFF")))
    assert 100 < shown.mean() < 155  # a full-range ramp stays mid-grey on average (clipping: ~250)
    assert shown[:, :3].mean() < 20 and shown[:, -3:].mean() > 235


@pytest.mark.parametrize("fmt", ["WEBP", "GIF"])
def test_an_animation_is_read_by_its_first_frame(fmt: str) -> None:
    first, second = halves(), halves().transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    buffer = io.BytesIO()
    first.save(buffer, fmt, save_all=True, append_images=[second], duration=100, loop=0)
    pixels = np.asarray(sent(buffer.getvalue()))
    assert pixels[2, 10, 0] > 150 and pixels[-3, 10, 2] > 150


def wide_gamut_profile() -> bytes:
    """An ICC v2 display profile with Adobe RGB (1998)'s primaries (D50-adapted) and a 2.2 gamma:
    the matrix/TRC form (ICC.1:2001-04, 6.3.1.2), which Little CMS reads as any camera's."""
    import struct

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2)
    tags = [
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        *((trc, curve) for trc in (b"rTRC", b"gTRC", b"bTRC")),
    ]
    start, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    header = (
        struct.pack(">I", start + len(body))
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


@pytest.mark.parametrize("fmt", ["TIFF", "WEBP"])
def test_an_embedded_colour_profile_is_converted_to_srgb(fmt: str) -> None:
    from PIL import ImageCms

    # GIVEN saturated pixels tagged as Adobe RGB (a wide-gamut camera's setting)
    profile = wide_gamut_profile()
    picture = Image.new("RGB", (160, 120), (30, 200, 30))
    data = encoded(picture, fmt, icc_profile=profile)
    # THEN what is sent is those pixels in sRGB, as Little CMS converts them, not the raw samples
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    expected = ImageCms.profileToProfile(picture, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    shown = np.asarray(sent(data, image_size=80), np.int16)  # 120 px high: sent at full size
    assert np.abs(shown - np.asarray(expected, np.int16)).mean() < 4
    assert np.abs(shown - np.asarray(picture, np.int16)).mean() > 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_truncated_file_is_refused_with_the_reason(fmt: str) -> None:
    from synthetic import scene

    data = encoded(scene("sea", np.random.default_rng(4), size=150), fmt)
    with pytest.raises(InvalidImage, match=f"(corrupt {fmt}|{fmt} could not be decoded)"):
        sent(data[: len(data) // 2])


def test_a_bomb_in_another_format_is_refused_by_its_header_before_decoding() -> None:
    data = bytearray(encoded(halves(), "BMP"))
    data[18:26] = (30_000).to_bytes(4, "little") + (30_000).to_bytes(4, "little")  # BITMAPINFOHEADER's size
    with pytest.raises(InvalidImage, match="declares over 80,000,000 pixels; the limit is 40,000,000"):
        inspect_image(bytes(data), **LIMITS)


def test_a_photo_too_big_to_decode_in_the_functions_memory_is_refused_with_the_reason() -> None:
    # A 48-megapixel HEIC (a phone's full-resolution mode)
    info = ImageInfo("HEIF", 8064, 6048, decoded_bytes_per_pixel=11.0)
    with pytest.raises(InvalidImage, match=r"HEIF of 8064x6048 needs about \d+ MB to decode; this function has 312 MB"):
        reduce_for_model(b"", info, 64, budget=decode_budget(512))
    assert decode_budget(1024) == 824 * MB


@pytest.mark.parametrize(("fmt", "plugin"), [("WEBP", "PIL.WebPImagePlugin"), ("HEIF", "pi_heif")])
def test_a_format_loads_its_own_decoder_and_no_other(fmt: str, plugin: str, tmp_path: Any) -> None:
    """A cold function pays for the decoder of the photo that came, not for every format's."""
    import subprocess
    import sys

    photo = tmp_path / "photo"
    photo.write_bytes(encoded(halves(), fmt))
    others = ["PIL.WebPImagePlugin", "PIL.AvifImagePlugin", "PIL.TiffImagePlugin", "pi_heif", "pillow_heif"]
    code = (
        "import sys; from vista_app.images import inspect_image, reduce_for_model; "
        f"data = open({str(photo)!r}, 'rb').read(); info = inspect_image(data, max_bytes=10**7, max_pixels=10**8); "
        "reduce_for_model(data, info, 64, budget=10**9); "
        f"print(' '.join(m for m in {others!r} if m in sys.modules))"
    )
    from tests.helpers.stack import ROOT

    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'functions'}"}
    run = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
    loaded = run.stdout.split()
    assert loaded == [plugin]


@pytest.mark.parametrize("fmt", FORMATS)
def test_training_converts_each_format_to_the_pixels_serving_sends(fmt: str) -> None:
    """training_job/photos.py and vista_app/images.py each convert (the job runs without vista_app):
    held to the same pixels, so a model is served what it was trained on."""
    import photos

    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = encoded(
        halves().transpose(Image.Transpose.ROTATE_90),
        fmt,
        **({} if fmt in ("GIF", "BMP") else {"exif": exif.tobytes()}),
    )
    trained_on = np.asarray(Image.open(io.BytesIO(photos.to_jpeg(data))), np.int16)
    served = np.asarray(sent(data, image_size=200), np.int16)  # no smaller than the photo: not resized
    assert trained_on.shape == served.shape
    assert np.abs(trained_on - served).mean() < 3


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the archive carries the training image's wheels: Linux x86_64",
)
def test_a_training_image_without_a_heif_decoder_reads_heic_from_its_archive(tmp_path: Any) -> None:
    """The TF training image has Pillow but no HEIF decoder, and a job has no network: the training
    archive installs its own (requirements.txt, as the training toolkit runs it) from its own wheels."""
    import subprocess
    import tarfile
    import venv

    from vista.project import pack_training_code

    # sam build's recipe for the TrainingCode layer: the archive every training job runs
    artifacts, code, image = tmp_path / "artifacts", tmp_path / "code", tmp_path / "image"
    artifacts.mkdir()
    pack_training_code(artifacts)
    with tarfile.open(artifacts / "sourcedir.tar.gz") as archive:
        archive.extractall(code, filter="data")
    assert (code / "requirements.txt").read_text().startswith("--no-index\n")  # nothing from outside the job
    # A Python with nothing installed stands for the image: it has Pillow, so this is the stricter case
    venv.EnvBuilder(with_pip=True).create(image)
    python = str(image / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=code, check=True)
    (tmp_path / "photo.heic").write_bytes(encoded(halves(), "HEIF"))
    convert = "import sys, photos; sys.stdout.buffer.write(photos.to_jpeg(open(sys.argv[1], 'rb').read()))"
    run = subprocess.run([python, "-c", convert, str(tmp_path / "photo.heic")], cwd=code, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert Image.open(io.BytesIO(run.stdout)).size == halves().size

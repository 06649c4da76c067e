"""A synthetic scene dataset in the Intel Image Classification layout, for tests, the demo
and benchmarks (the real one is a download away that these machines cannot make).

Six procedurally drawn classes — buildings, forest, glacier, mountain, sea, street — each
with random layout, palette jitter, lighting and noise, and pairs that share colours
(glacier/sea/mountain, buildings/street) so that shape matters: a majority guess scores
~17% and a small CNN has to learn to pass 90%.

    python training_job/synthetic.py OUT --train-per-class 100 --test-per-class 20 --seed 0
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("buildings", "forest", "glacier", "mountain", "sea", "street")
Colour = tuple[int, int, int]


def _jitter(rng: np.random.Generator, colour: Colour, amount: int = 25) -> Colour:
    red, green, blue = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)
    return red, green, blue


def _sky(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int, bottom: int) -> None:
    top = _jitter(rng, (110, 160, 215), 35) if rng.random() < 0.75 else _jitter(rng, (170, 175, 185), 20)
    low = _jitter(rng, (190, 210, 235), 20)
    for y in range(max(bottom, 1)):
        t = y / max(bottom, 1)
        draw.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, low, strict=True)))


def buildings(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    _sky(draw, rng, size, size)
    x = int(rng.integers(-size // 8, 0))
    while x < size:
        width = int(rng.integers(size // 6, int(size // 2.5)))
        top = int(rng.integers(size // 10, size // 2))
        wall = _jitter(rng, [(150, 150, 155), (170, 140, 110), (205, 195, 170), (120, 110, 105)][rng.integers(4)])
        draw.rectangle([x, top, x + width, size], fill=wall)
        window = _jitter(rng, (60, 70, 90), 20)
        step_x, step_y = int(rng.integers(8, 14)), int(rng.integers(9, 15))
        for wx in range(x + 4, x + width - 6, step_x):
            for wy in range(top + 5, size - 8, step_y):
                draw.rectangle([wx, wy, wx + step_x // 2, wy + step_y // 2], fill=window)
        x += width + int(rng.integers(0, size // 12))
    return image


def forest(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _jitter(rng, (40, 70, 35), 20))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(8, 18))):
        x = int(rng.integers(0, size))
        width = int(rng.integers(3, 9))
        draw.rectangle([x, int(rng.integers(0, size // 3)), x + width, size], fill=_jitter(rng, (85, 60, 40), 20))
    for _ in range(int(rng.integers(25, 60))):
        cx, cy, r = int(rng.integers(0, size)), int(rng.integers(0, size * 2 // 3)), int(rng.integers(6, 22))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_jitter(rng, (50, 110, 45), 35))
    return image


def glacier(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _jitter(rng, (200, 220, 235), 20))
    draw = ImageDraw.Draw(image)
    if rng.random() < 0.5:
        _sky(draw, rng, size, int(rng.integers(size // 6, size // 3)))
    for _ in range(int(rng.integers(6, 14))):
        points = [(int(rng.integers(-20, size + 20)), int(rng.integers(size // 5, size + 20))) for _ in range(5)]
        draw.polygon(points, fill=_jitter(rng, (225, 240, 250), 20))
    for _ in range(int(rng.integers(5, 12))):
        x, y = int(rng.integers(0, size)), int(rng.integers(size // 4, size))
        path = [(x, y)]
        for _ in range(int(rng.integers(3, 7))):
            x += int(rng.integers(-18, 19))
            y += int(rng.integers(4, 16))
            path.append((x, y))
        draw.line(path, fill=_jitter(rng, (70, 120, 160), 25), width=int(rng.integers(1, 3)))
    return image


def mountain(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    horizon = int(rng.integers(size * 2 // 3, size * 9 // 10))
    _sky(draw, rng, size, size)
    for _ in range(int(rng.integers(1, 4))):
        peak_x, peak_y = int(rng.integers(size // 6, size * 5 // 6)), int(rng.integers(size // 10, size // 2))
        half = int(rng.integers(size // 3, size * 2 // 3))
        rock = _jitter(rng, [(110, 100, 95), (95, 95, 110), (130, 115, 95)][rng.integers(3)])
        draw.polygon([(peak_x, peak_y), (peak_x - half, horizon), (peak_x + half, horizon)], fill=rock)
        cap = (horizon - peak_y) * float(rng.uniform(0.15, 0.4))
        spread = half * cap / max(horizon - peak_y, 1)
        draw.polygon(
            [(peak_x, peak_y), (peak_x - spread, peak_y + cap), (peak_x + spread, peak_y + cap)],
            fill=_jitter(rng, (240, 240, 245), 10),
        )
    draw.rectangle([0, horizon, size, size], fill=_jitter(rng, (90, 110, 70), 25))
    return image


def sea(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    horizon = int(rng.integers(size // 3, size * 3 // 5))
    _sky(draw, rng, size, horizon)
    water = _jitter(rng, (30, 90, 140), 30)
    draw.rectangle([0, horizon, size, size], fill=water)
    for _ in range(int(rng.integers(15, 35))):
        y = int(rng.integers(horizon + 2, size))
        x = int(rng.integers(-10, size))
        length = int(rng.integers(8, 40)) * (1 + (y - horizon) // max(size // 4, 1))
        draw.line([(x, y), (x + length, y)], fill=_jitter(rng, (150, 190, 215), 25), width=int(rng.integers(1, 3)))
    if rng.random() < 0.4:
        beach = int(rng.integers(size * 4 // 5, size))
        draw.rectangle([0, beach, size, size], fill=_jitter(rng, (215, 195, 150), 20))
    return image


def street(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    _sky(draw, rng, size, size)
    vanish_x, vanish_y = int(rng.integers(size // 3, size * 2 // 3)), int(rng.integers(size // 3, size // 2))
    for side in (0, 1):
        edge = int(rng.integers(size // 5, size // 3))
        x0, x1 = (0, edge) if side == 0 else (size - edge, size)
        draw.polygon(
            [(x0, int(rng.integers(0, size // 4))), (x1, vanish_y - 5), (x1, size), (x0, size)]
            if side == 0
            else [(x0, vanish_y - 5), (x1, int(rng.integers(0, size // 4))), (x1, size), (x0, size)],
            fill=_jitter(rng, (150, 145, 140), 30),
        )
    road = _jitter(rng, (85, 85, 90), 15)
    draw.polygon(
        [(vanish_x - 3, vanish_y), (vanish_x + 3, vanish_y), (size + size // 3, size), (-size // 3, size)], fill=road
    )
    for i in range(6):
        t0, t1 = i / 6, (i + 0.5) / 6
        y0, y1 = vanish_y + (size - vanish_y) * t0**1.5, vanish_y + (size - vanish_y) * t1**1.5
        draw.line(
            [(vanish_x, y0), (vanish_x, y1)], fill=_jitter(rng, (235, 230, 200), 15), width=max(1, int(1 + 3 * t1))
        )
    return image


DRAW: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "buildings": buildings,
    "forest": forest,
    "glacier": glacier,
    "mountain": mountain,
    "sea": sea,
    "street": street,
}


# Scenes of other kinds, none of the six: what a model of the six should answer "unknown" to.
def desert(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    horizon = int(rng.integers(size // 4, size // 2))
    _sky(draw, rng, size, horizon)
    draw.rectangle([0, horizon, size, size], fill=_jitter(rng, (215, 175, 110), 20))
    for _ in range(int(rng.integers(3, 7))):
        cx, cy, r = (
            int(rng.integers(-size // 4, size)),
            int(rng.integers(horizon, size)),
            int(rng.integers(size // 4, size)),
        )
        draw.ellipse([cx - r, cy - r // 4, cx + r, cy + r // 4], fill=_jitter(rng, (195, 145, 85), 25))
    return image


def night(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _jitter(rng, (12, 15, 40), 10))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(30, 90))):
        x, y = int(rng.integers(0, size)), int(rng.integers(0, size))
        draw.point((x, y), fill=_jitter(rng, (240, 240, 220), 15))
    r, x, y = (
        int(rng.integers(size // 12, size // 6)),
        int(rng.integers(size // 6, size)),
        int(rng.integers(0, size // 2)),
    )
    draw.ellipse([x - r, y - r, x + r, y + r], fill=_jitter(rng, (245, 240, 200), 10))
    return image


def room(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _jitter(rng, (225, 205, 170), 30))
    draw = ImageDraw.Draw(image)
    floor = int(rng.integers(size * 3 // 5, size * 4 // 5))
    draw.rectangle([0, floor, size, size], fill=_jitter(rng, (140, 95, 60), 25))
    for _ in range(int(rng.integers(2, 5))):  # furniture, a door, a painting
        x, width = int(rng.integers(0, size)), int(rng.integers(size // 8, size // 3))
        top = int(rng.integers(size // 5, floor))
        draw.rectangle([x, top, x + width, min(size, floor + size // 10)], fill=_jitter(rng, (110, 70, 50), 40))
    return image


def document(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), _jitter(rng, (245, 245, 240), 8))
    draw = ImageDraw.Draw(image)
    margin = int(rng.integers(size // 12, size // 6))
    for y in range(margin, size - margin, int(rng.integers(6, 10))):
        end = int(rng.integers(size // 2, size - margin))
        draw.line([(margin, y), (end, y)], fill=_jitter(rng, (30, 30, 35), 10), width=2)
    return image


def pattern(rng: np.random.Generator, size: int) -> Image.Image:
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    first, second = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    step = int(rng.integers(size // 12, size // 4))
    for x in range(0, size, step):
        for y in range(0, size, step):
            draw.rectangle([x, y, x + step, y + step], fill=first if (x + y) // step % 2 else second)
    return image


OTHER_KINDS: dict[str, Callable[[np.random.Generator, int], Image.Image]] = {
    "desert": desert,
    "night": night,
    "room": room,
    "document": document,
    "pattern": pattern,
}


def scene(label: str, rng: np.random.Generator, size: int = 150) -> Image.Image:
    """One image of a class (or of another kind): drawn, then flipped, lit, blurred and noised at random."""
    image = (DRAW | OTHER_KINDS)[label](rng, size)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels * rng.uniform(0.7, 1.25) + rng.normal(0, rng.uniform(4, 16), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def generate(
    out: str | Path,
    *,
    train_per_class: int,
    test_per_class: int,
    size: int = 150,
    seed: int = 0,
    other_per_kind: int = 0,
) -> dict[str, int]:
    """Write <out>/seg_train/seg_train/<class>/*.jpg and <out>/seg_test/seg_test/<class>/*.jpg
    (Kaggle's layout), and <out>/other/<kind>/*.jpg of the other kinds, deterministically for a seed;
    returns images written per split."""
    rng = np.random.default_rng(seed)
    written = {"train": 0, "test": 0, "other": 0}
    folders = [
        (f"seg_{split}/seg_{split}", split, CLASSES, count)
        for split, count in (("train", train_per_class), ("test", test_per_class))
    ]
    for parent, split, labels, count in [*folders, ("other", "other", tuple(OTHER_KINDS), other_per_kind)]:
        for label in labels:
            folder = Path(out) / parent / label
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                scene(label, rng, size).save(folder / f"{index:05d}.jpg", quality=int(rng.integers(75, 95)))
                written[split] += 1
    return written


def camera_jpeg(
    width: int, height: int, *, orientation: int | None = None, seed: int = 0, noise: int = 20, quality: int = 92
) -> bytes:
    """A photo as a camera makes it: a scene with sensor noise, as a JPEG (12 MP: 3-8 MB)."""
    rng = np.random.default_rng(seed)
    base = np.asarray(scene("mountain", rng, 256).resize((width, height)), dtype=np.int16)
    noisy = np.clip(base + rng.integers(-noise, noise + 1, base.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """`image` as its format's own encoder writes it (Pillow's; pillow-heif's for HEIF, whose encoder
    only the tests and benchmarks have): the files of every format Vista takes, made on the spot."""
    buffer = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.from_pillow(image).save(buffer, quality=95, **options)
    else:
        image.save(buffer, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP", "AVIF") else {}) | options)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--train-per-class", type=int, default=100)
    parser.add_argument("--test-per-class", type=int, default=20)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--other-per-kind", type=int, default=0, help="scenes of each other kind, under other/")
    args = parser.parse_args(argv)
    written = generate(
        args.out,
        train_per_class=args.train_per_class,
        test_per_class=args.test_per_class,
        size=args.size,
        seed=args.seed,
        other_per_kind=args.other_per_kind,
    )
    print(
        f"wrote {written['train']} training, {written['test']} test and {written['other']} other images to {args.out}"
    )


if __name__ == "__main__":
    main()

"""Datasets: labelled folders on disk → checked file lists → tf.data pipelines.

Classes are the folder names, sorted. Kaggle's Intel layout (`seg_train/seg_train/<class>`)
is found as downloaded. Files that do not decode are skipped and counted, never fatal.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

import photos
from preprocessing import decode_resize

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp", ".avif", ".gif", ".bmp", ".tif", ".tiff"}
# In-memory cache while decoded images stay under this (train.py's --memory-cache-gb); beyond it, a
# cache file on the instance's own disk.
MEMORY_CACHE_BYTES = 4 * 1024**3


class DatasetError(ValueError):
    """A dataset that cannot be trained on, with a message that says why."""


@dataclass
class Split:
    paths: list[str]
    labels: list[int]
    skipped: list[str] = field(default_factory=list)
    converted: int = 0  # files TensorFlow cannot decode, read from their JPEG conversion (photos.py)

    def __len__(self) -> int:
        return len(self.paths)


def class_root(directory: str | Path) -> Path:
    """The folder whose subfolders are the classes: the directory itself, or the single folder
    inside it that holds them (Kaggle's seg_train/seg_train)."""
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    for _ in range(3):
        children = [c for c in root.iterdir() if c.is_dir() and not c.name.startswith(".")]
        has_images = any(f.suffix.lower() in IMAGE_SUFFIXES for c in children for f in c.iterdir() if f.is_file())
        if has_images or len(children) != 1:
            return root
        root = children[0]
    return root


def list_classes(directory: str | Path) -> list[str]:
    root = class_root(directory)
    classes = sorted(c.name for c in root.iterdir() if c.is_dir() and not c.name.startswith("."))
    if len(classes) < 2:
        raise DatasetError(f"{root} has {len(classes)} class folder(s) {classes}; at least 2 are needed")
    return classes


def _decodes(path: str) -> bool:
    try:
        data = tf.io.read_file(path)
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError):
        return False
    return True


def run_folder() -> tempfile.TemporaryDirectory[str]:
    """This run's own folder on the instance, gone with it (a restarted job makes it again): beside the
    channels' data on the ML storage volume (SM_INPUT_DIR, /opt/ml/input), else in TMPDIR. It holds
    the run's converted photos and, when they are too many for memory, its decoded images."""
    return tempfile.TemporaryDirectory(prefix="vista-cache-", dir=os.environ.get("SM_INPUT_DIR"))


def scan(directory: str | Path, classes: list[str], *, converted: Path, workers: int = 8) -> Split:
    """Every image file under <class>/ folders, each decoded once to skip corrupt ones; a file
    TensorFlow cannot decode (HEIC, AVIF, WebP, TIFF) is read from its JPEG conversion, made once in
    `converted` (the run's own folder: a conversion another run left is never taken for this one's)."""
    root = class_root(directory)
    candidates: list[tuple[str, int]] = []
    for index, name in enumerate(classes):
        folder = root / name
        files = (
            sorted(str(f) for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if folder.is_dir()
            else []
        )
        if not files:
            raise DatasetError(f"class '{name}' has no images in {folder}")
        candidates.extend((f, index) for f in files)
    with ThreadPoolExecutor(workers) as pool:
        readable = list(pool.map(lambda path: _readable(path, converted), (path for path, _ in candidates)))
    split = Split(
        [read for read in readable if read],
        [label for (_, label), read in zip(candidates, readable, strict=True) if read],
        [path for (path, _), read in zip(candidates, readable, strict=True) if not read],
        converted=sum(1 for (path, _), read in zip(candidates, readable, strict=True) if read and read != path),
    )
    for path in split.skipped:
        log.warning("skipped unreadable image %s", path)
    empty = [classes[i] for i in range(len(classes)) if i not in set(split.labels)]
    if empty:
        raise DatasetError(f"class(es) {empty} have no readable images")
    return split


def _readable(path: str, cache: Path) -> str | None:
    """The file the pipeline reads for `path` (itself, or its JPEG conversion), or None: unreadable."""
    if photos.needs_conversion(path):
        try:
            path = str(photos.converted(path, cache))
        except (OSError, ValueError, SyntaxError, EOFError) as error:  # what Pillow says of a file it cannot read
            log.warning("cannot convert %s: %s", path, error)
            return None
    return path if _decodes(path) else None


def carve(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded, stratified split taken from train (at least one image of each class that has two):
    what is left of train, and the split (a validation or test split the dataset lacks)."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible split, not a secret)
    by_class: dict[int, list[str]] = {}
    for path, label in zip(train.paths, train.labels, strict=True):
        by_class.setdefault(label, []).append(path)
    kept, held = Split([], [], train.skipped, train.converted), Split([], [])
    for label, paths in sorted(by_class.items()):
        paths = sorted(paths)
        rng.shuffle(paths)
        n = max(1, round(len(paths) * fraction)) if len(paths) > 1 else 0
        held.paths += paths[:n]
        held.labels += [label] * n
        kept.paths += paths[n:]
        kept.labels += [label] * (len(paths) - n)
    return kept, held


def fingerprint(split: Split, classes: list[str]) -> str:
    """What a split is, whatever its files are called or where they lie: SHA-256 over each image's
    class and content, in order. Two models are compared on their test accuracy only when it was
    measured on the same images (functions/vista_app/lifecycle.py, the gate)."""
    entries = sorted(
        f"{classes[label]}/{hashlib.sha256(Path(path).read_bytes()).hexdigest()}"
        for path, label in zip(split.paths, split.labels, strict=True)
    )
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def class_counts(split: Split, classes: list[str]) -> dict[str, int]:
    counts = Counter(split.labels)
    return {name: counts.get(i, 0) for i, name in enumerate(classes)}


def pipeline(
    split: Split,
    *,
    image_size: int,
    batch_size: int,
    training: bool,
    seed: int,
    cache_dir: str | None = None,
    memory_cache_bytes: int = MEMORY_CACHE_BYTES,
) -> tf.data.Dataset:
    """Parallel decode → cache (memory if it fits, else a file) → shuffle each epoch → batch → prefetch.

    The cache file belongs to this run only (`cache_dir`: never the checkpoint folder, which SageMaker
    syncs to S3 and restores on a spot restart: TensorFlow refuses a cache whose first pass was cut,
    "There appears to be a concurrent caching iterator running - cache lockfile already exists")."""
    paths, labels = split.paths, split.labels
    if training:  # scan lists class by class, and a shuffle buffer smaller than the split never mixes them
        order = random.Random(seed).sample(range(len(paths)), len(paths))  # noqa: S311 (reproducible, not secret)
        paths, labels = [paths[i] for i in order], [labels[i] for i in order]
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    dataset = dataset.map(
        lambda path, label: (decode_resize(tf.io.read_file(path), image_size), label),
        num_parallel_calls=tf.data.AUTOTUNE,
        # In order even while training: the first pass fills the cache, and an order that depended on
        # which decode finished first would make a seeded run train differently on a busy machine.
        deterministic=True,
    )
    decoded_bytes = len(split) * image_size * image_size * 3 * 4
    if decoded_bytes <= memory_cache_bytes or not cache_dir:
        dataset = dataset.cache()
    else:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        dataset = dataset.cache(str(Path(cache_dir) / f"{'train' if training else 'eval'}-{image_size}"))
    if training:
        dataset = dataset.shuffle(min(len(split), 10_000), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

"""Formats: what a photo in each format Vista converts (HEIC, WebP, AVIF, GIF, BMP, TIFF) costs a
function, against the same photo as a JPEG (the baseline, measured in the same run): the first
photo of its format in a fresh process (loading its decoder is part of a cold function's first
request) and a warm one (median), each through images.inspect_image and reduce_for_model.

    PYTHONPATH=functions:training_job .venv/bin/python -m benchmarks.formats [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FORMATS = ("JPEG", "HEIF", "WEBP", "AVIF", "GIF", "BMP", "TIFF")
SIZE = (2400, 1600)  # a 4 MP photo (an uncompressed BMP or TIFF of it stays under the 15 MB limit)
IMAGE_SIZE = 150  # the request default
CHILD = """
import json, sys, time
started = time.perf_counter()
from vista_app.images import decode_budget, inspect_image, reduce_for_model
data = open(sys.argv[1], "rb").read()
times = []
for _ in range(int(sys.argv[2]) + 1):
    begun = time.perf_counter()
    info = inspect_image(data, max_bytes=15_000_000, max_pixels=100_000_000)
    sent = reduce_for_model(data, info, 150, budget=decode_budget(1024))
    times.append((time.perf_counter() - begun) * 1000)
print(json.dumps({"first_ms": times[0], "warm": times[1:], "sent_bytes": len(sent)}))
"""


def photo(fmt: str, folder: Path) -> Path:
    import numpy as np
    from PIL import Image

    from synthetic import scene

    picture = scene("street", np.random.default_rng(1), size=600).resize(SIZE)
    noisy = np.clip(np.asarray(picture, np.int16) + np.random.default_rng(2).normal(0, 6, (*SIZE[::-1], 3)), 0, 255)
    from synthetic import encoded

    path = folder / f"photo.{fmt.lower()}"
    path.write_bytes(encoded(Image.fromarray(noisy.astype(np.uint8)), fmt))
    return path


def measure(runs: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            path = photo(fmt, Path(folder))
            environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "functions")}
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(runs)], env=environment, capture_output=True, text=True
            )
            run.check_returncode()
            answer = json.loads(run.stdout)
            rows.append(
                {
                    "format": fmt,
                    "bytes": path.stat().st_size,
                    "first_ms": round(answer["first_ms"], 1),
                    "warm_ms": round(statistics.median(answer["warm"]), 1),
                    "sent_bytes": answer["sent_bytes"],
                }
            )
    jpeg = rows[0]
    for row in rows:
        row["first_vs_jpeg"] = round(row["first_ms"] / jpeg["first_ms"], 2)
        row["warm_vs_jpeg"] = round(row["warm_ms"] / jpeg["warm_ms"], 2)
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    rows = measure(parser.parse_args(argv).runs)
    print(f"A {SIZE[0]}x{SIZE[1]} photo by format, checked and sent for a {IMAGE_SIZE} px model (ms)")
    print(f"  {'format':<7}{'bytes':>11}{'first':>9}{'vs JPEG':>9}{'warm':>8}{'vs JPEG':>9}")
    for r in rows:
        print(
            f"  {r['format']:<7}{r['bytes']:>11,}{r['first_ms']:>9.1f}{r['first_vs_jpeg']:>8.2f}x"
            f"{r['warm_ms']:>8.1f}{r['warm_vs_jpeg']:>8.2f}x"
        )
    return rows


if __name__ == "__main__":
    main()

"""The TF training image's Python, as each instance of a job starts with it.

The image (aws/deep-learning-containers, tensorflow/training/docker/2.19/py3/cu125/Dockerfile.gpu)
has TensorFlow, NumPy and Pillow, but no HEIF decoder; every instance is a fresh container, so what
its `requirements.txt` installs is its own and gone with it. Here the development environment stands
for the image, less the packages the image lacks (`NOT_IN_THE_IMAGE`), seen through a folder of
links to its site-packages; each instance gets a virtual environment of its own on top of that
folder, where the toolkit's `pip install -r requirements.txt` installs.
"""

from __future__ import annotations

import re
import shutil
import sysconfig
import uuid
import venv
from pathlib import Path

# Imported by Vista's training code, installed by the development environment, not in the image.
NOT_IN_THE_IMAGE = {"pi_heif", "pillow_heif"}


def image_site(folder: Path) -> Path:
    """`folder` made once: a link to each entry of this Python's site-packages but the image's missing
    packages (their modules, libraries and metadata)."""
    if folder.exists():
        return folder
    partial = folder.with_name(f"{folder.name}.{uuid.uuid4().hex}")
    partial.mkdir(parents=True)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if re.split(r"[-.]", entry.name)[0].lower() not in NOT_IN_THE_IMAGE:
            (partial / entry.name).symlink_to(entry)
    try:
        partial.rename(folder)
    except OSError:  # another job made it first
        shutil.rmtree(partial)
    return folder


def instance_python(folder: Path, site: Path) -> str:
    """A fresh interpreter for one instance in `folder`: its own site-packages first (where pip
    installs), then the image's (`site`, its .pth files read as a site directory's are)."""
    venv.EnvBuilder(symlinks=True).create(folder)
    own = sysconfig.get_paths(vars={"base": str(folder), "platbase": str(folder)})["purelib"]
    Path(own, "training-image.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
    return str(folder / "bin" / "python")

"""The `vista` command installed on its own (as `pipx install .` installs it), outside a checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vista.project import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from the project's sources (copied, so no build folder is left in the
    checkout), installed into a folder of its own: the folder."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    for name in ("pyproject.toml", "README.md", "requirements/cli.txt"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for package in ("vista", "functions/vista_app"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work), str(source)], check=True)
    (wheel,) = work.glob("vista-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(work / "site"), str(wheel)], check=True)
    return work


def test_the_wheel_declares_what_the_command_imports(installed: Path) -> None:
    (wheel,) = installed.glob("vista-*.whl")
    metadata = zipfile.ZipFile(wheel).read("vista-0.1.0.dist-info/METADATA").decode()
    declared = dict(re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)==(\S+)$", metadata, re.M))
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements/cli.txt").read_text(), re.M))
    assert declared == pinned and {"typer", "rich", "boto3"} <= set(declared)


def test_the_installed_command_reaches_aws_outside_a_checkout(installed: Path) -> None:
    home = installed / "home"
    home.mkdir()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": str(installed / "site"),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance role to look for either
    }
    command = [sys.executable, "-c", "import sys, vista.cli; print(vista.cli.__file__); sys.exit(vista.cli.main())"]
    ran = subprocess.run(
        [*command, "--stack", "x", "--region", "eu-west-1", "models"],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.stdout.startswith(str(installed / "site" / "vista"))  # the installed copy, not the checkout's
    # An error about credentials, not about a path
    assert (ran.returncode, ran.stderr) == (1, "vista: error: cannot read stack x: Unable to locate credentials\n")
    ran = subprocess.run([*command, "up"], cwd=home, env=environment, capture_output=True, text=True, check=False)
    assert ran.returncode == 1 and ran.stderr.startswith("vista: error: vista up needs a clone of Vista's repository")

"""Where the project's files are, for the programs that run from a checkout (local mode, the demo,
the synthetic dataset); an installed `vista` (pipx install .) has none and talks to deployed stacks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from vista.errors import CommandError

ROOT = Path(__file__).resolve().parent.parent


def checkout(needed_for: str) -> Path:
    """The Vista checkout this package runs from, or CommandError saying that `needed_for` needs one."""
    if not (ROOT / "template.yaml").is_file():
        raise CommandError(
            f"{needed_for} needs a clone of Vista's repository; this vista is installed on its own "
            "(--stack NAME talks to a deployed stack)"
        )
    return ROOT


def training_module(name: str) -> ModuleType:
    """A module of training_job/ (a folder of scripts SageMaker runs, not an installed package)."""
    path = checkout(f"training_job/{name}.py") / "training_job" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pack_training_code(artifacts: Path, source: Path = ROOT / "training_job") -> None:
    """What `sam build` makes of `source` for the TrainingCode layer (training_job/Makefile):
    sourcedir.tar.gz and exportdir.tar.gz in `artifacts`, with the training image's wheels, which
    this Python's pip fetches once."""
    subprocess.run(  # noqa: S603 (fixed arguments)
        [  # noqa: S607 (make from PATH, as sam build finds it)
            "make",
            "-s",
            "-C",
            str(source),
            "build-TrainingCodeLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
    )

"""Where the project's files are, for the programs that run from a checkout."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def training_module(name: str) -> ModuleType:
    """A module of training_job/ (a folder of scripts SageMaker runs, not an installed package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "training_job" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""train.py run as SageMaker's TensorFlow container runs a script-mode job, for the training tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vista.project import ROOT

TRAIN = ROOT / "training_job" / "train.py"


def sagemaker_environment(tmp: Path, dataset: Path) -> dict[str, str]:
    """The variables SageMaker's TensorFlow container sets for a script-mode job; TMPDIR `tmp`/tmp,
    so a job leaves nothing outside `tmp`."""
    environment = dict(os.environ)
    for folder in ("input", "tmp"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    environment.update(
        SM_INPUT_DIR=str(tmp / "input"),
        TMPDIR=str(tmp / "tmp"),
        SM_CHANNEL_TRAIN=str(dataset / "seg_train"),
        SM_CHANNEL_TEST=str(dataset / "seg_test"),
        SM_MODEL_DIR=str(tmp / "model"),
        SM_OUTPUT_DATA_DIR=str(tmp / "output" / "data"),
        SM_OUTPUT_DIR=str(tmp / "output"),
        SM_HOSTS='["algo-1"]',
        SM_CURRENT_HOST="algo-1",
        SM_NUM_GPUS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
    )
    return environment


def train_command(**options: object) -> list[str]:
    """train.py on a tiny base_cnn, with `options` as its flags (epochs=3 → --epochs 3)."""
    flags = {"architecture": "base_cnn", "image_size": 48, "weights": "none", **options}
    return [sys.executable, str(TRAIN), *(a for k, v in flags.items() for a in (f"--{k.replace('_', '-')}", str(v)))]


def run_train(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_job(TRAIN.name, args, environment)


def run_job(program: str, args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A training_job/ entry point, as the container runs `sagemaker_program`."""
    return subprocess.run(
        [sys.executable, str(TRAIN.parent / program), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def trained_metrics(dataset: Path, folder: Path, **options: object) -> dict[str, Any]:
    """metrics.json of train.py (train_command's flags: `options`) on `dataset`, its other/ folder as the
    `other` channel (scenes of none of the classes)."""
    environment = sagemaker_environment(folder, dataset)
    environment["SM_CHANNEL_OTHER"] = str(dataset / "other")
    result = subprocess.run(
        train_command(**options), env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((folder / "output" / "data" / "metrics.json").read_text())

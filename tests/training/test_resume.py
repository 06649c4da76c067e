"""A job killed as a reclaimed spot instance is carries on from its checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.jobs import sagemaker_environment, train_command


@pytest.mark.slow
def test_a_killed_job_resumes_from_its_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    args = train_command(epochs=12, batch_size=16, early_stopping_patience=50, checkpoint_dir=tmp_path / "checkpoints")
    # GIVEN a job killed (as a reclaimed spot instance is) right after its second epoch
    process = subprocess.Popen(args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if line.startswith("epoch=2;") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)  # the line is printed once the epoch's checkpoint is written
    process.wait(timeout=30)
    process.stdout.close()
    # WHEN it is started again with the same checkpoint folder
    result = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=300, check=False)
    # THEN it carries on where it stopped instead of starting over
    assert result.returncode == 0, result.stderr[-3000:]
    epochs = [
        int(line.split(";")[0].removeprefix("epoch="))
        for line in result.stdout.splitlines()
        if line.startswith("epoch=")
    ]
    assert 3 <= epochs[0] < 12 and epochs[-1] == 12
    history = json.loads((tmp_path / "output" / "data" / "history.json").read_text())
    assert len(history["loss"]) == 12


@pytest.mark.slow
def test_a_job_killed_in_the_first_pass_of_a_file_cache_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    # GIVEN a job whose decoded images are cached in a file (the in-memory limit set to 0), killed as a
    # reclaimed spot instance is while that first pass is still writing the cache
    environment = sagemaker_environment(tmp_path, tiny_dataset)
    checkpoints = tmp_path / "checkpoints"
    args = train_command(epochs=3, batch_size=4, memory_cache_gb=0, checkpoint_dir=checkpoints)
    first_instance = tmp_path / "instance-1"
    first_instance.mkdir()
    process = subprocess.Popen(
        args, env={**environment, "TMPDIR": str(first_instance)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.rglob("*.lockfile")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the first run ended before its cache's first pass was cut"
    # WHEN SageMaker starts another instance with the checkpoint folder restored (nothing else)
    second_instance = tmp_path / "instance-2"
    second_instance.mkdir()
    result = subprocess.run(
        args,
        env={**environment, "TMPDIR": str(second_instance)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # THEN it trains to the end, and the checkpoint folder (synced to S3) holds no cache
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch=3;" in result.stdout, result.stdout + result.stderr[-3000:]
    assert not [p for p in checkpoints.rglob("*") if "cache" in p.name]
    assert list(second_instance.iterdir()) == []  # the cache goes with the run

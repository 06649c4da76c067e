"""The `vista` command's own behaviour: one-line errors, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from vista import target
from vista.cli import main


def test_commands_need_a_running_local_cloud(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(target, "STATE_FILE", tmp_path / "local.json")
    assert main(["models"]) == 1
    assert capsys.readouterr().err == (
        "vista: error: the local cloud is not running: start it with `vista up` (or pass --stack)\n"
    )


def test_a_bad_training_request_is_refused_before_anything_is_uploaded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(target.Target, "local", classmethod(lambda cls: cls({}, "us-east-1", None)))
    assert main(["train", "--architecture", "alexnet"]) == 1
    assert "invalid training request: architecture: Input should be" in capsys.readouterr().err


def test_dataset_synth_writes_the_intel_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["dataset", "synth", str(tmp_path), "--train-per-class", "1", "--test-per-class", "1", "--size", "32"])
        == 0
    )
    assert len(list(tmp_path.glob("seg_train/seg_train/*/*.jpg"))) == 6
    assert "wrote 6 training and 6 test images" in capsys.readouterr().out


def test_a_training_job_line_shows_the_time_left_while_it_trains() -> None:
    from vista.terminal import job_line

    job = {"name": "vista-1", "status": "InProgress", "secondary_status": "Training"}
    assert job_line(job | {"metrics": {"epoch": 3, "eta_s": 125}}).endswith("epoch=3 ETA 2:05")
    assert "ETA" not in job_line(job | {"status": "Completed", "metrics": {"epoch": 9, "eta_s": 0}})


def test_watching_a_job_that_does_not_exist_fails_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vista.target import CommandError

    def api(self: target.Target, method: str, path: str, **_: object) -> None:
        raise CommandError(f"{method} {path}: 404 no training job 'no-such-job'")

    monkeypatch.setattr(target.Target, "local", classmethod(lambda cls: cls({}, "us-east-1", None)))
    monkeypatch.setattr(target.Target, "api", api)
    # Not three hours of silence: one line and a non-zero exit
    assert main(["jobs", "watch", "no-such-job"]) == 1
    assert capsys.readouterr().err == ("vista: error: no training job 'no-such-job': `vista jobs` lists them\n")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ('{"dataset": "datasets/intel",}', "{path} is not JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "{path} holds JSON, but not an object"),
    ],
)
def test_a_request_file_that_cannot_be_read_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, said: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr(target.Target, "local", classmethod(lambda cls: cls({}, "us-east-1", None)))
    assert main(["train", "--request", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vista: error: " + said.format(path=path)) and err.count("\n") == 1


def test_an_unknown_profile_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    assert main(["models", "--stack", "x", "--profile", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vista: error: cannot read stack x: The config profile (nope) could not be found")


def test_the_exports_vista_up_prints_reach_every_local_service() -> None:
    from vista.target import exports

    said = dict(
        word.split("=", 1)
        for word in exports({"aws": "http://127.0.0.1:5000", "sagemaker": "http://127.0.0.1:6000"}).split()
    )
    # SageMaker Runtime too: without it `aws sagemaker-runtime invoke-endpoint` reaches moto's placeholder answer
    assert said["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == said["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://127.0.0.1:6000"
    assert said["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000" and said["AWS_DEFAULT_REGION"] == "us-east-1"

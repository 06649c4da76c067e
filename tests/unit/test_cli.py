"""The `vista` command, driven through typer's test runner: each user's mistake is one line on
stderr and a non-zero exit, never a traceback; each command does what its help says."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import vista.target
from vista import client
from vista.cli import app
from vista.errors import ApiError
from vista.target import Target


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin)


def refused(result: Result, said: str) -> None:
    """One line on stderr that starts with `said`, exit 1, and no exception escaped."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"vista: error: {said}"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


class Stack(Target):
    """A deployed stack as the command sees it: its API's answers given, each call and upload recorded."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__({"DataBucketName": "data", "NamePrefix": "vista", "ApiUrl": "https://api"}, "us-east-1", None)
        self.answers, self.calls, self.uploads = answers, [], []

    def api(self, method: str, path: str, **options: Any) -> Any:
        self.calls.append((method, path, options.get("body")))
        answer = self.answers.get(f"{method} {path}", self.answers.get(f"{method} {path.rsplit('/', 1)[0]}/*"))
        if answer is None:
            raise ApiError(method, path, 404, f"nothing at {path}")
        if isinstance(answer, Exception):
            raise answer
        return answer(options) if callable(answer) else answer

    def client(self, service: str) -> Any:
        stack = self

        class Recorder:
            def __getattr__(self, operation: str) -> Any:
                return lambda **request: stack.uploads.append((service, operation, request)) or {"ETag": '"e"'}

        return Recorder()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The stack every command of the test talks to."""
    answers: dict[str, Any] = {}
    made = Stack(answers)
    monkeypatch.setattr(Target, "local", classmethod(lambda cls: made))
    return made


ACCEPTED = {
    "dry_run": True,
    "kind": "training",
    "accepted": True,
    "estimate": {
        "jobs": 1,
        "instance_count": 1,
        "instance_type": "ml.m5.xlarge",
        "max_runtime_s": 7200,
        "cost_note": "no price",
        "cap": 100,
        "spot": False,
        "warnings": [],
    },
}


# ---------------------------------------------------------------------------- the local cloud


def test_commands_need_a_running_local_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vista.target, "STATE_FILE", tmp_path / "local.json")
    refused(run("models"), "the local cloud is not running: start it with `vista up` (or pass --stack)")
    # A cloud that was killed left its file behind: still not running, not a connection error
    (tmp_path / "local.json").write_text(json.dumps({"pid": 2**22 + 1, "urls": {}, "outputs": {}, "region": "x"}))
    refused(run("models"), "the local cloud is not running")


def test_a_second_vista_up_refuses_with_the_running_ones_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = {"pid": os.getpid(), "urls": {"api": "http://127.0.0.1:4242/v1"}, "outputs": {}, "region": "us-east-1"}
    (tmp_path / "local.json").write_text(json.dumps(state))
    monkeypatch.setattr(vista.target, "STATE_FILE", tmp_path / "local.json")
    refused(
        run("up"), f"a local cloud already runs from this checkout (pid {os.getpid()}, API http://127.0.0.1:4242/v1)"
    )
    assert json.loads((tmp_path / "local.json").read_text()) == state  # the first one's file is left alone


@pytest.mark.parametrize(
    ("parameter", "said"),
    [
        ("RetrainWindw=20", "Parameters: [RetrainWindw] do not exist in the template"),
        ("RetrainWindow=abc", "Parameter 'RetrainWindow' must be a number"),
        ("RetrainWindow=0", "Parameter 'RetrainWindow' must be a number not less than 1"),
        ("ServerlessMemorySizeInMB=1000", "Parameter 'ServerlessMemorySizeInMB' must be one of AllowedValues"),
        ("RetrainOnDrift=yes", "Parameter 'RetrainOnDrift' must be one of AllowedValues: true, false"),
        ("ConsoleAdminEmail=nobody", "Parameter 'ConsoleAdminEmail' must be an e-mail address"),
        ("NamePrefix=Vista", "Parameter 'NamePrefix' failed to satisfy constraint"),
        ("RetrainWindow", "--parameter takes NAME=VALUE, not 'RetrainWindow'"),
    ],
)
def test_vista_up_checks_parameters_as_cloudformation_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, parameter: str, said: str
) -> None:
    monkeypatch.setattr(vista.target, "STATE_FILE", tmp_path / "local.json")
    refused(run("up", "--parameter", parameter), said)
    assert not (tmp_path / "local.json").exists()


def test_vista_up_on_a_port_in_use_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vista.target, "STATE_FILE", tmp_path / "local.json")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(run("up", "--port", str(port)), f"127.0.0.1:{port} is in use: choose another --port")


def test_the_exports_vista_up_prints_reach_every_local_service() -> None:
    from vista.target import exports

    said = dict(
        word.split("=", 1)
        for word in exports({"aws": "http://127.0.0.1:5000", "sagemaker": "http://127.0.0.1:6000"}).split()
    )
    # SageMaker Runtime too: without it `aws sagemaker-runtime invoke-endpoint` reaches moto's placeholder answer
    assert said["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == said["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://127.0.0.1:6000"
    assert said["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000" and said["AWS_DEFAULT_REGION"] == "us-east-1"


# ---------------------------------------------------------------------------- help and usage


def test_each_subcommand_has_its_own_help() -> None:
    said = run("train", "--help")
    assert said.exit_code == 0 and "Usage: vista train [OPTIONS]" in said.output
    assert "--watch" in said.output and "--dry-run" in said.output
    said = run("jobs", "stop", "--help")
    assert said.exit_code == 0 and "Usage: vista jobs stop [OPTIONS] {NAME}" in said.output


def test_a_misused_flag_is_a_usage_error() -> None:
    said = run("models", "--colour")
    assert said.exit_code == 2 and "No such option: --colour" in said.stderr


def test_dataset_synth_writes_the_intel_layout(tmp_path: Path) -> None:
    said = run("dataset", "synth", str(tmp_path), "--train-per-class", "1", "--test-per-class", "1", "--size", "32")
    assert said.exit_code == 0, said.output
    assert len(list(tmp_path.glob("seg_train/seg_train/*/*.jpg"))) == 6
    assert "wrote 6 training, 6 test and 0 other images" in said.stdout


def test_an_unknown_profile_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    refused(
        run("--stack", "x", "--profile", "nope", "models"),
        "cannot read stack x: The config profile (nope) could not be found",
    )


# ---------------------------------------------------------------------------- training


def test_a_bad_training_request_is_refused_before_anything_is_uploaded(stack: Stack) -> None:
    refused(run("train", "--architecture", "alexnet"), "invalid training request: architecture: Input should be")
    refused(
        run("train", "--instance-type", "ml.g5.xlage"),
        "invalid training request: instance_type: Value error, 'ml.g5.xlage' is not a SageMaker training "
        "instance type; the nearest are ml.g5.xlarge",
    )
    assert stack.calls == stack.uploads == []


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ('{"dataset": "datasets/intel",}', "{path} is not JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "{path} holds JSON, but not an object"),
    ],
)
def test_a_request_file_that_cannot_be_read_is_one_line(
    stack: Stack, tmp_path: Path, content: str | None, said: str
) -> None:
    path = tmp_path / "request.json"
    if content is not None:
        path.write_text(content)
    refused(run("train", "--request", str(path)), said.format(path=path))


def test_train_checks_the_dataset_as_the_dry_run_does_before_uploading(stack: Stack) -> None:
    stack.answers["POST /training-jobs"] = ApiError(
        "POST",
        "/training-jobs",
        400,
        "no images under s3://data/datasets/nowhere/: expected datasets/nowhere/train/...",
    )
    refused(run("train", "--dataset", "datasets/nowhere"), "POST /training-jobs: 400 no images under")
    assert stack.uploads == []  # no request left in jobs/ to fail later


def test_train_that_the_caps_refuse_starts_nothing(stack: Stack) -> None:
    stack.answers["POST /training-jobs"] = ACCEPTED | {"accepted": False, "reason": "over today's budget"}
    refused(run("train"), "not started: over today's budget")
    assert stack.uploads == []
    said = run("train", "--dry-run")
    assert said.exit_code == 1 and said.stdout.splitlines()[-1] == "would be refused: over today's budget"


def test_compare_tries_each_input_size_on_each_architecture(stack: Stack) -> None:
    stack.answers["POST /training-jobs"] = ACCEPTED
    said = run("compare", "--architectures", "resnet50,efficientnetv2b0", "--image-sizes", "150,224", "--dry-run")
    assert said.exit_code == 0, said.output
    [(_, _, body)] = stack.calls
    sent = json.loads(body)
    assert sent["architectures"] == ["resnet50", "efficientnetv2b0"]
    assert sent["tuning"] == {"strategy": "Grid", "max_parallel_jobs": 2, "ranges": {"image_size": [150, 224]}}
    refused(run("compare", "--image-sizes", "150,big"), "--image-sizes takes whole numbers separated by commas")


def test_train_watch_follows_the_job_it_requested(stack: Stack) -> None:
    stack.answers["POST /training-jobs"] = ACCEPTED
    stack.answers["GET /training-jobs/*"] = {"name": "j", "status": "Failed", "failure_reason": "AlgorithmError: boom"}
    said = run("train", "--name", "scenes", "--watch")
    assert [u[1] for u in stack.uploads] == ["put_object"] and stack.uploads[0][2]["Key"] == "jobs/scenes.json"
    assert said.exit_code == 1 and said.stdout.splitlines()[-1].endswith(": AlgorithmError: boom")
    assert " Failed" in said.stdout.splitlines()[0]


# ---------------------------------------------------------------------------- jobs


def test_watching_a_job_that_does_not_exist_fails_at_once(stack: Stack) -> None:
    # Not three hours of silence: one line and a non-zero exit
    refused(run("jobs", "watch", "no-such-job"), "no training job 'no-such-job': `vista jobs` lists them")


def test_ctrl_c_while_watching_says_the_job_goes_on(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: Any, **__: Any) -> Iterator[dict[str, Any]]:
        raise KeyboardInterrupt
        yield {}

    monkeypatch.setattr(client, "job_states", interrupted)
    said = run("jobs", "watch", "vista-1")
    assert said.exit_code == 130
    assert said.stderr == "stopped watching: vista-1 goes on (`vista jobs stop vista-1` stops it)\n"


def test_jobs_lists_the_request_each_came_from(stack: Stack) -> None:
    failed = {"name": "vista-1", "status": "Failed", "source": "s3://data/jobs/scenes.json", "failure_reason": "no"}
    stack.answers["GET /training-jobs"] = {"items": [failed]}
    said = run("jobs")
    assert said.exit_code == 0
    header, row = said.stdout.splitlines()[0], said.stdout.splitlines()[2]
    assert "REQUEST" in header.split() and "s3://data/jobs/scenes.json" in row.split()


def test_jobs_stop_stops_every_running_job_of_a_comparison(stack: Stack) -> None:
    stack.answers.update(
        {
            "GET /training-jobs/c": {"name": "c", "kind": "comparison", "status": "InProgress", "members": ["a", "b"]},
            "GET /training-jobs/a": {"name": "a", "kind": "training", "status": "Completed"},
            "GET /training-jobs/b": {"name": "b", "kind": "tuning", "status": "InProgress"},
        }
    )
    said = run("jobs", "stop", "c")
    assert said.exit_code == 0 and said.stdout == "b: stopping\n"
    assert stack.uploads == [("sagemaker", "stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "b"})]
    refused(run("jobs", "stop", "a"), "a has ended (Completed): there is nothing to stop")
    refused(run("jobs", "stop", "zz"), "no training job 'zz'")


# ---------------------------------------------------------------------------- predictions and models


def test_predict_takes_folders_and_shows_units(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("b.jpg", "a.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    answers = {
        "a.png": {"label": "forest", "confidence": 0.99931, "model": "m", "latency_ms": 334.1, "id": "p1"},
        "b.jpg": {
            "label": "unknown",
            "confidence": 0.41,
            "best_guess": {"label": "sea", "probability": 0.41},
            "model": "m",
            "latency_ms": 30,
            "id": "p2",
        },
    }
    monkeypatch.setattr(client, "predict_image", lambda target, path: answers[path.name])
    said = run("predict", str(tmp_path))
    assert said.exit_code == 0, said.output
    rows = said.stdout.splitlines()[2:]
    assert [row.split()[0].rsplit("/", 1)[-1] for row in rows] == ["a.png", "b.jpg"]
    assert rows[0].split()[1:7] == ["forest", "99.9%", "-", "m", "334", "ms"]
    assert rows[1].split()[1:6] == ["unknown", "41.0%", "sea", "41.0%", "m"]  # not sure enough: its best guess
    assert "LATENCY MS" not in said.stdout  # the unit is in each cell, not the title too
    refused(run("predict", str(tmp_path / "nowhere.jpg")), f"{tmp_path / 'nowhere.jpg'} does not exist")
    (tmp_path / "empty").mkdir()
    refused(
        run("predict", str(tmp_path / "empty")),
        f"no photos (.jpg .jpeg .png .heic .heif .webp .avif .gif .bmp .tif .tiff) under {tmp_path / 'empty'}",
    )


BOARD = [
    {"name": "champ", "state": "champion", "accuracy": 0.95, "test_set": "t1"},
    {"name": "worse", "state": "candidate", "accuracy": 0.90, "test_set": "t1"},
    {"name": "other", "state": "candidate", "accuracy": 0.99, "test_set": "t2"},
]


def test_promoting_a_worse_model_asks_first(stack: Stack) -> None:
    stack.answers["GET /models"] = {"items": BOARD, "columns": []}
    stack.answers["POST /models/worse/promote"] = {"name": "worse", "state": "promoting", "accuracy": 0.9}
    stack.answers["POST /models/other/promote"] = {"name": "other", "state": "promoting", "accuracy": 0.99}
    refused(
        run("promote", "worse"),
        "worse scored 90.0% on the test images where the champion champ scored 95.0%; pass --yes to promote it anyway",
    )
    assert not any(call[0] == "POST" for call in stack.calls)
    said = run("promote", "worse", "--yes")
    assert said.exit_code == 0 and ("POST", "/models/worse/promote", None) in stack.calls
    # Tested on other images: nothing to compare, nothing asked (the stack's gate says why it waits)
    assert run("promote", "other").exit_code == 0


def test_the_leaderboard_says_what_its_figure_is(stack: Stack) -> None:
    columns = [
        {"key": "name", "title": "model", "unit": ""},
        {"key": "accuracy", "title": "test accuracy", "unit": "%"},
    ]
    stack.answers["GET /models"] = {"items": BOARD, "columns": columns, "note": "Test accuracy: the best of several."}
    said = run("models")
    assert said.exit_code == 0 and "95.0%" in said.stdout
    assert said.stderr.startswith("Test accuracy: the best of several.\n")


def test_a_report_with_no_models_leaves_an_earlier_one_alone(stack: Stack, tmp_path: Path) -> None:
    stack.answers["GET /models"] = {"items": [], "columns": []}
    (tmp_path / "report.html").write_text("earlier")
    refused(run("report", "--out", str(tmp_path)), "no models yet: there is nothing to report")
    assert (tmp_path / "report.html").read_text() == "earlier"


def test_a_job_line_shows_the_time_left_while_it_trains() -> None:
    from vista.terminal import job_line

    job = {"name": "vista-1", "status": "InProgress", "secondary_status": "Training"}
    assert job_line(job | {"metrics": {"epoch": 3, "eta_s": 125}}).endswith("epoch=3 ETA 2:05")
    assert "ETA" not in job_line(job | {"status": "Completed", "metrics": {"epoch": 9, "eta_s": 0}})

"""GET /models/{name}/export: one SageMaker export job per model and format, its Jobs record, the
link to its archive (moto for the tables, S3 and SageMaker's jobs)."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.parse
from typing import Any

import boto3
import pytest

from tests.helpers.fakes import answer, describe_from_event, response
from tests.helpers.stack import BUCKET
from tests.helpers.support import call, request, start_job, state_change, write_metrics


@pytest.fixture
def model(aws: None, context: Any) -> str:
    """A completed training job's model on record (its test split's digest: intel-test)."""
    from vista_app.handlers import on_training_event

    name = start_job(context)
    write_metrics(name, 0.9)
    on_training_event.lambda_handler(state_change(name), context)
    return name


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """CreateTrainingJob as sent (moto's DescribeTrainingJob leaves some of it out)."""
    from vista_app.aws import client

    calls: list[dict[str, Any]] = []
    client("sagemaker").meta.events.register(
        "provide-client-params.sagemaker.CreateTrainingJob", lambda params, **_: calls.append(dict(params))
    )
    return calls


def export(context: Any, name: str, fmt: str | None = "tflite") -> tuple[int, Any]:
    return call(request("api_get_model_export", path={"name": name}, query={"format": fmt} if fmt else {}), context)


def test_the_first_request_starts_one_export_job_on_the_models_own_data(
    model: str, context: Any, created: list[dict[str, Any]]
) -> None:
    status, first = export(context, model)
    assert status == 202 and first["status"] == "InProgress" and first["format"] == "tflite"
    status, again = export(context, model)
    assert status == 202 and again["name"] == first["name"]
    [job] = created  # the second request found the first's job
    trained = boto3.client("sagemaker").describe_training_job(TrainingJobName=model)
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels == {
        **{c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in trained["InputDataConfig"]},
        "model": trained["ModelArtifacts"]["S3ModelArtifacts"],
    }
    hyperparameters = job["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "export_job.py"
    assert json.loads(hyperparameters["format"]) == "tflite" and json.loads(hyperparameters["test_set"]) == "intel-test"
    assert json.loads(hyperparameters["sagemaker_submit_directory"]).endswith("/sourcedir.tar.gz")
    assert hyperparameters["epochs"] == trained["HyperParameters"]["epochs"]  # the model's splits as it saw them
    assert job["EnableNetworkIsolation"] is True
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/artifacts/exports/"


def test_an_onnx_export_installs_its_converter_so_it_has_the_network(
    model: str, context: Any, created: list[dict[str, Any]]
) -> None:
    assert export(context, model, "onnx")[0] == 202
    [job] = created
    assert json.loads(job["HyperParameters"]["sagemaker_submit_directory"]).endswith("/exportdir.tar.gz")
    assert job["EnableNetworkIsolation"] is False


def _export_archive(job: str, figures: dict[str, Any]) -> None:
    """The export job's model.tar.gz, as SageMaker uploads SM_MODEL_DIR."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("metrics.json", json.dumps(figures).encode()), ("model.tflite", b"TFL3")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    key = f"artifacts/exports/{job}/output/model.tar.gz"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())


def test_a_completed_export_answers_a_link_to_its_archive_and_its_figures(model: str, context: Any) -> None:
    from vista_app.handlers import on_training_event

    _, started = export(context, model)
    figures = {"format": "tflite", "test_images": 2, "top1_agreement": 1.0, "latency_ms": 1.2, "size_bytes": 4}
    _export_archive(started["name"], figures)
    result = on_training_event.lambda_handler(state_change(started["name"]), context)
    assert result["outcome"] == "recorded export Completed"
    status, done = export(context, model)
    assert status == 200 and done["status"] == "Completed" and done["figures"] == figures
    link = urllib.parse.urlparse(done["url"])
    assert link.path.endswith(f"/artifacts/exports/{started['name']}/output/model.tar.gz")
    query = urllib.parse.parse_qs(link.query)
    assert query["response-content-disposition"] == [f'attachment; filename="{model}-tflite.tar.gz"']
    status, body = call(request("api_get_models"), context)
    assert [m["name"] for m in body["items"]] == [model]


def test_a_failed_export_says_why(model: str, context: Any) -> None:
    from vista_app.aws import client
    from vista_app.handlers import on_training_event

    _, started = export(context, model, "onnx")
    event = state_change(started["name"], "on_training_event_training_failed")
    reason = "AlgorithmError: ExecuteUserScriptError: ValueError: onnx agrees with the served model on 95.0%"
    event["detail"]["FailureReason"] = reason
    answer(
        client("sagemaker"), "DescribeTrainingJob", lambda r: response(r.url, 200, describe_from_event(event["detail"]))
    )
    on_training_event.lambda_handler(event, context)
    status, body = export(context, model, "onnx")
    assert status == 422 and body["status"] == "Failed"
    assert body["message"] == f"the onnx export of {model} failed: {reason}"


@pytest.mark.parametrize(
    ("fmt", "status", "message"),
    [
        ("coreml", 400, "format must be one of savedmodel, tflite, tflite-int8, onnx, not coreml"),
        (None, 400, "format must be one of savedmodel, tflite, tflite-int8, onnx, not nothing"),
    ],
)
def test_an_unknown_format_is_refused(model: str, context: Any, fmt: str | None, status: int, message: str) -> None:
    assert export(context, model, fmt) == (status, {"message": message})


def test_an_unknown_model_is_not_found(aws: None, context: Any) -> None:
    assert export(context, "vista-nope") == (404, {"message": "no model 'vista-nope'"})


def test_the_local_sagemaker_downloads_a_channel_that_names_one_object_under_its_last_part(
    aws: None, tmp_path: Any
) -> None:
    """An export's `model` channel names the model.tar.gz itself (as the SageMaker SDK's `model_uri` does):
    the file keeps its name, as SageMaker names an S3Object's file; a folder's objects keep their paths."""
    from vista.local.sagemaker.container import download_prefix

    s3 = boto3.client("s3")
    for key in ("artifacts/training/job/output/model.tar.gz", "datasets/d/train/sea/1.jpg"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    download_prefix(s3, f"s3://{BUCKET}/artifacts/training/job/output/model.tar.gz", tmp_path / "model")
    download_prefix(s3, f"s3://{BUCKET}/datasets/d/train/", tmp_path / "train")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["model.tar.gz"]
    assert (tmp_path / "train" / "sea" / "1.jpg").read_bytes() == b"x"

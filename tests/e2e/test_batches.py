"""A batch in local mode: a folder of 60 images (50 good, 10 bad as people make them) dropped as one
request, classified by one Transform job on the champion; a record an image, one results file, the
job's counts and cost; the same image's version coming through the inbox later makes no second
record; a bad request, or one for a model that does not exist, fails at once with the reason."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.support import answered_class, png_header_only
from vista.client import cpu_request, wait_for

pytestmark = pytest.mark.slow

SCENES = {"train_per_class": 10, "test_per_class": 9, "size": 48, "seed": 41}
TRAINING = cpu_request("datasets/scenes", "base_cnn", epochs=2, image_size=48, batch_size=16)


def batch_named(target: Any, request_key: str) -> dict[str, Any]:
    """The Jobs record of the batch a request started, once it has ended."""

    def ended() -> dict[str, Any] | None:
        for job in target.api("GET", "/training-jobs?limit=50")["items"]:
            if job.get("kind") == "batch" and job.get("source", "").endswith(request_key):
                return job if job["status"] in ("Completed", "Failed", "Stopped") else None
        return None

    return wait_for(f"batch of {request_key}", ended, 180)


def request(target: Any, key: str, body: dict[str, Any]) -> dict[str, Any]:
    target.client("s3").put_object(Bucket=target.output("DataBucketName"), Key=key, Body=json.dumps(body).encode())
    return batch_named(target, key)


def bad_images(good: bytes) -> dict[str, bytes]:
    """Ten images as people make them wrong: cut short, not images at all, too many pixels."""
    return {
        "cut-half.jpg": good[: len(good) // 2],
        "cut-end.jpg": good[:-2],
        "cut-head.jpg": good[:40],
        "empty.jpg": b"",
        "notes.jpg": b"remember to buy milk\n",
        "page.jpg": b"<!doctype html><html><body>not a photo</body></html>",
        "archive.jpg": b"PK\x03\x04" + bytes(60),
        "animation.jpg": b"GIF89a" + bytes(60),
        "bomb.png": png_header_only(20_000, 20_000),
        "wide.png": png_header_only(100_000, 2),
    }


def test_a_folder_is_one_batch_with_a_record_an_image_one_results_file_and_the_jobs_cost(
    cloud: Any, target: Any, trained: str, scenes: Path
) -> None:
    s3, bucket = target.client("s3"), target.output("DataBucketName")
    good = sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))[:50]
    for index, path in enumerate(good):
        s3.upload_file(str(path), bucket, f"archive/2025/good/{index:02}.jpg")
    for name, data in bad_images(good[0].read_bytes()).items():
        s3.put_object(Bucket=bucket, Key=f"archive/2025/bad/{name}", Body=data)
    from PIL import Image

    from synthetic import encoded

    # a WebP: a photo the inbox and the API convert, but a batch sends each image to the model as it is
    s3.put_object(Bucket=bucket, Key="archive/2025/bad/web.webp", Body=encoded(Image.open(good[0]), "WEBP"))

    batch = request(target, "batches/archive-2025.json", {"source": "archive/2025/"})

    assert batch["status"] == "Completed", batch
    assert batch["model"] == trained and batch["request"]["instance_type"] == "ml.m5.xlarge"
    # Nine are refused by the checks classify makes, and the WebP; a PNG whose header is all there is passes
    # them, and the model's refusal in the container is that image's answer, not the job's failure.
    counts = batch["counts"]
    assert (counts["objects"], counts["accepted"], counts["refused"], counts["answered"]) == (61, 51, 10, 50)
    assert batch["billable_seconds"] > 0 and batch["cost"] > 0
    records = [p for p in cloud_predictions(target) if p.get("batch") == batch["name"]]
    assert len(records) == 61 and len({r["id"] for r in records}) == 61
    ok = [r for r in records if r["status"] == "OK"]
    failed = {r["key"].rsplit("/", 1)[1]: r["error"] for r in records if r["status"] == "FAILED"}
    assert len(ok) == 50 and all(r["model"] == trained and answered_class(r) in r["probabilities"] for r in ok)
    assert set(failed) == {*bad_images(b"x" * 100), "web.webp"}
    assert failed["web.webp"].startswith("a batch sends each image to the model as it is")
    assert "400,000,000 pixels" in failed["bomb.png"] and failed["empty.jpg"] == "empty file (0 bytes)"
    assert failed["wide.png"].startswith("the model refused the image: ")
    assert "not a JPEG, PNG, HEIC" in failed["notes.jpg"]
    rows = list(csv.DictReader(io.StringIO(read(target, batch["results"]))))
    assert len(rows) == 61 and {r["status"] for r in rows} == {"OK", "FAILED"}
    first = next(r for r in rows if r["key"] == "archive/2025/good/00.jpg")
    label = first["best_guess"] or first["label"]  # an unknown answer's class is its best guess
    assert first["status"] == "OK" and float(first[label]) == pytest.approx(float(first["confidence"]))

    # The same version of an image the batch classified, delivered to the inbox's queue: its record stays the
    # batch's, and the endpoint is not asked.
    version = s3.head_object(Bucket=bucket, Key="archive/2025/good/00.jpg")["VersionId"]
    before = next(r for r in records if r["key"] == "archive/2025/good/00.jpg")
    calls = cloud.sagemaker.endpoints["vista-classifier"].calls
    notify_inbox(target, "archive/2025/good/00.jpg", version)
    assert wait_for("the inbox to take the message", lambda: inbox_empty(target), 60)
    after = [p for p in cloud_predictions(target) if p["key"] == "archive/2025/good/00.jpg"]
    assert after == [before] and cloud.sagemaker.endpoints["vista-classifier"].calls == calls


def test_the_command_runs_a_batch_and_follows_it_to_its_end(
    target: Any, trained: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from vista.cli import main

    bucket = target.output("DataBucketName")
    assert main(["classify-folder", f"s3://{bucket}/archive/2025/bad/", "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{") :])  # after the EMF lines the functions printed
    # The same versions the first batch recorded: each answered again, none recorded twice.
    assert shown["status"] == "Completed" and shown["counts"] == {
        "objects": 11,
        "refused": 10,
        "accepted": 1,
        "answered": 0,
        "failed": 1,
        "written": 0,
    }
    assert target.api("GET", f"/batches/{shown['name']}")["results"] == shown["results"]
    assert main(["classify-folder", "s3://another-bucket/photos/"]) == 1
    assert "is not in this stack's data bucket" in capsys.readouterr().err


def test_a_bad_request_or_a_missing_model_fails_at_once_with_the_reason(target: Any, trained: str) -> None:
    from vista.errors import ApiError

    with pytest.raises(ApiError) as refused:
        target.api(
            "POST",
            "/batches",
            body=b'{"source": "archive/2025/", "model": "vista-nope"}',
            content_type="application/json",
        )
    assert refused.value.status == 400 and "no model named vista-nope" in str(refused.value)
    with pytest.raises(ApiError) as invalid:
        target.api("POST", "/batches", body=b'{"source": "archive/2025"}', content_type="application/json")
    assert invalid.value.status == 400 and "is not a folder: end it with /" in str(invalid.value)
    not_a_folder = request(target, "batches/no-slash.json", {"source": "archive/2025"})
    assert not_a_folder["status"] == "Failed" and "is not a folder: end it with /" in not_a_folder["failure_reason"]
    own = request(target, "batches/own.json", {"source": "artifacts/"})
    assert own["status"] == "Failed" and "one of Vista's own folders" in own["failure_reason"]
    missing = request(target, "batches/missing.json", {"source": "archive/2025/", "model": "vista-nope"})
    assert missing["status"] == "Failed" and missing["failure_reason"] == "no model named vista-nope"
    empty = request(target, "batches/empty.json", {"source": "nothing-here/"})
    assert empty["status"] == "Failed" and "holds no objects" in empty["failure_reason"]


def cloud_predictions(target: Any) -> list[dict[str, Any]]:
    from vista_app.records import Predictions

    return list(Predictions(target.output("PredictionsTableName")).all())


def read(target: Any, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def notify_inbox(target: Any, key: str, version: str) -> None:
    """An S3 notification for `key` at `version`, as S3 sends it to the inbox's queue."""
    bucket = target.output("DataBucketName")
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "versionId": version, "size": 1}},
    }
    sqs = target.client("sqs")
    sqs.send_message(QueueUrl=target.output("InboxQueueUrl"), MessageBody=json.dumps({"Records": [record]}))


def inbox_empty(target: Any) -> bool:
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=target.output("InboxQueueUrl"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_the_champion_exported_for_a_phone_answers_in_tensorflow_lite_as_the_endpoint_does(
    target: Any, trained: str, scenes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vista export`: the export job runs in the local SageMaker, its archive is downloaded through the
    API's link, and the model in it loads in TensorFlow's TFLite interpreter."""
    import tarfile

    import numpy as np
    import tensorflow as tf

    from portable import pixels_of
    from vista.cli import main

    assert main(["export", "--format", "tflite", "--out", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index('{\n  "name"') :])
    archive = tmp_path / f"{trained}-tflite.tar.gz"
    assert shown["archive"] == str(archive) and shown["status"] == "Completed"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    figures = json.loads((tmp_path / "x" / "metrics.json").read_text())
    assert figures == shown["figures"] and figures["test_images"] == 54 and figures["top1_agreement"] >= 0.99
    classes = (tmp_path / "x" / "classes.txt").read_text().split()
    runner = tf.lite.Interpreter(model_path=str(tmp_path / "x" / "model.tflite")).get_signature_runner("pixels")
    for path in sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))[:6]:
        served = target.api("POST", "/predictions", body=path.read_bytes(), content_type="image/jpeg")
        answer = runner(pixels=pixels_of([path], 48))["probabilities"][0]
        assert classes[int(np.argmax(answer))] == answered_class(served)
    job = target.api("GET", f"/training-jobs/{shown['name']}")
    assert job["kind"] == "export" and job["model"] == trained and job["cost"] > 0
    assert target.api("GET", f"/models/{trained}/export", query={"format": "tflite"})["name"] == shown["name"]
    assert main(["export", trained, "--format", "coreml"]) == 2  # typer's usage error: not a format


def test_an_onnx_export_installs_its_converter_in_the_job_and_answers_in_onnx_runtime(
    target: Any, trained: str, scenes: Path, tmp_path: Path
) -> None:
    """The ONNX job's code carries a requirements.txt (tf2onnx, ONNX Runtime) that the container installs first."""
    import tarfile

    import numpy as np
    import onnxruntime

    from portable import pixels_of
    from vista.cli import main

    assert main(["export", trained, "--format", "onnx", "--out", str(tmp_path)]) == 0
    with tarfile.open(tmp_path / f"{trained}-onnx.tar.gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    classes = (tmp_path / "x" / "classes.txt").read_text().split()
    session = onnxruntime.InferenceSession(str(tmp_path / "x" / "model.onnx"), providers=["CPUExecutionProvider"])
    paths = sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))[:6]
    answers = session.run(["probabilities"], {"pixels": pixels_of(paths, 48)})[0]
    for path, answer in zip(paths, answers, strict=True):
        served = target.api("POST", "/predictions", body=path.read_bytes(), content_type="image/jpeg")
        assert classes[int(np.argmax(answer))] == answered_class(served)
    logs = target.client("logs")
    job = target.api("GET", f"/models/{trained}/export", query={"format": "onnx"})["name"]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=streams["logStreams"][0]["logStreamName"]
    )
    assert any("tf2onnx" in e["message"] for e in events["events"])  # pip's report of the requirements

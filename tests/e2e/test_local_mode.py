"""Local mode end to end: S3 request → local training → EventBridge → promotion → serverless
endpoint → inbox → SQS → classify → DynamoDB, and the API, on the same handlers Lambda runs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.support import answered_class
from vista.client import cpu_request, upload_dataset, wait_for

pytestmark = pytest.mark.slow


SCENES = {"train_per_class": 10, "test_per_class": 3, "size": 48, "seed": 11}
TRAINING = cpu_request("datasets/scenes", "base_cnn", epochs=3, image_size=48, batch_size=16, spot=True)


@pytest.fixture(scope="module")
def scenes(scenes: Path) -> Path:
    """The scenes with two training photos as a phone and the web save them (HEIC, WebP): the local
    training container installs the training archive's own HEIF decoder and converts them."""
    from PIL import Image

    from synthetic import encoded

    for folder, fmt, suffix in (("forest", "HEIF", ".heic"), ("sea", "WEBP", ".webp")):
        photo = sorted((scenes / "seg_train" / "seg_train" / folder).glob("*.jpg"))[0]
        photo.with_suffix(suffix).write_bytes(encoded(Image.open(photo).convert("RGB"), fmt))
        photo.unlink()
    return scenes


def champion(target: Any) -> dict[str, Any] | None:
    return next((m for m in target.api("GET", "/models")["items"] if m["state"] == "champion"), None)


def test_an_image_dropped_before_any_model_waits_in_sight_then_is_classified(
    cloud: Any, target: Any, scenes: Path, request: pytest.FixtureRequest
) -> None:
    # GIVEN a fresh stack: nothing trained, nothing serving
    assert champion(target) is None
    image = next((scenes / "seg_test" / "seg_test" / "sea").glob("*.jpg"))
    target.client("s3").upload_file(str(image), cloud.outputs["DataBucketName"], "inbox/early.jpg")
    # THEN its record says it waits, and why (not twelve silent minutes)
    listed = lambda: target.api("GET", "/predictions")["items"]  # noqa: E731
    [waiting] = wait_for("the WAITING record", listed, 60)
    assert waiting["status"] == "WAITING" and "classified once a model serves" in waiting["reason"]
    # WHEN the first model is promoted, THEN it is classified soon after (not a visibility timeout later)
    request.getfixturevalue("trained")
    answered = wait_for("its answer", lambda: [p for p in listed() if p["status"] == "OK"], 60)
    assert [p["id"] for p in answered] == [waiting["id"]] and len(listed()) == 1


def test_training_request_to_champion_on_the_serverless_endpoint(cloud: Any, target: Any, trained: str) -> None:
    job = target.api("GET", f"/training-jobs/{trained}")
    assert job["status"] == "Completed" and job["model"] == trained
    assert job["billable_seconds"] >= 1 and job["source"].endswith("jobs/scenes request.json")
    model = champion(target)
    assert model["name"] == trained and 0 <= model["accuracy"] <= 1
    assert set(model["metrics"]["per_class"]) == {"buildings", "forest", "glacier", "mountain", "sea", "street"}
    assert model["metrics"]["converted_files"] == 2 and model["metrics"]["skipped_files"] == 0  # the HEIC and WebP
    described = target.client("sagemaker").describe_training_job(TrainingJobName=trained)
    assert next(m["Value"] for m in described["FinalMetricDataList"] if m["MetricName"] == "epoch") == 3
    # spot settings: checkpoints went to S3, where a restarted job would find them
    checkpoints = target.client("s3").list_objects_v2(
        Bucket=cloud.outputs["DataBucketName"], Prefix=f"artifacts/checkpoints/{trained}/"
    )
    assert checkpoints["KeyCount"] > 0


def test_a_dataset_uploaded_again_sends_nothing_it_already_holds(target: Any, trained: str, scenes: Path) -> None:
    uploaded = sorted(p for p in scenes.rglob("*") if p.is_file())
    assert upload_dataset(target, scenes, "scenes") == {"uploaded": 0, "unchanged": len(uploaded)}
    pages = (
        target.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=target.output("DataBucketName"), Prefix="datasets/scenes/")
    )
    assert sum(len(page.get("Contents", [])) for page in pages) == len(uploaded) == 78


def test_inbox_images_are_classified_once_each(cloud: Any, target: Any, trained: str, scenes: Path) -> None:
    s3 = target.client("s3")
    bucket = cloud.outputs["DataBucketName"]
    images = sorted((scenes / "seg_test" / "seg_test").rglob("*.jpg"))
    for path in images:
        s3.upload_file(str(path), bucket, f"inbox/e2e/{path.parent.name} {path.name}")
    s3.put_object(Bucket=bucket, Key="inbox/e2e/notes+été.jpg", Body=b"not an image")
    table = boto3.resource("dynamodb").Table(cloud.outputs["PredictionsTableName"])

    def mine() -> list[dict[str, Any]]:
        return [i for i in table.scan()["Items"] if i.get("key", "").startswith("inbox/e2e/")]

    def settled() -> list[dict[str, Any]] | None:
        """Every image's record, once each has left CLASSIFYING (a record is claimed before it is settled)."""
        records = mine()
        return (
            records if len(records) >= len(images) + 1 and all(r["status"] != "CLASSIFYING" for r in records) else None
        )

    records = wait_for("the local cloud", settled, 180)
    assert len({r["key"] for r in records}) == len(records) == len(images) + 1
    by_key = {r["key"]: r for r in records}
    assert by_key["inbox/e2e/notes+été.jpg"]["status"] == "FAILED"
    assert "not a JPEG, PNG, HEIC" in by_key["inbox/e2e/notes+été.jpg"]["error"]
    ok = [r for r in records if r["status"] == "OK"]
    assert len(ok) == len(images) and all(r["model"] == trained for r in ok)


FORMATS = {"HEIF": "image/heic", "WEBP": "image/webp", "AVIF": "image/avif", "GIF": "image/gif", "BMP": "image/bmp"}
FORMATS |= {"TIFF": "image/tiff"}


def test_a_phones_and_the_webs_formats_are_answered_as_their_jpeg(
    cloud: Any, target: Any, trained: str, scenes: Path
) -> None:
    from PIL import Image

    from synthetic import encoded

    # GIVEN one held-out scene as a JPEG, as each other format, as a sideways HEIC (its `irot` says
    # how to turn it), and a truncated copy of each; some named with another format's suffix
    s3, bucket = target.client("s3"), cloud.outputs["DataBucketName"]
    picture = Image.open(next((scenes / "seg_test" / "seg_test" / "forest").glob("*.jpg"))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {f"{fmt}.img": encoded(picture, fmt) for fmt in ["JPEG", *FORMATS]}
    files["sideways-heic.jpg"] = encoded(picture.transpose(Image.Transpose.ROTATE_90), "HEIF", exif=exif.tobytes())
    broken = {f"broken-{fmt}.img": encoded(picture, fmt)[:-200] for fmt in FORMATS}
    for name, data in (files | broken).items():
        s3.put_object(Bucket=bucket, Key=f"inbox/formats/{name}", Body=data)
    table = boto3.resource("dynamodb").Table(cloud.outputs["PredictionsTableName"])

    def settled() -> dict[str, dict[str, Any]] | None:
        records = [i for i in table.scan()["Items"] if i.get("key", "").startswith("inbox/formats/")]
        done = len(records) == len(files) + len(broken) and all(r["status"] != "CLASSIFYING" for r in records)
        return {r["key"].removeprefix("inbox/formats/"): r for r in records} if done else None

    records = wait_for("a record of each", settled, 180)
    # THEN each format is answered as the JPEG of the same picture: same class, near the same probabilities
    jpeg = records["JPEG.img"]
    assert jpeg["status"] == "OK" and jpeg["sent_format"] == "JPEG"
    for name in [n for n in files if n != "JPEG.img"]:
        record = records[name]
        assert record["status"] == "OK", (name, record.get("error"))
        assert answered_class(record) == answered_class(jpeg), name
        gaps = [abs(float(record["probabilities"][c]) - float(jpeg["probabilities"][c])) for c in jpeg["probabilities"]]
        assert max(gaps) < 0.15, (name, gaps)
        assert record["sent_format"] == "JPEG" and record["format"] == ("HEIF" if "heic" in name else name[:-4])
    # AND the broken ones are FAILED, each saying what is wrong; nothing lost, doubled or dead-lettered
    for name in broken:
        assert records[name]["status"] == "FAILED", name
        assert "could not be decoded" in records[name]["error"] or "corrupt" in records[name]["error"], name
    dead = target.client("sqs").receive_message(QueueUrl=cloud.outputs["InboxDeadLetterQueueUrl"], WaitTimeSeconds=1)
    assert dead.get("Messages", []) == []
    # AND the API answers each as the inbox did
    for fmt, content_type in FORMATS.items():
        answer = target.api("POST", "/predictions", body=files[f"{fmt}.img"], content_type=content_type)
        assert answer["status"] == "OK" and answered_class(answer) == answered_class(jpeg), fmt


def test_the_api_predicts_and_lists_models(target: Any, trained: str, scenes: Path) -> None:
    image = next((scenes / "seg_test" / "seg_test" / "sea").glob("*.jpg"))
    answer = target.api("POST", "/predictions", body=image.read_bytes(), content_type="image/jpeg")
    assert answer["status"] == "OK" and answer["model"] == trained
    assert answered_class(answer) in {"buildings", "forest", "glacier", "mountain", "sea", "street"}
    assert target.api("GET", f"/predictions/{answer['id']}")["label"] == answer["label"]
    assert target.api("GET", "/models")["items"][0]["name"] == trained


def test_camera_photos_too_big_for_a_request_are_uploaded_and_classified(
    target: Any, trained: str, tmp_path: Path
) -> None:
    """A 12 MP photo of 3-8 MB and a 48 MP one: over what a synchronous POST carries, so `vista
    predict` asks POST /uploads, PUTs to the presigned URL, and reads the inbox's prediction."""
    from synthetic import camera_jpeg
    from vista.client import SYNCHRONOUS_MAX_BYTES, predict_image

    for name, photo in {
        "12mp.jpg": camera_jpeg(4000, 3000),
        "48mp.jpg": camera_jpeg(8000, 6000, noise=6, quality=85, orientation=6),
    }.items():
        path = tmp_path / name
        path.write_bytes(photo)
        assert len(photo) > SYNCHRONOUS_MAX_BYTES
        answer = predict_image(target, path)
        assert answer["status"] == "OK" and answer["model"] == trained, answer
        assert answer["key"].startswith("inbox/uploads/") and answer["sent_bytes"] < 100_000
    # A body over what Lambda takes is refused by AWS itself, in AWS's words
    with pytest.raises(Exception, match="413 Request Too Long"):
        target.api("POST", "/predictions", body=photo, content_type="image/jpeg")


def test_two_quick_overwrites_of_one_key_are_two_records_each_of_its_own_version(
    cloud: Any, target: Any, trained: str, scenes: Path
) -> None:
    s3, bucket, key = target.client("s3"), cloud.outputs["DataBucketName"], "inbox/e2e/overwritten.jpg"
    first, second = (next((scenes / "seg_test" / "seg_test" / c).glob("*.jpg")).read_bytes() for c in ("sea", "forest"))
    assert len(first) != len(second)  # so a record's size says which bytes it classified
    versions = {s3.put_object(Bucket=bucket, Key=key, Body=data)["VersionId"]: len(data) for data in (first, second)}
    table = boto3.resource("dynamodb").Table(cloud.outputs["PredictionsTableName"])

    def both() -> list[dict[str, Any]] | None:
        found = [i for i in table.scan()["Items"] if i.get("key") == key]
        return found if len(found) == 2 and all(i["status"] != "CLASSIFYING" for i in found) else None  # settled

    records = wait_for("both records", both, 120)
    assert {r["version_id"]: int(r["bytes"]) for r in records} == versions
    assert all(r["status"] == "OK" for r in records)


def test_an_unsigned_api_call_is_refused(cloud: Any, trained: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(cloud.urls["api"] + "/models", timeout=10)  # noqa: S310 (127.0.0.1)
    assert refused.value.code == 403


def test_a_failing_job_ends_failed_and_leaves_the_champion(
    cloud: Any, target: Any, trained: str, tmp_path: Path
) -> None:
    from PIL import Image

    from vista.client import finished_job, submit_training

    for split in ("seg_train/seg_train", "seg_test/seg_test"):
        folder = tmp_path / "one" / split / "forest"
        folder.mkdir(parents=True)
        Image.new("RGB", (32, 32), (20, 120, 20)).save(folder / "0.jpg")
    upload_dataset(target, tmp_path / "one", "one-class")
    request = cpu_request("datasets/one-class", "base_cnn", epochs=1, image_size=32)
    job = submit_training(target, request, "bad dataset")
    assert finished_job(target, job, timeout_s=180)["status"] == "Failed"
    record = wait_for(
        "the local cloud",
        lambda: (lambda j: j if j.get("failure_reason") else None)(target.api("GET", f"/training-jobs/{job}")),
    )
    assert record["status"] == "Failed" and "at least 2 are needed" in record["failure_reason"]
    assert champion(target)["name"] == trained


def test_local_sagemaker_answers_with_aws_error_shapes(target: Any, trained: str) -> None:
    sagemaker, runtime = target.client("sagemaker"), target.client("sagemaker-runtime")
    with pytest.raises(ClientError) as unknown_endpoint:
        sagemaker.describe_endpoint(EndpointName="nope")
    assert unknown_endpoint.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint" in unknown_endpoint.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as unknown_job:
        sagemaker.describe_training_job(TrainingJobName="nope")
    assert unknown_job.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as bad_name:
        sagemaker.create_model(
            ModelName=trained, ExecutionRoleArn="arn:aws:iam::123456789012:role/x", PrimaryContainer={"Image": "x"}
        )
    assert "Cannot create already existing model" in bad_name.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as no_endpoint:
        runtime.invoke_endpoint(EndpointName="nope", ContentType="application/json", Body=b"{}")
    assert "Endpoint nope of account 123456789012 not found" in no_endpoint.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as model_error:
        runtime.invoke_endpoint(
            EndpointName="vista-classifier",
            ContentType="application/json",
            Body=json.dumps({"instances": [{"b64": "bm90IGFuIGltYWdl"}]}),
        )
    assert model_error.value.response["Error"]["Code"] == "ModelError"
    assert model_error.value.response["OriginalStatusCode"] == 400
    assert model_error.value.response["Error"]["Message"].startswith("Received client error (400) from primary")


def test_a_serverless_endpoint_says_which_image_it_runs(target: Any, trained: str) -> None:
    sagemaker = target.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="vista-classifier")
    image = sagemaker.describe_model(ModelName=trained)["PrimaryContainer"]["Image"]
    [deployed] = endpoint["ProductionVariants"][0]["DeployedImages"]
    assert deployed["SpecifiedImage"] == image
    assert deployed["ResolvedImage"].startswith(image.split(":")[0] + "@sha256:")


@pytest.mark.parametrize("fault", ["slow", "failing"])
def test_a_slow_or_failing_container_is_answered_as_sagemaker_answers_it(
    cloud: Any, target: Any, trained: str, fault: str
) -> None:
    runtime, faults = target.client("sagemaker-runtime"), cloud.sagemaker.faults
    body = json.dumps({"instances": [{"b64": "bm90IGFuIGltYWdl"}]})
    if fault == "slow":  # the limit shortened from SageMaker's 60 s so the test need not wait a minute
        faults.invocation_timeout_s, faults.container_delay_s = 0.3, 1.0
    else:
        faults.container_status = 503
    try:
        with pytest.raises(ClientError) as raised:
            runtime.invoke_endpoint(EndpointName="vista-classifier", ContentType="application/json", Body=body)
    finally:
        faults.invocation_timeout_s, faults.container_delay_s, faults.container_status = 60.0, 0.0, None
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError" and error["ResponseMetadata"]["HTTPStatusCode"] == 424
    message = error["Error"]["Message"]
    assert message.endswith(
        "#logEventViewer:group=/aws/sagemaker/Endpoints/vista-classifier in account 123456789012 for more information."
    )
    if fault == "slow":
        assert message.startswith('Received server error (0) from primary with message "Your invocation timed out')
        assert "OriginalStatusCode" not in error
    else:
        assert message.startswith("Received server error (503) from primary")
        assert error["OriginalStatusCode"] == 503


def test_the_exports_vista_up_prints_are_all_a_plain_aws_program_needs(
    cloud: Any, trained: str, scenes: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from vista.target import exports

    # A program of the user's own, with nothing but `vista up`'s export line (no vista, no moto)
    program = """
import base64, json, sys, boto3
bucket, image = sys.argv[1], open(sys.argv[2], "rb").read()
boto3.client("s3").put_object(Bucket=bucket, Key="inbox/plain-sdk.jpg", Body=image)
body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]})
answer = boto3.client("sagemaker-runtime").invoke_endpoint(
    EndpointName="vista-classifier", ContentType="application/json", Body=body)
print(json.dumps(json.loads(answer["Body"].read())["predictions"][0]))
"""
    variables = dict(word.split("=", 1) for word in exports(cloud.urls).split())
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **variables}
    image = next((scenes / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    ran = subprocess.run(
        [sys.executable, "-I", "-c", program, cloud.outputs["DataBucketName"], str(image)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    # The local serverless endpoint's answer (moto's would be a placeholder), from the model trained here
    answer = json.loads(ran.stdout)
    assert answer["model"] == trained and len(answer["classes"]) == 6


def test_the_vista_command_against_the_local_cloud(
    target: Any, trained: str, scenes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vista.cli import main

    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == trained
    image = next((scenes / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    assert main(["predict", str(image)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["IMAGE", "LABEL", "CONFIDENCE"] and table[2].startswith("...")
    assert str(image).endswith(table[2].split()[0].removeprefix("..."))
    assert table[2].split()[2].endswith("%")  # a confidence reads as a percentage
    assert main(["jobs", "watch", trained, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["status"] == "Completed"
    assert main(["promote", "no-such-model"]) == 1
    assert capsys.readouterr().err.strip() == (
        "vista: error: POST /models/no-such-model/promote: 404 no model named no-such-model"
    )
    # A dry run: the estimate, the cap, a poor fit named, and nothing started.
    jobs = len(target.api("GET", "/training-jobs")["items"])
    dataset = ["--dataset", "datasets/scenes", "--architecture", "base_cnn", "--instance-type", "ml.g5.xlarge"]
    assert main(["train", *dataset, "--dry-run"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "training: 1 job(s) on 1 x ml.g5.xlarge, at most 7,200 s each"
    assert said[1] == (
        "estimate: at most $2.82 ($1.408/h x 1 instance(s) x 2 h max runtime x 1 job(s); spot typically 70% less);"
        " typically $0.84 with spot"
    )
    assert said[2] == "cap: $100.00 a request" and said[-1] == "would start"
    assert said[3].startswith("budget today (") and said[3].endswith(" of $300.00 reserved")
    assert said[4].startswith("warning: a GPU instance (ml.g5.xlarge, $1.408/h) for base_cnn on ")
    assert main(["compare", "--dataset", "datasets/scenes", "--tune", "--max-jobs", "40", "--dry-run"]) == 1
    assert "would be refused: this request may cost up to $" in capsys.readouterr().out
    assert len(target.api("GET", "/training-jobs")["items"]) == jobs


def test_a_tuning_job_started_as_the_tf_toolkit_starts_trials_serves_its_best_model(
    cloud: Any, target: Any, trained: str
) -> None:
    import io
    import tarfile

    from tests.helpers.stack import image_bytes
    from vista.client import finished_job, submit_training

    # GIVEN a tuning job: each trial gets `_tuning_objective_metric` from SageMaker and, with no
    # model_dir hyperparameter, `--model_dir None/<trial>/model` from the TF container
    request = cpu_request("datasets/scenes", "base_cnn", epochs=2, image_size=48, batch_size=16, spot=True) | {
        "tuning": {
            "max_jobs": 2,
            "max_parallel_jobs": 1,
            "strategy": "Random",
            "ranges": {"dropout": {"min": 0.1, "max": 0.3}},
        },
    }
    job = submit_training(target, request, "e2e tuning")
    assert finished_job(target, job, timeout_s=300)["status"] == "Completed"
    # The report is an ended job's last write: its model and its trials are on record by then
    record = wait_for(
        "the local cloud",
        lambda: (lambda j: j if j.get("report") else None)(target.api("GET", f"/training-jobs/{job}")),
    )
    best = record["best_training_job"]
    sagemaker = target.client("sagemaker")
    trial = sagemaker.describe_training_job(TrainingJobName=best)
    assert trial["HyperParameters"]["_tuning_objective_metric"] == "val_accuracy"
    assert "sagemaker_region" in trial["HyperParameters"]
    # Both trials trained from epoch 1 with the one checkpoint prefix the tuning job has, each in its own folder.
    trials = [t["name"] for t in record["trials"]]
    for name in trials:
        final = sagemaker.describe_training_job(TrainingJobName=name)["FinalMetricDataList"]
        assert next(m["Value"] for m in final if m["MetricName"] == "epoch") == 2
    listed = target.client("s3").list_objects_v2(
        Bucket=cloud.outputs["DataBucketName"], Prefix=f"artifacts/checkpoints/{job}/", Delimiter="/"
    )
    assert sorted(p["Prefix"].rsplit("/", 2)[-2] for p in listed["CommonPrefixes"]) == sorted(trials)
    # THEN the best trial's model.tar.gz holds the SavedModel (not an empty /opt/ml/model) ...
    bucket, _, key = trial["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    with tarfile.open(fileobj=io.BytesIO(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        assert "1/saved_model.pb" in tar.getnames()
    # ... and, promoted (the gate may have kept the champion: a person decides), it serves and answers as itself
    target.api("POST", f"/models/{best}/promote")
    wait_for("the local cloud", lambda: (champion(target) or {}).get("name") == best)
    answer = target.api("POST", "/predictions", body=image_bytes(), content_type="image/jpeg")
    assert answer["status"] == "OK" and answer["model"] == best


def test_the_local_sagemaker_stops_a_hyperband_trial_at_max_resource(target: Any, trained: str) -> None:
    import io
    import tarfile

    # GIVEN Vista's last tuning job's definition, tuned with Hyperband by hand with MaxResource 1
    sagemaker = target.client("sagemaker")
    [last] = [j for j in target.api("GET", "/training-jobs")["items"] if j.get("kind") == "tuning"][:1]
    described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=last["name"])
    config = {
        **described["HyperParameterTuningJobConfig"],
        "Strategy": "Hyperband",
        "TrainingJobEarlyStoppingType": "Off",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
    }
    definition = described["TrainingJobDefinition"]
    # WHEN MaxResource can be neither read nor inferred, SageMaker refuses the job
    static = {k: v for k, v in definition["StaticHyperParameters"].items() if k != "epochs"}
    with pytest.raises(ClientError, match="Hyperband could not infer MaxResource"):
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="vista-hyperband-0",
            HyperParameterTuningJobConfig=config,
            TrainingJobDefinition={**definition, "StaticHyperParameters": static},
        )
    # WHEN it is 1 (the trial would print 2 epochs, then export)
    config["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 1}}
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="vista-hyperband-1",
        HyperParameterTuningJobConfig=config,
        TrainingJobDefinition=definition,
    )
    # THEN the trial is stopped after its first objective value, with the model it had then: none
    summaries = wait_for(
        "the local cloud",
        lambda: [
            s
            for s in sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName="vista-hyperband-1"
            )["TrainingJobSummaries"]
            if s["TrainingJobStatus"] == "Stopped"
        ],
    )
    trial = sagemaker.describe_training_job(TrainingJobName=summaries[0]["TrainingJobName"])
    assert next(m["Value"] for m in trial["FinalMetricDataList"] if m["MetricName"] == "epoch") == 1
    bucket, _, key = trial["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    with tarfile.open(fileobj=io.BytesIO(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        assert "1/saved_model.pb" not in tar.getnames()

"""The local SageMaker's Batch Transform, each documented behaviour it emulates: inputs from a manifest
or a prefix, one `<key>.out` an object under S3OutputPath, the container's two ways in (nginx without
code/inference.py, the Python service with it: Vista's batch script), a failed object failing the
job, Stop, List and Describe; every answer checked against botocore's shapes (local_cloud's Wire)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from importlib import resources
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.stack import BUCKET, EVENTS


def sagemaker() -> Any:
    return boto3.client("sagemaker")


@pytest.fixture(scope="module")
def models(cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two models of one SavedModel that reads a JPEG's height: with Vista's batch script, and without."""
    import tensorflow as tf

    class Height(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            heights = tf.map_fn(lambda b: tf.shape(tf.io.decode_jpeg(b))[0], image_bytes, fn_output_signature=tf.int32)
            return {"height": heights}

    folder = tmp_path_factory.mktemp("height")
    module = Height()
    tf.saved_model.save(module, str(folder / "1"), signatures={"serving_default": module.serve})
    script = (resources.files("vista_app") / "transform_code" / "inference.py").read_bytes()
    names = {}
    for name, code in (("with-script", script), ("without-script", None)):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(folder / "1", arcname="1")
            if code:
                info = tarfile.TarInfo("code/inference.py")
                info.size = len(code)
                tar.addfile(info, io.BytesIO(code))
        key = f"artifacts/batch-models/{name}/model.tar.gz"
        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
        sagemaker().create_model(
            ModelName=name,
            ExecutionRoleArn=cloud.outputs["SageMakerBatchRoleArn"],
            PrimaryContainer={"Image": "local", "ModelDataUrl": f"s3://{BUCKET}/{key}"},
        )
        names[name] = name
    return names


def jpeg(height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, height), (10, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def put(key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def transform(name: str, model: str, source: dict[str, str], **extra: Any) -> dict[str, Any]:
    sagemaker().create_transform_job(
        TransformJobName=name,
        ModelName=model,
        TransformInput={"DataSource": {"S3DataSource": source}, "ContentType": "application/x-image"},
        TransformOutput={
            "S3OutputPath": f"s3://{BUCKET}/artifacts/batches/{name}/output",
            "Accept": "application/json",
        },
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        **extra,
    )
    return ended(name)


def ended(name: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = sagemaker().describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} did not end")


def outputs(name: str) -> dict[str, Any]:
    s3 = boto3.client("s3")
    prefix = f"artifacts/batches/{name}/output/"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: json.loads(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()) for o in listed
    }


def test_a_manifest_job_writes_each_objects_answer_and_an_unreadable_image_is_that_images_error(
    models: dict[str, str],
) -> None:
    put("archive/2025/a.jpg", jpeg(20))
    put("archive/2025/deep/b.jpg", jpeg(30))
    put("archive/2025/broken.jpg", b"\xff\xd8\xff not really a jpeg")
    put("archive/2025/unlisted.jpg", jpeg(40))
    manifest = [{"prefix": f"s3://{BUCKET}/archive/2025/"}, "a.jpg", "deep/b.jpg", "broken.jpg"]
    put("artifacts/batches/manifest-job/manifest.json", json.dumps(manifest).encode())
    job = transform(
        "manifest-job",
        models["with-script"],
        {"S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/artifacts/batches/manifest-job/manifest.json"},
    )
    assert job["TransformJobStatus"] == "Completed" and job["TransformEndTime"] >= job["TransformStartTime"]
    assert (job["MaxPayloadInMB"], job["BatchStrategy"], job["TransformInput"]["SplitType"]) == (
        6,
        "SingleRecord",
        "None",
    )
    answers = outputs("manifest-job")
    assert set(answers) == {"a.jpg.out", "deep/b.jpg.out", "broken.jpg.out"}  # the unlisted object is not read
    assert answers["a.jpg.out"] == {"predictions": [20]} and answers["deep/b.jpg.out"] == {"predictions": [30]}
    assert "jpeg" in answers["broken.jpg.out"]["error"].lower() and answers["broken.jpg.out"]["status"] == 400


def test_without_a_script_the_container_refuses_images_and_the_job_fails_writing_nothing(
    models: dict[str, str],
) -> None:
    put("archive/plain/a.jpg", jpeg(20))
    job = transform(
        "no-script-job", models["without-script"], {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/archive/plain/"}
    )
    assert (
        job["TransformJobStatus"] == "Failed"
        and job["FailureReason"] == "ClientError: See job logs for more information"
    )
    assert outputs("no-script-job") == {}


def test_a_prefix_job_reads_every_object_under_it_and_an_object_over_max_payload_fails_it(
    models: dict[str, str],
) -> None:
    put("archive/prefix/x.jpg", jpeg(12))
    put("archive/prefix/y/z.jpg", jpeg(14))
    job = transform(
        "prefix-job", models["with-script"], {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/archive/prefix/"}
    )
    assert job["TransformJobStatus"] == "Completed"
    assert outputs("prefix-job") == {"x.jpg.out": {"predictions": [12]}, "y/z.jpg.out": {"predictions": [14]}}
    put("archive/big/huge.jpg", b"\xff\xd8\xff" + bytes(1024 * 1024 + 1))
    job = transform(
        "too-big-job",
        models["with-script"],
        {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/archive/big/"},
        MaxPayloadInMB=1,
    )
    assert job["TransformJobStatus"] == "Failed" and outputs("too-big-job") == {}


def test_names_are_unique_unknown_ones_refused_stop_ends_a_job_and_list_sorts_newest_first(
    models: dict[str, str],
) -> None:
    with pytest.raises(ClientError) as again:
        transform("manifest-job", models["with-script"], {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x/"})
    assert again.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ClientError) as unknown:
        sagemaker().describe_transform_job(TransformJobName="no-such-job")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as no_model:
        transform("no-model-job", "no-such-model", {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/x/"})
    assert "Could not find model" in no_model.value.response["Error"]["Message"]
    for i in range(30):
        put(f"archive/many/{i:02}.jpg", jpeg(10))
    sagemaker().create_transform_job(
        TransformJobName="stopped-job",
        ModelName=models["with-script"],
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/archive/many/"}},
            "ContentType": "application/x-image",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/artifacts/batches/stopped-job/output"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    )
    sagemaker().stop_transform_job(TransformJobName="stopped-job")
    assert sagemaker().describe_transform_job(TransformJobName="stopped-job")["TransformJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    assert ended("stopped-job")["TransformJobStatus"] == "Stopped" and len(outputs("stopped-job")) < 30
    with pytest.raises(ClientError) as again_stopped:  # an ended job: refused, as StopTrainingJob refuses it
        sagemaker().stop_transform_job(TransformJobName="stopped-job")
    assert again_stopped.value.response["Error"]["Code"] == "ValidationException"
    assert ended("stopped-job")["TransformJobStatus"] == "Stopped"
    newest = sagemaker().list_transform_jobs(MaxResults=1)
    assert newest["TransformJobSummaries"][0]["TransformJobName"] == "stopped-job" and "NextToken" in newest
    failed = sagemaker().list_transform_jobs(StatusEquals="Failed")["TransformJobSummaries"]
    assert {j["TransformJobName"] for j in failed} >= {"no-script-job", "too-big-job"}


def test_a_transform_state_change_carries_the_schemas_keys() -> None:
    from vista.local.sagemaker.state import event_detail
    from vista.local.sagemaker.transform import TRANSFORM_EVENT_KEYS, TransformJob

    request = {
        "TransformJobName": "t",
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p/"}}},
        "TransformOutput": {"S3OutputPath": "s3://b/o"},
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        "Tags": [{"Key": "project", "Value": "vista"}],
    }
    job = TransformJob(request, "arn")
    job.started = job.ended = job.created
    detail = event_detail(job.describe(), TRANSFORM_EVENT_KEYS, request["Tags"])
    sample = (
        "aws_sagemaker_transform_job_state_change"  # the schema's keys (aws.sagemaker@SageMakerTransformJobStateChange)
    )
    assert set(detail) == set(json.loads((EVENTS / f"{sample}.json").read_text())["detail"])
    assert detail["Tags"] == {"project": "vista"}


def test_without_a_script_json_lines_and_csv_become_tf_servings_instances_as_nginxs_njs_makes_them() -> None:
    from vista.local.sagemaker.inference import tfs_request

    assert tfs_request('{"instances": [1]}') == '{"instances": [1]}'  # a TF Serving request as it is
    assert tfs_request("[1, 2]\n[3, 4]\n") == '{"instances":[[1, 2],[3, 4]]}'  # JSON lines
    assert tfs_request('{"a": 1}') == '{"instances":[{"a": 1}]}'  # any other JSON, as one instance
    assert tfs_request("[[1, 2]]") == '{"instances":[[1, 2]]}'
    assert tfs_request("1,2\n3,4\n", csv=True) == '{"instances":[[1,2],[3,4]]}'
    assert tfs_request("a,b\n", csv=True) == '{"instances":[["a","b"]]}'  # text quoted

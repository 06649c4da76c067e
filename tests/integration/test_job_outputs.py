"""The one reader of a job's output.tar.gz (the lifecycle's metrics, the report's history and mistakes)."""

from __future__ import annotations

import io
import json
import tarfile

from tests.helpers.stack import BUCKET

KEY = "artifacts/training/job/output/output.tar.gz"


def test_the_archive_beside_a_model_is_read_once_into_its_files_and_missing_or_broken_ones_are_left_out(
    aws: None,
) -> None:
    import boto3

    from vista_app.job_outputs import archive_of_model, read_job_outputs

    s3 = boto3.client("s3")
    archive = archive_of_model(f"s3://{BUCKET}/artifacts/training/job/output/model.tar.gz")
    assert archive == f"s3://{BUCKET}/{KEY}"
    assert read_job_outputs(s3, archive) == {}
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"not a tar")
    assert read_job_outputs(s3, archive) == {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (
            ("metrics.json", json.dumps({"accuracy": 0.5}).encode()),
            ("history.json", json.dumps({"loss": [0.9]}).encode()),
            ("other.txt", b"x"),
        ):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=buffer.getvalue())
    assert read_job_outputs(s3, archive) == {"metrics.json": {"accuracy": 0.5}, "history.json": {"loss": [0.9]}}

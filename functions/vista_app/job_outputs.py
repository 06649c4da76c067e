"""What a training job wrote to SM_OUTPUT_DATA_DIR, read from the one archive SageMaker makes of it.

SageMaker uploads that folder as `<S3OutputPath>/<job>/output/output.tar.gz`, beside the
job's `model.tar.gz` ("How Amazon SageMaker Processes Training Output", the developer guide).
train.py writes metrics.json, the epochs' history and its mistakes (with their thumbnails) there;
the lifecycle, the report and the `vista report` command all read them through `read_job_outputs`.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

DATA_FILES = ("metrics.json", "misclassified.json", "history.json")


def archive_of_model(artifact: str) -> str:
    """The output.tar.gz beside a model's model.tar.gz (its Models record's `artifact`)."""
    return artifact.rsplit("/", 1)[0] + "/output.tar.gz"


def read_job_outputs(s3: Any, uri: str) -> dict[str, Any]:
    """The data files (decoded JSON) found in the archive at `uri`; what is
    missing or unreadable is left out (logged), so each reader says for itself what it lacks."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    found: dict[str, Any] = {}
    try:
        blob = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member in archive.getmembers():
                name = member.name.removeprefix("./")
                if name in DATA_FILES and member.isfile():
                    found[name] = json.loads(archive.extractfile(member).read())  # type: ignore[union-attr]
    except (ClientError, tarfile.TarError, ValueError) as error:
        logger.warning("cannot read %s (%s)", uri, error)
    return found

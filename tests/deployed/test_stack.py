"""The end-to-end scenario against a real, deployed stack: dataset → training → promotion → inbox
and API predictions → feedback, through the same `vista` command code the local tests use. Nothing
here is emulated: SageMaker, Lambda, API Gateway and IAM are AWS's own.

Skipped unless VISTA_STACK names a stack (`sam build && sam deploy --guided` made it); it needs AWS
credentials and nothing else (VISTA_REGION / VISTA_PROFILE, else the usual AWS_* settings):

    VISTA_STACK=vista VISTA_REGION=eu-west-1 .venv/bin/pytest tests/deployed -v

What it costs (us-east-1 prices, see docs/deploy.md): one on-demand ml.m5.large training job of a few
minutes (about $0.02), a serverless endpoint's few invocations (well under a cent), and S3/DynamoDB
pennies. It leaves the model it trained as the champion, its dataset under datasets/deployed-test-*/
and its predictions: `vista --stack NAME ...` shows them; delete the stack (sam delete) to remove all.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from vista.client import wait_for

STACK = os.environ.get("VISTA_STACK")
pytestmark = pytest.mark.skipif(not STACK, reason="no deployed stack: set VISTA_STACK (see tests/deployed)")
CLASSES = {"buildings", "forest", "glacier", "mountain", "sea", "street"}


@pytest.fixture(scope="module")
def target() -> Any:
    from vista.target import Target

    return Target.stack(STACK, os.environ.get("VISTA_REGION"), os.environ.get("VISTA_PROFILE"))


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic import generate

    out = tmp_path_factory.mktemp("scenes")
    generate(out, train_per_class=12, test_per_class=3, size=64, seed=5)
    return out


@pytest.fixture(scope="module")
def trained(target: Any, scenes: Path) -> str:
    """A small CPU job on the synthetic scenes, promoted by hand (the gate may keep a better
    champion) and serving."""
    from vista import client

    dataset = f"deployed-test-{uuid.uuid4().hex[:8]}"
    client.upload_dataset(target, scenes, dataset)
    request = client.cpu_request(
        f"datasets/{dataset}", "base_cnn", epochs=3, image_size=64, batch_size=16, instance_type="ml.m5.large"
    ) | {"max_runtime_s": 1800}
    return client.train_champion(target, request, dataset, promote=True, timeout_s=3600)["name"]


def test_the_trained_model_is_the_champion_with_its_metrics(target: Any, trained: str) -> None:
    job = target.api("GET", f"/training-jobs/{trained}")
    assert job["status"] == "Completed" and job["model"] == trained and job["billable_seconds"] >= 1
    [model] = [m for m in target.api("GET", "/models")["items"] if m["name"] == trained]
    assert set(model["metrics"]["per_class"]) == CLASSES and 0 <= model["accuracy"] <= 1
    # ...a version in the stack's Model Registry group, approved, and its crowning on the history
    package = target.client("sagemaker").describe_model_package(ModelPackageName=model["model_package"])
    assert package["ModelPackageGroupName"] == target.output("ModelPackageGroupName")
    assert package["ModelApprovalStatus"] == "Approved"
    history = target.api("GET", "/models/history")
    assert any(c["to"] == trained and c["why"] in ("gate", "manual") for c in history["items"])


def test_an_inbox_image_is_classified_into_the_predictions_table(target: Any, trained: str, scenes: Path) -> None:
    image = next((scenes / "seg_test" / "seg_test" / "forest").glob("*.jpg"))
    key = f"inbox/deployed-test/{uuid.uuid4().hex}.jpg"
    target.client("s3").upload_file(str(image), target.output("DataBucketName"), key)
    table = target.session.resource("dynamodb").Table(target.output("PredictionsTableName"))

    def recorded() -> dict[str, Any] | None:
        items = table.scan(
            FilterExpression="#k = :k", ExpressionAttributeNames={"#k": "key"}, ExpressionAttributeValues={":k": key}
        )["Items"]
        return items[0] if items else None

    record = wait_for(f"a prediction for {key}", recorded, 600, 10)
    assert record["status"] == "OK" and record["model"] == trained and record["label"] in CLASSES


def test_the_api_predicts_and_takes_feedback(target: Any, trained: str, scenes: Path) -> None:
    image = next((scenes / "seg_test" / "seg_test" / "sea").glob("*.jpg"))
    answer = target.api("POST", "/predictions", body=image.read_bytes(), content_type="image/jpeg")
    assert answer["status"] == "OK" and answer["model"] == trained and answer["label"] in CLASSES
    assert target.api("GET", f"/predictions/{answer['id']}")["label"] == answer["label"]
    feedback = target.api(
        "POST", f"/predictions/{answer['id']}/feedback", body=b'{"label": "sea"}', content_type="application/json"
    )
    assert feedback["prediction"]["feedback_label"] == "sea"

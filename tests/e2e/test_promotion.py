"""Promotion as SageMaker really behaves, in local mode: endpoints take seconds to create or update,
refuse calls while they do, fail or roll back when a model cannot load, and say so on EventBridge;
the champion in DynamoDB is always the model the endpoint serves.

Every model here is a real SavedModel exported by training_job's own code (which names itself in
each answer), or an artifact without one (what a tuning trial exported when it wrote its model
under `--model_dir`), registered as a candidate the way on_training_event registers one.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.stack import BUCKET
from tests.helpers.support import answering_model, assert_at_rest, settled
from vista.client import wait_for

pytestmark = pytest.mark.slow
ENDPOINT = "vista-classifier"


def models() -> Any:
    from vista_app.config import settings
    from vista_app.records import Models

    return Models(settings().models_table)


def savedmodel_archive(name: str | None) -> bytes:
    """model.tar.gz as a job leaves it: `1/saved_model.pb` from train.py's exporter (named `name`),
    or, for None, only metrics.json (the model went elsewhere)."""
    import keras

    from architectures import build_model
    from export import export_savedmodel

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "metrics.json").write_text("{}")
        if name:
            keras.utils.set_random_seed(0)
            model = build_model("base_cnn", 2, image_size=32, augment=False).model
            export_savedmodel(model, ["forest", "sea"], 32, folder, model_name=name)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(Path(folder).iterdir()):
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def archives(cloud: Any) -> dict[str, str]:
    """One good SavedModel per name (each answers with its own name) and one artifact without any."""
    s3, uris = boto3.client("s3"), {}
    for name in ("vista-a", "vista-b", "vista-c", "vista-d", "vista-e", "vista-f", "vista-g", None):
        key = f"artifacts/training/{name or 'vista-empty'}/output/model.tar.gz"
        s3.put_object(Bucket=BUCKET, Key=key, Body=savedmodel_archive(name))
        uris[name or "empty"] = f"s3://{BUCKET}/{key}"
    return uris


def variant(model: str) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2},
    }


def candidate(name: str, artifact: str, accuracy: float = 0.9, *, registered: bool = False) -> str:
    """A candidate on record, as on_training_event records one (`registered`: in the Model Registry too)."""
    from vista_app import registry
    from vista_app.config import settings

    model = {"name": name, "state": "candidate", "artifact": artifact, "accuracy": accuracy}
    models().create(model)
    if registered:
        s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")
        registry.register(model, settings=settings(), sagemaker=sagemaker, s3=s3, models=models())
    return name


def promote(target: Any, name: str) -> dict[str, Any]:
    return target.api("POST", f"/models/{name}/promote")


def endpoint() -> dict[str, Any]:
    return boto3.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)


@pytest.fixture(autouse=True)
def at_rest(cloud: Any, archives: dict[str, str]) -> Iterator[None]:
    yield
    assert_at_rest()


def test_a_failed_create_leaves_the_candidate_failed_and_restores_the_champion(
    cloud: Any, target: Any, archives: dict[str, str]
) -> None:
    # GIVEN a champion on record whose endpoint is gone (deleted, or never made by an older Vista)
    from vista_app.config import settings
    from vista_app.promotion import endpoint_config_name

    sagemaker, config = boto3.client("sagemaker"), settings()
    sagemaker.create_model(
        ModelName="vista-a",
        ExecutionRoleArn=config.serving_role_arn,
        PrimaryContainer={"Image": config.inference_image, "ModelDataUrl": archives["vista-a"]},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint_config_name("vista-a", config), ProductionVariants=[variant("vista-a")]
    )
    models().create(
        {
            "name": "vista-a",
            "state": "champion",
            "artifact": archives["vista-a"],
            "accuracy": 0.8,
            "endpoint_config": endpoint_config_name("vista-a", config),
            "promoted_at": "2026-11-28T06:00:00+00:00",
        }
    )
    # WHEN a model whose artifact holds no SavedModel is promoted
    accepted = promote(target, candidate("vista-empty", archives["empty"]))
    # THEN it is accepted as promoting; SageMaker's create fails; the candidate is failed with the
    # reason and the endpoint is made again on the champion's config
    assert accepted["state"] == "promoting"
    # (The Failed endpoint itself lasts only until the next state change deletes it: the candidate's
    # record is what stays.)
    wait_for("the candidate to fail", lambda: models().get("vista-empty")["state"] == "failed" or None)
    every = {m["name"]: m for m in settled()}
    assert every["vista-empty"]["state"] == "failed"
    assert "did not pass the ping health check" in every["vista-empty"]["reason"]
    assert "no versions of servable" in every["vista-empty"]["reason"]
    assert every["vista-a"]["state"] == "champion"
    assert endpoint()["EndpointConfigName"] == endpoint_config_name("vista-a", config)  # service restored


def test_a_promotion_while_the_endpoint_updates_is_applied_when_it_is_in_service(
    target: Any, archives: dict[str, str]
) -> None:
    promote(target, candidate("vista-b", archives["vista-b"]))
    # WHEN another promotion arrives while the endpoint is Updating to the first
    assert endpoint()["EndpointStatus"] == "Updating"
    waiting = promote(target, candidate("vista-c", archives["vista-c"]))
    # THEN it waits, and is applied once the endpoint is InService: the first served in between
    assert waiting["state"] == "promoting"
    assert models().get("vista-a")["state"] == "champion"  # nothing recorded before it serves
    every = {m["name"]: m for m in settled()}
    assert every["vista-c"]["state"] == "champion"
    assert every["vista-b"]["state"] == "retired" and every["vista-b"]["reason"] == "replaced by vista-c"
    assert every["vista-a"]["state"] == "retired"


def test_a_failed_update_is_rolled_back_and_the_champion_untouched(target: Any, archives: dict[str, str]) -> None:
    served = answering_model()
    promote(target, candidate("vista-empty-2", archives["empty"]))
    wait_for("the update to start", lambda: endpoint()["EndpointStatus"] == "Updating" or None)
    # The old model answers throughout the update.
    assert answering_model() == served
    every = {m["name"]: m for m in settled()}
    assert every["vista-empty-2"]["state"] == "failed"
    assert every["vista-empty-2"]["reason"].startswith("SageMaker rolled the endpoint back:")
    assert every[served]["state"] == "champion"
    assert endpoint()["FailureReason"]


def test_two_quick_promotions_end_with_the_newest_serving(target: Any, archives: dict[str, str]) -> None:
    promote(target, candidate("vista-d", archives["vista-d"]))
    promote(target, candidate("vista-e", archives["vista-e"]))
    every = {m["name"]: m for m in settled()}
    assert every["vista-e"]["state"] == "champion"
    assert every["vista-d"]["state"] in ("retired", "rejected")


def test_the_local_sagemaker_refuses_what_sagemaker_refuses(archives: dict[str, str]) -> None:
    # Another endpoint (this stack's rule does not match it), on an artifact that cannot load.
    from vista_app.config import settings

    sagemaker, config = boto3.client("sagemaker"), settings()
    sagemaker.create_model(
        ModelName="other-empty",
        ExecutionRoleArn=config.serving_role_arn,
        PrimaryContainer={"Image": config.inference_image, "ModelDataUrl": archives["empty"]},
    )
    sagemaker.create_endpoint_config(EndpointConfigName="other-empty", ProductionVariants=[variant("other-empty")])
    sagemaker.create_endpoint(EndpointName="other", EndpointConfigName="other-empty")
    with pytest.raises(ClientError, match=r'Cannot update in-progress endpoint ".*endpoint/other"'):
        sagemaker.update_endpoint(EndpointName="other", EndpointConfigName="other-empty")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sagemaker.delete_endpoint(EndpointName="other")
    failed = wait_for(
        "the endpoint to fail",
        lambda: (e := sagemaker.describe_endpoint(EndpointName="other"))["EndpointStatus"] == "Failed" and e,
    )
    assert "no versions of servable" in failed["FailureReason"]
    with pytest.raises(ClientError, match=r'Cannot update failed endpoint ".*endpoint/other"') as refused:
        sagemaker.update_endpoint(EndpointName="other", EndpointConfigName="other-empty")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.delete_endpoint(EndpointName="other")  # the one call a failed endpoint takes
    assert sagemaker.describe_endpoint(EndpointName="other")["EndpointStatus"] == "Deleting"
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName="other", WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def test_a_rollback_serves_the_previous_champion_again_and_the_registry_agrees_with_the_history(
    target: Any, archives: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from vista.cli import main

    # GIVEN f promoted, then g over it, then a model that cannot load (its update is rolled back)
    for name, artifact in (("vista-f", "vista-f"), ("vista-g", "vista-g"), ("vista-empty-3", "empty")):
        promote(target, candidate(name, archives[artifact], registered=True))
        settled()
    assert answering_model() == "vista-g"
    # WHEN the champion is rolled back (`vista rollback`)
    capsys.readouterr()
    assert main(["rollback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "promoting"
    # THEN f serves again once the endpoint has switched, through the same promotion as any other
    every = {m["name"]: m for m in settled()}
    assert answering_model() == "vista-f" and every["vista-f"]["state"] == "champion"
    assert every["vista-g"]["state"] == "retired" and every["vista-empty-3"]["state"] == "failed"
    # AND the history shows each change, newest first: who, from, to and why
    assert main(["models", "history", "--limit", "4", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    rows = [(c.get("from"), c.get("to"), c["model"], c["why"]) for c in history["items"]]
    assert rows[:3] == [
        ("vista-g", "vista-f", "vista-f", "rollback"),
        ("vista-g", "vista-g", "vista-empty-3", "failed deploy"),
        ("vista-f", "vista-g", "vista-g", "manual"),
    ]
    assert rows[3][1:] == ("vista-f", "vista-f", "manual")
    assert history["items"][0]["detail"] == "rolled back from vista-g"
    assert "SageMaker rolled the endpoint back" in history["items"][1]["detail"]
    # AND the registry's approvals match it: whatever served is Approved, what failed to deploy Rejected
    sagemaker = boto3.client("sagemaker")
    approvals = {
        name: sagemaker.describe_model_package(ModelPackageName=models().get(name)["model_package"])
        for name in ("vista-f", "vista-g", "vista-empty-3")
    }
    assert {n: p["ModelApprovalStatus"] for n, p in approvals.items()} == {
        "vista-f": "Approved",
        "vista-g": "Approved",
        "vista-empty-3": "Rejected",
    }
    assert history["approvals"] == {"vista-f": "Approved", "vista-g": "Approved", "vista-empty-3": "Rejected"}
    assert approvals["vista-empty-3"]["ApprovalDescription"].startswith("failed: SageMaker rolled the endpoint back")
    listed = sagemaker.list_model_packages(ModelPackageGroupName="vista-models", ModelApprovalStatus="Approved")
    assert [p["ModelPackageVersion"] for p in listed["ModelPackageSummaryList"]] == [1, 2]

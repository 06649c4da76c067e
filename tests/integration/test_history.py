"""The champion's history and the Model Registry, through the handlers (moto's SageMaker and DynamoDB):
what the gate decides is recorded and followed in the registry; a rollback needs a model that served before.
(A rollback that serves the previous model again, on the local SageMaker: tests/e2e/test_promotion.py.)"""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.helpers.stack import BUCKET, load_event
from tests.helpers.support import call, request, start_job, state_change, write_metrics


def trained(context: Any, accuracy: float, key: str, test_set: str = "intel-test") -> str:
    """A job started, completed and gated as on_training_event does it; the model's name."""
    from vista_app.handlers import on_training_event

    name = start_job(context, key=key)
    write_metrics(name, accuracy, test_set=test_set)
    on_training_event.lambda_handler(state_change(name), context)
    return name


def packages() -> dict[str, dict[str, Any]]:
    """The registry's packages in the stack's group, by the Vista model each is (its record names it)."""
    from vista_app.config import settings
    from vista_app.records import Models

    sagemaker = boto3.client("sagemaker")
    listed = sagemaker.list_model_packages(ModelPackageGroupName="vista-models")["ModelPackageSummaryList"]
    by_arn = {m.get("model_package"): m["name"] for m in Models(settings().models_table).all()}
    return {
        by_arn[s["ModelPackageArn"]]: sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"])
        for s in listed
    }


def test_the_gates_decisions_are_the_history_and_the_registrys_approvals(aws: None, context: Any) -> None:
    # GIVEN a first model (champion), a worse one (rejected) and one tested on other images (kept)
    first = trained(context, 0.93, "jobs/a.json")
    worse = trained(context, 0.88, "jobs/b.json")
    other = trained(context, 0.99, "jobs/c.json", test_set="other-images")
    # THEN the history has the one change of champion, the gate's
    status, history = call(load_event("api_get_model_history"), context)
    assert status == 200
    [change] = history["items"]
    assert (change.get("from"), change["to"], change["why"], change["by"]) == (None, first, "gate", "gate")
    # AND each model is a version of the stack's group, approved as Vista decided
    registered = packages()
    assert {m: p["ModelApprovalStatus"] for m, p in registered.items()} == {
        first: "Approved",
        worse: "Rejected",
        other: "PendingManualApproval",
    }
    assert history["approvals"] == {first: "Approved"}
    assert "does not beat" in registered[worse]["ApprovalDescription"]
    # ...with what serves it and what it scored, as the registry holds a model
    package = registered[first]
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"].endswith(f"/{first}/output/model.tar.gz")
    assert package["MetadataProperties"]["GeneratedBy"].endswith(f":training-job/{first}")
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    key = statistics["S3Uri"].removeprefix(f"s3://{BUCKET}/")
    quality = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert quality["multiclass_classification_metrics"]["accuracy"]["value"] == 0.93


def test_a_rollback_needs_a_model_that_served_before_the_champion(aws: None, context: Any) -> None:
    # WHEN there is no champion, THEN there is nothing to roll back (409, not a server error)
    status, refused = call(load_event("api_post_models_rollback"), context)
    assert status == 409 and refused["message"] == "no model serves yet: there is nothing to roll back"
    # WHEN the champion is the first there was, THEN neither
    first = trained(context, 0.93, "jobs/a.json")
    status, refused = call(load_event("api_post_models_rollback"), context)
    assert status == 409 and refused["message"].startswith(f"{first} is the first champion on record")


def test_the_history_pages_newest_first(aws: None, context: Any) -> None:
    from vista_app.config import settings
    from vista_app.records import History

    history = History(settings().history_table)
    for n in range(3):
        put = history.put(model=f"m-{n}", before=f"m-{n - 1}" if n else None, after=f"m-{n}", why="manual", by="alice")
        history.table.meta.client.transact_write_items(TransactItems=[put])
    status, page = call(request("api_get_model_history", query={"limit": "2"}), context)
    assert status == 200 and [c["to"] for c in page["items"]] == ["m-2", "m-1"] and page["next_token"]
    query = {"limit": "2", "next_token": page["next_token"]}
    status, rest = call(request("api_get_model_history", query=query), context)
    assert [c["to"] for c in rest["items"]] == ["m-0"] and rest["next_token"] is None

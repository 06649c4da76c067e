"""Least privilege by running: each function's calls are allowed or refused by its own role as
CloudFormation creates it (template.yaml through the SAM translator, iam.py). Every other local
cloud module already fails on any refusal (conftest.local_cloud): the template's roles are enough
for what they do. Here, roles that lack one statement are refused what that statement allowed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.stack import local_cloud
from vista import template as cfn

ACCOUNT, REGION = "123456789012", "us-east-1"
TRAINING_JOB = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/vista-abc"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/vista-SageMakerTrainingRole"


def without_statement(function: str, sid: str) -> dict[str, Any]:
    """template.yaml with one statement taken out of a function's policies."""
    template = copy.deepcopy(cfn.load())
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        if isinstance(policy, dict) and "Statement" in policy:
            policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
    return template


def roles(template: dict[str, Any]) -> dict[str, Any]:
    from vista.local.iam import function_roles

    resolver = cfn.placeholder_resolver(template, stack="vista", region=REGION, account=ACCOUNT)
    resolver.attributes[("ConsoleUserPool", "Arn")] = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/pool"
    return function_roles(template, resolver, stack="vista", account=ACCOUNT)


@pytest.fixture(scope="module")
def deployed_roles() -> dict[str, Any]:
    return roles(cfn.load())


def test_a_role_allows_what_its_policies_and_boundary_both_allow(deployed_roles: dict[str, Any]) -> None:
    from vista.local.iam import Request

    classify = deployed_roles["ClassifyFunction"]
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/vista-classifier"
    assert classify.refusal(Request("sagemaker:InvokeEndpoint", endpoint)) is None
    assert classify.refusal(Request("sagemaker:InvokeEndpoint", endpoint.replace("vista-", "other-"))) == (
        "because no identity-based policy allows the sagemaker:InvokeEndpoint action"
    )
    jobs = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/vista-JobsTable"
    assert "no identity-based policy" in classify.refusal(Request("dynamodb:PutItem", jobs))
    # SAM attaches AWSLambdaBasicExecutionRole (logs:CreateLogGroup on *): the boundary takes it away
    assert classify.refusal(Request("logs:CreateLogGroup", "*")) == (
        "because no permissions boundary allows the logs:CreateLogGroup action"
    )
    assert (
        classify.principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/vista-ClassifyFunctionRole/vista-ClassifyFunction"
    )


def test_calls_are_authorised_as_the_service_authorization_reference_says() -> None:
    from vista.local.iam import Request, requests_for

    def of(prefix: str, operation: str, **params: Any) -> list[Request]:
        return requests_for(prefix, operation, params, region=REGION, account=ACCOUNT)

    assert of("s3", "HeadObject", Bucket="b", Key="k") == [Request("s3:GetObject", "arn:aws:s3:::b/k")]
    assert of("s3", "GetObject", Bucket="b", Key="k", VersionId="1") == [
        Request("s3:GetObjectVersion", "arn:aws:s3:::b/k")
    ]
    assert of("s3", "ListObjectsV2", Bucket="b", Prefix="p/") == [
        Request("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/"})
    ]
    assert of("s3", "CopyObject", Bucket="b", Key="new", CopySource={"Bucket": "b", "Key": "old"}) == [
        Request("s3:GetObject", "arn:aws:s3:::b/old"),
        Request("s3:PutObject", "arn:aws:s3:::b/new"),
    ]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    assert of("dynamodb", "Query", TableName="t", IndexName="by-state") == [
        Request("dynamodb:Query", f"{table}/index/by-state")
    ]
    transaction = [{"Put": {"TableName": "t"}}, {"Update": {"TableName": "u"}}]
    assert [r.action for r in of("dynamodb", "TransactWriteItems", TransactItems=transaction)] == [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    create = of("sagemaker", "CreateEndpoint", EndpointName="E", EndpointConfigName="C")
    assert [r.resource.rsplit(":", 1)[1] for r in create] == ["endpoint/e", "endpoint-config/c"]
    job = of("sagemaker", "CreateTrainingJob", TrainingJobName="vista-abc", RoleArn=SAGEMAKER_ROLE)
    assert job == [
        Request("sagemaker:CreateTrainingJob", TRAINING_JOB),
        Request("iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ]
    group = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/vista-models"
    assert of("sagemaker", "CreateModelPackage", ModelPackageGroupName="vista-models") == [
        Request("sagemaker:CreateModelPackage", group)
    ]
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/vista-models/3"
    assert of("sagemaker", "UpdateModelPackage", ModelPackageArn=package, ModelApprovalStatus="Approved") == [
        Request("sagemaker:UpdateModelPackage", package)
    ]
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    assert of("sqs", "SendMessageBatch", QueueUrl=queue, Entries=[]) == [
        Request("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q")
    ]


def test_the_model_registry_is_written_by_who_decides_and_only_in_the_stacks_group(
    deployed_roles: dict[str, Any],
) -> None:
    from vista.local.iam import Request

    group = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/vista-models"
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/vista-models/1"
    register, approve = Request("sagemaker:CreateModelPackage", group), Request("sagemaker:UpdateModelPackage", package)
    # on_training_event registers each model and follows the gate's and the endpoint's decisions
    events = deployed_roles["OnTrainingEventFunction"]
    assert events.refusal(register) is None and events.refusal(approve) is None
    assert events.refusal(Request("sagemaker:CreateModelPackage", group.replace("vista-models", "other-models")))
    # the API follows a person's promotion or rollback, and registers nothing
    api = deployed_roles["ApiFunction"]
    assert api.refusal(approve) is None and api.refusal(register)
    # nothing else touches it, nor deletes a version, whatever its policies
    assert deployed_roles["ClassifyFunction"].refusal(approve)
    assert events.refusal(Request("sagemaker:DeleteModelPackage", package))


def test_pass_role_is_allowed_only_to_sagemaker(deployed_roles: dict[str, Any]) -> None:
    from vista.local.iam import Request

    api = deployed_roles["ApiFunction"]
    to_sagemaker = Request("iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert api.refusal(to_sagemaker) is None
    assert api.refusal(Request("iam:PassRole", SAGEMAKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}))
    assert api.refusal(Request("iam:PassRole", SAGEMAKER_ROLE))  # no service named: the condition fails


def test_a_boundary_without_sqs_polling_refuses_the_inbox_event_source(tmp_path: Path) -> None:
    from vista.local.iam import AccessDenied

    template = copy.deepcopy(cfn.load())
    boundary = template["Resources"]["FunctionPermissionsBoundary"]["Properties"]["PolicyDocument"]
    boundary["Statement"] = [s for s in boundary["Statement"] if s["Sid"] != "Queues"]
    refused = r"cannot poll .*InboxQueue.*sqs:ReceiveMessage.*no permissions boundary"
    with pytest.raises(AccessDenied, match=refused), local_cloud(tmp_path, template=template):
        pass


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local cloud whose API role lacks its StartJobs statement."""
    template = without_statement("ApiFunction", "StartJobs")
    with local_cloud(tmp_path_factory.mktemp("permissions"), template=template, refusals_expected=True) as local:
        yield local


def test_a_statement_removed_from_the_template_fails_the_flow_with_access_denied_naming_the_action(
    cloud: Any, target: Any, tmp_path: Path
) -> None:
    from synthetic import generate
    from vista.client import upload_dataset
    from vista.errors import CommandError

    # GIVEN the API's role without StartJobs, and a dataset to train on
    generate(tmp_path, train_per_class=2, test_per_class=1, size=16, seed=3)
    upload_dataset(target, tmp_path, "tiny")
    # WHEN a training job is requested through the API
    with pytest.raises(CommandError) as refused:
        target.api(
            "POST",
            "/training-jobs",
            body=b'{"dataset": "datasets/tiny", "architecture": "base_cnn", "instance_type": "ml.m5.xlarge"}',
            content_type="application/json",
        )
    # THEN it is refused with SageMaker's AccessDenied words, naming the action and the role, and the
    # job is on record as failed for that reason
    message = str(refused.value)
    assert "400 SageMaker refused the job" in message
    assert (
        "vista-ApiFunctionRole/vista-ApiFunction is not authorized to perform: sagemaker:CreateTrainingJob" in message
    )
    [job] = target.api("GET", "/training-jobs")["items"]
    assert job["status"] == "Failed" and "sagemaker:CreateTrainingJob" in job["failure_reason"]
    assert [(f, r.action) for f, r in cloud.iam.refused] == [("ApiFunction", "sagemaker:CreateTrainingJob")]


def test_the_training_role_is_refused_outside_its_prefixes_and_the_serving_role_any_write(cloud: Any) -> None:
    from botocore.exceptions import ClientError

    from tests.helpers.stack import BUCKET
    from vista_app.config import settings

    def refused(client: Any, call: str, **params: Any) -> str:
        with pytest.raises(ClientError) as denied:
            getattr(client, call)(Bucket=BUCKET, **params)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        return denied.value.response["Error"]["Message"]

    training = cloud.iam.client_as(settings().training_role_arn, "s3")
    serving = cloud.iam.client_as(settings().serving_role_arn, "s3")
    # The training role writes its outputs, never the code every job runs, and reads no user's photo
    training.put_object(Bucket=BUCKET, Key="artifacts/training/job/output/model.tar.gz", Body=b"m")
    said = refused(training, "put_object", Key="artifacts/code/sourcedir.tar.gz", Body=b"poisoned")
    assert "vista-SageMakerTrainingRole/SageMaker is not authorized to perform: s3:PutObject" in said
    refused(training, "get_object", Key="inbox/someone's photo.jpg")
    refused(training, "list_objects_v2", Prefix="inbox/")
    # The serving role reads model archives and writes nothing, anywhere
    assert serving.get_object(Bucket=BUCKET, Key="artifacts/training/job/output/model.tar.gz")["Body"].read() == b"m"
    for key in ("artifacts/training/job/output/model.tar.gz", "artifacts/code/sourcedir.tar.gz", "inbox/x.jpg"):
        refused(serving, "put_object", Key=key, Body=b"x")
    refused(serving, "get_object", Key="datasets/intel/train/forest/1.jpg")


def test_a_training_job_told_to_write_over_the_training_code_fails_with_access_denied(cloud: Any) -> None:
    from tests.e2e.test_oracles import ended, start
    from tests.helpers.stack import BUCKET

    # GIVEN a job whose output path is the training code's own prefix (what a compromised request would try)
    job = start(
        "permission-poison",
        {"train.py": "print('done')\n"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/artifacts/code/"},
    )
    # THEN SageMaker, acting as the training role, cannot write there: the job fails saying so
    described = ended(job)
    assert described["TrainingJobStatus"] == "Failed"
    assert "not authorized to perform: s3:PutObject" in described["FailureReason"]
    assert "artifacts/code/" in described["FailureReason"]

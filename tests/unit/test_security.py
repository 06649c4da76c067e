"""Security by inspection of what CloudFormation will create: template.yaml translated by the
same SAM translator `sam deploy` uses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vista.project import ROOT

# The only statements that may name Resource "*": AWS offers nothing narrower for these actions.
WILDCARD_RESOURCES = {
    "EcrLogin": {"ecr:GetAuthorizationToken"},  # an account-wide token
    "Metrics": {"cloudwatch:PutMetricData"},  # scoped by a namespace condition instead
    "Tracing": {  # X-Ray has no resource-level permissions
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    },
}
# What SAM attaches to every role it generates (and to SQS pollers); the boundary narrows them.
AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
}


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    """template.yaml as CloudFormation gets it, from the SAM translator in .venv-sam
    (`make test` creates that environment before it runs pytest)."""
    python = ROOT / ".venv-sam" / "bin" / "python"
    if not python.exists():
        pytest.fail("no .venv-sam: run `make test` (it creates the environment with the SAM translator)")
    translated = subprocess.run(
        [str(python), str(ROOT / "tools" / "translate_template.py")], capture_output=True, text=True, check=True
    )
    return json.loads(translated.stdout)["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec.get("Properties", {}) for name, spec in resources.items() if spec["Type"] == kind}


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_api_method_requires_sigv4_or_a_console_session(deployed: dict[str, Any]) -> None:
    [api] = of_type(deployed, "AWS::ApiGateway::RestApi").values()
    methods = [(path, verb, op) for path, item in api["Body"]["paths"].items() for verb, op in item.items()]
    assert len(methods) >= 10
    definitions = api["Body"]["securityDefinitions"]
    assert definitions["AWS_IAM"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for path, verb, op in methods:
        [[scheme]] = [list(s) for s in op.get("security", [{}])] or [[None]]
        if not path.startswith("/console"):
            assert scheme == "AWS_IAM", f"{verb.upper()} {path} is not IAM-authorised"
            continue
        authorizer = definitions[scheme]["x-amazon-apigateway-authorizer"]
        assert definitions[scheme]["x-amazon-apigateway-authtype"] == "custom", f"{verb} {path}"
        assert authorizer["type"] == "request"
        assert '["ConsoleAuthorizerFunction", "Arn"]' in json.dumps(authorizer["authorizerUri"])
    session = definitions["ConsoleSession"]["x-amazon-apigateway-authorizer"]
    assert session["identitySource"] == "method.request.header.Cookie"
    # What the console's authorizers refuse sends a browser to sign in, never to the content.
    unauthorized = api["Body"]["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    assert str(unauthorized["statusCode"]) == "302"
    assert unauthorized["responseParameters"]["gatewayresponse.header.Location"] == "'/v1/console/signin'"


def test_the_console_user_pool_invites_only_and_its_client_has_no_secret_and_no_implicit_flow(
    deployed: dict[str, Any],
) -> None:
    [pool] = of_type(deployed, "AWS::Cognito::UserPool").values()
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    [client] = of_type(deployed, "AWS::Cognito::UserPoolClient").values()
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["GenerateSecret"] is False
    assert all("/v1/console/signin" in json.dumps(url) for url in client["CallbackURLs"])


def test_the_bucket_is_private_encrypted_versioned_and_ssl_only(deployed: dict[str, Any]) -> None:
    [bucket] = of_type(deployed, "AWS::S3::Bucket").values()
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [policy] = of_type(deployed, "AWS::S3::BucketPolicy").values()
    [deny] = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert deny["Action"] == "s3:*" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_tables_are_encrypted_with_point_in_time_recovery(deployed: dict[str, Any]) -> None:
    tables = of_type(deployed, "AWS::DynamoDB::Table")
    assert set(tables) == {"JobsTable", "ModelsTable", "PredictionsTable", "HistoryTable"}
    for name, table in tables.items():
        assert table["SSESpecification"] == {"SSEEnabled": True}, name
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name


def test_queues_are_encrypted_and_every_work_queue_has_a_dead_letter_queue(deployed: dict[str, Any]) -> None:
    queues = of_type(deployed, "AWS::SQS::Queue")
    text = json.dumps(deployed)
    dead_letter = {
        name
        for name in queues
        if json.dumps({"Fn::GetAtt": [name, "Arn"]}) in text and name.endswith("DeadLetterQueue")
    }
    assert dead_letter == {"InboxDeadLetterQueue", "EventsDeadLetterQueue"}
    for name, queue in queues.items():
        assert queue["SqsManagedSseEnabled"] is True, name
        if name not in dead_letter:
            assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["InboxDeadLetterQueue", "Arn"]}


def test_every_function_logs_to_a_group_with_retention(deployed: dict[str, Any]) -> None:
    groups = of_type(deployed, "AWS::Logs::LogGroup")
    assert groups and all(group["RetentionInDays"] == {"Ref": "LogRetentionInDays"} for group in groups.values())
    for name, function in of_type(deployed, "AWS::Lambda::Function").items():
        assert function["LoggingConfig"]["LogGroup"]["Ref"] in groups, name


def test_asynchronous_invocations_end_in_a_dead_letter_queue_when_they_fail(deployed: dict[str, Any]) -> None:
    # S3 notifications and CloudFormation custom resources invoke asynchronously; EventBridge
    # rules retry, then send what they could not deliver to their own dead-letter queue.
    configs = {c["FunctionName"]["Ref"]: c for c in of_type(deployed, "AWS::Lambda::EventInvokeConfig").values()}
    asynchronous = {
        "StartTrainingFunction",
        "OnTrainingEventFunction",
        "PublishTrainingCodeFunction",
        "BatchesFunction",
    }
    assert set(configs) == asynchronous
    for config in configs.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]
        }
    for rule in of_type(deployed, "AWS::Events::Rule").values():
        for target in rule["Targets"]:
            assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}


def test_iam_is_least_privilege(deployed: dict[str, Any]) -> None:
    roles = of_type(deployed, "AWS::IAM::Role")
    boundaries = of_type(deployed, "AWS::IAM::ManagedPolicy")
    documents = [
        (f"{name}/{p['PolicyName']}", p["PolicyDocument"]) for name, r in roles.items() for p in r.get("Policies", [])
    ] + [(name, b["PolicyDocument"]) for name, b in boundaries.items()]
    for where, document in documents:
        for statement in statements(document):
            actions = set(as_list(statement["Action"]))
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (where, actions)
            if "*" in as_list(statement.get("Resource")):
                assert actions <= WILDCARD_RESOURCES.get(statement.get("Sid"), set()), (where, statement)
            if "iam:PassRole" in actions:
                roles_passed = {json.dumps(r) for r in as_list(statement["Resource"])}
                assert roles_passed <= {
                    json.dumps({"Fn::GetAtt": [role, "Arn"]})
                    for role in ("SageMakerTrainingRole", "SageMakerServingRole", "SageMakerBatchRole")
                }, where
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    functions = [name for name in roles if name.endswith("FunctionRole")]
    assert len(functions) == 7
    for name in functions:
        # AWS-managed policies only from the known set, and every function role capped by the boundary
        assert set(roles[name].get("ManagedPolicyArns", [])) <= AWS_MANAGED, name
        assert roles[name]["PermissionsBoundary"] == {"Ref": "FunctionPermissionsBoundary"}, name


def test_the_training_code_publisher_may_write_only_the_training_code(deployed: dict[str, Any]) -> None:
    role = deployed["PublishTrainingCodeFunctionRole"]["Properties"]
    written = [
        (action, resource)
        for policy in role.get("Policies", [])
        for statement in statements(policy["PolicyDocument"])
        for action in as_list(statement["Action"])
        if action.startswith("s3:") and not action.startswith(("s3:Get", "s3:List"))
        for resource in as_list(statement["Resource"])
    ]
    assert written, "the publisher must be able to write its archive"
    for action, resource in written:
        assert json.dumps(resource).endswith('/artifacts/code/*"}'), (action, resource)


def test_a_deployed_console_asks_for_a_second_factor_by_default() -> None:
    from vista import template as cfn

    template = cfn.load()
    assert template["Parameters"]["ConsoleMfa"]["Default"] == "ON"
    pool = template["Resources"]["ConsoleUserPool"]["Properties"]
    assert pool["MfaConfiguration"] == {"Ref": "ConsoleMfa"} and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_every_api_request_is_logged_with_who_made_it(deployed: dict[str, Any]) -> None:
    [stage] = of_type(deployed, "AWS::ApiGateway::Stage").values()
    access = stage["AccessLogSetting"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    fields = json.loads(access["Format"])
    assert {"userArn", "caller", "principal", "ip", "status"} <= set(fields)
    assert fields["userArn"] == "$context.identity.userArn" and fields["principal"] == "$context.authorizer.principalId"
    assert of_type(deployed, "AWS::ApiGateway::Account"), "access logs need the region's CloudWatch role set"


def test_builds_at_once_on_a_fresh_checkout_each_pack_the_wheels(tmp_path: Any) -> None:
    """xdist's workers each start a local cloud, which packs the training code: on a fresh clone
    they all fetch the wheels at once, and none may see another's half-made folder."""
    import shutil
    import tarfile
    from concurrent.futures import ThreadPoolExecutor

    from vista.project import pack_training_code

    source = tmp_path / "training_job"
    shutil.copytree(ROOT / "training_job", source, ignore=shutil.ignore_patterns("wheels*", "__pycache__"))
    builds = [tmp_path / str(i) for i in range(3)]
    for artifacts in builds:
        artifacts.mkdir()
    with ThreadPoolExecutor(len(builds)) as pool:
        list(pool.map(lambda artifacts: pack_training_code(artifacts, source), builds))  # a failed make raises
    for artifacts in builds:
        with tarfile.open(artifacts / "sourcedir.tar.gz") as archive:
            wheels = sorted(n.split("-")[0] for n in archive.getnames() if n.endswith(".whl"))
        assert wheels == ["./wheels/pi_heif", "./wheels/pillow"]
    folders = [p for p in source.iterdir() if p.name.startswith("wheels-") and p.is_dir()]
    assert len(folders) == 2  # the link and its folder


def test_the_training_code_installs_only_its_own_wheels_when_a_job_starts(tmp_path: Any) -> None:
    import tarfile

    from vista.project import pack_training_code

    # sam build's recipe for the TrainingCode layer: the archive every training job runs
    pack_training_code(tmp_path)
    with tarfile.open(tmp_path / "sourcedir.tar.gz") as archive:
        names = {Path(name).name for name in archive.getnames()}
        requirements = archive.extractfile("./requirements.txt").read().decode().split()  # type: ignore[union-attr]
    # The training toolkit pip-installs requirements.txt in every job: from the wheels the build
    # fetched with the imaging layer's hashes (pip --no-index), so a job needs no network and no
    # dependency can change under it
    assert "train.py" in names
    assert requirements[:3] == ["--no-index", "--find-links", "wheels"]
    imaging = (ROOT / "layers/imaging/requirements.txt").read_text().split("\n")
    assert requirements[3:] == sorted(line for line in imaging if line and not line.startswith("#"))
    wheels = sorted(name.split("-")[0] for name in names if name.endswith(".whl"))
    assert wheels == ["pi_heif", "pillow"]

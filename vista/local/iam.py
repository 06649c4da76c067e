"""IAM in local mode: every AWS call a function makes is allowed or refused as its execution role
would allow or refuse it on AWS, so a missing action or a boundary gap fails here, not after
`sam deploy`.

- The roles are the ones CloudFormation creates: template.yaml translated by the SAM translator
  (tools/translate_template.py in .venv-sam, as `sam deploy`'s transform does), so SAM's policy
  templates, the AWS managed policies it attaches and Globals' PermissionsBoundary are all there.
  The AWS managed policies' documents are kept in aws_managed_policies.json, copied from the AWS
  Managed Policy Reference.
- Evaluation follows the IAM User Guide's policy evaluation logic for one account
  (reference_policies_evaluation-logic.html): an explicit Deny in any policy refuses; otherwise an
  identity-based Allow is needed, and, where the role has a permissions boundary, an Allow in it
  too. A condition on a key the request does not carry is false (IfExists and Null aside), so an
  Allow conditioned on what local mode cannot know does not allow: the stricter answer.
- Each call's action and resource come from the Service Authorization Reference (and, for
  SageMaker, the developer guide's api-permissions-reference.md): some operations are authorised
  as another action (S3's HeadObject is s3:GetObject, a versioned read s3:GetObjectVersion), some
  as several (DynamoDB's TransactWriteItems as each item's own action; SageMaker's CreateEndpoint on
  the endpoint and its config; a SageMaker call passing a role also needs iam:PassRole on it).
- A refusal is the answer AWS gives: HTTP 403, the service's AccessDenied code and the message of
  IAM's troubleshoot_access-denied.html ("User: <assumed role> is not authorized to perform:
  <action> on resource: <arn> because no identity-based policy allows the <action> action").

SageMaker acts with the role a job or model was given (its RoleArn, ExecutionRoleArn): the local
SageMaker's reads and writes for a job or a model go through a client checked against that role
(`Enforcer.client_as`), so a training job cannot write outside its prefixes nor a model anywhere.
Other calls made outside a function (the local cloud provisioning, the operator's CLI) are not
checked: they stand for CloudFormation and an administrator.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from vista import template as cfn
from vista.project import ROOT

log = logging.getLogger("vista.local.iam")
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
MANAGED_POLICIES = json.loads((Path(__file__).with_name("aws_managed_policies.json")).read_text())["policies"]
# The error code each service's 403 carries (their service models' AccessDenied shapes).
ACCESS_DENIED_CODES = {"s3": "AccessDenied", "sqs": "AccessDenied"}
# IAM's service prefix where it is not the signing name.
IAM_PREFIXES = {"monitoring": "cloudwatch"}


class AccessDenied(Exception):
    """What Lambda answers where a deploy needs a permission the role lacks (an event source
    mapping, a destination): the deploy fails."""


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------- evaluation
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool) -> bool:
    """IAM's wildcards: * any run of characters, ? any one."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringNotEquals": lambda want, got: want != got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: _like(want, got, case=True),
    "StringNotLike": lambda want, got: not _like(want, got, case=True),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: _like(want, got, case=True),
    "ArnNotEquals": lambda want, got: want != got,
    "ArnNotLike": lambda want, got: not _like(want, got, case=True),
    "Bool": lambda want, got: want.lower() == got.lower(),
}


def _conditions_hold(conditions: dict[str, Any], context: Mapping[str, str]) -> bool:
    keys = {k.lower(): v for k, v in context.items()}
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        name = operator.removesuffix("IfExists")
        for key, wanted in tests.items():
            got = keys.get(key.lower())
            if name == "Null":
                if (got is None) != (str(wanted).lower() == "true"):
                    return False
                continue
            if name not in CONDITION_TESTS:
                raise cfn.UnsupportedTemplate(f"local IAM cannot evaluate the condition operator {operator}")
            if got is None:
                if not if_exists:
                    return False
                continue
            negated = "Not" in name
            matches = [CONDITION_TESTS[name](str(w), got) for w in _as_list(wanted)]
            if not (all(matches) if negated else any(matches)):
                return False
    return True


def _applies(statement: dict[str, Any], request: Request) -> bool:
    if "Action" in statement:
        acts = any(_like(a, request.action, case=False) for a in _as_list(statement["Action"]))
    else:
        acts = not any(_like(a, request.action, case=False) for a in _as_list(statement.get("NotAction", [])))
    if not acts:
        return False
    if "Resource" in statement:
        on = any(_like(r, request.resource, case=True) for r in _as_list(statement["Resource"]))
    else:
        on = not any(_like(r, request.resource, case=True) for r in _as_list(statement.get("NotResource", [])))
    return on and _conditions_hold(statement.get("Condition", {}), request.context)


def _effects(documents: list[dict[str, Any]], request: Request) -> set[str]:
    return {
        statement["Effect"]
        for document in documents
        for statement in _as_list(document["Statement"])
        if _applies(statement, request)
    }


@dataclass
class Role:
    """A function's execution role as deployed: its identity-based policies and its boundary."""

    name: str
    principal: str  # the assumed-role session Lambda calls AWS with
    policies: list[dict[str, Any]]
    boundary: dict[str, Any] | None = None

    def refusal(self, request: Request) -> str | None:
        """None if the role may make the request, else why not, in IAM's words."""
        identity = _effects(self.policies, request)
        boundary = _effects([self.boundary], request) if self.boundary else {"Allow"}
        if "Deny" in identity or "Deny" in boundary:
            kind = "identity-based policy" if "Deny" in identity else "permissions boundary"
            return f"with an explicit deny in a {kind}"
        if "Allow" not in identity:
            return f"because no identity-based policy allows the {request.action} action"
        if "Allow" not in boundary:
            return f"because no permissions boundary allows the {request.action} action"
        return None

    def message(self, request: Request, reason: str) -> str:
        return (
            f"User: {self.principal} is not authorized to perform: {request.action} "
            f"on resource: {request.resource} {reason}"
        )

    def require(self, request: Request, consequence: str) -> None:
        """Refuse a deploy step the role does not allow (Lambda checks these when it is configured)."""
        reason = self.refusal(request)
        if reason:
            raise AccessDenied(f"{consequence}: {self.message(request, reason)}")


# ---------------------------------------------------------------------------- roles from the template
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it from `sam deploy` (the SAM translator's output)."""
    if not SAM_PYTHON.exists():
        raise cfn.UnsupportedTemplate(
            f"local mode reads the functions' roles through the SAM translator in {SAM_PYTHON.parent.parent.name}: "
            "run `make demo` or `make up` (they create it)"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as source:
        json.dump(template, source)
        source.flush()
        result = subprocess.run(  # noqa: S603 (our own tool, fixed arguments)
            [str(SAM_PYTHON), str(ROOT / "tools" / "translate_template.py"), source.name],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        raise cfn.UnsupportedTemplate(f"the SAM translator refused the template: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)


def _managed(arn: Any, resources: dict[str, Any], resolver: cfn.Resolver) -> dict[str, Any]:
    if (
        isinstance(arn, dict)
        and "Ref" in arn
        and resources.get(arn["Ref"], {}).get("Type") == "AWS::IAM::ManagedPolicy"
    ):
        return resolver.resolve(resources[arn["Ref"]]["Properties"]["PolicyDocument"])
    name = str(resolver.resolve(arn))
    if name not in MANAGED_POLICIES:
        raise cfn.UnsupportedTemplate(
            f"local IAM does not know the managed policy {name}: add it to aws_managed_policies.json"
        )
    return MANAGED_POLICIES[name]


def function_roles(template: dict[str, Any], resolver: cfn.Resolver, *, stack: str, account: str) -> dict[str, Role]:
    """Each AWS::Serverless::Function's role, by the function's logical id."""
    resources = translated(template)["Resources"]
    roles = {}
    for logical in cfn.resources(template, "AWS::Serverless::Function"):
        role_id = resources[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
        props = resources[role_id]["Properties"]
        role_name = f"{stack}-{role_id}"
        policies = [resolver.resolve(p["PolicyDocument"]) for p in props.get("Policies", [])]
        policies += [_managed(arn, resources, resolver) for arn in props.get("ManagedPolicyArns", [])]
        boundary = props.get("PermissionsBoundary")
        roles[logical] = Role(
            role_name,
            f"arn:aws:sts::{account}:assumed-role/{role_name}/{stack}-{logical}",
            policies,
            _managed(boundary, resources, resolver) if boundary else None,
        )
    return roles


def service_roles(template: dict[str, Any], resolver: cfn.Resolver, *, account: str) -> dict[str, Role]:
    """Each AWS::IAM::Role SageMaker may assume, by its ARN (what a job's RoleArn names)."""
    roles = {}
    for logical, spec in cfn.resources(template, "AWS::IAM::Role").items():
        props = resolver.resolve(spec["Properties"])
        trusted = [s.get("Principal", {}).get("Service") for s in props["AssumeRolePolicyDocument"]["Statement"]]
        if "sagemaker.amazonaws.com" not in trusted:
            continue
        arn = str(resolver.resolve({"Fn::GetAtt": [logical, "Arn"]}))
        name = arn.rsplit("/", 1)[1]
        policies = [p["PolicyDocument"] for p in props.get("Policies", [])]
        roles[arn] = Role(name, f"arn:aws:sts::{account}:assumed-role/{name}/SageMaker", policies)
    return roles


# ---------------------------------------------------------------------------- calls → requests
# S3 operations authorised as another action (Service Authorization Reference, Amazon S3).
S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
}
# ... and, given a VersionId, as the version's own action.
S3_VERSIONED = {"GetObject": "GetObjectVersion", "DeleteObject": "DeleteObjectVersion"}
# DynamoDB transactions are authorised item by item, as the item's own action
# (developer guide, transaction-apis-iam.html).
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# SageMaker's resources per operation (developer guide, api-permissions-reference.md); the
# request member that names each, in the order the table lists them.
SAGEMAKER_NAMES = (
    ("EndpointName", "endpoint"),
    ("EndpointConfigName", "endpoint-config"),
    ("ModelName", "model"),
    ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("TrainingJobName", "training-job"),
    ("ModelPackageGroupName", "model-package-group"),  # CreateModelPackage: in the group it names
)
SAGEMAKER_SEVERAL = {"CreateEndpoint"}  # on the endpoint and on its config
SAGEMAKER_UNNAMED = {"CreateEndpointConfig": "endpoint-config", "UpdateEndpoint": "endpoint"}


def _s3(operation: str, params: dict[str, Any]) -> list[Request]:
    bucket, key = params.get("Bucket", "*"), params.get("Key")
    action = S3_ACTIONS.get(operation, operation)
    if params.get("VersionId") and action in S3_VERSIONED:
        action = S3_VERSIONED[action]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            path, _, query = source.partition("?versionId=")
            source = {"Bucket": path.split("/", 1)[0], "Key": unquote(path.split("/", 1)[1]), "VersionId": query}
        read = "GetObjectVersion" if source.get("VersionId") else "GetObject"
        return [
            Request(f"s3:{read}", f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"),
            Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"),
        ]
    if operation == "DeleteObjects":
        return [
            Request(
                "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject",
                f"arn:aws:s3:::{bucket}/{item['Key']}",
            )
            for item in params["Delete"]["Objects"]
        ]
    if action == "ListBucket":  # the prefix listed is the s3:prefix condition key (Service Authorization Reference)
        return [Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")})]
    return [Request(f"s3:{action}", f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}")]


def _dynamodb(operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            Request(f"dynamodb:{TRANSACT_ACTIONS.get(kind, 'GetItem')}", table(spec["TableName"]))
            for item in params["TransactItems"]
            for kind, spec in item.items()
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [Request(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    if "TableName" in params:
        return [Request(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [Request(f"dynamodb:{operation}", "*")]


def _sagemaker(operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    prefix = f"arn:aws:sagemaker:{region}:{account}"
    named = [(kind, params[member]) for member, kind in SAGEMAKER_NAMES if isinstance(params.get(member), str)]
    if operation in SAGEMAKER_UNNAMED:
        named = [(k, n) for k, n in named if k == SAGEMAKER_UNNAMED[operation]]
    if operation not in SAGEMAKER_SEVERAL:
        named = named[:1]
    if "ResourceArn" in params or "ModelPackageArn" in params:  # UpdateModelPackage: on the package
        resources = [params.get("ResourceArn") or params["ModelPackageArn"]]
    else:  # SageMaker's ARNs carry names in lower case
        resources = [f"{prefix}:{kind}/{name.lower()}" for kind, name in named] or ["*"]
    requests = [Request(f"sagemaker:{operation}", resource) for resource in resources]
    # A role handed to SageMaker (a job's RoleArn, a model's ExecutionRoleArn) needs iam:PassRole
    # on it, with iam:PassedToService (sagemaker-roles.html#sagemaker-roles-pass-role).
    for role in _members(params, ("RoleArn", "ExecutionRoleArn")):
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    return requests


def _members(value: Any, names: tuple[str, ...]) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in names and isinstance(v, str)]
        return found + [m for v in value.values() for m in _members(v, names)]
    if isinstance(value, list):
        return [m for v in value for m in _members(v, names)]
    return []


def requests_for(prefix: str, operation: str, params: dict[str, Any], *, region: str, account: str) -> list[Request]:
    """The IAM requests one API call is authorised as."""
    if prefix == "s3":
        return _s3(operation, params)
    if prefix == "dynamodb":
        return _dynamodb(operation, params, region, account)
    if prefix == "sagemaker":
        return _sagemaker(operation, params, region, account)
    if prefix == "sqs":
        url = params.get("QueueUrl")
        name = urlparse(url).path.rsplit("/", 1)[-1] if url else params.get("QueueName", "*")
        return [Request(f"sqs:{operation.removesuffix('Batch')}", f"arn:aws:sqs:{region}:{account}:{name}")]
    if prefix == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return [
            Request(
                "events:PutEvents",
                bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}",
            )
            for bus in sorted(buses)
        ]
    if prefix == "logs" and (params.get("logGroupName") or params.get("logGroupIdentifier")):
        group = params.get("logGroupName") or params["logGroupIdentifier"]
        arn = group if group.startswith("arn:") else f"arn:aws:logs:{region}:{account}:log-group:{group}"
        stream = params.get("logStreamName")
        return [Request(f"logs:{operation}", f"{arn}:log-stream:{stream}" if stream else f"{arn}:*")]
    if prefix == "cognito-idp" and "UserPoolId" in params:
        return [
            Request(
                f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{region}:{account}:userpool/{params['UserPoolId']}"
            )
        ]
    return [Request(f"{prefix}:{operation}", "*")]


# ---------------------------------------------------------------------------- enforcement in boto3
class Enforcer:
    """Checks every call made from a function's thread against that function's role: botocore
    handlers on the session the functions' clients come from (boto3's default session)."""

    def __init__(
        self,
        roles: dict[str, Role],
        caller: Callable[[], str | None],
        *,
        region: str,
        account: str,
        assumed: dict[str, Role] | None = None,
    ) -> None:
        """`roles`: each function's, by logical id; `assumed`: the roles services assume, by ARN."""
        self.roles, self.caller, self.region, self.account = roles, caller, region, account
        self.assumed = assumed or {}
        self._as_role: dict[tuple[str, str], Any] = {}
        self.refused: list[tuple[str, Request]] = []  # (function or role ARN, request): what tests and logs show

    def install(self, session: Any) -> None:
        session.events.register("before-parameter-build", self._keep_params, unique_id="vista-iam-params")
        session.events.register("before-call", self._authorize, unique_id="vista-iam-authorize")

    def uninstall(self, session: Any) -> None:
        session.events.unregister("before-parameter-build", unique_id="vista-iam-params")
        session.events.unregister("before-call", unique_id="vista-iam-authorize")

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["vista_iam_params"] = dict(params)

    def client_as(self, role_arn: str, service: str) -> Any:
        """A client whose every call is made as the role `role_arn` (a service acting for a job): one
        the template does not define may do nothing, as a role that does not exist."""
        import boto3

        if (role_arn, service) not in self._as_role:
            role = self.assumed.get(role_arn) or Role(role_arn.rsplit("/", 1)[-1], role_arn, [])
            client = boto3.session.Session().client(service)
            client.meta.events.register("before-parameter-build", self._keep_params)
            client.meta.events.register("before-call", lambda **kwargs: self._check(role_arn, role, **kwargs))
            self._as_role[(role_arn, service)] = client
        return self._as_role[(role_arn, service)]

    def _authorize(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        function = self.caller()
        # Unsigned operations (Cognito's GetUser, InitiateAuth, ...: `"auth": ["smithy.api#noAuth"]`
        # in their service model) are authorised by their tokens, never by IAM.
        if function is None or model.resolved_auth_type == "none":
            return None
        return self._check(function, self.roles[function], model=model, params=params, context=context)

    def _check(
        self, who: str, role: Role, *, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> Any:
        """None when `role` may make the call, else AccessDenied's answer (and the refusal kept)."""
        signing = model.service_model.signing_name
        prefix = IAM_PREFIXES.get(signing, signing)
        for request in requests_for(
            prefix, model.name, context.get("vista_iam_params", {}), region=self.region, account=self.account
        ):
            reason = role.refusal(request)
            if reason:
                self.refused.append((who, request))
                log.warning("%s refused: %s", who, role.message(request, reason))
                return _denied(prefix, params.get("url", ""), role.message(request, reason))
        return None


def _denied(prefix: str, url: str, message: str) -> tuple[Any, dict[str, Any]]:
    from botocore.awsrequest import AWSResponse

    code = ACCESS_DENIED_CODES.get(prefix, "AccessDeniedException")
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse(url, 403, {}, None), parsed

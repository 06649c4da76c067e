"""template.yaml as data: the one source of truth for names, resources and routes.

`load()` reads the SAM template (CloudFormation tags included) and `Resolver`
evaluates the intrinsic functions it uses against parameters and pseudo parameters,
so tests and local mode get the same names and environment a deploy would. Anything
it does not know raises, rather than guessing.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class UnsupportedTemplate(ValueError):
    pass


class InvalidParameter(ValueError):
    """A parameter value CloudFormation would refuse, in its words (a ValidationError of CreateStack)."""


def check_parameters(template: dict[str, Any], given: dict[str, str]) -> None:
    """What CloudFormation checks of a stack's parameter values before it creates anything: every name
    is the template's, and each value fits its Type, AllowedValues, AllowedPattern, Min/MaxValue and
    Min/MaxLength (CloudFormation User Guide, "Parameters section": the constraints; where a
    ConstraintDescription is given, it is what the error says)."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InvalidParameter(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = sorted(n for n, spec in declared.items() if n not in given and "Default" not in spec)
    if missing:
        raise InvalidParameter(f"Parameters: [{', '.join(missing)}] must have values")
    for name, value in given.items():
        problem = _violation(declared[name], str(value))
        if problem:
            said = declared[name].get("ConstraintDescription", problem)
            raise InvalidParameter(f"Parameter '{name}' {said}")


def _violation(spec: dict[str, Any], value: str) -> str | None:
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return "must be a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"must be a number not less than {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"must be a number not greater than {spec['MaxValue']}"
        allowed = [float(v) for v in spec.get("AllowedValues", [])]
        if allowed and number not in allowed:
            return f"must be one of AllowedValues: {', '.join(str(v) for v in spec['AllowedValues'])}"
        return None
    if spec.get("AllowedValues") and value not in [str(v) for v in spec["AllowedValues"]]:
        return f"must be one of AllowedValues: {', '.join(str(v) for v in spec['AllowedValues'])}"
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return f"failed to satisfy constraint: Parameter must match pattern {spec['AllowedPattern']}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"must contain at least {spec['MinLength']} characters"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"must contain at most {spec['MaxLength']} characters"
    return None


@functools.cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, problems = decode(str(path))
    if problems or template is None:
        raise UnsupportedTemplate(f"cannot read {path}: {problems}")
    return _plain(template)


def _plain(value: Any) -> Any:
    """cfn-lint's node types → plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


class Resolver:
    """Evaluates Ref, Sub, GetAtt, FindInMap, Join, Select, Split.

    `refs` and `attributes` give what a resource's Ref / GetAtt yields (a physical
    name or ARN); parameters default to the template's defaults.
    """

    def __init__(
        self,
        template: dict[str, Any],
        *,
        region: str,
        account: str,
        stack_name: str = "vista",
        parameters: dict[str, Any] | None = None,
        refs: dict[str, str] | None = None,
        attributes: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.template = template
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
        self.parameters.update({k: str(v) for k, v in (parameters or {}).items()})
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
        }
        self.refs = refs or {}
        self.attributes = attributes or {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key.startswith("Fn::") or key == "Condition":
                method = getattr(self, "_" + key.removeprefix("Fn::").lower(), None)
                if method is None:
                    raise UnsupportedTemplate(f"intrinsic {key} is not supported")
                return method(argument)
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name: str) -> str:
        for table in (self.pseudo, self.parameters, self.refs):
            if name in table:
                return table[name]
        raise UnsupportedTemplate(f"nothing to resolve Ref {name} to")

    def _getatt(self, argument: list[str] | str) -> str:
        resource, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        try:
            return self.attributes[(resource, attribute)]
        except KeyError:
            raise UnsupportedTemplate(f"nothing to resolve GetAtt {resource}.{attribute} to") from None

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {k: self.resolve(v) for k, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._getatt(name)
            return self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    def _findinmap(self, argument: list[Any]) -> str:
        mapping, first, second = (self.resolve(a) for a in argument)
        return self.template["Mappings"][mapping][first][second]

    def _join(self, argument: list[Any]) -> str:
        separator, values = argument
        return separator.join(str(v) for v in self.resolve(values))

    def _select(self, argument: list[Any]) -> Any:
        index, values = argument
        return self.resolve(values)[int(self.resolve(index))]

    def _split(self, argument: list[Any]) -> list[str]:
        separator, value = argument
        return str(self.resolve(value)).split(separator)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def function_environment(template: dict[str, Any], resolver: Resolver, function: str) -> dict[str, str]:
    """A function's environment as deployed: Globals merged with its own variables."""
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    variables.update(own)
    return {key: str(resolver.resolve(value)) for key, value in variables.items()}


def placeholder_resolver(
    template: dict[str, Any], *, stack: str, region: str, account: str, parameters: dict[str, Any] | None = None
) -> Resolver:
    """A resolver for the template without deploying it: Ref / GetAtt of each resource yield
    names as CloudFormation gives them (`<stack>-<LogicalId>`), or the name the template sets;
    `parameters` override the template's defaults as a deploy's parameter overrides would."""
    refs: dict[str, str] = {}
    attributes: dict[tuple[str, str], str] = {}
    for logical, spec in template["Resources"].items():
        name = f"{stack}-{logical}"
        if spec["Type"] == "AWS::SQS::Queue":
            refs[logical] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            attributes[(logical, "Arn")] = f"arn:aws:sqs:{region}:{account}:{name}"
            attributes[(logical, "QueueName")] = name
        elif spec["Type"] == "AWS::IAM::Role":
            refs[logical] = name
            attributes[(logical, "Arn")] = f"arn:aws:iam::{account}:role/{name}"
        elif spec["Type"] == "AWS::Serverless::Function":
            refs[logical] = name
            attributes[(logical, "Arn")] = f"arn:aws:lambda:{region}:{account}:function:{name}"
        elif spec["Type"] == "AWS::Serverless::LayerVersion":
            refs[logical] = f"arn:aws:lambda:{region}:{account}:layer:{name}:1"
        elif spec["Type"] == "AWS::DynamoDB::Table":
            refs[logical] = name
            attributes[(logical, "Arn")] = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
        elif spec["Type"] == "AWS::Logs::LogGroup":  # CloudFormation's log group Arn ends in :*
            refs[logical] = name
            attributes[(logical, "Arn")] = f"arn:aws:logs:{region}:{account}:log-group:{name}:*"
        elif spec["Type"] == "AWS::IAM::ManagedPolicy":
            refs[logical] = f"arn:aws:iam::{account}:policy/{name}"
        else:
            refs[logical] = name
    # Buckets named in the template (with Sub over parameters) keep that name.
    resolver = Resolver(
        template,
        region=region,
        account=account,
        stack_name=stack,
        parameters=parameters,
        refs=refs,
        attributes=attributes,
    )
    for logical, spec in resources(template, "AWS::S3::Bucket").items():
        if "BucketName" in spec.get("Properties", {}):
            refs[logical] = resolver.resolve(spec["Properties"]["BucketName"])
    return resolver

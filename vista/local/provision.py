"""Create template.yaml's storage, queues, tables, alarms and roles in moto, from their own properties.

Shared by local mode and the tests, so neither can drift from what deploys. CloudFormation's
property names are turned into the API's where they differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vista import template as cfn


def cors_configuration(cloudformation: dict[str, Any]) -> dict[str, Any]:
    """AWS::S3::Bucket CorsConfiguration as PutBucketCors takes it (CloudFormation's CorsRule says
    Id, ExposedHeaders and MaxAge where the API says ID, ExposeHeaders and MaxAgeSeconds)."""
    names = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    return {"CORSRules": [{names.get(k, k): v for k, v in rule.items()} for rule in cloudformation["CorsRules"]]}


def notification_filter(spec: dict[str, Any]) -> dict[str, Any]:
    return {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in spec["S3Key"]["Rules"]]}}


def provision_resources(
    template: dict[str, Any], resolver: cfn.Resolver, *, client: Callable[[str], Any]
) -> dict[str, list[dict[str, Any]]]:
    """User pools, roles, queues (dead-letter queues first) and their policies, tables, alarms,
    buckets and their policies, model package groups. Returns each bucket's queue notifications,
    for the caller to add its own and apply."""
    provision_user_pools(template, resolver, client("cognito-idp"))
    _roles(template, resolver, client("iam"))
    _queues(template, resolver, client("sqs"))
    _tables(template, resolver, client("dynamodb"))
    _alarms(template, resolver, client("cloudwatch"))
    notifications = _buckets(template, resolver, client("s3"))
    _bucket_policies(template, resolver, client("s3"))
    _model_package_groups(template, resolver, client("sagemaker"))
    return notifications


def _roles(template: dict[str, Any], resolver: cfn.Resolver, iam: Any) -> None:
    for logical, spec in cfn.resources(template, "AWS::IAM::Role").items():
        props = resolver.resolve(spec["Properties"])
        document = json.dumps(props["AssumeRolePolicyDocument"])
        iam.create_role(RoleName=resolver.refs[logical], AssumeRolePolicyDocument=document)


def _queues(template: dict[str, Any], resolver: cfn.Resolver, sqs: Any) -> None:
    queues = cfn.resources(template, "AWS::SQS::Queue")
    for logical in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
        props = resolver.resolve(queues[logical].get("Properties", {}))
        sqs.create_queue(
            QueueName=resolver.attributes[(logical, "QueueName")],
            Attributes={
                k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in props.items()
            },
        )
    for spec in cfn.resources(template, "AWS::SQS::QueuePolicy").values():
        props = resolver.resolve(spec["Properties"])
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})


def _tables(template: dict[str, Any], resolver: cfn.Resolver, dynamodb: Any) -> None:
    for logical, spec in cfn.resources(template, "AWS::DynamoDB::Table").items():
        props, name = resolver.resolve(spec["Properties"]), resolver.refs[logical]
        table = {
            k: props[k]
            for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
            if k in props
        }
        if "SSESpecification" in props:  # CloudFormation's SSEEnabled is the API's Enabled
            table["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
        dynamodb.create_table(TableName=name, **table)
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        recovery = props.get("PointInTimeRecoverySpecification")
        if recovery:
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": recovery["PointInTimeRecoveryEnabled"]},
            )


def _alarms(template: dict[str, Any], resolver: cfn.Resolver, cloudwatch: Any) -> None:
    numbers = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}
    for logical, spec in cfn.resources(template, "AWS::CloudWatch::Alarm").items():
        props = resolver.resolve(spec["Properties"])
        props = {k: numbers[k](v) if k in numbers else v for k, v in props.items()}
        cloudwatch.put_metric_alarm(AlarmName=props.pop("AlarmName", resolver.refs[logical]), **props)


def _buckets(template: dict[str, Any], resolver: cfn.Resolver, s3: Any) -> dict[str, list[dict[str, Any]]]:
    """Each bucket with its settings; its queue notifications, by bucket, for the caller to apply."""
    notifications: dict[str, list[dict[str, Any]]] = {}
    for logical, spec in cfn.resources(template, "AWS::S3::Bucket").items():
        props = resolver.resolve(spec["Properties"])
        bucket = resolver.refs[logical]
        s3.create_bucket(Bucket=bucket)
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
        if "BucketEncryption" in props:  # CloudFormation's names differ from the API's here
            rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]} for r in rules]
                },
            )
        if "PublicAccessBlockConfiguration" in props:
            block = props["PublicAccessBlockConfiguration"]
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        if "CorsConfiguration" in props:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors_configuration(props["CorsConfiguration"]))
        notifications[bucket] = [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                **({"Filter": notification_filter(q["Filter"])} if "Filter" in q else {}),
            }
            for q in props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        ]
    return notifications


def _bucket_policies(template: dict[str, Any], resolver: cfn.Resolver, s3: Any) -> None:
    for spec in cfn.resources(template, "AWS::S3::BucketPolicy").values():
        props = resolver.resolve(spec["Properties"])
        # moto enforces bucket policies but not their conditions: an SSL-only Deny would
        # refuse every local request, so statements conditioned on transport stay out.
        statements = [
            s
            for s in props["PolicyDocument"]["Statement"]
            if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))
        ]
        if statements:
            s3.put_bucket_policy(
                Bucket=props["Bucket"], Policy=json.dumps({**props["PolicyDocument"], "Statement": statements})
            )


def _model_package_groups(template: dict[str, Any], resolver: cfn.Resolver, sagemaker: Any) -> None:
    for spec in cfn.resources(template, "AWS::SageMaker::ModelPackageGroup").values():
        props = resolver.resolve(spec["Properties"])
        sagemaker.create_model_package_group(
            **{k: props[k] for k in ("ModelPackageGroupName", "ModelPackageGroupDescription") if k in props}
        )


# What moto's CreateUserPool takes of CloudFormation's UserPool properties (the same names).
USER_POOL_PROPERTIES = (
    "UsernameAttributes",
    "AutoVerifiedAttributes",
    "AdminCreateUserConfig",
    "Policies",
    "MfaConfiguration",
    "AccountRecoverySetting",
)


def provision_user_pools(template: dict[str, Any], resolver: cfn.Resolver, cognito: Any) -> None:
    """User pools, their clients and users. Cognito picks pool and client ids, so their Refs
    become those ids before anything else is resolved. No domain: local mode has no managed
    sign-in pages (the local console signs its user in itself)."""
    for logical, spec in cfn.resources(template, "AWS::Cognito::UserPool").items():
        props = resolver.resolve(spec["Properties"])
        pool = cognito.create_user_pool(
            PoolName=props["UserPoolName"], **{k: props[k] for k in USER_POOL_PROPERTIES if k in props}
        )["UserPool"]
        resolver.refs[logical] = pool["Id"]
        resolver.attributes[(logical, "Arn")] = pool["Arn"]
    for logical, spec in cfn.resources(template, "AWS::Cognito::UserPoolClient").items():
        props = resolver.resolve(spec["Properties"])
        created = cognito.create_user_pool_client(**{k: v for k, v in props.items() if not k.endswith("Validity")})
        resolver.refs[logical] = created["UserPoolClient"]["ClientId"]
    for spec in cfn.resources(template, "AWS::Cognito::UserPoolUser").values():
        props = resolver.resolve(spec["Properties"])
        cognito.admin_create_user(
            UserPoolId=props["UserPoolId"],
            Username=props["Username"],
            UserAttributes=props.get("UserAttributes", []),
            MessageAction="SUPPRESS",  # nowhere to send an invitation
        )

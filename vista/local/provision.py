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
    """Roles, queues (dead-letter queues first) and their policies, tables, buckets and their
    policies. Returns each bucket's queue notifications, for the caller to add its own and apply."""
    refs, attributes = resolver.refs, resolver.attributes
    iam, sqs, s3, dynamodb = client("iam"), client("sqs"), client("s3"), client("dynamodb")
    provision_user_pools(template, resolver, client("cognito-idp"))
    for logical, spec in cfn.resources(template, "AWS::IAM::Role").items():
        props = resolver.resolve(spec["Properties"])
        iam.create_role(RoleName=refs[logical], AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))

    queues = cfn.resources(template, "AWS::SQS::Queue")
    for logical in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
        props = resolver.resolve(queues[logical].get("Properties", {}))
        sqs.create_queue(
            QueueName=attributes[(logical, "QueueName")],
            Attributes={
                k: json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in props.items()
            },
        )
    for spec in cfn.resources(template, "AWS::SQS::QueuePolicy").values():
        props = resolver.resolve(spec["Properties"])
        for url in props["Queues"]:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})

    for logical, spec in cfn.resources(template, "AWS::DynamoDB::Table").items():
        props = resolver.resolve(spec["Properties"])
        table = {
            k: props[k]
            for k in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
            if k in props
        }
        if "SSESpecification" in props:  # CloudFormation's SSEEnabled is the API's Enabled
            table["SSESpecification"] = {"Enabled": props["SSESpecification"]["SSEEnabled"]}
        dynamodb.create_table(TableName=refs[logical], **table)
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(
                TableName=refs[logical], TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )
        if props.get("PointInTimeRecoverySpecification"):
            dynamodb.update_continuous_backups(
                TableName=refs[logical],
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": props["PointInTimeRecoverySpecification"][
                        "PointInTimeRecoveryEnabled"
                    ]
                },
            )

    cloudwatch = client("cloudwatch")
    for logical, spec in cfn.resources(template, "AWS::CloudWatch::Alarm").items():
        props = resolver.resolve(spec["Properties"])
        numbers = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}
        props = {k: numbers[k](v) if k in numbers else v for k, v in props.items()}
        cloudwatch.put_metric_alarm(AlarmName=props.pop("AlarmName", refs[logical]), **props)

    notifications: dict[str, list[dict[str, Any]]] = {}
    for logical, spec in cfn.resources(template, "AWS::S3::Bucket").items():
        props = resolver.resolve(spec["Properties"])
        bucket = refs[logical]
        s3.create_bucket(Bucket=bucket)
        for key, call, argument in (
            ("VersioningConfiguration", s3.put_bucket_versioning, "VersioningConfiguration"),
            ("BucketEncryption", s3.put_bucket_encryption, "ServerSideEncryptionConfiguration"),
            ("PublicAccessBlockConfiguration", s3.put_public_access_block, "PublicAccessBlockConfiguration"),
        ):
            if key in props:
                value = props[key]
                if key == "BucketEncryption":  # CloudFormation's names differ from the API's here
                    value = {
                        "Rules": [
                            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                            for r in value["ServerSideEncryptionConfiguration"]
                        ]
                    }
                call(Bucket=bucket, **{argument: value})
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
    return notifications


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

"""Local mode's provisioner on templates other than the stack's: it creates what each declares,
whatever the number of bucket policies, with CloudFormation's names turned into the API's."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
from moto import mock_aws

from tests.helpers.stack import ACCOUNT, BUCKET, LOCAL_PARAMETERS, REGION, STACK, TEMPLATE
from vista import template as cfn
from vista.local.provision import provision_resources


def provision(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    resolver = cfn.placeholder_resolver(
        template, stack=STACK, region=REGION, account=ACCOUNT, parameters=LOCAL_PARAMETERS
    )
    return provision_resources(template, resolver, client=boto3.client)


def test_a_template_without_bucket_policies_still_gets_its_notifications() -> None:
    template = copy.deepcopy(TEMPLATE)
    del template["Resources"]["DataBucketPolicy"]
    with mock_aws():
        notifications = provision(template)
    assert [q["Filter"] for q in notifications[BUCKET]] == [
        {"Key": {"FilterRules": [{"Name": "prefix", "Value": "inbox/"}]}}
    ]


def test_two_bucket_policies_are_each_applied() -> None:
    template = copy.deepcopy(TEMPLATE)
    resources = template["Resources"]
    resources["OtherBucket"] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "vista-other"}}
    resources["OtherBucketPolicy"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "OtherBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "NoDeletes",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteObject",
                        "Resource": "arn:aws:s3:::vista-other/*",
                    }
                ],
            },
        },
    }
    # The stack's own policy has only the SSL-only statement, which local mode leaves out: give it another.
    resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Sid": "NoBucketDeletion",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucket}"},
        }
    )
    with mock_aws():
        notifications = provision(template)
        s3 = boto3.client("s3")
        policies = {b: json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]) for b in (BUCKET, "vista-other")}
    assert {b: [s["Sid"] for s in p["Statement"]] for b, p in policies.items()} == {
        BUCKET: ["NoBucketDeletion"],
        "vista-other": ["NoDeletes"],
    }
    assert notifications["vista-other"] == []


def test_the_bucket_cors_rule_is_put_with_the_api_s_names() -> None:
    with mock_aws():
        provision(TEMPLATE)
        (rule,) = boto3.client("s3").get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert rule["ID"] == "console-uploads" and rule["AllowedMethods"] == ["PUT"] and rule["MaxAgeSeconds"] == 3600
    assert rule["AllowedHeaders"] == ["content-type", "if-none-match"]
    assert rule["AllowedOrigins"][0].startswith("https://") and ".execute-api.us-east-1." in rule["AllowedOrigins"][0]

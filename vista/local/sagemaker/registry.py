"""The local SageMaker's Model Registry: model package groups and their versioned model packages.

The rules are the API reference's (CreateModelPackage, UpdateModelPackage, DescribeModelPackage,
ListModelPackages, CreateModelPackageGroup, DescribeModelPackageGroup) and the developer guide's
model-registry-models.md: a package created with ModelPackageGroupName (and no ModelPackageName) is
a version of that group, numbered from 1 and one more each time; its ARN is
model-package/<group>/<version>; ModelApprovalStatus defaults to PendingManualApproval; a request
repeated with the same ClientToken is the same call and answers the same package. Unversioned
packages (AWS Marketplace's) are not emulated: such a request is refused as unsupported here, not
answered as AWS might.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vista.local.sagemaker import errors
from vista.local.sagemaker.state import NAME, listed, now

# An ARN's part before a resource's name (ModelPackageGroupName takes a name or an ARN).
ARN_PREFIX = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*/")
PACKAGE_REQUEST = (  # what CreateModelPackage keeps and DescribeModelPackage gives back as it was sent
    "ModelPackageDescription",
    "InferenceSpecification",
    "MetadataProperties",
    "ModelMetrics",
    "CustomerMetadataProperties",
    "SkipModelValidation",
    "SourceUri",
)


@dataclass
class Group:
    name: str
    arn: str
    description: str | None
    created: datetime = field(default_factory=now)


@dataclass
class Package:
    group: str
    version: int
    arn: str
    request: dict[str, Any]
    approval: str
    created: datetime = field(default_factory=now)
    modified: datetime | None = None
    approval_description: str | None = None

    def summary(self) -> dict[str, Any]:
        """ListModelPackages' ModelPackageSummary (a versioned package is named after its group)."""
        row: dict[str, Any] = {
            "ModelPackageName": self.group,
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": self.version,
            "ModelPackageArn": self.arn,
            "CreationTime": self.created,
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": self.approval,
        }
        if "ModelPackageDescription" in self.request:
            row["ModelPackageDescription"] = self.request["ModelPackageDescription"]
        return row

    def describe(self) -> dict[str, Any]:
        described = {
            **self.summary(),
            **{k: self.request[k] for k in PACKAGE_REQUEST if k in self.request},
            # No validation was asked for (no ValidationSpecification): nothing to report.
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
            "CreatedBy": {},
        }
        if self.modified:
            described.update(LastModifiedTime=self.modified, LastModifiedBy={})
        if self.approval_description is not None:
            described["ApprovalDescription"] = self.approval_description
        return described


class ModelRegistry:
    """The operations, named as LocalSageMaker's are (op_<operation in snake case>)."""

    def __init__(self, arn: Any) -> None:
        """`arn(kind, name)`: the backend's ARN of a resource (names in lower case, as SageMaker's)."""
        self.arn = arn
        self.groups: dict[str, Group] = {}
        self.packages: dict[str, Package] = {}  # by ARN
        self.tokens: dict[str, str] = {}  # ClientToken → the package it made
        self.lock = threading.RLock()

    def op_create_model_package_group(
        self, ModelPackageGroupName: str, ModelPackageGroupDescription: str | None = None, **_: Any
    ) -> dict[str, Any]:
        if not NAME.match(ModelPackageGroupName):
            raise errors.pattern_mismatch(ModelPackageGroupName, "modelPackageGroupName", NAME.pattern)
        with self.lock:
            arn = self.arn("model-package-group", ModelPackageGroupName)
            if ModelPackageGroupName in self.groups:
                raise errors.already_exists("model package group", arn)
            self.groups[ModelPackageGroupName] = Group(ModelPackageGroupName, arn, ModelPackageGroupDescription)
        return {"ModelPackageGroupArn": arn}

    def op_describe_model_package_group(self, ModelPackageGroupName: str) -> dict[str, Any]:
        with self.lock:
            group = self._group(ModelPackageGroupName)
            described: dict[str, Any] = {
                "ModelPackageGroupName": group.name,
                "ModelPackageGroupArn": group.arn,
                "CreationTime": group.created,
                "CreatedBy": {},
                "ModelPackageGroupStatus": "Completed",
            }
            if group.description is not None:
                described["ModelPackageGroupDescription"] = group.description
            return described

    def op_create_model_package(self, **request: Any) -> dict[str, Any]:
        if request.get("ModelPackageName") and request.get("ModelPackageGroupName"):
            raise errors.validation(
                "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
                "Cannot determine which one to use."
            )
        if not request.get("ModelPackageGroupName"):
            raise errors.validation(
                "the local SageMaker keeps versioned model packages only: name a ModelPackageGroupName"
            )
        token = request.get("ClientToken")
        with self.lock:
            if token in self.tokens:  # the same call again: the package it made
                return {"ModelPackageArn": self.tokens[token]}
            group = self._group(request["ModelPackageGroupName"])
            version = 1 + sum(1 for p in self.packages.values() if p.group == group.name)
            arn = self.arn("model-package", f"{group.name}/{version}")
            self.packages[arn] = Package(
                group.name,
                version,
                arn,
                {k: v for k, v in request.items() if k in PACKAGE_REQUEST},
                request.get("ModelApprovalStatus", "PendingManualApproval"),
            )
            if token:
                self.tokens[token] = arn
        return {"ModelPackageArn": arn}

    def op_describe_model_package(self, ModelPackageName: str, **_: Any) -> dict[str, Any]:
        with self.lock:
            return self._package(ModelPackageName).describe()

    def op_update_model_package(self, ModelPackageArn: str, **request: Any) -> dict[str, Any]:
        with self.lock:
            package = self._package(ModelPackageArn)
            if "ModelApprovalStatus" in request:
                package.approval = request["ModelApprovalStatus"]
            if "ApprovalDescription" in request:
                package.approval_description = request["ApprovalDescription"]
            if "CustomerMetadataProperties" in request:
                properties = package.request.setdefault("CustomerMetadataProperties", {})
                properties.update(request["CustomerMetadataProperties"])
            for key in request.get("CustomerMetadataPropertiesToRemove", []):
                package.request.get("CustomerMetadataProperties", {}).pop(key, None)
            package.modified = now()
        return {"ModelPackageArn": package.arn}

    def op_list_model_packages(self, **request: Any) -> dict[str, Any]:
        # The API reference: SortBy defaults to CreationTime, SortOrder to Ascending.
        with self.lock:
            packages = list(self.packages.values())
            if request.get("ModelPackageGroupName"):
                group = self._group(request["ModelPackageGroupName"]).name
                packages = [p for p in packages if p.group == group]
            if request.get("ModelApprovalStatus"):
                packages = [p for p in packages if p.approval == request["ModelApprovalStatus"]]
            if request.get("ModelPackageType") == "Unversioned":
                packages = []
            rows, token = listed(
                packages,
                {k: v for k, v in request.items() if k not in ("ModelPackageGroupName", "ModelApprovalStatus")},
                summary=Package.summary,
                sort_by="CreationTime",
                sort_order="Ascending",
            )
        return {"ModelPackageSummaryList": rows, **({"NextToken": token} if token else {})}

    def _group(self, name_or_arn: str) -> Group:
        name = ARN_PREFIX.sub("", name_or_arn)
        group = next((g for g in self.groups.values() if g.name.lower() == name.lower()), None)
        if group is None:
            raise errors.validation(f"Model Package Group {name} does not exist.")
        return group

    def _package(self, name_or_arn: str) -> Package:
        """A package by its ARN, or by <group>/<version> (DescribeModelPackage's VersionedArnOrName)."""
        arn = name_or_arn if name_or_arn.startswith("arn:") else self.arn("model-package", name_or_arn)
        package = next((p for p in self.packages.values() if p.arn.lower() == arn.lower()), None)
        if package is None:
            raise errors.validation(f"ModelPackage {name_or_arn} does not exist.")
        return package

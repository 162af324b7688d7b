"""Key tree of the ParallelCluster 3 image config read by build-image: Image, Build, DevSettings, Components."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlparse

from paracluster.config.schema.common import (
    COOKBOOK,
    IAM_INSTANCE_PROFILE,
    IAM_POLICY,
    IAM_ROLE,
    IMDS_SUPPORT,
    LAMBDA_FUNCTIONS_VPC_CONFIG,
    SECURITY_GROUP_ID,
    SUBNET_ID,
    additional_iam_policies,
    json_text,
    tags,
)
from paracluster.config.schema.types import Bool, Int, ListOf, Section, Str, matches, only_one_of
from paracluster.config.versions import AWS_BATCH_CLI_PACKAGE_REMOVED, CINC_INSTALLER_URL_REMOVED

# EC2 Image Builder appends " {{ imagebuilder:buildDate }}" to AMI names, whose limit is 128 characters.
_AMI_NAME_SUFFIX = " {{ imagebuilder:buildDate }}"
MAX_COMPONENTS = 15

_is_security_group = matches(SECURITY_GROUP_ID)


def _component_value(data: dict) -> Iterable[tuple[str, str]]:
    kind, value = data.get("Type"), data.get("Value")
    if kind and value is None:
        yield "Value", f"is required when Type is {kind}"
    elif kind == "arn" and not value.startswith("arn"):
        yield "Value", f"'{value}' is invalid for Type arn; use an ARN starting with 'arn'"
    elif kind == "script" and urlparse(value).scheme not in ("https", "s3"):
        yield "Value", f"'{value}' is invalid for Type script; use an https:// or s3:// URL"


def _security_group_ids(value: list) -> str | None:
    bad = [item for item in value if not _is_security_group(item)]
    return f"'{bad[0]}' is not a security group id such as sg-0123456789abcdef0" if bad else None


BUILD = Section(
    "Build",
    {
        "Iam": Section(
            "Iam",
            {
                "InstanceRole": Str(pattern=IAM_ROLE, pattern_help="use an IAM role ARN"),
                "InstanceProfile": Str(pattern=IAM_INSTANCE_PROFILE, pattern_help="use an instance profile ARN"),
                "CleanupLambdaRole": Str(pattern=IAM_ROLE, pattern_help="use an IAM role ARN"),
                "AdditionalIamPolicies": additional_iam_policies(),
                "PermissionsBoundary": Str(pattern=IAM_POLICY, pattern_help="use an IAM policy ARN"),
            },
            checks=(
                only_one_of(
                    "InstanceRole",
                    "InstanceProfile",
                    "AdditionalIamPolicies",
                    message="InstanceProfile, InstanceRole and AdditionalIamPolicies cannot be used together",
                ),
            ),
        ),
        "InstanceType": Str(required=True),
        "Components": ListOf(
            Section(
                "Components item",
                {"Type": Str(choices=("arn", "script")), "Value": Str()},
                checks=(_component_value,),
            )
        ),
        "ParentImage": Str(
            required=True, pattern="^ami|arn", pattern_help="use an AMI id (ami-...) or an image ARN (arn:...)"
        ),
        "Tags": tags(reserved_check=False),
        "SecurityGroupIds": ListOf(Str(), checks=(_security_group_ids,)),
        "SubnetId": Str(pattern=SUBNET_ID, pattern_help="use a subnet id such as subnet-0123456789abcdef0"),
        "UpdateOsPackages": Section("UpdateOsPackages", {"Enabled": Bool(default=False)}),
        # ParallelCluster 3.12: what the image build installs besides the ParallelCluster stack.
        "Installation": Section(
            "Installation",
            {
                "LustreClient": Section("LustreClient", {"Enabled": Bool(default=True)}),
                "NvidiaSoftware": Section("NvidiaSoftware", {"Enabled": Bool(default=False)}),
            },
        ),
        "Imds": IMDS_SUPPORT,
    },
    required=True,
)

IMAGE = Section(
    "Image",
    {
        "Name": Str(max_len=128 - len(_AMI_NAME_SUFFIX)),
        "Tags": tags(),
        "RootVolume": Section(
            "RootVolume", {"Size": Int(), "Encrypted": Bool(default=False), "KmsKeyId": Str()}
        ),
    },
)

DEV_SETTINGS = Section(
    "DevSettings",
    {
        "Cookbook": COOKBOOK,
        "NodePackage": Str(),
        "AwsBatchCliPackage": Str(deprecated=AWS_BATCH_CLI_PACKAGE_REMOVED),
        "DisablePclusterComponent": Bool(default=False),
        "DistributionConfiguration": Section(
            "DistributionConfiguration",
            {
                "Regions": Str(pattern="^[a-z0-9-]+(,[a-z0-9-]+)*$", pattern_help="use region names such as a,b"),
                "LaunchPermission": Str(checks=(json_text,)),
            },
        ),
        "TerminateInstanceOnFailure": Bool(default=True),
        "DisableValidateAndTest": Bool(default=True),
        "CincInstallerUrl": Str(default="", deprecated=CINC_INSTALLER_URL_REMOVED),
        # ParallelCluster 3.16: a JSON object of build-time overrides (cinc_installer_url, cinc_version).
        "CliAttributeOverrides": Str(default=""),
        "DisableKernelUpdate": Bool(default=False),
    },
)

IMAGE_CONFIG = Section(
    "image configuration",
    {
        "Image": IMAGE,
        "Build": BUILD,
        "DevSettings": DEV_SETTINGS,
        "Region": Str(),
        "CustomS3Bucket": Str(),
        "DeploymentSettings": Section("DeploymentSettings", {"LambdaFunctionsVpcConfig": LAMBDA_FUNCTIONS_VPC_CONFIG}),
    },
)

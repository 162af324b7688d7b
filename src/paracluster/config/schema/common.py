"""Key-tree pieces shared by sections of the cluster and image configs: ids, tags, IAM, networking, actions."""

from __future__ import annotations

import json
from collections.abc import Iterable

from paracluster.config.schema.types import (
    EXTRA_CHEF_ATTRIBUTES,
    IGNORED,
    SUPPORTED,
    UNSUPPORTED,
    Bool,
    ListOf,
    Section,
    Str,
    matches,
    only_one_of,
)

CIDR = (
    r"^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}"
    r"([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])"
    r"(\/([0-9]|[1-2][0-9]|3[0-2]))$"
)
FILE_PATH = r"^\/?[^\/.\\][^\/\\]*(\/[^\/.\\][^\/]*)*$"
AMI_ID = r"^ami-[0-9a-z]{8}$|^ami-[0-9a-z]{17}$"
SECURITY_GROUP_ID = r"^sg-[0-9a-z]{8}$|^sg-[0-9a-z]{17}$"
SUBNET_ID = r"^subnet-[0-9a-z]{8}$|^subnet-[0-9a-z]{17}$"
IAM_ROLE = r"^arn:.*:role/"
IAM_INSTANCE_PROFILE = r"^arn:.*:instance-profile/"
IAM_POLICY = r"^arn:.*:policy/"
RESERVED_TAG_PREFIX = "parallelcluster:"

_is_cidr = matches(CIDR)
_is_prefix_list = matches(r"^pl-[a-zA-Z0-9]")


def cidr_or_prefix_list(value: str) -> str | None:
    """Accept an IPv4 CIDR such as 10.0.0.0/16 or a prefix list id such as pl-12345678."""
    if _is_cidr(value) or _is_prefix_list(value):
        return None
    return f"'{value}' is neither a valid CIDR (such as 203.0.113.0/24) nor a prefix list id (such as pl-12345678)"


def json_text(value: str) -> str | None:
    """Accept a string holding a JSON document (ExtraChefAttributes)."""
    try:
        json.loads(value)
    except ValueError:
        return f"'{value}' is not valid JSON"
    return None


def path_str(*, policy: str = UNSUPPORTED, **kwargs) -> Str:
    """An absolute or relative directory path such as /shared."""
    return Str(pattern=FILE_PATH, pattern_help="use a directory path such as /shared", policy=policy, **kwargs)


def ami_id(*, policy: str = UNSUPPORTED) -> Str:
    return Str(pattern=AMI_ID, pattern_help="use an AMI id such as ami-0123456789abcdef0", policy=policy)


def id_list(pattern: str, example: str, *, policy: str = SUPPORTED, **kwargs) -> ListOf:
    return ListOf(Str(pattern=pattern, pattern_help=f"use an id such as {example}"), policy=policy, **kwargs)


def security_groups(policy: str = SUPPORTED) -> ListOf:
    return id_list(SECURITY_GROUP_ID, "sg-0123456789abcdef0", policy=policy)


def subnet_ids(policy: str, **kwargs) -> ListOf:
    return id_list(SUBNET_ID, "subnet-0123456789abcdef0", policy=policy, **kwargs)


def _tag_keys_ok(tags: list) -> str | None:
    """Tags must not use the reserved prefix and must not repeat a key."""
    seen: set[str] = set()
    for tag in tags:
        key = tag.get("Key", "")
        if key.startswith(RESERVED_TAG_PREFIX) and key != "parallelcluster:custom_resource":
            return f"the tag key prefix '{RESERVED_TAG_PREFIX}' is reserved; rename the tag '{key}'"
        if key in seen:
            return f"the tag key '{key}' appears more than once; tag keys must be unique within a Tags section"
        seen.add(key)
    return None


def tags(
    policy: str = UNSUPPORTED,
    value_policy: str = SUPPORTED,
    *,
    key_policy: str | None = None,
    reserved_check: bool = True,
) -> ListOf:
    """A Tags list of {Key, Value}; keys up to 128 characters, values up to 256."""
    item = Section(
        "Tag",
        {
            "Key": Str(required=True, max_len=128, policy=key_policy or policy),
            "Value": Str(required=True, max_len=256, policy=value_policy),
        },
    )
    return ListOf(item, key="Key", policy=policy, checks=(_tag_keys_ok,) if reserved_check else ())


def additional_iam_policies(policy: str = SUPPORTED) -> ListOf:
    item = Section(
        "AdditionalIamPolicies item",
        {"Policy": Str(required=True, pattern=IAM_POLICY, pattern_help="use an IAM policy ARN", policy=SUPPORTED)},
    )
    return ListOf(item, key="Policy", policy=policy)


def networking_security_group_check(data: dict) -> Iterable[str]:
    if data.get("SecurityGroups") and data.get("AdditionalSecurityGroups"):
        yield "SecurityGroups and AdditionalSecurityGroups cannot be used together; keep one of them"


def iam_section(title: str, instance_profile_policy: str, *, s3_access: bool, policy: str = SUPPORTED) -> Section:
    """IAM settings of a node role: InstanceRole, InstanceProfile or AdditionalIamPolicies, plus S3Access."""
    fields = {
        "InstanceRole": Str(pattern=IAM_ROLE, pattern_help="use an IAM role ARN", policy=policy),
        "InstanceProfile": Str(
            pattern=IAM_INSTANCE_PROFILE, pattern_help="use an IAM instance profile ARN", policy=instance_profile_policy
        ),
        "AdditionalIamPolicies": additional_iam_policies(policy),
    }
    checks = [
        only_one_of(
            "InstanceRole",
            "InstanceProfile",
            "AdditionalIamPolicies",
            message="InstanceProfile, InstanceRole and AdditionalIamPolicies cannot be used together; keep one",
        )
    ]
    if s3_access:
        fields["S3Access"] = ListOf(
            Section(
                "S3Access item",
                {
                    "BucketName": Str(
                        required=True,
                        pattern=r"^[\*a-z0-9\-\.]+$",
                        pattern_help="use a bucket name of lowercase letters, digits, dots, hyphens or *",
                        policy=SUPPORTED,
                    ),
                    "KeyName": Str(policy=SUPPORTED),
                    "EnableWriteAccess": Bool(default=False, policy=SUPPORTED),
                },
            ),
            key="BucketName",
            policy=SUPPORTED,
        )
        checks.append(_s3_access_alone)
    return Section(title, fields, checks=checks, policy=policy)


def _s3_access_alone(data: dict) -> Iterable[str]:
    if data.get("InstanceRole") and data.get("S3Access"):
        yield "S3Access cannot be used when InstanceRole is set; grant bucket access in the role instead"
    if data.get("InstanceProfile") and data.get("S3Access"):
        yield "S3Access cannot be used when InstanceProfile is set; grant bucket access in the profile instead"


def _custom_action_shape(data: dict) -> Iterable[str]:
    # ParallelCluster decides by key presence: Script and Sequence are exclusive and one is needed.
    if "Script" in data and "Sequence" in data:
        yield "has both Script and Sequence; use only one of them"
    elif "Script" not in data and "Sequence" not in data:
        yield "needs a Script (with optional Args) or a Sequence of them"


def custom_action(policy: str) -> Section:
    """A custom action: {Script, Args} or {Sequence: [{Script, Args}, ...]}; Script is an s3://, https:// URL or path."""
    script = Section(
        "custom action script",
        {"Script": Str(required=True, policy=policy), "Args": ListOf(Str(), policy=policy)},
    )
    return Section(
        "custom action",
        {
            "Script": Str(policy=policy),
            "Args": ListOf(Str(), policy=policy),
            "Sequence": ListOf(script, policy=policy),
        },
        checks=(_custom_action_shape,),
        policy=policy,
    )


def custom_actions(title: str, *, updated: bool, start_policy: str, updated_policy: str = SUPPORTED, policy: str):
    fields = {"OnNodeStart": custom_action(start_policy), "OnNodeConfigured": custom_action(start_policy)}
    if updated:
        fields["OnNodeUpdated"] = custom_action(updated_policy)
    return Section(title, fields, policy=policy)


def proxy(policy: str) -> Section:
    return Section("Proxy", {"HttpProxyAddress": Str(policy=policy)}, policy=policy)


LAMBDA_FUNCTIONS_VPC_CONFIG = Section(
    "LambdaFunctionsVpcConfig",
    {
        "SecurityGroupIds": id_list(SECURITY_GROUP_ID, "sg-0123456789abcdef0", policy=UNSUPPORTED, required=True,
                                    min_len=1, max_len=5),
        "SubnetIds": id_list(SUBNET_ID, "subnet-0123456789abcdef0", policy=UNSUPPORTED, required=True,
                             min_len=1, max_len=16),
    },
    policy=UNSUPPORTED,
)

COOKBOOK = Section(
    "Cookbook",
    {
        "ChefCookbook": Str(policy=UNSUPPORTED),
        "ExtraChefAttributes": Str(checks=(json_text,), policy=EXTRA_CHEF_ATTRIBUTES),
    },
    policy=IGNORED,
)

IMDS_SUPPORT = Section(
    "Imds", {"ImdsSupport": Str(choices=("v1.0", "v2.0"), default="v2.0", policy=UNSUPPORTED)}, policy=UNSUPPORTED
)

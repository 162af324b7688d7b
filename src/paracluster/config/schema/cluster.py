"""Key tree of the ParallelCluster 3 cluster config: the top level, HeadNode, LoginNodes and the smaller sections."""

from __future__ import annotations

from collections.abc import Iterable

from paracluster.config.schema.common import (
    COOKBOOK,
    IMDS_SUPPORT,
    LAMBDA_FUNCTIONS_VPC_CONFIG,
    SUBNET_ID,
    ami_id,
    cidr_or_prefix_list,
    custom_actions,
    iam_section,
    networking_security_group_check,
    proxy,
    security_groups,
    subnet_ids,
    tags,
)
from paracluster.config.schema.scheduling import SCHEDULING
from paracluster.config.schema.storage import SHARED_STORAGE, local_storage
from paracluster.config.schema.types import (
    COMPUTE_AND_LOGIN_NODES_STOP,
    COMPUTE_FLEET_STOP,
    IGNORED,
    LOGIN_NODES_POOL_STOP,
    LOGIN_NODES_POOLS,
    LOGIN_NODES_STOP,
    QUEUE_UPDATE_STRATEGY,
    READ_ONLY_RESOURCE_BUCKET,
    SUPPORTED,
    SUPPORTED_UNLESS_ADC,
    UNSUPPORTED,
    Bool,
    Int,
    ListOf,
    Mapping,
    Raw,
    Section,
    Str,
)
from paracluster.config.versions import (
    AWS_BATCH_CLI_PACKAGE_REMOVED,
    COMPUTE_INSTANCE_INFO_TIMEOUT,
    DEPRECATED_OS,
    LOGIN_SSH_KEY_NAME_REMOVED,
    NODE_BOOTSTRAP_TIMEOUT,
    SUPPORTED_OSES,
)

DEFAULT_USER_BY_OS = {
    "alinux2": "ec2-user",
    "alinux2023": "ec2-user",
    "ubuntu2004": "ubuntu",
    "ubuntu2204": "ubuntu",
    "ubuntu2404": "ubuntu",
    "rhel8": "ec2-user",
    "rhel9": "ec2-user",
    "rocky8": "rocky",
    "rocky9": "rocky",
    "centos7": "centos",
    "ubuntu1804": "ubuntu",
}

IMAGE = Section(
    "Image",
    {
        "Os": Str(required=True, choices=SUPPORTED_OSES, deprecated_values=DEPRECATED_OS, policy=UNSUPPORTED),
        "CustomAmi": ami_id(),
    },
    required=True,
    policy=UNSUPPORTED,
)

DCV = Section(
    "Dcv",
    {
        "Enabled": Bool(policy=UNSUPPORTED),
        "Port": Int(default=8443, policy=UNSUPPORTED),
        "AllowedIps": Str(checks=(cidr_or_prefix_list,), default="0.0.0.0/0", policy=SUPPORTED),
    },
    policy=UNSUPPORTED,
)

HEAD_NODE = Section(
    "HeadNode",
    {
        "InstanceType": Str(required=True, policy=UNSUPPORTED),
        "DisableSimultaneousMultithreading": Bool(default=False, policy=UNSUPPORTED),
        "Networking": Section(
            "Networking",
            {
                "AdditionalSecurityGroups": security_groups(),
                "SecurityGroups": security_groups(),
                "SubnetId": Str(
                    required=True,
                    pattern=SUBNET_ID,
                    pattern_help="use a subnet id such as subnet-0123456789abcdef0",
                    policy=UNSUPPORTED,
                ),
                "ElasticIp": Raw(policy=UNSUPPORTED, doc="true, false or an Elastic IP allocation id"),
                "Proxy": proxy(UNSUPPORTED),
            },
            checks=(networking_security_group_check,),
            required=True,
            policy=UNSUPPORTED,
        ),
        "Ssh": Section(
            "Ssh",
            {
                "KeyName": Str(policy=UNSUPPORTED),
                "AllowedIps": Str(checks=(cidr_or_prefix_list,), default="0.0.0.0/0", policy=SUPPORTED),
            },
            policy=SUPPORTED,
        ),
        "LocalStorage": local_storage(UNSUPPORTED, head=True),
        "SharedStorageType": Str(choices=("Ebs", "Efs"), default="Ebs", policy=UNSUPPORTED),
        # ParallelCluster 3.14: settings of the EFS that holds the internal shared dirs (SharedStorageType Efs).
        "SharedStorageEfsSettings": Section(
            "SharedStorageEfsSettings", {"Encrypted": Bool(default=False, policy=UNSUPPORTED)}, policy=UNSUPPORTED
        ),
        "Dcv": DCV,
        "CustomActions": custom_actions(
            "CustomActions", updated=True, start_policy=UNSUPPORTED, policy=IGNORED
        ),
        "Iam": iam_section("Iam", UNSUPPORTED, s3_access=True),
        "Imds": Section("Imds", {"Secured": Bool(default=True, policy=UNSUPPORTED)}, policy=UNSUPPORTED),
        "Image": Section("Image", {"CustomAmi": ami_id()}, policy=UNSUPPORTED),
    },
    required=True,
    policy=SUPPORTED,
)

LOGIN_NODES_POOL = Section(
    "Pools item",
    {
        "Name": Str(required=True, policy=LOGIN_NODES_POOL_STOP),
        "InstanceType": Str(required=True, policy=LOGIN_NODES_POOL_STOP),
        "Image": Section("Image", {"CustomAmi": ami_id(policy=LOGIN_NODES_POOL_STOP)}, policy=LOGIN_NODES_POOL_STOP),
        "Networking": Section(
            "Networking",
            {
                "SubnetIds": subnet_ids(
                    LOGIN_NODES_POOL_STOP,
                    required=True,
                    min_len=1,
                    max_len=1,
                    length_help="must list exactly one subnet: a login node pool uses one subnet",
                ),
                "AdditionalSecurityGroups": security_groups(LOGIN_NODES_POOL_STOP),
                "SecurityGroups": security_groups(LOGIN_NODES_POOL_STOP),
                "Proxy": proxy(LOGIN_NODES_POOL_STOP),
            },
            checks=(networking_security_group_check,),
            required=True,
            policy=LOGIN_NODES_POOL_STOP,
        ),
        "Count": Int(required=True, minimum=0, policy=SUPPORTED),
        "Dcv": DCV,
        "Ssh": Section(
            "Ssh",
            {
                "KeyName": Str(policy=LOGIN_NODES_POOL_STOP, deprecated=LOGIN_SSH_KEY_NAME_REMOVED),
                "AllowedIps": Str(checks=(cidr_or_prefix_list,), policy=LOGIN_NODES_POOL_STOP),
            },
            policy=LOGIN_NODES_POOL_STOP,
        ),
        "CustomActions": custom_actions("CustomActions", updated=True, start_policy=UNSUPPORTED, policy=IGNORED),
        "Iam": iam_section("Iam", LOGIN_NODES_POOL_STOP, s3_access=False, policy=LOGIN_NODES_POOL_STOP),
        "GracetimePeriod": Int(minimum=3, maximum=120, default=10, policy=SUPPORTED, doc="minutes"),
    },
)

LOGIN_NODES = Section(
    "LoginNodes",
    {"Pools": ListOf(LOGIN_NODES_POOL, required=True, key="Name", policy=LOGIN_NODES_POOLS)},
    policy=LOGIN_NODES_STOP,
)

MONITORING = Section(
    "Monitoring",
    {
        "DetailedMonitoring": Bool(default=False, policy=COMPUTE_FLEET_STOP),
        "Logs": Section(
            "Logs",
            {
                "CloudWatch": Section(
                    "CloudWatch",
                    {
                        "Enabled": Bool(default=True, policy=UNSUPPORTED),
                        "RetentionInDays": Int(
                            choices=(0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653),
                            default=180,
                            policy=SUPPORTED,
                        ),
                        "DeletionPolicy": Str(choices=("Delete", "Retain"), default="Retain", policy=SUPPORTED),
                    },
                    policy=UNSUPPORTED,
                ),
                "Rotation": Section("Rotation", {"Enabled": Bool(default=True, policy=UNSUPPORTED)}, policy=UNSUPPORTED),
            },
            policy=UNSUPPORTED,
        ),
        "Dashboards": Section(
            "Dashboards",
            {"CloudWatch": Section("CloudWatch", {"Enabled": Bool(default=True, policy=SUPPORTED)}, policy=SUPPORTED)},
            policy=SUPPORTED,
        ),
        "Alarms": Section("Alarms", {"Enabled": Bool(default=True, policy=SUPPORTED)}, policy=SUPPORTED),
    },
    policy=IGNORED,
)

DIRECTORY_SERVICE = Section(
    "DirectoryService",
    {
        "DomainName": Str(required=True, policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "DomainAddr": Str(required=True, policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "PasswordSecretArn": Str(
            required=True,
            pattern=r"^arn:.*:(secretsmanager:.*:.*:secret:|ssm:.*:.*:parameter\/).*$",
            pattern_help="use a Secrets Manager secret ARN or an SSM parameter ARN",
            policy=COMPUTE_AND_LOGIN_NODES_STOP,
        ),
        "DomainReadOnlyUser": Str(required=True, policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "LdapTlsCaCert": Str(policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "LdapTlsReqCert": Str(
            choices=("never", "allow", "try", "demand", "hard"), default="hard", policy=COMPUTE_AND_LOGIN_NODES_STOP
        ),
        "LdapAccessFilter": Str(policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "GenerateSshKeysForUsers": Bool(default=True, policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "AdditionalSssdConfigs": Mapping(default=dict, policy=COMPUTE_AND_LOGIN_NODES_STOP),
    },
    policy=COMPUTE_AND_LOGIN_NODES_STOP,
)

DEV_SETTINGS = Section(
    "DevSettings",
    {
        "Cookbook": COOKBOOK,
        "NodePackage": Str(policy=UNSUPPORTED),
        "AwsBatchCliPackage": Str(policy=UNSUPPORTED, deprecated=AWS_BATCH_CLI_PACKAGE_REMOVED),
        "ClusterTemplate": Str(policy=SUPPORTED),
        "AmiSearchFilters": Section(
            "AmiSearchFilters",
            {
                "Tags": tags(UNSUPPORTED, SUPPORTED_UNLESS_ADC, reserved_check=False),
                "Owner": Str(policy=UNSUPPORTED),
                "NamePrefix": Str(policy=UNSUPPORTED, doc="ParallelCluster 3.15: the prefix of AMI names to search"),
            },
            policy=UNSUPPORTED,
        ),
        "InstanceTypesData": Str(policy=SUPPORTED, doc="JSON of extra EC2 instance types (DescribeInstanceTypes)"),
        "Timeouts": Section(
            "Timeouts",
            {
                "HeadNodeBootstrapTimeout": Int(minimum=1, default=NODE_BOOTSTRAP_TIMEOUT, policy=UNSUPPORTED),
                "ComputeNodeBootstrapTimeout": Int(minimum=1, default=NODE_BOOTSTRAP_TIMEOUT, policy=SUPPORTED),
                "ComputeInstanceInfoTimeout": Int(
                    minimum=1, default=COMPUTE_INSTANCE_INFO_TIMEOUT, policy=SUPPORTED, doc="ParallelCluster 3.16"
                ),
            },
            policy=SUPPORTED,
        ),
        "ComputeStartupTimeMetricEnabled": Bool(default=False, policy=SUPPORTED),
        "EfaInterfaceType": Str(policy=QUEUE_UPDATE_STRATEGY, doc="ParallelCluster 3.15: 'efa' keeps one interface"),
    },
    policy=SUPPORTED,
)

DEPLOYMENT_SETTINGS = Section(
    "DeploymentSettings",
    {
        "LambdaFunctionsVpcConfig": LAMBDA_FUNCTIONS_VPC_CONFIG,
        "DisableSudoAccessForDefaultUser": Bool(default=False, policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "DefaultUserHome": Str(choices=("Shared", "Local"), default="Shared", policy=UNSUPPORTED),
    },
    policy=UNSUPPORTED,
)


def _awsbatch_limits(data: dict) -> Iterable[tuple[str, str]]:
    scheduling = data.get("Scheduling") or {}
    if scheduling.get("Scheduler") != "awsbatch":
        return
    unsupported = "is not supported when using awsbatch as the scheduler; remove it or use slurm"
    intel = ((data.get("AdditionalPackages") or {}).get("IntelSoftware") or {}).get("IntelHpcPlatform")
    if intel:
        yield "AdditionalPackages/IntelSoftware", unsupported
    elif ((data.get("HeadNode") or {}).get("CustomActions") or {}).get("OnNodeUpdated"):
        yield "HeadNode/CustomActions/OnNodeUpdated", unsupported
    elif data.get("DirectoryService"):
        yield "DirectoryService", unsupported


CLUSTER = Section(
    "cluster configuration",
    {
        "LoginNodes": LOGIN_NODES,
        "Image": IMAGE,
        "HeadNode": HEAD_NODE,
        "Scheduling": SCHEDULING,
        "SharedStorage": SHARED_STORAGE,
        "Monitoring": MONITORING,
        "AdditionalPackages": Section(
            "AdditionalPackages",
            {
                "IntelSoftware": Section(
                    "IntelSoftware", {"IntelHpcPlatform": Bool(default=False, policy=UNSUPPORTED)}, policy=UNSUPPORTED
                )
            },
            policy=UNSUPPORTED,
        ),
        "Tags": tags(SUPPORTED_UNLESS_ADC, SUPPORTED_UNLESS_ADC, key_policy=UNSUPPORTED),
        "Iam": Section(
            "Iam",
            {
                "Roles": Section("Roles", {"LambdaFunctionsRole": Str(policy=SUPPORTED)}, policy=SUPPORTED),
                "PermissionsBoundary": Str(
                    pattern=r"^arn:.*:policy/", pattern_help="use an IAM policy ARN", policy=SUPPORTED
                ),
                "ResourcePrefix": Str(policy=UNSUPPORTED),
            },
            policy=IGNORED,
        ),
        "DirectoryService": DIRECTORY_SERVICE,
        "Region": Str(policy=UNSUPPORTED),
        "Imds": IMDS_SUPPORT,
        "CustomS3Bucket": Str(policy=READ_ONLY_RESOURCE_BUCKET),
        "AdditionalResources": Str(policy=SUPPORTED),
        "DevSettings": DEV_SETTINGS,
        "DeploymentSettings": DEPLOYMENT_SETTINGS,
    },
    checks=(_awsbatch_limits,),
)

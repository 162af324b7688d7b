"""Key tree of the Scheduling section: Slurm settings, queues and compute resources, and AWS Batch queues."""

from __future__ import annotations

from collections.abc import Iterable

from paracluster.config.versions import ALLOCATION_STRATEGIES, BATCH_NETWORKING_REMOVED, DEPRECATED_SCHEDULERS
from paracluster.config.schema.common import (
    ami_id,
    custom_actions,
    iam_section,
    networking_security_group_check,
    proxy,
    security_groups,
    subnet_ids,
    tags,
)
from paracluster.config.schema.storage import local_storage
from paracluster.config.schema.types import (
    AWSBATCH_CE_MAX_RESIZE,
    COMPUTE_AND_LOGIN_NODES_STOP,
    COMPUTE_FLEET_STOP,
    COMPUTE_FLEET_STOP_ON_REMOVE,
    IGNORED,
    MANAGED_FSX,
    MANAGED_PLACEMENT_GROUP,
    QUEUE_UPDATE_STRATEGY,
    RESIZE_UPDATE_STRATEGY_ON_REMOVE,
    SUPPORTED,
    UNSUPPORTED,
    Bool,
    Float,
    Int,
    ListOf,
    Mapping,
    Section,
    Str,
    only_one_of,
)

SCHEDULERS = ("slurm", "awsbatch")
SCALING_STRATEGIES = ("all-or-nothing", "best-effort", "greedy-all-or-nothing")
CAPACITY_TYPES = ("ONDEMAND", "SPOT", "CAPACITY_BLOCK")
QUEUE_UPDATE_STRATEGIES = ("COMPUTE_FLEET_STOP", "DRAIN", "TERMINATE")
DEFAULT_MIN_COUNT, DEFAULT_MAX_COUNT = 0, 10
MIN_NODE_PRIORITY, MAX_NODE_PRIORITY = 1, 2**32 - 1

PLACEMENT_GROUP = Section(
    "PlacementGroup",
    {
        "Enabled": Bool(policy=MANAGED_PLACEMENT_GROUP),
        "Id": Str(policy=MANAGED_PLACEMENT_GROUP),
        "Name": Str(policy=MANAGED_PLACEMENT_GROUP),
    },
    policy=MANAGED_PLACEMENT_GROUP,
)

CAPACITY_RESERVATION_TARGET = Section(
    "CapacityReservationTarget",
    {
        "CapacityReservationId": Str(policy=QUEUE_UPDATE_STRATEGY),
        "CapacityReservationResourceGroupArn": Str(policy=QUEUE_UPDATE_STRATEGY),
    },
    checks=(
        only_one_of(
            "CapacityReservationId",
            "CapacityReservationResourceGroupArn",
            required=True,
            message="needs either CapacityReservationId or CapacityReservationResourceGroupArn, not both",
        ),
    ),
    policy=QUEUE_UPDATE_STRATEGY,
)

HEALTH_CHECKS = Section(
    "HealthChecks",
    {"Gpu": Section("Gpu", {"Enabled": Bool(policy=SUPPORTED)}, policy=SUPPORTED)},
    policy=SUPPORTED,
)


def _instance_type_declared(data: dict) -> Iterable[str]:
    if data.get("InstanceType") and data.get("Instances"):
        yield "needs either InstanceType or Instances, not both"
        return
    if not data.get("Instances"):
        reservation = data.get("CapacityReservationTarget") or {}
        if not data.get("InstanceType") and not reservation.get("CapacityReservationId"):
            yield "needs Instances, InstanceType or CapacityReservationTarget/CapacityReservationId"


def _no_duplicate_instance_types(instances: list) -> str | None:
    seen: set[str] = set()
    for item in instances:
        name = item.get("InstanceType")
        if name in seen:
            return f"lists the instance type {name} more than once; list each type once"
        seen.add(name)
    return None


SLURM_COMPUTE_RESOURCE = Section(
    "ComputeResources item",
    {
        "Name": Str(required=True, policy=UNSUPPORTED),
        "InstanceType": Str(policy=COMPUTE_FLEET_STOP),
        "Instances": ListOf(
            Section("Instances item", {"InstanceType": Str(required=True, policy=COMPUTE_FLEET_STOP)}),
            key="InstanceType",
            checks=(_no_duplicate_instance_types,),
            policy=COMPUTE_FLEET_STOP_ON_REMOVE,
        ),
        "MaxCount": Int(minimum=1, default=DEFAULT_MAX_COUNT, policy=RESIZE_UPDATE_STRATEGY_ON_REMOVE),
        "MinCount": Int(minimum=0, default=DEFAULT_MIN_COUNT, policy=RESIZE_UPDATE_STRATEGY_ON_REMOVE),
        "SpotPrice": Float(minimum=0, policy=QUEUE_UPDATE_STRATEGY),
        "Efa": Section(
            "Efa",
            {
                "Enabled": Bool(default=False, policy=QUEUE_UPDATE_STRATEGY),
                "GdrSupport": Bool(default=False, policy=QUEUE_UPDATE_STRATEGY),
            },
            policy=QUEUE_UPDATE_STRATEGY,
        ),
        "DisableSimultaneousMultithreading": Bool(default=False, policy=COMPUTE_FLEET_STOP),
        "SchedulableMemory": Int(policy=QUEUE_UPDATE_STRATEGY),
        "CapacityReservationTarget": CAPACITY_RESERVATION_TARGET,
        "Networking": Section(
            "Networking", {"PlacementGroup": PLACEMENT_GROUP}, policy=MANAGED_PLACEMENT_GROUP
        ),
        "HealthChecks": HEALTH_CHECKS,
        "CustomSlurmSettings": Mapping(default=dict, policy=SUPPORTED),
        "Tags": tags(QUEUE_UPDATE_STRATEGY, QUEUE_UPDATE_STRATEGY),
        "LaunchTemplateOverrides": Section(
            "LaunchTemplateOverrides",
            {
                "LaunchTemplateId": Str(required=True, policy=QUEUE_UPDATE_STRATEGY),
                "Version": Int(required=True, minimum=1, policy=QUEUE_UPDATE_STRATEGY),
            },
            policy=QUEUE_UPDATE_STRATEGY,
            doc="ParallelCluster 3.15: a launch template whose network interfaces override the generated ones",
        ),
        "StaticNodePriority": Int(minimum=MIN_NODE_PRIORITY, maximum=MAX_NODE_PRIORITY, default=1, policy=SUPPORTED),
        "DynamicNodePriority": Int(
            minimum=MIN_NODE_PRIORITY, maximum=MAX_NODE_PRIORITY, default=1000, policy=SUPPORTED
        ),
    },
    checks=(_instance_type_declared,),
)

_QUEUE_NETWORKING = Section(
    "Networking",
    {
        "AdditionalSecurityGroups": security_groups(),
        "SecurityGroups": security_groups(),
        "AssignPublicIp": Bool(policy=UNSUPPORTED),
        "SubnetIds": subnet_ids(MANAGED_FSX, required=True, min_len=1),
        "PlacementGroup": PLACEMENT_GROUP,
        "Proxy": proxy(QUEUE_UPDATE_STRATEGY),
    },
    checks=(networking_security_group_check,),
    required=True,
    policy=QUEUE_UPDATE_STRATEGY,
)


def _default_allocation_strategy(queue) -> str | None:
    # ParallelCluster sets lowest-price only when a compute resource uses Instances, never for capacity blocks.
    if queue.capacity_type == "CAPACITY_BLOCK":
        return None
    return "lowest-price" if any(cr.is_set("Instances") for cr in queue.compute_resources) else None


SLURM_QUEUE = Section(
    "SlurmQueues item",
    {
        "Name": Str(required=True, policy=UNSUPPORTED),
        "CapacityType": Str(choices=CAPACITY_TYPES, default="ONDEMAND", policy=QUEUE_UPDATE_STRATEGY),
        "ComputeSettings": Section(
            "ComputeSettings",
            {"LocalStorage": local_storage(QUEUE_UPDATE_STRATEGY, head=False)},
            policy=QUEUE_UPDATE_STRATEGY,
        ),
        "CustomActions": custom_actions(
            "CustomActions", updated=False, start_policy=QUEUE_UPDATE_STRATEGY, policy=QUEUE_UPDATE_STRATEGY
        ),
        "Iam": iam_section("Iam", COMPUTE_FLEET_STOP, s3_access=True),
        "Image": Section(
            "Image", {"CustomAmi": ami_id(policy=QUEUE_UPDATE_STRATEGY)}, policy=QUEUE_UPDATE_STRATEGY
        ),
        "CapacityReservationTarget": CAPACITY_RESERVATION_TARGET,
        "AllocationStrategy": Str(
            choices=ALLOCATION_STRATEGIES, default=_default_allocation_strategy, policy=QUEUE_UPDATE_STRATEGY
        ),
        "ComputeResources": ListOf(
            SLURM_COMPUTE_RESOURCE, required=True, key="Name", policy=RESIZE_UPDATE_STRATEGY_ON_REMOVE
        ),
        "Networking": _QUEUE_NETWORKING,
        "HealthChecks": HEALTH_CHECKS,
        "CustomSlurmSettings": Mapping(default=dict, policy=SUPPORTED),
        "Tags": tags(QUEUE_UPDATE_STRATEGY, QUEUE_UPDATE_STRATEGY),
        "JobExclusiveAllocation": Bool(default=False, policy=SUPPORTED),
    },
)

DATABASE = Section(
    "Database",
    {
        "Uri": Str(required=True, policy=COMPUTE_FLEET_STOP),
        "UserName": Str(required=True, policy=COMPUTE_FLEET_STOP),
        "PasswordSecretArn": Str(
            required=True,
            pattern=r"^arn:.*:secret",
            pattern_help="use a Secrets Manager secret ARN",
            policy=COMPUTE_FLEET_STOP,
        ),
        "DatabaseName": Str(
            pattern=r"^[0-9a-z_]+$",
            pattern_help="use lowercase letters, digits and underscores",
            min_len=1,
            max_len=64,
            policy=SUPPORTED,
        ),
    },
    policy=COMPUTE_FLEET_STOP,
)

SLURM_SETTINGS = Section(
    "SlurmSettings",
    {
        "ScaledownIdletime": Int(minimum=-1, default=10, policy=COMPUTE_FLEET_STOP, doc="minutes; -1 disables"),
        "Dns": Section(
            "Dns",
            {
                "DisableManagedDns": Bool(default=False, policy=UNSUPPORTED),
                "HostedZoneId": Str(policy=UNSUPPORTED),
                "UseEc2Hostnames": Bool(default=False, policy=UNSUPPORTED),
            },
            policy=UNSUPPORTED,
        ),
        "QueueUpdateStrategy": Str(choices=QUEUE_UPDATE_STRATEGIES, default="COMPUTE_FLEET_STOP", policy=IGNORED),
        "EnableMemoryBasedScheduling": Bool(default=False, policy=COMPUTE_FLEET_STOP),
        "Database": DATABASE,
        "CustomSlurmSettings": ListOf(Mapping(), policy=SUPPORTED),
        "CustomSlurmSettingsIncludeFile": Str(policy=SUPPORTED),
        "MungeKeySecretArn": Str(policy=COMPUTE_AND_LOGIN_NODES_STOP),
        "ExternalSlurmdbd": Section(
            "ExternalSlurmdbd",
            {"Host": Str(required=True, policy=SUPPORTED), "Port": Int(default=6819, policy=SUPPORTED)},
            policy=SUPPORTED,
        ),
    },
    policy=IGNORED,
)

AWS_BATCH_QUEUE = Section(
    "AwsBatchQueues item",
    {
        "Name": Str(required=True, policy=UNSUPPORTED),
        "CapacityType": Str(choices=CAPACITY_TYPES, default="ONDEMAND", policy=QUEUE_UPDATE_STRATEGY),
        "ComputeResources": ListOf(
            Section(
                "ComputeResources item",
                {
                    "Name": Str(required=True, policy=UNSUPPORTED),
                    "InstanceTypes": ListOf(Str(), required=True, policy=COMPUTE_FLEET_STOP),
                    "MaxvCpus": Int(minimum=1, default=10, policy=AWSBATCH_CE_MAX_RESIZE, attr="max_vcpus"),
                    "MinvCpus": Int(minimum=0, default=0, policy=SUPPORTED, attr="min_vcpus"),
                    "DesiredvCpus": Int(
                        minimum=0, default=lambda cr: cr.min_vcpus, policy=IGNORED, attr="desired_vcpus"
                    ),
                    "SpotBidPercentage": Int(minimum=0, maximum=100, min_exclusive=True, policy=SUPPORTED),
                },
            ),
            required=True,
            min_len=1,
            max_len=1,
            key="Name",
            policy=COMPUTE_FLEET_STOP,
        ),
        "Networking": Section(
            "Networking",
            {
                "AdditionalSecurityGroups": security_groups(),
                "SecurityGroups": security_groups(),
                "AssignPublicIp": Bool(policy=UNSUPPORTED),
                "SubnetIds": subnet_ids(MANAGED_FSX, required=True, min_len=1, max_len=1),
                "PlacementGroup": PLACEMENT_GROUP.extend("PlacementGroup", {}, deprecated=BATCH_NETWORKING_REMOVED),
                "Proxy": proxy(COMPUTE_FLEET_STOP).extend("Proxy", {}, deprecated=BATCH_NETWORKING_REMOVED),
            },
            checks=(networking_security_group_check,),
            required=True,
            policy=COMPUTE_FLEET_STOP,
        ),
    },
)


def _scheduler_sections(data: dict) -> Iterable[str]:
    scheduler = data.get("Scheduler")
    prefix = "AwsBatch" if scheduler == "awsbatch" else "Slurm"
    if data.get("SlurmSettings") and data.get("AwsBatchSettings"):
        yield "has both SlurmSettings and AwsBatchSettings; keep the one of your Scheduler"
    if bool(data.get("SlurmQueues")) == bool(data.get("AwsBatchQueues")):
        yield f"needs a non-empty {prefix}Queues section (and only that one) for Scheduler {scheduler}"
    for owner, settings, queues in (
        ("awsbatch", "AwsBatchSettings", "AwsBatchQueues"),
        ("slurm", "SlurmSettings", "SlurmQueues"),
    ):
        if settings in data and owner != scheduler:
            yield f"{settings} does not fit Scheduler {scheduler}; remove it"
        if queues in data and owner != scheduler:
            yield f"{queues} does not fit Scheduler {scheduler}; remove it"


SCHEDULING = Section(
    "Scheduling",
    {
        "Scheduler": Str(
            required=True, choices=SCHEDULERS, deprecated_values=DEPRECATED_SCHEDULERS, policy=UNSUPPORTED
        ),
        "ScalingStrategy": Str(choices=SCALING_STRATEGIES, default="all-or-nothing", policy=SUPPORTED),
        "SlurmSettings": SLURM_SETTINGS,
        "SlurmQueues": ListOf(SLURM_QUEUE, key="Name", policy=RESIZE_UPDATE_STRATEGY_ON_REMOVE),
        "AwsBatchQueues": ListOf(AWS_BATCH_QUEUE, min_len=1, max_len=1, key="Name", policy=COMPUTE_FLEET_STOP),
        "AwsBatchSettings": Section("AwsBatchSettings", {}, policy=COMPUTE_FLEET_STOP),
    },
    checks=(_scheduler_sections,),
    required=True,
    policy=UNSUPPORTED,
)

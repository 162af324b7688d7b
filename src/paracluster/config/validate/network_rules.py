"""Validators of queue networking that need no AWS: subnet lists and placement group settings.

Provider checks, left out here because they need subnet Availability Zones or other EC2 data: QueueSubnetsValidator's
same-zone part, EfaMultiAzValidator, MultiAzPlacementGroupValidator, SubnetsValidator, SecurityGroupsValidator,
ElasticIpValidator, MultiNetworkInterfacesInstancesValidator and PlacementGroupNamingValidator's lookup of a named
group.
"""

from __future__ import annotations

from collections import Counter

from paracluster.config.validate.core import Context, Report, validator


@validator("QueueSubnetsValidator")
def queue_subnets(context: Context, report: Report) -> None:
    for queue in context.config.scheduling.slurm_queues:
        counts = Counter(queue.networking.subnet_ids)
        repeated = [subnet for subnet, count in counts.items() if count > 1]
        if repeated:
            report.error(
                f"{queue.networking.where('SubnetIds')}: queue '{queue.name}' lists {', '.join(repeated)} more than "
                "once; list each subnet once"
            )


@validator("SingleInstanceTypeSubnetValidator")
def single_instance_type_subnet(context: Context, report: Report) -> None:
    for queue in context.config.scheduling.slurm_queues:
        subnets = queue.networking.subnet_ids
        # EC2 Fleet spreads over several subnets only for compute resources declared with an Instances list.
        single = [resource for resource in queue.compute_resources if not resource.instances]
        if single and len(subnets) > 1:
            report.error(
                f"{queue.networking.where('SubnetIds')}: queue '{queue.name}' lists {len(subnets)} subnets but "
                f"compute resource '{single[0].name}' uses InstanceType; use one subnet, or declare the type under "
                "Instances/InstanceType instead"
            )


def _placement_groups(config) -> list:
    """Every PlacementGroup section the file writes, queue level and compute resource level."""
    groups = []
    for queue in config.scheduling.slurm_queues:
        groups.extend(resource.networking.placement_group for resource in queue.compute_resources)
        groups.append(queue.networking.placement_group)
    return [group for group in groups if group.present]


@validator("PlacementGroupNamingValidator")
def placement_group_naming(context: Context, report: Report) -> None:
    for group in _placement_groups(context.config):
        if group.id and group.name:
            report.error(f"{group.where('Id')}: cannot be used together with Name; keep only one of Id and Name")
        if (group.name or group.id) and group.enabled is False:
            key = "Name" if group.name else "Id"
            report.error(
                f"{group.where('Enabled')}: is false while {key} names a placement group; remove {key} to go "
                "without a placement group, or set Enabled to true (or remove it) to use that group"
            )

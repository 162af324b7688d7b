"""AWS validators of access and networking: key pairs, subnets and their VPC and zones, security groups, Elastic IPs,
placement groups, and instance types offered in the subnets' zones."""

from __future__ import annotations

from collections import defaultdict

from paracluster.config.validate.core import Report, validator
from paracluster.errors import ClusterError, NotFoundError
from paracluster.providers.aws.validate import KIND, AwsContext


def subnet_sites(config) -> list[tuple[str, str]]:
    """(subnet id, where it is set) for every subnet the config names, in order."""
    head = config.head_node.networking
    sites = [(head.subnet_id, head.where("SubnetId"))]
    for section in [*config.scheduling.slurm_queues, *config.login_nodes.pools]:
        sites += [(subnet, section.networking.where("SubnetIds")) for subnet in section.networking.subnet_ids]
    return sites


def cluster_vpc(context: AwsContext) -> str | None:
    found = context.lookups.subnets([context.config.head_node.networking.subnet_id])
    subnet = next(iter(found.values()))
    return subnet["VpcId"] if subnet else None


@validator("KeyPairValidator", kind=KIND)
def key_pairs(context: AwsContext, report: Report) -> None:
    sites = []
    ssh = context.config.head_node.ssh
    if ssh.key_name:
        sites.append((ssh.key_name, ssh.where("KeyName")))
    sites += [(pool.ssh.key_name, pool.ssh.where("KeyName")) for pool in context.config.login_nodes.pools
              if pool.ssh.key_name]
    for name in dict.fromkeys(name for name, _ in sites):
        where = next(where for key, where in sites if key == name)
        try:
            context.session.call(f"describe key pair {name}", "ec2", "describe_key_pairs", KeyNames=[name])
        except NotFoundError:
            report.error(f"{where}: key pair '{name}' does not exist in {context.region}; create it with "
                         f"`paracluster create-key-pair -k {name} --provider aws` or import one")


@validator("SubnetsValidator", kind=KIND)
def subnets(context: AwsContext, report: Report) -> None:
    sites = subnet_sites(context.config)
    found = context.lookups.subnets([subnet for subnet, _ in sites])
    reported = set()
    for subnet, where in sites:
        if found[subnet] is None and subnet not in reported:
            reported.add(subnet)
            report.error(f"{where}: subnet {subnet} does not exist in {context.region}; use a subnet of the "
                         "cluster's VPC in this region")
    vpcs = defaultdict(list)
    for subnet, details in found.items():
        if details is not None:
            vpcs[details["VpcId"]].append(subnet)
    if len(vpcs) > 1:
        listing = "; ".join(f"{vpc}: {', '.join(members)}" for vpc, members in sorted(vpcs.items()))
        report.error(f"{context.config.head_node.networking.where('SubnetId')}: the cluster's subnets are in "
                     f"{len(vpcs)} VPCs ({listing}); use subnets of one VPC")
    for vpc in sorted(vpcs):
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            answer = context.session.call(f"describe VPC {vpc}", "ec2", "describe_vpc_attribute", VpcId=vpc,
                                          Attribute=attribute)
            if not answer.get(key, {}).get("Value"):
                report.error(f"{context.config.head_node.networking.where('SubnetId')}: VPC {vpc} does not have "
                             f"{attribute} turned on; the nodes need it to find each other by name, so turn it on")


@validator("QueueSubnetsValidator", kind=KIND)
def queue_subnet_zones(context: AwsContext, report: Report) -> None:
    for queue in context.config.scheduling.slurm_queues:
        found = context.lookups.subnets(queue.networking.subnet_ids)
        zones = defaultdict(list)
        for subnet, details in found.items():
            if details is not None:
                zones[details["AvailabilityZone"]].append(subnet)
        for zone, members in sorted(zones.items()):
            if len(members) > 1:
                report.error(f"{queue.networking.where('SubnetIds')}: subnets {', '.join(members)} of queue "
                             f"'{queue.name}' are all in {zone}; list at most one subnet per Availability Zone")


def _security_group_sites(config) -> list[tuple[str, str]]:
    sites = []
    for section in [config.head_node, *config.scheduling.slurm_queues, *config.login_nodes.pools]:
        for key in ("SecurityGroups", "AdditionalSecurityGroups"):
            sites += [(group, section.networking.where(key)) for group in section.networking.get(key)]
    return sites


@validator("SecurityGroupsValidator", kind=KIND)
def security_groups(context: AwsContext, report: Report) -> None:
    sites = _security_group_sites(context.config)
    if not sites:
        return
    vpc = cluster_vpc(context)
    for group in dict.fromkeys(group for group, _ in sites):
        where = next(where for key, where in sites if key == group)
        try:
            found = context.session.call(f"describe security group {group}", "ec2", "describe_security_groups",
                                         GroupIds=[group])["SecurityGroups"]
        except NotFoundError:
            found = []
        if not found:
            report.error(f"{where}: security group {group} does not exist in {context.region}; use a security "
                         "group of the cluster's VPC")
        elif vpc and found[0].get("VpcId") != vpc:
            report.error(f"{where}: security group {group} belongs to VPC {found[0].get('VpcId')}, not to the "
                         f"cluster's VPC {vpc}; use a security group of {vpc}")


@validator("ElasticIpValidator", kind=KIND)
def elastic_ip(context: AwsContext, report: Report) -> None:
    networking = context.config.head_node.networking
    allocation = networking.elastic_ip
    if not (isinstance(allocation, str) and allocation.startswith("eipalloc-")):
        return
    try:
        context.session.call(f"describe Elastic IP {allocation}", "ec2", "describe_addresses",
                             AllocationIds=[allocation])
    except NotFoundError:
        report.error(f"{networking.where('ElasticIp')}: Elastic IP {allocation} does not exist in "
                     f"{context.region}; allocate one, or set ElasticIp to true to get a new one")


@validator("PlacementGroupNamingValidator", kind=KIND)
def placement_groups(context: AwsContext, report: Report) -> None:
    sites = []
    for queue in context.config.scheduling.slurm_queues:
        for group in [queue.networking.placement_group,
                      *(resource.networking.placement_group for resource in queue.compute_resources)]:
            name = group.name or group.id
            if name:
                sites.append((name, group.where("Name" if group.name else "Id")))
    for name in dict.fromkeys(name for name, _ in sites):
        where = next(where for key, where in sites if key == name)
        try:
            context.session.call(f"describe placement group {name}", "ec2", "describe_placement_groups",
                                 GroupNames=[name])
        except ClusterError as err:
            # EC2 answers InvalidPlacementGroup.Unknown for a name it does not know.
            if "InvalidPlacementGroup" not in str(err) and not isinstance(err, NotFoundError):
                raise
            report.error(f"{where}: placement group '{name}' does not exist in {context.region}; create it, or "
                         "remove the name to let ParaCluster make one")


def _instance_type_sites(config) -> list[tuple[str, list[str], str]]:
    """(instance type, subnets it launches in, where it is set) for the head node, compute resources, login pools."""
    head = config.head_node
    sites = [(head.instance_type, [head.networking.subnet_id], head.where("InstanceType"))]
    for queue in config.scheduling.slurm_queues:
        for resource in queue.compute_resources:
            if resource.instances:
                sites += [(item.instance_type, queue.networking.subnet_ids, item.where("InstanceType"))
                          for item in resource.instances]
            elif resource.instance_type:
                sites.append((resource.instance_type, queue.networking.subnet_ids, resource.where("InstanceType")))
    for pool in config.login_nodes.pools:
        sites.append((pool.instance_type, pool.networking.subnet_ids, pool.where("InstanceType")))
    return sites


@validator("InstanceTypeValidator", kind=KIND)
def instance_types_offered(context: AwsContext, report: Report) -> None:
    sites = _instance_type_sites(context.config)
    found = context.lookups.subnets([subnet for _, subnets, _ in sites for subnet in subnets])
    zones_of = {subnet: details["AvailabilityZone"] for subnet, details in found.items() if details}
    zones = sorted(set(zones_of.values()))
    types = sorted({name for name, _, _ in sites})
    if not zones or not types:
        return
    offered = defaultdict(set)  # instance type -> zones offering it
    offerings = context.session.pages(
        "describe instance type offerings", "ec2", "describe_instance_type_offerings", "InstanceTypeOfferings",
        LocationType="availability-zone",
        Filters=[{"Name": "location", "Values": zones}, {"Name": "instance-type", "Values": types}])
    for offering in offerings:
        offered[offering["InstanceType"]].add(offering["Location"])
    for name, subnets_of_site, where in sites:
        wanted = sorted({zones_of[subnet] for subnet in subnets_of_site if subnet in zones_of})
        missing = [zone for zone in wanted if zone not in offered[name]]
        if wanted and len(missing) == len(wanted):
            report.error(f"{where}: instance type {name} is not offered in {', '.join(missing)}; choose a type "
                         "offered there or subnets in other Availability Zones")
        elif missing:
            report.warning(f"{where}: instance type {name} is not offered in {', '.join(missing)}; its nodes will "
                           "launch only in the other zones of the queue")

"""What a node is as an EC2 instance: its hostnames (ParallelCluster's Dns rules), tags, IAM role and zone. Pure.

ParallelCluster's cookbook (init_dns) gives a compute node its Slurm node name as hostname, in the cluster's private
DNS domain (`<cluster>.pcluster`, or EC2's DHCP domain with `DisableManagedDns`), unless `UseEc2Hostnames` keeps
EC2's name; head and login nodes always keep EC2's name, which IMDS reports as `local-hostname`
(`ip-a-b-c-d.ec2.internal` in us-east-1, `ip-a-b-c-d.<region>.compute.internal` elsewhere).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from paracluster.plan.actions import owner_of
from paracluster.plan.inventory import PlannedNode

# The instance tags ParallelCluster's launch templates put on its nodes (besides the config's Tags).
TAG_CLUSTER = "parallelcluster:cluster-name"
TAG_NODE_TYPE = "parallelcluster:node-type"
TAG_QUEUE = "parallelcluster:queue-name"
TAG_COMPUTE_RESOURCE = "parallelcluster:compute-resource-name"
TAG_LOGIN_POOL = "parallelcluster:login-nodes-pool"
# Node type -> (the node-type tag's value, the Name tag's value).
_TAG_VALUES = {"HeadNode": ("HeadNode", "HeadNode"), "ComputeNode": ("Compute", "Compute"),
               "LoginNode": ("LoginNode", "LoginNode")}
ROLE_NAME_LIMIT = 64  # IAM's longest role name


@dataclass(frozen=True)
class Hostname:
    """A node's hostname: the short one (`hostname`) and the fully qualified one (`hostname -f`)."""

    short: str
    fqdn: str


def ec2_domain(region: str) -> str:
    """EC2's private DNS domain of a region (what its DHCP options give instances)."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def ec2_short_hostname(ipv4: str) -> str:
    return "ip-" + ipv4.replace(".", "-")


def ec2_hostname(ipv4: str, region: str) -> str:
    """EC2's private DNS name of an address: IMDS's local-hostname and hostname."""
    return f"{ec2_short_hostname(ipv4)}.{ec2_domain(region)}"


def cluster_dns_domain(config, cluster: str, region: str) -> str:
    """The domain compute nodes' names live in: the cluster's private hosted zone, or EC2's with DisableManagedDns.

    With an existing `HostedZoneId`, ParallelCluster uses that zone's name, which only Route 53 knows; locally the
    managed zone's name stands in for it.
    """
    if config.scheduling.slurm_settings.dns.disable_managed_dns:
        return ec2_domain(region)
    return f"{cluster}.pcluster"


def node_hostname(config, cluster: str, region: str, node: PlannedNode, address: str) -> Hostname:
    """The hostname ParallelCluster gives the node (see the module docstring)."""
    dns = config.scheduling.slurm_settings.dns
    if node.node_type == "ComputeNode" and not dns.use_ec2_hostnames:
        return Hostname(node.name, f"{node.name}.{cluster_dns_domain(config, cluster, region)}")
    return Hostname(ec2_short_hostname(address), ec2_hostname(address, region))


def hosts_line(config, cluster: str, region: str, node: PlannedNode, address: str) -> str:
    """The node's /etc/hosts line: its fully qualified hostname first (what `hostname -f` finds), then its other
    names: the short hostname, the Slurm node name and EC2's names, each once."""
    own = node_hostname(config, cluster, region, node, address)
    names = [own.fqdn, own.short, node.name, ec2_hostname(address, region), ec2_short_hostname(address)]
    return " ".join([address, *dict.fromkeys(names)])


def availability_zone(region: str) -> str:
    """The zone local nodes report: the region's first (the local provider has one zone)."""
    return f"{region}a"


def instance_tags(config, cluster: str, node: PlannedNode) -> dict[str, str]:
    """The tags of the node's instance, as ParallelCluster's launch templates set them: the config's cluster Tags,
    for compute nodes the queue's then the compute resource's Tags, and ParallelCluster's own tags."""
    tags = {tag.key: tag.value for tag in config.tags}
    node_type, name = _TAG_VALUES[node.node_type]
    extra = {TAG_NODE_TYPE: node_type}
    if node.node_type == "ComputeNode":
        queue = owner_of(config, node)
        resource = next(item for item in queue.compute_resources if item.name == node.compute_resource)
        for section in (queue, resource):
            tags.update({tag.key: tag.value for tag in section.tags})
        extra.update({TAG_QUEUE: node.queue, TAG_COMPUTE_RESOURCE: node.compute_resource})
    elif node.node_type == "LoginNode":
        extra[TAG_LOGIN_POOL] = node.pool
    tags.update(extra)
    tags[TAG_CLUSTER] = cluster
    tags["Name"] = name
    return tags


@dataclass(frozen=True)
class InstanceRole:
    """The IAM role whose temporary credentials the node's IMDS hands out, and its instance profile's name."""

    role_name: str
    instance_profile_name: str


def _arn_name(arn: str) -> str:
    """The last part of an IAM ARN's resource (roles and profiles may have paths)."""
    return arn.rsplit("/", 1)[-1]


def instance_role(config, cluster: str, node: PlannedNode) -> InstanceRole:
    """The node's role: `Iam/InstanceRole`, else `Iam/InstanceProfile` (its role is named after it here), else the
    role ParallelCluster creates for the node's section (CloudFormation names it `<stack>-Role<Section>-<suffix>`)."""
    iam = owner_of(config, node).iam
    if iam.instance_role:
        name = _arn_name(iam.instance_role)
        return InstanceRole(name, name)
    if iam.instance_profile:
        name = _arn_name(iam.instance_profile)
        return InstanceRole(name, name)
    section = {"HeadNode": "HeadNode", "ComputeNode": f"Queue{node.queue}", "LoginNode": f"Pool{node.pool}"}
    label = section[node.node_type]
    suffix = hashlib.sha256(f"{cluster}/{label}".encode()).hexdigest()[:12].upper()
    name = f"{cluster}-Role{label}"[:ROLE_NAME_LIMIT - len(suffix) - 1] + f"-{suffix}"
    return InstanceRole(name, name.replace("-Role", "-InstanceProfile", 1)[:ROLE_NAME_LIMIT])


def subnet_id(config, node: PlannedNode) -> str | None:
    """The subnet the node's section names (a queue's or pool's first one)."""
    networking = owner_of(config, node).networking
    if node.node_type == "HeadNode":
        return networking.subnet_id
    return (list(networking.subnet_ids) or [None])[0]

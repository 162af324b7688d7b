"""What the template's sections share while one template is built: inputs, logical ids, tags, cross references."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from troposphere import GetAtt, Ref, Sub, Tags, Template

from paracluster.providers.aws.images import NodeImage
from paracluster.providers.aws.naming import TAG_CLUSTER, logical_id

HEAD = "HeadNode"


def cluster_subnets(config) -> list[str]:
    """Every subnet the config's nodes use: the head node's, then each queue's and login pool's, once each."""
    found = [config.head_node.networking.subnet_id]
    for queue in config.scheduling.slurm_queues:
        found += queue.networking.subnet_ids
    for pool in config.login_nodes.pools:
        found += pool.networking.subnet_ids
    return list(dict.fromkeys(found))


def queue_key(name: str) -> str:
    return f"queue/{name}"


def pool_key(name: str) -> str:
    return f"pool/{name}"


@dataclass(frozen=True)
class TemplateFacts:
    """What AWS said about the config's ids before the template is built, and where the cluster's files live.

    `images` maps a node group (HeadNode, queue/<name>, pool/<name>) to its AMI; `extra_login_ports` maps a login pool
    to the TCP ports its load balancer serves besides 22.
    """

    region: str
    vpc_id: str
    vpc_cidr: str
    subnet_zones: Mapping[str, str]
    images: Mapping[str, NodeImage]
    bucket: str
    prefix: str
    stamp: str
    version: str
    public_subnets: frozenset[str] = frozenset()
    extra_login_ports: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


class Builder:
    """One template under construction; sections add resources and leave references for later sections."""

    def __init__(self, config, plan, facts: TemplateFacts):
        self.config = config
        self.plan = plan
        self.facts = facts
        self.name = plan.name
        self.template = Template(Description=f"ParaCluster cluster {plan.name} (ParaCluster {facts.version})")
        self.template.set_version("2010-09-09")
        self._ids: set[str] = set()
        # Filled by the sections, read by later ones.
        self.node_security_groups: dict[str, list] = {}  # node group -> the security group ids its nodes get
        self.managed_security_groups: dict[str, object] = {}  # head | compute | login | storage -> resource
        self.instance_profiles: dict[str, object] = {}  # node group -> profile (Ref/ARN) for launch templates
        self.passed_roles: list = []  # role ARNs the head node may pass to compute instances
        self.roles: dict[str, object] = {}  # node group -> the role resource ParaCluster made
        self.launch_templates: dict[tuple[str, str], object] = {}  # (queue, compute resource) -> launch template
        self.placement_groups: list = []  # managed placement group names (Refs) and existing names
        self.capacity_reservations: list[str] = []
        self.head_dependencies: list[str] = []  # resources the head node waits for (storage, policy)
        self.volume_ids: list = []  # (storage name, volume Ref or id) attached to the head node, in device order
        self.storage_outputs: list[tuple[str, object]] = []  # (storage name, id) of every SharedStorage item
        self.table = None
        self.log_group = None
        self.head_instance = None
        self.wait_handle = None
        self.wait_condition = None

    # --- ids and resources -------------------------------------------------------------------------------------

    def unique_id(self, *parts: str) -> str:
        """A logical id from names; names that only differ in hyphens or case get a short digest to stay apart."""
        base = logical_id(*parts)
        candidate = base
        if candidate in self._ids:
            candidate = base + hashlib.sha256("/".join(parts).encode()).hexdigest()[:6].upper()
        self._ids.add(candidate)
        return candidate

    def add(self, resource):
        return self.template.add_resource(resource)

    # --- tags -------------------------------------------------------------------------------------------------------

    def cluster_tags(self) -> dict[str, str]:
        """The config's cluster Tags and the cluster name tag, which every resource carries."""
        tags = {tag.key: tag.value for tag in self.config.tags}
        tags[TAG_CLUSTER] = self.name
        return tags

    def tags(self, extra: Mapping[str, str] | None = None, name: str | None = None) -> Tags:
        values = self.cluster_tags()
        values.update(extra or {})
        if name:
            values["Name"] = name
        return Tags(**values)

    def tag_list(self, extra: Mapping[str, str] | None = None) -> list[dict]:
        values = self.cluster_tags()
        values.update(extra or {})
        return [{"Key": key, "Value": value} for key, value in values.items()]

    # --- ARNs -------------------------------------------------------------------------------------------------------

    @staticmethod
    def arn(service: str, resource: str, region: bool = True, account: bool = True):
        """An ARN of this partition (and region and account) for `resource`, which may hold ${...} of the stack."""
        return Sub("arn:${AWS::Partition}:%s:%s:%s:%s" % (
            service, "${AWS::Region}" if region else "", "${AWS::AccountId}" if account else "", resource))

    def bucket_arn(self, objects: bool = False):
        objects_part = f"/{self.facts.prefix}/*" if objects else ""
        return Sub(f"arn:${{AWS::Partition}}:s3:::{self.facts.bucket}{objects_part}")

    @staticmethod
    def group_id(security_group) -> object:
        """The id of a security group: GetAtt for one in the template, the id itself for an existing one."""
        return GetAtt(security_group, "GroupId") if not isinstance(security_group, str) else security_group

    @staticmethod
    def ref(value) -> object:
        return value if isinstance(value, str) else Ref(value)

    # --- config lookups ---------------------------------------------------------------------------------------------

    def key_name(self) -> str | None:
        return self.config.head_node.ssh.key_name

    def image(self, group: str) -> NodeImage:
        return self.facts.images.get(group) or self.facts.images[HEAD]

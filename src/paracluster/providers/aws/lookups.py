"""What the aws provider asks AWS about a config's ids, asked once per request and shared by the validators and the
template facts (subnets and their VPC and zones, AMIs, the cluster bucket)."""

from __future__ import annotations

import threading
import time

from paracluster.errors import ClusterError, NotFoundError
from paracluster.providers.aws import images
from paracluster.providers.aws.naming import bucket_name, cluster_prefix
from paracluster.providers.aws.template.context import HEAD, TemplateFacts, cluster_subnets, pool_key, queue_key


class Lookups:
    """Cached answers of one request's AWS lookups; the validators share them from several threads."""

    def __init__(self, session):
        self.session = session
        self._lock = threading.RLock()  # one asks, the others wait for the cached answer
        self._subnets: dict[str, dict | None] = {}
        self._images: dict[str, dict | None] = {}
        self._base_images: dict[tuple[str, str], dict | None] = {}
        self._account: str | None = None

    def subnets(self, ids: list[str]) -> dict[str, dict | None]:
        """DescribeSubnets of each id (None for ids that do not exist), asking only about unknown ones."""
        with self._lock:
            wanted = [subnet for subnet in dict.fromkeys(ids) if subnet not in self._subnets]
            if wanted:
                found = self._describe_subnets(wanted)
                for subnet in wanted:
                    self._subnets[subnet] = next((item for item in found if item["SubnetId"] == subnet), None)
            return {subnet: self._subnets[subnet] for subnet in ids}

    def _describe_subnets(self, wanted: list[str]) -> list[dict]:
        try:
            return self.session.call("describe subnets", "ec2", "describe_subnets", SubnetIds=wanted)["Subnets"]
        except NotFoundError:
            # One unknown id fails the whole call; ask one by one to tell which.
            found = []
            for subnet in wanted:
                try:
                    found += self.session.call(f"describe subnet {subnet}", "ec2", "describe_subnets",
                                               SubnetIds=[subnet])["Subnets"]
                except NotFoundError:
                    pass
            return found

    def image(self, image_id: str) -> dict | None:
        with self._lock:
            if image_id not in self._images:
                self._images[image_id] = images.describe_image(self.session, image_id)
            return self._images[image_id]

    def base_image(self, os_name: str, architecture: str) -> dict | None:
        key = (os_name, architecture)
        with self._lock:
            if key not in self._base_images:
                self._base_images[key] = images.find_base_image(self.session, os_name, architecture)
            return self._base_images[key]

    def account(self) -> str:
        with self._lock:
            if self._account is None:
                self._account = self.session.account_id()
            return self._account


def node_groups(config, catalog) -> list[tuple[str, str | None, str | None, str]]:
    """(group, CustomAmi, where the AMI is set, architecture) of the head node, each queue and each login pool.

    A queue's or pool's own Image/CustomAmi wins over the cluster's Image/CustomAmi; the architecture is that of the
    group's (first) instance type, else the head node's.
    """
    def architecture(instance_type: str | None) -> str:
        info = catalog.get(instance_type) if instance_type else None
        head = catalog.get(config.head_node.instance_type)
        return (info or head).architecture if (info or head) else "x86_64"

    cluster_ami = config.image.custom_ami
    head_ami = config.head_node.image.custom_ami
    groups = [(HEAD, head_ami or cluster_ami,
               config.head_node.image.where("CustomAmi") if head_ami else config.image.where("CustomAmi"),
               architecture(config.head_node.instance_type))]
    for queue in config.scheduling.slurm_queues:
        first = queue.compute_resources[0] if queue.compute_resources else None
        types = ([first.instances[0].instance_type] if first and first.instances else
                 [first.instance_type] if first else [None])
        own = queue.image.custom_ami
        groups.append((queue_key(queue.name), own or cluster_ami,
                       queue.image.where("CustomAmi") if own else config.image.where("CustomAmi"),
                       architecture(types[0])))
    for pool in config.login_nodes.pools:
        own = pool.image.custom_ami
        groups.append((pool_key(pool.name), own or cluster_ami,
                       pool.image.where("CustomAmi") if own else config.image.where("CustomAmi"),
                       architecture(pool.instance_type)))
    return groups


def node_images(lookups: Lookups, config, catalog) -> dict[str, images.NodeImage]:
    """The AMI of every node group; raises with one sentence when one cannot be found."""
    found = {}
    for group, custom, where, arch in node_groups(config, catalog):
        if custom:
            image = lookups.image(custom)
            if image is None:
                raise NotFoundError(f"{where}: AMI {custom} does not exist in {lookups.session.region}; "
                                    "use an AMI id of this region")
        else:
            image = lookups.base_image(config.image.os, arch)
            if image is None:
                raise NotFoundError(f"{config.image.where('Os')}: no {config.image.os} base AMI for {arch} was found "
                                    f"in {lookups.session.region}; set Image/CustomAmi")
        found[group] = images.node_image(image)
    return found


def template_facts(lookups: Lookups, config, plan, version: str, extra_login_ports: dict) -> TemplateFacts:
    """Everything the template needs from AWS about this config (after the validators passed)."""
    session = lookups.session
    subnets = lookups.subnets(cluster_subnets(config))
    missing = [subnet for subnet, found in subnets.items() if found is None]
    if missing:
        raise NotFoundError(f"subnet {missing[0]} does not exist in {session.region}; use a subnet of this region")
    vpc_id = subnets[config.head_node.networking.subnet_id]["VpcId"]
    vpcs = session.call(f"describe VPC {vpc_id}", "ec2", "describe_vpcs", VpcIds=[vpc_id])["Vpcs"]
    if not vpcs:
        raise ClusterError(f"failed to describe VPC {vpc_id}: AWS returned nothing")
    bucket = config.custom_s3_bucket or bucket_name(lookups.account(), session.region)
    return TemplateFacts(
        region=session.region,
        vpc_id=vpc_id,
        vpc_cidr=vpcs[0]["CidrBlock"],
        subnet_zones={subnet: found["AvailabilityZone"] for subnet, found in subnets.items()},
        public_subnets=frozenset(subnet for subnet, found in subnets.items() if found.get("MapPublicIpOnLaunch")),
        images=node_images(lookups, config, plan.catalog),
        bucket=bucket,
        prefix=cluster_prefix(plan.name),
        stamp=time.strftime("%Y%m%d%H%M", time.gmtime()),
        version=version,
        extra_login_ports=extra_login_ports,
    )

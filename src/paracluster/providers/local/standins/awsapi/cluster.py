"""How a local cluster uses the AWS stand-ins: its S3 and Secrets Manager endpoints, its nodes' files, IMDS per node.

The host service starts the IMDS server when it starts and stops every stand-in when it stops (they run its code).
A cluster's endpoints listen on the host's address of its bridge; its nodes get the AWS CLI and boto3 settings that
point there (nodesdk), and each node is served by IMDS from its boot until its namespace goes.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime
from pathlib import Path

from paracluster.plan import identity
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.local.nodes import network
from paracluster.providers.local.standins.awsapi import endpoints, imds_server, nodesdk, process
from paracluster.providers.local.standins.awsapi.imds import NodeRecord, http_tokens_for


def gateway(record) -> str:
    """The host's address on the cluster network, where the cluster's endpoints listen."""
    return network.gateway(ipaddress.ip_network(record.network.subnet))


def start_endpoints(state_dir: Path, record) -> dict[str, str]:
    """Start (or keep) the cluster's endpoints; {service: URL}, the same URLs across restarts."""
    return endpoints.start_cluster_endpoints(state_dir, gateway(record))


def stop_endpoints(state_dir: Path, record) -> None:
    if record.network is not None:
        endpoints.stop_cluster_endpoints(state_dir, gateway(record))


def node_files(state_dir: Path, record) -> tuple[dict, ...]:
    """The files that make `aws` and boto3 on the cluster's nodes reach its endpoints and IMDS with no flag."""
    nodesdk.install_sdk()  # done by install-deps; only a machine set up otherwise downloads it here
    return tuple(nodesdk.node_files(record.region, start_endpoints(state_dir, record)))


def stop_all(state_dir: Path) -> None:
    """Stop the IMDS server and every cluster's endpoints of this state directory (the host service is stopping)."""
    for record_file in sorted(process.run_dir(state_dir).glob("*.json")):
        process.stop(state_dir, record_file.stem)


def _launch_time(launch_time: str) -> float:
    try:
        return datetime.fromisoformat(launch_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def imds_record(config, catalog, record, node, netns: str, metadata_tags: bool) -> NodeRecord:
    """What IMDS tells the node about itself. Pure."""
    planned: PlannedNode = node.node
    region = record.region
    role = identity.instance_role(config, record.name, planned)
    info = catalog.get(planned.instance_type)
    return NodeRecord(
        netns=netns,
        instance_id=node.instance.instance_id,
        instance_type=planned.instance_type,
        local_ipv4=node.address,
        local_hostname=identity.ec2_hostname(node.address, region),
        availability_zone=identity.availability_zone(region),
        region=region,
        subnet_cidr=record.network.subnet,
        subnet_id=identity.subnet_id(config, planned) or NodeRecord.subnet_id,
        ami_id=config.image.custom_ami or NodeRecord.ami_id,
        tags=identity.instance_tags(config, record.name, planned) if metadata_tags else None,
        role_name=role.role_name,
        instance_profile_name=role.instance_profile_name,
        http_tokens=http_tokens_for(config.imds.imds_support),
        launch_time=_launch_time(node.instance.launch_time),
        architecture=(info.architecture if info else None) or NodeRecord.architecture,
    )


def register_node(state_dir: Path, config, catalog, record, node, netns: str, metadata_tags: bool) -> None:
    """Serve IMDS to a node whose namespace exists, before it boots (its bootstrap scripts may ask)."""
    imds_server.start(state_dir)  # no-op while it runs; a server that died is started again
    imds_server.register(state_dir, imds_record(config, catalog, record, node, netns, metadata_tags))


def unregister_node(state_dir: Path, record, node) -> None:
    """Stop serving a node; before its namespace is deleted, which the server's socket there would keep alive."""
    if process.running(state_dir, imds_server.NAME):
        imds_server.unregister(state_dir, str(network.NETNS_DIR / network.netns_name(record.name, node.name)))

"""Which image each node boots: its section's Image/CustomAmi (head node, queue or login pool), else the cluster's.

Pure: the provider turns an AMI id into what a node boots from (local layers, an EC2 AMI).
"""

from __future__ import annotations

from paracluster.plan.actions import owner_of
from paracluster.plan.inventory import PlannedNode


def node_custom_ami(config, node: PlannedNode) -> str | None:
    """The CustomAmi the node boots from, or None for the OS's official image."""
    return owner_of(config, node).image.custom_ami or config.image.custom_ami


def custom_ami_sites(config) -> list[tuple[str, str]]:
    """(AMI id, where the config names it) for every CustomAmi of the config, in file order."""
    sections = [config, config.head_node, *config.scheduling.slurm_queues, *config.login_nodes.pools]
    return [(section.image.custom_ami, section.image.where("CustomAmi")) for section in sections
            if section.image.custom_ami]


def custom_amis(config) -> set[str]:
    """Every AMI id the config's nodes may boot from."""
    return {ami for ami, _ in custom_ami_sites(config)}

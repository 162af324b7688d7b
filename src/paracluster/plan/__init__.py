"""The neutral cluster plan: from a checked config, the nodes, storage, Slurm input and node specs a provider realizes.

Providers realize a plan; they do not compute it. Everything here is pure (no host, no cloud): `inventory` (nodes
and their stable slots), `storage` (what to create or attach), `spec` (each node's accounts, files and services,
and what scripts find), `slurm` (the renderer's input and the head-node programs' knobs), `actions` (which custom
action scripts a node runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from paracluster.plan.inventory import PlannedNode, plan_nodes
from paracluster.plan.storage import PlannedStorage, plan_storage


@dataclass(frozen=True)
class ClusterPlan:
    """What a cluster is made of, computed once from its checked config."""

    name: str
    config: object
    catalog: object
    nodes: tuple[PlannedNode, ...]
    storage: tuple[PlannedStorage, ...]

    def node(self, name: str) -> PlannedNode | None:
        return next((node for node in self.nodes if node.name == name), None)

    @property
    def head(self) -> PlannedNode:
        return self.nodes[0]


def build_plan(name: str, config) -> ClusterPlan:
    from paracluster.catalog import catalog_for_config

    catalog = catalog_for_config(config)
    return ClusterPlan(name, config, catalog, tuple(plan_nodes(config, catalog)), tuple(plan_storage(config)))

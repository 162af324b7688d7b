"""The node inventory of a cluster plan: every node a cluster may have, and a stable slot (address) for each name."""

from __future__ import annotations

from dataclasses import dataclass

HEAD_NODE_NAME = "head"


@dataclass(frozen=True)
class PlannedNode:
    """A node the configuration calls for: its name, role and where it belongs (ParallelCluster's naming)."""

    name: str
    node_type: str  # HeadNode | ComputeNode | LoginNode
    instance_type: str
    queue: str | None = None
    compute_resource: str | None = None
    pool: str | None = None
    static: bool = False


def plan_nodes(config, catalog) -> list[PlannedNode]:
    """Every node of the cluster in a fixed order: the head node, then each compute resource's static and dynamic
    nodes (`<queue>-st|dy-<cr>-<n>`), then each login pool's nodes (`login-<pool>-<n>`)."""
    from paracluster.slurm.nodes import plan_node_groups

    nodes = [PlannedNode(HEAD_NODE_NAME, "HeadNode", config.head_node.instance_type)]
    for group in plan_node_groups(config, catalog):
        for static, names in ((True, group.static_nodes), (False, group.dynamic_nodes)):
            nodes += [PlannedNode(name, "ComputeNode", group.instance_types[0], queue=group.queue,
                                  compute_resource=group.compute_resource, static=static) for name in names]
    for pool in config.login_nodes.pools:
        nodes += [PlannedNode(f"login-{pool.name}-{number}", "LoginNode", pool.instance_type, pool=pool.name)
                  for number in range(1, pool.count + 1)]
    return nodes


def assign_slots(names: list[str], existing: dict[str, int], capacity: int) -> dict[str, int]:
    """A slot (0 .. capacity-1) for each name: names that have one keep it, new names take the lowest free ones.

    Slots are what addresses are made from, so a node keeps its address when queues are added or removed later;
    the slots of names no longer planned are free again. Raises ValueError when the names do not fit.
    """
    wanted = set(names)
    slots = {name: slot for name, slot in existing.items() if name in wanted}
    used = set(slots.values())
    free = (slot for slot in range(capacity) if slot not in used)
    for name in names:
        if name not in slots:
            slot = next(free, None)
            if slot is None:
                raise ValueError(f"{len(names)} nodes do not fit in {capacity} addresses")
            slots[name] = slot
    return slots

"""Which custom action scripts a node runs: the CustomActions of its section (HeadNode, its queue or login pool)."""

from __future__ import annotations

from paracluster.errors import ClusterError
from paracluster.plan.inventory import PlannedNode

EVENTS = {"OnNodeStart": "on_node_start", "OnNodeConfigured": "on_node_configured", "OnNodeUpdated": "on_node_updated"}


def owner_of(config, node: PlannedNode):
    """The config section whose settings apply to this node: HeadNode, its queue or its login pool."""
    if node.node_type == "HeadNode":
        return config.head_node
    wanted = node.queue if node.node_type == "ComputeNode" else node.pool
    sections = config.scheduling.slurm_queues if node.node_type == "ComputeNode" else config.login_nodes.pools
    for section in sections:
        if section.name == wanted:
            return section
    raise ClusterError(f"failed to find the configuration of node {node.name}: no section named {wanted}")


def scripts_of(config, node: PlannedNode) -> dict[str, list[dict]]:
    """{event: [{"url", "args"}, ...]} in the order they run, for the events the node's section has."""
    actions = owner_of(config, node).custom_actions
    found: dict[str, list[dict]] = {}
    for event, attribute in EVENTS.items():
        action = getattr(actions, attribute, None)  # queues have no OnNodeUpdated
        if action is None or not action.present:
            continue
        steps = [action] if action.is_set("Script") else list(action.sequence)
        found[event] = [{"url": step.script, "args": [str(arg) for arg in step.args]} for step in steps]
    return found

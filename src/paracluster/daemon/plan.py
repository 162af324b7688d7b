"""The cluster manager's pure planner: from one observation and the memory of past loops, the actions to take."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Standard library only, like observe.py and fleet.py: the daemon runs with the head node's system Python.
from paracluster.daemon.observe import Observation, SlurmNode
from paracluster.fleet import ICE_CODES
from paracluster.records import InstanceRecord, parse_time

STATIC_REPLACEMENT_REASON = "Static node maintenance: unhealthy node is being replaced"
HEALTH_CHECK_REASON = "Scheduler health check failed"
ICE_DISABLE_REASON = "(Code:{code})Temporarily disabling node due to insufficient capacity"
ICE_ENABLE_REASON = "Enabling node since insufficient capacity timeout expired"
INACTIVE_PARTITION_REASON = "inactive partition"
STUCK_COMPLETING_REASON = "Node stuck completing a job that has ended"
STOP_REASON = "stopping cluster"
START_REASON = "starting cluster"

NODE_STATES = frozenset({"down", "power_down_force", "resume", "idle"})
PARTITION_STATES = frozenset({"INACTIVE", "UP"})
STOP_STATUSES = frozenset({"STOP_REQUESTED", "STOPPING", "STOPPED"})
START_STATUSES = frozenset({"START_REQUESTED", "STARTING"})
# Instances in these states are gone; every other state (pending, running, stopping, stopped) still counts.
GONE_INSTANCE_STATES = frozenset({"shutting-down", "terminated"})

_REASON_CODE = re.compile(r"^\(Code:([^)]*)\)")


@dataclass(frozen=True)
class PlanSettings:
    """The [clustermgtd] settings the planner reads; defaults are ParallelCluster's."""

    orphan_timeout: float = 300
    insufficient_capacity_timeout: float = 600  # <= 0 disables insufficient capacity handling
    protected_failure_count: int = 10  # <= 0 disables protected mode
    node_replacement_timeout: float = 1800
    keep_failed_nodes: bool = False  # leave nodes whose bootstrap failed up (DOWN in Slurm) for debugging
    # Seconds a dynamic node may stay COMPLETING with no job running before it is powered down; <= 0 never
    # (ParallelCluster leaves it to Slurm's retries, which take minutes when a node missed the job's termination).
    completing_timeout: float = 0


@dataclass(frozen=True)
class Memory:
    """What the planner carries from one loop to the next (lost on a daemon restart, as in ParallelCluster)."""

    # (queue, compute resource) -> (first seen, error code) for compute resources hit by insufficient capacity.
    ice: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    # static node -> when its replacement was launched.
    static_in_replacement: dict[str, float] = field(default_factory=dict)
    # partition -> compute resource -> bootstrap failures. Kept per compute resource because a node of a *failing*
    # compute resource coming online is what resets the partition (healthy static nodes elsewhere must not).
    bootstrap_failures: dict[str, dict[str, int]] = field(default_factory=dict)
    # dynamic node -> when it was first seen COMPLETING with no job running.
    completing: dict[str, float] = field(default_factory=dict)

    def failure_count(self, partition: str) -> int:
        return sum(self.bootstrap_failures.get(partition, {}).values())


def _sorted_unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


@dataclass(frozen=True)
class Terminate:
    instance_ids: tuple[str, ...]
    why: str

    def __post_init__(self):
        object.__setattr__(self, "instance_ids", _sorted_unique(self.instance_ids))


@dataclass(frozen=True)
class SetNodeState:
    nodes: tuple[str, ...]
    state: str
    reason: str | None = None

    def __post_init__(self):
        if self.state not in NODE_STATES:
            raise ValueError(f"unknown node state {self.state!r}; expected one of {sorted(NODE_STATES)}")
        object.__setattr__(self, "nodes", _sorted_unique(self.nodes))


@dataclass(frozen=True)
class LaunchStatic:
    """Launch replacement instances for these static nodes, best effort (failures are retried next loops)."""

    nodes: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "nodes", _sorted_unique(self.nodes))


@dataclass(frozen=True)
class SetPartitionState:
    partition: str
    state: str

    def __post_init__(self):
        if self.state not in PARTITION_STATES:
            raise ValueError(f"unknown partition state {self.state!r}; expected INACTIVE or UP")


@dataclass(frozen=True)
class SetFleetStatus:
    status: str


Action = Terminate | SetNodeState | LaunchStatic | SetPartitionState | SetFleetStatus


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    memory: Memory


class _Actions:
    """The actions of one plan in order; an instance is terminated by the first rule that asks for it only."""

    def __init__(self):
        self.items: list[Action] = []
        self.terminated: set[str] = set()

    def terminate(self, instances: Iterable[InstanceRecord], why: str) -> None:
        ids = {instance.instance_id for instance in instances} - self.terminated
        if ids:
            self.terminated |= ids
            self.items.append(Terminate(tuple(ids), why))

    def set_nodes(self, nodes: Iterable[SlurmNode], state: str, reason: str | None) -> None:
        names = [node.name for node in nodes]
        if names:
            self.items.append(SetNodeState(tuple(names), state, reason))

    def add(self, action: Action) -> None:
        self.items.append(action)


BOOTSTRAP_REASON_LENGTH = 300


def bootstrap_reason(instances: list[InstanceRecord]) -> str:
    """The Slurm reason of a node whose bootstrap failed: why, as its node agent reported it (one line)."""
    why = next((instance.reason for instance in instances if instance.reason), "") or "unknown"
    return f"Bootstrap failure: {' '.join(why.split())}"[:BOOTSTRAP_REASON_LENGTH]


def _set_failed(actions: _Actions, nodes: Iterable[SlurmNode], state: str,
                failed_boot: dict[str, list[InstanceRecord]],
                default_reason: str) -> None:
    """Set nodes to `state`; those whose bootstrap failed get that failure as their reason."""
    plain = []
    for node in nodes:
        if node.name in failed_boot:
            actions.set_nodes([node], state, bootstrap_reason(failed_boot[node.name]))
        else:
            plain.append(node)
    actions.set_nodes(plain, state, default_reason)


def _reason_code(node: SlurmNode) -> str | None:
    """X of a `(Code:X)...` reason, which ResumeProgram sets on nodes it failed to launch."""
    match = _REASON_CODE.match(node.reason)
    return match.group(1) if match else None


def _is_unhealthy_state(node: SlurmNode) -> bool:
    """DOWN, or DRAINED and not already on its way to power saving (ParallelCluster's terminate_*_nodes)."""
    return node.is_down or (node.is_drained and not node.is_power_down_pending and not node.is_powering_down)


def _is_on_its_way_to_power_saving(node: SlurmNode) -> bool:
    """POWERING_DOWN, or POWER_DOWN requested and not yet powered down.

    A static node is replaced only once this is over: a replacement whose slurmd registers while Slurm still
    powers the node down is forgotten when the power down completes, and the node stays DOWN+POWERED_DOWN.
    """
    return node.is_powering_down or (node.is_power_down_pending and not node.is_powered_down)


def _expects_instance(node: SlurmNode) -> bool:
    """Static nodes always run on an instance; dynamic ones only between powering up and powering down."""
    if node.is_static:
        return True
    return not (node.is_powered_down or node.is_powering_down or node.is_powering_up or node.is_power_down_pending)


def _awaits_power_up(node: SlurmNode) -> bool:
    """Powered down but allocated to a job: the early launch (PrologSlurmctld) gives it an instance before Slurm's
    power-save thread marks it powering up, so that instance is the job's, not a leftover."""
    return node.is_powered_down and not node.is_powering_down and node.base_state in ("ALLOCATED", "MIXED")


def _launched_before(instance: InstanceRecord, moment: float) -> bool:
    """Whether the instance already existed when Slurm was read (else a resume may be launching it right now)."""
    launch_time = parse_time(instance.launch_time)
    return launch_time is not None and launch_time < moment


def _is_dynamic_bootstrap_failure(node: SlurmNode) -> bool:
    """A dynamic node that failed to come up: launch failure (not ICE), resume timeout or invalid registration."""
    code = _reason_code(node)
    if code is not None:
        return code not in ICE_CODES
    resume_timeout = {"DOWN", "POWERED_DOWN", "NOT_RESPONDING"} <= set(node.states)
    return resume_timeout or node.reason.startswith("ResumeTimeout reached") or "INVALID_REG" in node.states


def _nodes_of_partitions(obs: Observation, partitions: set[str]) -> list[SlurmNode]:
    listed = {name for partition in obs.partitions if partition.name in partitions for name in partition.nodes}
    return sorted((node for node in obs.nodes if node.name in listed or partitions & set(node.partitions)),
                  key=lambda node: node.name)


def _live_instances(obs: Observation) -> list[InstanceRecord]:
    return sorted((i for i in obs.instances if i.state not in GONE_INSTANCE_STATES),
                  key=lambda instance: instance.instance_id)


def plan(obs: Observation, memory: Memory, settings: PlanSettings = PlanSettings()) -> Plan:
    """The actions for this loop and the memory for the next; `memory` is not modified."""
    if obs.fleet_status in STOP_STATUSES:
        return _plan_stop(obs)
    if obs.fleet_status in START_STATUSES:
        return _plan_start(obs)
    # RUNNING, PROTECTED and anything unknown are managed, as in ParallelCluster.
    return _plan_running(obs, memory, settings)


def _plan_stop(obs: Observation) -> Plan:
    """Power down every active partition's nodes, deactivate the partitions and terminate every instance."""
    actions = _Actions()
    to_stop = {partition.name for partition in obs.partitions if not partition.is_inactive}
    actions.set_nodes(_nodes_of_partitions(obs, to_stop), "power_down_force", STOP_REASON)
    for name in sorted(to_stop):
        actions.add(SetPartitionState(name, "INACTIVE"))
    actions.terminate(_live_instances(obs), STOP_REASON)
    # ParallelCluster restarts clustermgtd around a fleet stop or start, so its memory starts empty afterwards.
    return Plan(tuple(actions.items), Memory())


def _plan_start(obs: Observation) -> Plan:
    """Reactivate INACTIVE partitions, resetting their nodes to power saving; RUNNING then relaunches static nodes."""
    actions = _Actions()
    to_start = {partition.name for partition in obs.partitions if partition.is_inactive}
    # Nodes already cleanly power-saved need nothing; power_down_force resets DOWN/DRAIN and leftover powered nodes.
    resets = [node for node in _nodes_of_partitions(obs, to_start)
              if not (node.is_powered_down and not node.is_down and "DRAIN" not in node.states)]
    actions.set_nodes(resets, "power_down_force", START_REASON)
    for name in sorted(to_start):
        actions.add(SetPartitionState(name, "UP"))
    return Plan(tuple(actions.items), Memory())


def _plan_running(obs: Observation, memory: Memory, settings: PlanSettings) -> Plan:
    now = obs.time
    actions = _Actions()
    partition_state = {partition.name: partition.state for partition in obs.partitions}
    instances = _live_instances(obs)
    by_name: dict[str, list[InstanceRecord]] = {}
    # An instance whose bootstrap failed backs no node: its node is unhealthy now, not after Slurm's ResumeTimeout.
    failed_boot: dict[str, list[InstanceRecord]] = {}
    for instance in instances:
        target = failed_boot if instance.state == "failed" else by_name
        target.setdefault(instance.node_name, []).append(instance)

    # Only ParallelCluster nodes in some partition are managed; a node is active if one of its partitions is.
    managed = sorted((node for node in obs.nodes if (node.is_static or node.is_dynamic) and node.partitions),
                     key=lambda node: node.name)
    active = [node for node in managed
              if any(partition_state.get(name, "UP") != "INACTIVE" for name in node.partitions)]
    active_by_name = {node.name: node for node in active}
    inactive = [node for node in managed if node.name not in active_by_name]

    # Inactive partitions: their instances go, and their nodes are set DOWN unless already reset
    # (ParallelCluster: static nodes with an address; dynamic ones with an address or not yet power-saved or down).
    actions.terminate((i for node in inactive for i in by_name.get(node.name, [])), INACTIVE_PARTITION_REASON)
    actions.set_nodes([node for node in inactive
                       if node.name in by_name
                       or (node.is_dynamic and not (node.is_powered_down or node.is_powering_down
                                                    or "DOWN" in node.states))],
                      "down", INACTIVE_PARTITION_REASON)

    # Static nodes back online have been replaced; forget them.
    replacing = {name: since for name, since in memory.static_in_replacement.items()
                 if name in active_by_name and not active_by_name[name].is_online}

    # Dynamic nodes powering down or powered down keep no instance, unless a job waits for them. Instances launched
    # after Slurm was read may belong to a resume of a node the view still shows powered down: left for next loop.
    actions.terminate((i for node in active if node.is_dynamic and (node.is_powering_down or node.is_powered_down)
                       and not _awaits_power_up(node)
                       for i in by_name.get(node.name, []) if _launched_before(i, now)),
                      "dynamic node is powering down")

    bootstrap_failures: list[SlurmNode] = []
    ice_enabled = settings.insufficient_capacity_timeout > 0

    if settings.keep_failed_nodes:
        # Kept for debugging: DOWN with the failure as the reason, neither terminated nor replaced.
        for node in active:
            if node.name in failed_boot:
                reason = bootstrap_reason(failed_boot[node.name])
                if not (node.is_down and node.reason == reason):
                    actions.set_nodes([node], "down", reason)
        active = [node for node in active if node.name not in failed_boot]

    # Unhealthy dynamic nodes: insufficient capacity ones are held for ICE handling, the others are powered down.
    ice_nodes: dict[tuple[str, str], list[SlurmNode]] = {}
    unhealthy_dynamic = []
    for node in active:
        if not node.is_dynamic or node.is_reboot_pending:
            continue
        if node.name in failed_boot:
            unhealthy_dynamic.append(node)
            bootstrap_failures.append(node)
            continue
        if not (_is_unhealthy_state(node) or (_expects_instance(node) and node.name not in by_name)):
            continue
        if ice_enabled and _reason_code(node) in ICE_CODES:
            ice_nodes.setdefault((node.queue, node.compute_resource), []).append(node)
            continue
        unhealthy_dynamic.append(node)
        if _is_dynamic_bootstrap_failure(node):
            bootstrap_failures.append(node)
    actions.terminate((i for node in unhealthy_dynamic
                       for i in by_name.get(node.name, []) + failed_boot.get(node.name, [])),
                      "unhealthy dynamic node")
    _set_failed(actions, unhealthy_dynamic, "power_down_force", failed_boot, HEALTH_CHECK_REASON)

    # Unhealthy static nodes: DOWN (so jobs requeue), terminate, relaunch. A DOWN/DRAINED node whose replacement
    # is younger than node_replacement_timeout is still booting, not unhealthy.
    replace = []
    for node in active:
        if not node.is_static or node.is_reboot_pending or _is_on_its_way_to_power_saving(node):
            continue
        being_replaced = node.name in replacing and now - replacing[node.name] < settings.node_replacement_timeout
        if node.name in by_name and (being_replaced or not _is_unhealthy_state(node)):
            continue
        if node.name in replacing or node.name in failed_boot:
            bootstrap_failures.append(node)  # its replacement never came up, or its bootstrap failed
        replace.append(node)
    _set_failed(actions, replace, "down", failed_boot, STATIC_REPLACEMENT_REASON)
    actions.terminate((i for node in replace for i in by_name.get(node.name, []) + failed_boot.get(node.name, [])),
                      "unhealthy static node")
    if replace:
        actions.add(LaunchStatic(tuple(node.name for node in replace)))
    replacing.update({node.name: now for node in replace})

    completing = _stuck_completing(obs, memory, settings, actions, active)
    failures = _protected_mode(obs, memory, settings, actions, active, by_name, bootstrap_failures, partition_state)
    ice = _handle_ice(obs, memory, settings, actions, active, by_name, ice_nodes) if ice_enabled else {}

    # Orphans: instances launched for no Slurm node at all, once older than orphan_timeout.
    known = {node.name for node in obs.nodes}
    actions.terminate((i for i in instances if i.node_name not in known and i.launch_time is not None
                       and now - parse_time(i.launch_time) >= settings.orphan_timeout), "orphaned instance")

    return Plan(tuple(actions.items), Memory(ice=ice, static_in_replacement=replacing, bootstrap_failures=failures,
                                             completing=completing))


def _stuck_completing(obs: Observation, memory: Memory, settings: PlanSettings, actions: _Actions,
                      active: list[SlurmNode]) -> dict[str, float]:
    """Power down dynamic nodes left COMPLETING (IDLE: no job runs there) for longer than completing_timeout.

    slurmctld's message that ends a job on a node can fail (the node was busy or unreachable for a moment); Slurm
    then keeps the job COMPLETING on that node until a retry minutes later, although nothing runs there any more.
    Powering the node down ends the job there at once, and the node comes back fresh for the next job.
    """
    if settings.completing_timeout <= 0:
        return {}
    since = {node.name: memory.completing.get(node.name, obs.time) for node in active
             if node.is_dynamic and node.base_state == "IDLE" and "COMPLETING" in node.states
             and not (node.is_powering_down or node.is_power_down_pending or node.is_powered_down)}
    stuck = [node for node in active
             if node.name in since and obs.time - since[node.name] >= settings.completing_timeout]
    actions.set_nodes(stuck, "power_down_force", STUCK_COMPLETING_REASON)
    return {name: first for name, first in since.items() if name not in {node.name for node in stuck}}


def _protected_mode(obs: Observation, memory: Memory, settings: PlanSettings, actions: _Actions,
                    active: list[SlurmNode], by_name: dict[str, list[InstanceRecord]],
                    bootstrap_failures: list[SlurmNode],
                    partition_state: dict[str, str]) -> dict[str, dict[str, int]]:
    """Count bootstrap failures per partition; deactivate partitions over the threshold unless jobs run there."""
    if settings.protected_failure_count <= 0:
        return {}
    failures = {partition: dict(resources) for partition, resources in memory.bootstrap_failures.items()}
    # A node of a failing compute resource seen online and backed proves the partition can launch: reset it.
    for node in active:
        if node.is_online and node.name in by_name:
            for partition in node.partitions:
                if node.compute_resource in failures.get(partition, {}):
                    del failures[partition]
    for node in bootstrap_failures:
        for partition in node.partitions:
            if partition_state.get(partition, "UP") != "INACTIVE":
                resources = failures.setdefault(partition, {})
                resources[node.compute_resource] = resources.get(node.compute_resource, 0) + 1
    over = sorted(partition for partition, resources in failures.items()
                  if sum(resources.values()) >= settings.protected_failure_count
                  and partition_state.get(partition, "UP") != "INACTIVE")
    # As in ParallelCluster, running jobs in any over-threshold partition hold off protected mode for all of them.
    if over and not any(obs.running_jobs_by_partition.get(partition, 0) > 0 for partition in over):
        for partition in over:
            actions.add(SetPartitionState(partition, "INACTIVE"))
        if obs.fleet_status != "PROTECTED":
            actions.add(SetFleetStatus("PROTECTED"))
    return failures


def _handle_ice(obs: Observation, memory: Memory, settings: PlanSettings, actions: _Actions,
                active: list[SlurmNode], by_name: dict[str, list[InstanceRecord]],
                ice_nodes: dict[tuple[str, str], list[SlurmNode]]) -> dict[tuple[str, str], tuple[float, str]]:
    """Keep compute resources without capacity DOWN so Slurm schedules elsewhere; re-enable them after the timeout."""
    now = obs.time
    # A compute resource none of whose nodes is still held for capacity was re-enabled by someone: forget it.
    ice = {resource: event for resource, event in memory.ice.items() if resource in ice_nodes}
    for resource, nodes in sorted(ice_nodes.items()):
        if resource not in ice:
            ice[resource] = (now, _reason_code(nodes[0]))
    expired = sorted(resource for resource, (since, _) in ice.items()
                     if now - since >= settings.insufficient_capacity_timeout)
    actions.set_nodes(sorted((node for resource in expired for node in ice_nodes[resource]),
                             key=lambda node: node.name),
                      "power_down_force", ICE_ENABLE_REASON)
    for resource in expired:
        del ice[resource]
    # A node whose resume failed stays POWERING_UP (DOWN#) and, in Slurm 22.05, keeps its requeued job in Cleaning
    # until it is powered down: power it down now, keeping the reason; the rule below then holds it DOWN.
    stuck: dict[str, list[SlurmNode]] = {}
    for resource, nodes in ice_nodes.items():
        if resource in ice:
            for node in nodes:
                if node.is_powering_up:
                    stuck.setdefault(ice[resource][1], []).append(node)
    for code, nodes in sorted(stuck.items()):
        actions.set_nodes(sorted(nodes, key=lambda node: node.name), "power_down_force",
                          ICE_DISABLE_REASON.format(code=code))
    # Power-saved nodes of a held compute resource are set DOWN (every loop, like ParallelCluster, except those
    # already DOWN for this very reason) so no job is scheduled onto capacity that is not there.
    by_code: dict[str, list[SlurmNode]] = {}
    for node in active:
        event = ice.get((node.queue, node.compute_resource))
        if not node.is_dynamic or event is None or not node.is_powered_down or node.name in by_name:
            continue
        reason = ICE_DISABLE_REASON.format(code=event[1])
        if not (node.is_down and node.reason == reason):
            by_code.setdefault(event[1], []).append(node)
    for code, nodes in sorted(by_code.items()):
        actions.set_nodes(nodes, "down", ICE_DISABLE_REASON.format(code=code))
    return ice

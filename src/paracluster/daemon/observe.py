"""What the cluster manager observes: Slurm nodes and partitions parsed from `scontrol show ... -o`, and the fleet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Standard library only: this runs with the head node's system Python (hostlist.py is standard library too).
from paracluster.records import InstanceRecord
from paracluster.slurm.hostlist import expand_hostlist

FLEET_STATUSES = ("RUNNING", "STOP_REQUESTED", "STOPPING", "STOPPED", "START_REQUESTED", "STARTING", "PROTECTED")

# ParallelCluster's node names: <queue>-st|dy-<compute resource>-<index>. The queue is matched greedily, as in
# ParallelCluster's parse_nodename, so both sides agree on odd names.
_NODE_NAME = re.compile(r"^(?P<queue>[a-z0-9-]+)-(?P<kind>st|dy)-(?P<cr>[A-Za-z0-9-]+)-(?P<index>\d+)$")

# `Key=Value` fields are separated by one space; some values (OS=, Reason=) contain spaces but no `Word=` tokens.
_FIELD_BOUNDARY = re.compile(r" (?=[A-Za-z][A-Za-z0-9_]*=)")
_REASON_START = re.compile(r"(?:^| )Reason=")
# In 22.05 Reason is the last field unless Comment/Extra (or later versions' instance fields) follow it.
_AFTER_REASON = re.compile(r" (?=(?:Comment|Extra|InstanceId|InstanceType|ReservationName)=)")
# scontrol appends ` [user@time]` to the reason's first line; the planner compares reasons without it.
_REASON_STAMP = re.compile(r" \[[^\]\s@]*@[^\]\s]*\]")

# sinfo-style suffixes on the base state, for robustness: scontrol 22.05 spells these out as `+FLAG`.
_SUFFIX_FLAGS = {
    "*": "NOT_RESPONDING",
    "~": "POWERED_DOWN",
    "#": "POWERING_UP",
    "%": "POWERING_DOWN",
    "!": "POWER_DOWN",
    "$": "MAINTENANCE",
    "@": "REBOOT_REQUESTED",
    "^": "REBOOT_ISSUED",
    "-": "PLANNED",
}

# A node is online when its base state is one of these and it carries no flag outside _BENIGN_FLAGS
# (ParallelCluster: IDLE/MIXED/ALLOCATED/COMPLETING+CLOUD).
_ONLINE_BASES = frozenset({"IDLE", "MIXED", "ALLOCATED", "COMPLETING"})
_BENIGN_FLAGS = frozenset({"CLOUD", "COMPLETING", "PLANNED", "RESERVED"})


def _split_fields(line: str) -> dict[str, str]:
    """The `Key=Value` fields of one `-o` line; Reason keeps its spaces."""
    fields: dict[str, str] = {}
    reason_match = _REASON_START.search(line)
    if reason_match:
        head, tail = line[:reason_match.start()], line[reason_match.end():]
        reason, *rest = _AFTER_REASON.split(tail)
        fields["Reason"] = reason
        pieces = _FIELD_BOUNDARY.split(head) + rest
    else:
        pieces = _FIELD_BOUNDARY.split(line)
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if sep and key not in fields:
            fields[key] = value.strip()
    return fields


def _parse_state(text: str) -> tuple[str, ...]:
    """The states of a State string, base state first: `IDLE+CLOUD+POWERED_DOWN` -> (IDLE, CLOUD, POWERED_DOWN)."""
    base, *flags = [part for part in text.upper().split("+") if part] or ["UNKNOWN"]
    while base and base[-1] in _SUFFIX_FLAGS:
        flags.insert(0, _SUFFIX_FLAGS[base[-1]])
        base = base[:-1]
    states: list[str] = []
    for state in (base, *flags):
        if state not in states:
            states.append(state)
    return tuple(states)


def _list(value: str | None) -> tuple[str, ...]:
    if not value or value == "(null)":
        return ()
    return tuple(item for item in value.split(",") if item)


@dataclass(frozen=True)
class SlurmNode:
    """One node as `scontrol show nodes -o` reports it."""

    name: str
    state: str
    states: tuple[str, ...]
    node_addr: str
    reason: str = ""
    partitions: tuple[str, ...] = ()

    @property
    def base_state(self) -> str:
        return self.states[0] if self.states else ""

    @property
    def _name_parts(self) -> re.Match | None:
        return _NODE_NAME.match(self.name)

    @property
    def is_static(self) -> bool:
        parts = self._name_parts
        return bool(parts) and parts["kind"] == "st"

    @property
    def is_dynamic(self) -> bool:
        parts = self._name_parts
        return bool(parts) and parts["kind"] == "dy"

    @property
    def queue(self) -> str | None:
        parts = self._name_parts
        return parts["queue"] if parts else None

    @property
    def compute_resource(self) -> str | None:
        parts = self._name_parts
        return parts["cr"] if parts else None

    @property
    def is_powered_down(self) -> bool:
        return "POWERED_DOWN" in self.states

    @property
    def is_powering_down(self) -> bool:
        return "POWERING_DOWN" in self.states

    @property
    def is_power_down_pending(self) -> bool:
        """POWER_DOWN: a power down was requested and has not started yet."""
        return "POWER_DOWN" in self.states

    @property
    def is_powering_up(self) -> bool:
        return "POWERING_UP" in self.states

    @property
    def is_down(self) -> bool:
        """DOWN, but not on its way to power saving (a powered-down DOWN node is still down)."""
        return ("DOWN" in self.states and not self.is_powering_down
                and (not self.is_power_down_pending or self.is_powered_down))

    @property
    def is_drained(self) -> bool:
        """DRAIN with nothing left running (IDLE or DOWN) and not COMPLETING; DRAIN with jobs is draining."""
        return ("DRAIN" in self.states and ("IDLE" in self.states or "DOWN" in self.states)
                and "COMPLETING" not in self.states)

    @property
    def is_reboot_pending(self) -> bool:
        return "REBOOT_REQUESTED" in self.states or "REBOOT_ISSUED" in self.states

    @property
    def is_online(self) -> bool:
        """Up and schedulable: IDLE/MIXED/ALLOCATED/COMPLETING with no down, drain or power-saving flag."""
        return self.base_state in _ONLINE_BASES and all(flag in _BENIGN_FLAGS for flag in self.states[1:])


@dataclass(frozen=True)
class SlurmPartition:
    """One partition as `scontrol show partitions -o` reports it."""

    name: str
    state: str
    nodes: tuple[str, ...] = ()

    @property
    def is_inactive(self) -> bool:
        return self.state == "INACTIVE"


def parse_scontrol_nodes(text: str) -> list[SlurmNode]:
    """Parse `scontrol show nodes -o`: one node per line; other lines ("No nodes in the system") are skipped."""
    nodes = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("NodeName="):
            continue
        fields = _split_fields(line)
        state = fields.get("State", "UNKNOWN")
        reason = _REASON_STAMP.sub("", fields.get("Reason", ""), count=1).strip()
        nodes.append(SlurmNode(
            name=fields["NodeName"],
            state=state,
            states=_parse_state(state),
            node_addr=fields.get("NodeAddr") or fields["NodeName"],
            reason="" if reason == "(null)" else reason,
            partitions=_list(fields.get("Partitions")),
        ))
    return nodes


def parse_scontrol_partitions(text: str) -> list[SlurmPartition]:
    """Parse `scontrol show partitions -o`: name, state (UP, DOWN, DRAIN, INACTIVE) and expanded node names."""
    partitions = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("PartitionName="):
            continue
        fields = _split_fields(line)
        nodes = fields.get("Nodes", "")
        partitions.append(SlurmPartition(
            name=fields["PartitionName"],
            state=fields.get("State", "UP").upper(),
            nodes=tuple(expand_hostlist(nodes)) if nodes and nodes != "(null)" else (),
        ))
    return partitions


@dataclass(frozen=True)
class Observation:
    """One loop's view of the cluster.

    `time` is when the Slurm view was read, before the instances were listed: an instance launched at or after it
    may belong to a resume the node view does not show yet, so the planner judges it only by name.
    """

    time: float
    nodes: tuple[SlurmNode, ...] | list[SlurmNode] = ()
    partitions: tuple[SlurmPartition, ...] | list[SlurmPartition] = ()
    instances: tuple[InstanceRecord, ...] | list[InstanceRecord] = ()  # the fleet's (paracluster.fleet)
    fleet_status: str = "RUNNING"
    running_jobs_by_partition: dict[str, int] = field(default_factory=dict)

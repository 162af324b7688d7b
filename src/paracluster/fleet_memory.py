"""An in-memory fleet that keeps the whole fleet contract: for tests of the head-node programs and of the contract.

Instances live in a dict (and, when it is opened from a file, in that JSON file, so separate processes share it).
It honours counts, per instance type capacity, all or nothing per compute resource, idempotency by request id and
the dropping of answers whose instances ended. Faults are injected with `capacity` and `fail_bind`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os

from paracluster import fleet as contract
from paracluster.fleet import BindResult, FleetState, LaunchNode, LaunchResult, NodeError, TerminateResult
from paracluster.records import InstanceRecord, from_data, now, to_data



@dataclasses.dataclass
class _State:
    nodes: dict[str, dict]  # node name -> {"queue", "compute_resource", "instance_type"}
    instances: dict[str, InstanceRecord] = dataclasses.field(default_factory=dict)
    answers: dict[str, dict] = dataclasses.field(default_factory=dict)
    capacity: dict[str, int] = dataclasses.field(default_factory=dict)
    fail_bind: list[str] = dataclasses.field(default_factory=list)  # node names whose boot fails
    managed: bool = True
    status: str = "RUNNING"
    status_time: str | None = None
    next_id: int = 1


class MemoryFleet:
    """A Fleet over a dict of instances; `nodes` maps each Slurm node name to its queue, resource and type."""

    def __init__(self, nodes: dict[str, dict], capacity: dict[str, int] | None = None, path: str | None = None):
        self.path = path
        self._state = _State(nodes=nodes, capacity=dict(capacity or {}))

    @classmethod
    def open(cls, path: str) -> MemoryFleet:
        fleet = cls({}, path=path)
        fleet._load()
        return fleet

    # --- persistence (only when opened from a file) ----------------------------------------------------------------

    def _load(self) -> None:
        if self.path and os.path.exists(self.path):
            with open(self.path) as source:
                self._state = from_data(_State, json.load(source))

    def save(self) -> None:
        if self.path:
            temporary = f"{self.path}.tmp{os.getpid()}"
            with open(temporary, "w") as out:
                json.dump(to_data(self._state), out)
            os.replace(temporary, self.path)

    def _changing(self):
        fleet = self

        class _Lock:
            def __enter__(self):
                self.handle = open(f"{fleet.path}.lock", "w") if fleet.path else None
                if self.handle:
                    fcntl.flock(self.handle, fcntl.LOCK_EX)
                fleet._load()
                return fleet._state

            def __exit__(self, *exc):
                if exc[0] is None:
                    fleet.save()
                if self.handle:
                    self.handle.close()

        return _Lock()

    # --- test controls -------------------------------------------------------------------------------------------

    def set_capacity(self, instance_type: str, count: int) -> None:
        with self._changing() as state:
            state.capacity[instance_type] = count

    def fail_bind_of(self, *names: str) -> None:
        with self._changing() as state:
            state.fail_bind.extend(names)

    def set_managed(self, managed: bool) -> None:
        with self._changing() as state:
            state.managed = managed

    # --- the contract ----------------------------------------------------------------------------------------------

    def launch(self, request_id: str, nodes: list[LaunchNode], all_or_nothing: bool) -> LaunchResult:
        with self._changing() as state:
            if request_id in state.answers:
                return from_data(LaunchResult, state.answers[request_id]["answer"])
            result = LaunchResult()
            groups: dict[tuple[str, str], list[LaunchNode]] = {}
            for node in nodes:
                if node.name not in state.nodes:
                    result.failed.append(NodeError(node.name, contract.INVALID_NODE, "no such compute node"))
                else:
                    groups.setdefault((node.queue, node.compute_resource), []).append(node)
            for (queue, resource), members in groups.items():
                instance_type = state.nodes[members[0].name]["instance_type"]
                in_use = sum(1 for i in state.instances.values() if i.instance_type == instance_type)
                available = state.capacity.get(instance_type, 1 << 30) - in_use
                count = len(members) if not all_or_nothing or available >= len(members) else 0
                count = max(0, min(count, available))
                for index, node in enumerate(members):
                    if index >= count:
                        result.failed.append(NodeError(node.name, "InsufficientInstanceCapacity",
                                                       f"no capacity for {instance_type}"))
                        continue
                    instance_id = f"i-{state.next_id:017x}"
                    state.next_id += 1
                    record = InstanceRecord(instance_id, "ComputeNode", instance_type, "pending", None, now(),
                                            node.name, queue, resource)
                    state.instances[instance_id] = record
                    result.launched.append(record)
            state.answers[request_id] = {"answer": to_data(result),
                                         "instances": [i.instance_id for i in result.launched]}
            return result

    def bind(self, request_id: str, bindings: dict[str, str]) -> BindResult:
        with self._changing() as state:
            if request_id in state.answers:
                return from_data(BindResult, state.answers[request_id]["answer"])
            result = BindResult()
            for instance_id, name in sorted(bindings.items(), key=lambda item: item[1]):
                instance = state.instances.get(instance_id)
                if instance is None or state.nodes.get(name, {}).get("compute_resource") != instance.compute_resource:
                    result.failed.append(NodeError(name, contract.INVALID_BINDING, f"{instance_id} is not for {name}"))
                elif name in state.fail_bind:
                    del state.instances[instance_id]
                    result.failed.append(NodeError(name, contract.BOOT_FAILURE, "injected boot failure"))
                else:
                    instance.node_name, instance.state = name, "running"
                    instance.address = f"10.0.{len(state.instances) // 250}.{len(state.instances) % 250 + 2}"
                    result.bound.append(name)
            bound = [i for i, name in bindings.items() if name in result.bound]
            state.answers[request_id] = {"answer": to_data(result), "instances": bound}
            return result

    def terminate(self, request_id: str, instance_ids: list[str]) -> TerminateResult:
        with self._changing() as state:
            if request_id in state.answers:
                return from_data(TerminateResult, state.answers[request_id]["answer"])
            result = TerminateResult()
            for instance_id in instance_ids:
                if state.instances.pop(instance_id, None) is None:
                    result.failed.append(NodeError(instance_id, contract.NOT_FOUND))
                else:
                    result.terminated.append(instance_id)
            gone = set(result.terminated)
            for rid in [rid for rid, entry in state.answers.items() if gone & set(entry["instances"])]:
                del state.answers[rid]
            state.answers[request_id] = {"answer": to_data(result), "instances": []}
            return result

    def instances(self) -> list[InstanceRecord]:
        self._load()
        return [dataclasses.replace(i) for i in self._state.instances.values()]

    def status(self) -> FleetState:
        self._load()
        return FleetState(self._state.managed, self._state.status, self._state.status_time)

    def set_status(self, status: str) -> FleetState:
        if status not in contract.FLEET_STATUSES:
            raise contract.FleetError(f"unknown compute fleet status '{status}'")
        with self._changing() as state:
            state.status, state.status_time = status, now()
        return self.status()

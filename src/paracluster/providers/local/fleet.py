"""The local provider's fleet: capacity, launch, bind, terminate and listing of compute instances, served per cluster.

The contract is `paracluster.fleet`'s. Locally an instance's address is that of the Slurm node it backs (every
node name has a fixed address), so `launch` reserves capacity and `bind` boots the node's namespaces under the name
it is bound to, the way ParallelCluster assigns launched instances to Slurm nodes. The capacity model (setting
local.capacity, counted across every cluster of this host service) and injected launch failures act here, on the
real launch path. Answers are kept in the cluster's record by request id until one of their instances ends.
Each cluster's head node reaches its fleet over a unix socket in <cluster>/fleet, mounted at /run/paracluster/fleet.
"""

from __future__ import annotations

import grp
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paracluster import fleet as contract
from paracluster import rpc
from paracluster.errors import ClusterError
from paracluster.fleet import (
    BindResult,
    FleetState,
    LaunchNode,
    LaunchResult,
    NodeError,
    TerminateResult,
)
from paracluster.providers.local.nodes import instances, instancestore
from paracluster.providers.local.host.state import ClusterState, Instance, Reservation
from paracluster.records import InstanceRecord, NodeFailure, from_data, now, to_data

LOG = logging.getLogger("paracluster.local")
# Statuses in which instances launch (a rolled-back update leaves a working cluster), and in which the cluster manager
# acts: not during an update, as ParallelCluster stops clustermgtd while its head node applies one.
MANAGED_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED")
MANAGER_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED")
FAILURE_MEMORY = 50  # the latest node launch failures kept for describe-cluster-instances


class LocalFleet:
    """The fleet of one cluster; `service` gives the record store, locks, settings, faults and booting."""

    def __init__(self, service, name: str):
        self.service = service
        self.name = name
        self._statuses: dict[Path, tuple[int, dict]] = {}  # node directory -> (status.json's mtime, its content)

    def _status(self, node_dir: Path) -> dict:
        """A node's status.json, read again only when it changed: the cluster manager lists the fleet every second."""
        try:
            stamp = (node_dir / "status.json").stat().st_mtime_ns
        except OSError:
            return {}
        cached = self._statuses.get(node_dir)
        if cached is None or cached[0] != stamp:
            cached = self._statuses[node_dir] = (stamp, instances.read_status(node_dir))
        return cached[1]

    # --- idempotency ----------------------------------------------------------------------------------------

    def _answered(self, request_id: str, kind: type):
        record = self.service.store.load(self.name)
        entry = (record.fleet_answers if record else {}).get(request_id)
        return from_data(kind, entry["answer"]) if entry else None

    @staticmethod
    def _remember(record: ClusterState, request_id: str, answer, instance_ids: list[str]) -> None:
        record.fleet_answers[request_id] = {"answer": to_data(answer), "instances": instance_ids}

    # --- operations -------------------------------------------------------------------------------------------

    def launch(self, request_id: str, nodes: list[LaunchNode], all_or_nothing: bool) -> LaunchResult:
        """Reserve one instance per requested node; per compute resource all or nothing if asked (RunInstances)."""
        # Capacity is the host's: count and reserve under one lock for every cluster of this service.
        with self.service.capacity_lock, self.service.lock(self.name):
            answered = self._answered(request_id, LaunchResult)
            if answered is not None:
                return answered
            result = LaunchResult()

            def reserve(record: ClusterState) -> None:
                groups: dict[tuple[str, str], list] = {}
                for node in nodes:
                    entry = record.nodes.get(node.name)
                    if entry is None or entry.node.node_type != "ComputeNode":
                        result.failed.append(NodeError(node.name, contract.INVALID_NODE,
                                                       f"{node.name} is not a compute node of cluster {self.name}"))
                        continue
                    groups.setdefault((entry.node.queue, entry.node.compute_resource), []).append(entry)
                if record.status not in MANAGED_STATUSES:
                    result.failed += [NodeError(n.name, contract.NOT_READY, f"cluster is {record.status}")
                                      for entries in groups.values() for n in entries]
                    groups = {}
                for (queue, resource), entries in groups.items():
                    instance_type = entries[0].node.instance_type
                    available = self._available(instance_type)
                    count = len(entries) if not all_or_nothing or available >= len(entries) else 0
                    count = min(count, available)
                    for index, entry in enumerate(entries):
                        if index < count:
                            instance_id = instances.new_instance_id()
                            reservation = Reservation(instance_type, queue, resource, now(), entry.name)
                            record.reservations[instance_id] = reservation
                            result.launched.append(_reservation_record(instance_id, reservation))
                        else:
                            result.failed.append(NodeError(
                                entry.name, "InsufficientInstanceCapacity",
                                f"no capacity for {instance_type} (setting local.capacity or an injected launch "
                                "failure)"))
                record_failures(record, result.failed)
                self._remember(record, request_id, result, [i.instance_id for i in result.launched])

            self.service.store.update(self.name, reserve)
        return result

    def _available(self, instance_type: str) -> int:
        if self.service.faults.launch_failure(instance_type):
            return 0
        limit = self.service.settings["local.capacity"].get(instance_type)
        if limit is None:
            return 1 << 30
        return max(0, int(limit) - self.service.instances_in_use(instance_type))

    def bind(self, request_id: str, bindings: dict[str, str]) -> BindResult:
        """Boot each reserved instance as the Slurm node it is bound to ({instance id: node name})."""
        from paracluster.providers.local.host.pipeline import Creation, start_node

        with self.service.lock(self.name):
            answered = self._answered(request_id, BindResult)
            if answered is not None:
                return answered
            result = BindResult()
            to_boot: list[str] = []

            def claim(record: ClusterState) -> None:
                for instance_id, node_name in sorted(bindings.items(), key=lambda item: item[1]):
                    reservation = record.reservations.pop(instance_id, None)
                    node = record.nodes.get(node_name)
                    if (reservation is None or node is None
                            or node.node.compute_resource != reservation.compute_resource):
                        result.failed.append(NodeError(node_name, contract.INVALID_BINDING,
                                                       f"{instance_id} is no launched instance for {node_name}"))
                        continue
                    node.instance = Instance(instance_id, "pending", now())
                    to_boot.append(node_name)

            record = self.service.store.update(self.name, claim)
            ctx = Creation(record, self.service.plan(self.name), self.service.settings, self.service.store,
                           self.service.faults)

            def boot(node_name: str) -> tuple[str, str | None]:
                try:
                    start_node(ctx, record.nodes[node_name], wait=False, save=False)
                    return node_name, None
                except ClusterError as err:
                    return node_name, str(err)

            with ThreadPoolExecutor(max_workers=instances.PARALLEL_NODE_OPERATIONS) as pool:
                outcomes = dict(pool.map(boot, to_boot))

            def finish(current: ClusterState) -> None:
                for node_name, error in outcomes.items():
                    booted = record.nodes[node_name].instance
                    node = current.nodes[node_name]
                    if error:
                        node.instance = None
                        result.failed.append(NodeError(node_name, contract.BOOT_FAILURE, error))
                    else:
                        node.instance = Instance(booted.instance_id, "running", booted.launch_time, booted.pid)
                        result.bound.append(node_name)
                record_failures(current, result.failed)
                self._remember(current, request_id, result, [n.instance.instance_id for n in current.nodes.values()
                                                             if n.name in result.bound])

            self.service.store.update(self.name, finish)
        return result

    def terminate(self, request_id: str, instance_ids: list[str]) -> TerminateResult:
        """Stop the nodes behind these instances (or drop reservations); unknown ids are reported as failed."""
        from paracluster.providers.local.host.pipeline import remove_node_network

        store = self.service.store
        with self.service.lock(self.name):
            answered = self._answered(request_id, TerminateResult)
            if answered is not None:
                return answered
            record = store.load(self.name)
            by_id = record.by_instance()
            to_stop = [by_id[i] for i in instance_ids
                       if i in by_id and by_id[i].node.node_type == "ComputeNode"]
            instances.stop_nodes([(n.instance.pid, store.node_dir(self.name, n.name)) for n in to_stop])
            for node in to_stop:
                remove_node_network(record, node, store.root)
                instancestore.release(store.cluster_dir(self.name), node.name)
            result = TerminateResult()

            def forget(current: ClusterState) -> None:
                by_id = current.by_instance()  # once: a burst's terminate names a thousand instances
                for instance_id in instance_ids:
                    node = by_id.pop(instance_id, None)
                    if current.reservations.pop(instance_id, None) is not None:
                        result.terminated.append(instance_id)
                    elif node is not None and node.node.node_type == "ComputeNode":
                        node.instance = None
                        result.terminated.append(instance_id)
                    else:
                        result.failed.append(NodeError(instance_id, contract.NOT_FOUND))
                forget_answers(current, result.terminated)
                self._remember(current, request_id, result, [])

            store.update(self.name, forget)
        return result

    def instances(self) -> list[InstanceRecord]:
        record = self.service.store.load(self.name)
        found = [_reservation_record(i, r) for i, r in record.reservations.items()]
        failures: dict[str, str] = {}
        ended: list[str] = []
        for node in record.nodes.values():
            instance = node.instance
            if node.node.node_type != "ComputeNode" or instance is None:
                continue
            state, reason = instance.state, None
            alive = instances.is_alive(instance.pid, self.service.store.node_dir(self.name, node.name))
            if state == "running" and not alive:
                state = "terminated"
            if state in ("terminated", "running"):
                # A node whose PID 1 reported a failed bootstrap (kept alive for debugging, or gone): the cluster
                # manager counts it at once and shows why in Slurm.
                status = self._status(self.service.store.node_dir(self.name, node.name))
                if status.get("state") == "failed":
                    state, reason = "failed", status.get("reason")
                    if not instance.failure_recorded:
                        failures[node.name] = reason
                elif state == "terminated":
                    ended.append(instance.instance_id)
                    continue
            found.append(InstanceRecord(
                instance_id=instance.instance_id, node_type="ComputeNode", instance_type=node.node.instance_type,
                state=state, address=node.address, launch_time=instance.launch_time, node_name=node.name,
                queue=node.node.queue, compute_resource=node.node.compute_resource, reason=reason,
            ))
        if failures or ended:
            def note(current: ClusterState) -> None:
                record_bootstrap_failures(current, failures)
                forget_answers(current, ended)

            self.service.store.update(self.name, note)
        return found

    def status(self) -> FleetState:
        record = self.service.store.load(self.name)
        return FleetState(managed=record.status in MANAGER_STATUSES and record.desired.present,
                          status=record.observed.fleet_status, last_updated_time=record.observed.fleet_status_time)

    def set_status(self, status: str) -> FleetState:
        if status not in contract.FLEET_STATUSES:
            raise ClusterError(f"unknown compute fleet status '{status}'")

        def change(record: ClusterState) -> None:
            record.observed.fleet_status = status
            record.observed.fleet_status_time = now()

        self.service.store.update(self.name, change)
        return self.status()

    # --- the socket's requests (paracluster.rpc), in the contract's wire form -------------------------------------

    def serve_launch(self, request_id: str, nodes: list[dict], all_or_nothing: bool) -> dict:
        return to_data(self.launch(request_id, [from_data(LaunchNode, n) for n in nodes], all_or_nothing))

    def serve_bind(self, request_id: str, bindings: dict[str, str]) -> dict:
        return to_data(self.bind(request_id, bindings))

    def serve_terminate(self, request_id: str, instance_ids: list[str]) -> dict:
        return to_data(self.terminate(request_id, instance_ids))

    def serve_instances(self) -> list:
        return to_data(self.instances())

    def serve_status(self) -> dict:
        return to_data(self.status())

    def serve_set_status(self, status: str) -> dict:
        return to_data(self.set_status(status))


def _reservation_record(instance_id: str, reservation: Reservation) -> InstanceRecord:
    return InstanceRecord(
        instance_id=instance_id, node_type="ComputeNode", instance_type=reservation.instance_type, state="pending",
        launch_time=reservation.launch_time, node_name=reservation.requested_for, queue=reservation.queue,
        compute_resource=reservation.compute_resource,
    )


def forget_answers(record: ClusterState, ended: list[str]) -> None:
    """Drop the remembered answers that handed out any of these instances (they must never be handed out again)."""
    gone = set(ended)
    if gone:
        for request_id in [rid for rid, entry in record.fleet_answers.items() if gone & set(entry["instances"])]:
            del record.fleet_answers[request_id]
    # Answers that handed out nothing (terminations, failures) only serve retries that come at once.
    while len(record.fleet_answers) > 4 * max(64, len(record.nodes)):
        del record.fleet_answers[next(iter(record.fleet_answers))]


def record_failures(record: ClusterState, failed: list[NodeError]) -> None:
    """Remember the latest launch and boot failures per node, the way EC2 errors surface in ParallelCluster."""
    if not failed:
        return
    stamp = now()
    history = record.observed.node_failures
    history.extend(NodeFailure(item.name, item.code, item.message, stamp) for item in failed)
    del history[:-FAILURE_MEMORY]


def record_bootstrap_failures(record: ClusterState, reasons: dict[str, str]) -> None:
    """Record a BootstrapFailure per node ({node name: reason}), once per failed instance."""
    for name in reasons:
        if record.nodes[name].instance is not None:
            record.nodes[name].instance.failure_recorded = True
    record_failures(record, [NodeError(name, contract.BOOTSTRAP_FAILURE, reason) for name, reason in reasons.items()])


def fleet_dir(cluster_dir: Path) -> Path:
    return cluster_dir / "fleet"


class _Wire:
    """The socket's view of a LocalFleet: each request name maps to its serve_ method."""

    def __init__(self, fleet: LocalFleet):
        for op in contract.OPERATIONS:
            setattr(self, op, getattr(fleet, f"serve_{op}"))


def serve_fleet(service, name: str) -> rpc.Server:
    """Listen on the cluster's fleet socket (root and the slurm group may connect) in a background thread."""
    directory = fleet_dir(service.store.cluster_dir(name))
    directory.mkdir(parents=True, exist_ok=True)
    slurm_gid = grp.getgrnam("slurm").gr_gid
    os.chown(directory, 0, slurm_gid)
    directory.chmod(0o750)
    path = directory / "fleet.sock"
    path.unlink(missing_ok=True)
    server = rpc.Server(str(path), _Wire(LocalFleet(service, name)), contract.OPERATIONS, f"fleet of {name}", LOG)
    os.chown(path, 0, slurm_gid)
    path.chmod(0o660)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server

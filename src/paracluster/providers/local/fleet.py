"""The local provider's fleet: capacity, launch, assignment, termination of compute instances, served per cluster.

The contract is `paracluster.fleet`'s. Locally an instance's hostname and address are those of the Slurm node it
backs (every node name has a fixed address), so `launch` reserves capacity and `assign` boots the node's namespaces
under the name it is assigned to, the way ParallelCluster assigns launched instances to Slurm nodes. The capacity
model (settings local.capacity) and injected launch failures act here, on the real launch path.
Each cluster's head node reaches its fleet over a unix socket in <cluster>/fleet, mounted at /run/paracluster/fleet.
"""

from __future__ import annotations

import grp
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paracluster import rpc
from paracluster.errors import ClusterError
from paracluster.providers.local import instances, instancestore
from paracluster.providers.local.state import now

LOG = logging.getLogger("paracluster.local")
REQUEST_MEMORY = 512  # answers remembered per cluster for idempotent retries
FLEET_REQUESTS = frozenset({"launch", "assign", "terminate", "instances", "fleet_status", "set_fleet_status"})
FLEET_STATUSES = ("RUNNING", "STOP_REQUESTED", "STOPPING", "STOPPED", "START_REQUESTED", "STARTING", "PROTECTED")


class LocalFleet:
    """Fleet operations of one cluster; `service` gives the record store, locks, settings and faults."""

    def __init__(self, service, name: str):
        self.service = service
        self.name = name
        self._answers: dict[str, dict] = {}

    # --- helpers ----------------------------------------------------------------------------------------------

    def _remember(self, request_id: str, answer: dict) -> dict:
        self._answers[request_id] = answer
        while len(self._answers) > REQUEST_MEMORY:
            self._answers.pop(next(iter(self._answers)))
        return answer

    def _in_use(self, instance_type: str) -> int:
        """Instances of this type running or reserved, across every cluster of this host service."""
        count = 0
        for record in self.service.store.records():
            count += sum(1 for r in record.get("reservations", {}).values() if r["instanceType"] == instance_type)
            count += sum(
                1 for node in record.get("instances", {}).values()
                if node.get("instanceId") and node["instanceType"] == instance_type
                and node.get("state") in ("pending", "running")
            )
        return count

    # --- operations -------------------------------------------------------------------------------------------

    def launch(self, request_id: str, nodes: list[dict], all_or_nothing: bool) -> dict:
        """Reserve one instance per requested node; per compute resource all or nothing if asked (RunInstances)."""
        if request_id in self._answers:
            return self._answers[request_id]
        with self.service.lock(self.name):
            record = self.service.record(self.name)
            known = record.get("instances", {})
            launched, failed = [], []
            groups: dict[tuple[str, str], list[dict]] = {}
            for node in nodes:
                entry = known.get(node.get("name"))
                if entry is None or entry["nodeType"] != "ComputeNode":
                    failed.append({"name": node.get("name"), "code": "InvalidNodenameError",
                                   "message": f"{node.get('name')} is not a compute node of cluster {self.name}"})
                    continue
                groups.setdefault((entry["queueName"], entry["computeResource"]), []).append(entry)
            if record["status"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS"):
                groups, failed = {}, failed + [
                    {"name": n["name"], "code": "ClusterNotReady", "message": f"cluster is {record['status']}"}
                    for n in nodes
                ]
            reservations = record.setdefault("reservations", {})
            for (queue, resource), entries in groups.items():
                instance_type = entries[0]["instanceType"]
                available = self._available(instance_type)
                count = len(entries) if not all_or_nothing or available >= len(entries) else 0
                count = min(count, available)
                for index, entry in enumerate(entries):
                    if index < count:
                        instance_id = instances.new_instance_id()
                        reservations[instance_id] = {
                            "instanceType": instance_type, "queue": queue, "computeResource": resource,
                            "launchTime": time.time(), "requestedFor": entry["nodeName"],
                        }
                        launched.append(self._describe_reservation(instance_id, reservations[instance_id]))
                    else:
                        failed.append({"name": entry["nodeName"], "code": "InsufficientInstanceCapacity",
                                       "message": f"no capacity for {instance_type} (setting local.capacity or an "
                                                  "injected launch failure)"})
            record_failures(record, failed)
            self.service.store.save(record)
        return self._remember(request_id, {"launched": launched, "failed": failed})

    def _available(self, instance_type: str) -> int:
        if self.service.faults.launch_failure(instance_type):
            return 0
        limit = self.service.settings["local.capacity"].get(instance_type)
        if limit is None:
            return 1 << 30
        return max(0, int(limit) - self._in_use(instance_type))

    @staticmethod
    def _describe_reservation(instance_id: str, reservation: dict) -> dict:
        return {
            "instanceId": instance_id, "name": reservation["requestedFor"], "queue": reservation["queue"],
            "computeResource": reservation["computeResource"], "instanceType": reservation["instanceType"],
            "privateIpAddress": None, "launchTime": reservation["launchTime"], "state": "pending",
            "nodeType": "Compute",
        }

    def assign(self, request_id: str, assignments: dict[str, str], not_before: float | None = None) -> dict:
        """Boot each reserved instance as the Slurm node it is assigned to ({instance_id: node_name})."""
        if request_id in self._answers:
            return self._answers[request_id]
        from paracluster.providers.local.cluster import Creation, start_node

        with self.service.lock(self.name):
            record = self.service.record(self.name)
            reservations = record.get("reservations", {})
            config = self.service.config(self.name)
            ctx = Creation(record, config, self.service.settings, self.service.store, self.service.faults)
            booted, failed, to_boot = [], [], []
            for instance_id, node_name in sorted(assignments.items(), key=lambda item: item[1]):
                reservation = reservations.pop(instance_id, None)
                node = record["instances"].get(node_name)
                if reservation is None or node is None or node["computeResource"] != reservation["computeResource"]:
                    failed.append({"name": node_name, "code": "InvalidAssignment",
                                   "message": f"{instance_id} is no reserved instance for {node_name}"})
                    continue
                node.update(instanceId=instance_id, launchTime=now(), state="pending", pid=None)
                to_boot.append(node)
            ctx.save()

            def boot(node: dict) -> tuple[dict, str | None]:
                # Slurm 22.05 accepts a resumed node only if its boot time (now minus its uptime, rounded up to
                # whole seconds) is not before the resume request's second: the node's clock must start after the
                # next whole second, so its time namespace is made no earlier than that.
                delay = (not_before or 0) - time.time()
                if delay > 0:
                    time.sleep(delay)
                try:
                    start_node(ctx, node, wait=False, save=False)
                    return node, None
                except ClusterError as err:
                    return node, str(err)

            with ThreadPoolExecutor(max_workers=instances.PARALLEL_NODE_OPERATIONS) as pool:
                for node, error in pool.map(boot, to_boot):
                    if error:
                        node.update(state="stopped", instanceId=None, pid=None)
                        failed.append({"name": node["nodeName"], "code": "InstanceBootFailure", "message": error})
                    else:
                        node["state"] = "running"
                        booted.append(node["nodeName"])
            record_failures(record, failed)
            ctx.save()
        return self._remember(request_id, {"booted": booted, "failed": failed})

    def terminate(self, request_id: str, instance_ids: list[str]) -> dict:
        """Stop the nodes behind these instances (or drop reservations); unknown ids are reported as failed."""
        if request_id in self._answers:
            return self._answers[request_id]
        with self.service.lock(self.name):
            record = self.service.record(self.name)
            store = self.service.store
            by_id = {n["instanceId"]: n for n in record.get("instances", {}).values() if n.get("instanceId")}
            terminated, failed, to_stop = [], [], []
            for instance_id in instance_ids:
                if record.get("reservations", {}).pop(instance_id, None) is not None:
                    terminated.append(instance_id)
                elif instance_id in by_id and by_id[instance_id]["nodeType"] == "ComputeNode":
                    to_stop.append(by_id[instance_id])
                else:
                    failed.append({"instanceId": instance_id, "code": "InvalidInstanceID.NotFound"})
            instances.stop_nodes([(n.get("pid"), store.node_dir(self.name, n["nodeName"])) for n in to_stop])
            for node in to_stop:
                instances.remove_network(record, node)
                instancestore.release(store.cluster_dir(self.name), node["nodeName"])
                terminated.append(node["instanceId"])
                node.update(state="stopped", instanceId=None, pid=None, launchTime=None)
            self.service.store.save(record)
        return self._remember(request_id, {"terminated": terminated, "failed": failed})

    def instances(self) -> dict:
        record = self.service.record(self.name)
        self.service.refresh_states(record)
        found = [self._describe_reservation(i, r) for i, r in record.get("reservations", {}).items()]
        failures: dict[str, str] = {}
        for node in record.get("instances", {}).values():
            if node["nodeType"] != "ComputeNode" or not node.get("instanceId"):
                continue
            state, reason = node.get("state"), None
            if state in ("terminated", "running"):
                # A node whose PID 1 reported a failed bootstrap (kept alive for debugging, or gone): the cluster
                # manager counts it at once and shows why in Slurm.
                status = instances.read_status(self.service.store.node_dir(self.name, node["nodeName"]))
                if status.get("state") == "failed":
                    state, reason = "failed", status.get("reason")
                    if node.get("failureRecorded") != node["instanceId"]:
                        node["failureRecorded"] = node["instanceId"]
                        failures[node["nodeName"]] = reason
                elif state == "terminated":
                    continue
            found.append({
                "instanceId": node["instanceId"], "name": node["nodeName"], "queue": node["queueName"],
                "computeResource": node["computeResource"], "instanceType": node["instanceType"],
                "privateIpAddress": node["privateIpAddress"], "launchTime": _epoch(node.get("launchTime")),
                "state": state, "nodeType": "Compute", **({"reason": reason} if reason else {}),
            })
        if failures:
            with self.service.lock(self.name):
                current = self.service.record(self.name)
                record_bootstrap_failures(current, failures)
                self.service.store.save(current)
        return {"instances": found}

    def fleet_status(self) -> dict:
        record = self.service.record(self.name)
        return {"status": record.get("computeFleetStatus", "UNKNOWN"),
                "lastStatusUpdatedTime": record.get("fleetStatusTime") or record.get("lastUpdatedTime")}

    def set_fleet_status(self, status: str) -> dict:
        if status not in FLEET_STATUSES:
            raise ClusterError(f"unknown compute fleet status '{status}'")
        with self.service.lock(self.name):
            record = self.service.record(self.name)
            record.update(computeFleetStatus=status, fleetStatusTime=now())
            self.service.store.save(record)
        return self.fleet_status()


FAILURE_MEMORY = 50  # the latest node launch failures kept for describe-cluster-instances


def record_failures(record: dict, failed: list[dict]) -> None:
    """Remember the latest launch and boot failures per node, the way EC2 errors surface in ParallelCluster."""
    if not failed:
        return
    history = record.setdefault("nodeFailures", [])
    stamp = now()
    history.extend({"nodeName": item["name"], "failureCode": item["code"], "failureReason": item.get("message", ""),
                    "time": stamp} for item in failed)
    del history[:-FAILURE_MEMORY]


def record_bootstrap_failures(record: dict, reasons: dict[str, str]) -> None:
    """Record a BootstrapFailure per node ({node name: reason}), marking its instance as reported, so that each
    failed instance is reported once."""
    for name in reasons:
        node = record["instances"][name]
        node["failureRecorded"] = node["instanceId"]
    record_failures(record, [{"name": name, "code": "BootstrapFailure", "message": reason}
                             for name, reason in reasons.items()])


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fleet_dir(cluster_dir: Path) -> Path:
    return cluster_dir / "fleet"


def serve_fleet(service, name: str) -> rpc.Server:
    """Listen on the cluster's fleet socket (root and the slurm group may connect) in a background thread."""
    directory = fleet_dir(service.store.cluster_dir(name))
    directory.mkdir(parents=True, exist_ok=True)
    slurm_gid = grp.getgrnam("slurm").gr_gid
    os.chown(directory, 0, slurm_gid)
    directory.chmod(0o750)
    path = directory / "fleet.sock"
    path.unlink(missing_ok=True)
    server = rpc.Server(str(path), LocalFleet(service, name), FLEET_REQUESTS, f"fleet of {name}", LOG)
    os.chown(path, 0, slurm_gid)
    path.chmod(0o660)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server

"""The cluster manager's loop on the head node: observe Slurm and the fleet, plan (pure), act; forever.

Runs as a service of the head node (standard library only). It manages the cluster only while the host service
marks it complete. One failed action is logged and does not stop the others. It also moves the compute fleet status
on: STOP_REQUESTED -> STOPPING -> STOPPED and START_REQUESTED -> STARTING -> RUNNING, as ParallelCluster's
clusterstatusmgtd does.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid

from paracluster.daemon.observe import Observation, parse_scontrol_nodes, parse_scontrol_partitions
from paracluster.daemon.plan import (
    LaunchStatic,
    Memory,
    PlanSettings,
    SetFleetStatus,
    SetNodeState,
    SetPartitionState,
    Terminate,
    plan,
)
from paracluster.fleet import FleetClient, FleetError
from paracluster.slurm.hostlist import compress_hostlist

CONFIG = "/opt/slurm/etc/pcluster/paracluster.json"
READY = "/run/paracluster/fleet/ready"
LOG_FILE = "/var/log/parallelcluster/clustermgtd.log"
LOG = logging.getLogger("clustermgtd")


def run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-300:]}")
    return result.stdout


def observe(fleet: FleetClient) -> Observation:
    # The time of the Slurm view, taken before the fleet is listed: an instance launched in between is newer than
    # the view, and the planner must not take it for the instance of a powered-down node.
    observed = time.time()
    nodes = parse_scontrol_nodes(run(["scontrol", "show", "nodes", "-o"]))
    partitions = parse_scontrol_partitions(run(["scontrol", "show", "partitions", "-o"]))
    jobs: dict[str, int] = {}
    for partition in run(["squeue", "-h", "-t", "RUNNING,CONFIGURING,COMPLETING", "-o", "%P"]).split():
        jobs[partition] = jobs.get(partition, 0) + 1
    return Observation(
        time=observed,
        nodes=nodes,
        partitions=partitions,
        instances=fleet.instances(),
        fleet_status=fleet.call("fleet_status")["status"],
        running_jobs_by_partition=jobs,
    )


def act(actions: list, fleet: FleetClient) -> None:
    """Carry out each action; a failure is logged and the next action still runs."""
    for action in actions:
        try:
            if isinstance(action, Terminate):
                if action.instance_ids:
                    fleet.terminate(list(action.instance_ids), request_id=uuid.uuid4().hex)
            elif isinstance(action, SetNodeState):
                argv = ["scontrol", "update", f"nodename={compress_hostlist(action.nodes)}", f"state={action.state}"]
                if action.reason:
                    argv.append(f"reason={action.reason}")
                run(argv)
            elif isinstance(action, LaunchStatic):
                launch_static(fleet, list(action.nodes))
            elif isinstance(action, SetPartitionState):
                run(["scontrol", "update", f"partitionname={action.partition}", f"state={action.state}"])
            elif isinstance(action, SetFleetStatus):
                fleet.call("set_fleet_status", status=action.status)
            LOG.info("done: %s", action)
        except (FleetError, RuntimeError, subprocess.TimeoutExpired) as err:
            LOG.error("failed: %s: %s", action, err)


def launch_static(fleet: FleetClient, nodes: list[str]) -> None:
    """Replace static nodes, best effort (ParallelCluster relaunches them with the best-effort strategy)."""
    with open(CONFIG) as source:
        known = json.load(source)["nodes"]
    request = [{"name": n, "queue": known[n]["queue"], "compute_resource": known[n]["computeResource"]}
               for n in nodes if n in known]
    answer = fleet.launch(request, all_or_nothing=False, request_id=uuid.uuid4().hex)
    assignments = {item["instanceId"]: item["name"] for item in answer["launched"]}
    if assignments:
        fleet.call("assign", request_id=uuid.uuid4().hex, assignments=assignments)
    for item in answer["failed"]:
        LOG.warning("could not relaunch static node %s: %s", item["name"], item["code"])


def next_fleet_status(status: str, obs: Observation) -> tuple[str, str | None]:
    """(status the planner plans for, status to record now) for the fleet's start/stop transitions."""
    if status == "STOP_REQUESTED":
        return "STOPPED", "STOPPING"
    if status == "STOPPING":
        done = not obs.instances and all(p.state == "INACTIVE" for p in obs.partitions)
        return "STOPPED", "STOPPED" if done else None
    if status == "START_REQUESTED":
        return "START_REQUESTED", "STARTING"
    if status == "STARTING":
        done = all(p.state == "UP" for p in obs.partitions)
        return ("RUNNING", "RUNNING") if done else ("START_REQUESTED", None)
    return status, None


def settings_from(knobs: dict) -> PlanSettings:
    return PlanSettings(
        orphan_timeout=float(knobs["orphan_timeout"]),
        insufficient_capacity_timeout=float(knobs["insufficient_capacity_timeout"]),
        protected_failure_count=int(knobs["protected_failure_count"]),
        node_replacement_timeout=float(knobs["node_replacement_timeout"]),
        keep_failed_nodes=bool(knobs.get("keep_failed_nodes")),
    )


def main() -> None:
    os.makedirs(os.path.dirname(LOG_FILE), exist_ok=True)
    logging.basicConfig(filename=LOG_FILE, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    fleet = FleetClient()
    memory = Memory()
    managing = False
    while True:
        started = time.monotonic()
        interval = 1.0
        # Manage only a complete cluster: the host service removes the marker while a create is under way.
        if not os.path.exists(READY):
            managing = False
            time.sleep(0.2)
            continue
        if not managing:
            LOG.info("managing the cluster")
            managing = True
        try:
            with open(CONFIG) as source:
                knobs = json.load(source)  # re-read every loop: changes apply live, as in ParallelCluster
            interval = float(knobs.get("clustermgtd_interval", 1.0))
            obs = observe(fleet)
            planned_status, record_status = next_fleet_status(obs.fleet_status, obs)
            if record_status and record_status != obs.fleet_status:
                fleet.call("set_fleet_status", status=record_status)
            obs = Observation(obs.time, obs.nodes, obs.partitions, obs.instances, planned_status,
                              obs.running_jobs_by_partition)
            result = plan(obs, memory, settings_from(knobs))
            memory = result.memory
            act(list(result.actions), fleet)
        except Exception as err:  # noqa: BLE001 - the manager keeps running whatever one loop meets
            LOG.error("loop failed: %s", err)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()

"""The cluster manager's loop on the head node: observe Slurm and the fleet, plan (pure), act; forever.

Runs as a service of the head node (standard library only). It manages the cluster only while its fleet says the
cluster is managed (its create is complete). One failed action is logged and does not stop the others. It also
moves the compute fleet status on: STOP_REQUESTED -> STOPPING -> STOPPED and START_REQUESTED -> STARTING ->
RUNNING, as ParallelCluster's clusterstatusmgtd does.
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
from paracluster import fleet as contract
from paracluster.fleet import LaunchNode
from paracluster.slurm.hostlist import compress_hostlist

LOG_FILE = "/var/log/parallelcluster/clustermgtd.log"
HEARTBEAT = "/opt/slurm/etc/pcluster/.slurm_plugin/clustermgtd_heartbeat"  # ParallelCluster's path and format
LOG = logging.getLogger("clustermgtd")


def write_heartbeat() -> None:
    """Say the manager is alive, every loop (`paracluster diagnose` checks its age)."""
    from datetime import datetime, timezone

    os.makedirs(os.path.dirname(HEARTBEAT), exist_ok=True)
    with open(f"{HEARTBEAT}.tmp", "w") as out:
        out.write(f"{datetime.now(tz=timezone.utc)}\n")
    os.replace(f"{HEARTBEAT}.tmp", HEARTBEAT)


def run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-300:]}")
    return result.stdout


def observe(fleet, fleet_status: str) -> Observation:
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
        fleet_status=fleet_status,
        running_jobs_by_partition=jobs,
    )


def act(actions: list, fleet, knobs: dict) -> None:
    """Carry out each action; a failure of any kind is logged and the next action still runs."""
    for action in actions:
        try:
            if isinstance(action, Terminate):
                if action.instance_ids:
                    fleet.terminate(uuid.uuid4().hex, list(action.instance_ids))
            elif isinstance(action, SetNodeState):
                argv = ["scontrol", "update", f"nodename={compress_hostlist(action.nodes)}", f"state={action.state}"]
                if action.reason:
                    argv.append(f"reason={action.reason}")
                run(argv)
            elif isinstance(action, LaunchStatic):
                launch_static(fleet, list(action.nodes), knobs["nodes"])
            elif isinstance(action, SetPartitionState):
                run(["scontrol", "update", f"partitionname={action.partition}", f"state={action.state}"])
            elif isinstance(action, SetFleetStatus):
                fleet.set_status(action.status)
            LOG.info("done: %s", action)
        except Exception as err:  # noqa: BLE001 - one failed action must not stop the others, whatever it is
            LOG.error("failed: %s: %s: %s", action, type(err).__name__, err)


def launch_static(fleet, nodes: list[str], known: dict) -> None:
    """Replace static nodes, best effort (ParallelCluster relaunches them with the best-effort strategy)."""
    request = [LaunchNode(n, known[n]["queue"], known[n]["computeResource"]) for n in nodes if n in known]
    answer = fleet.launch(uuid.uuid4().hex, request, all_or_nothing=False)
    bindings = {item.instance_id: item.node_name for item in answer.launched}
    if bindings:
        fleet.bind(uuid.uuid4().hex, bindings)
    for item in answer.failed:
        LOG.warning("could not relaunch static node %s: %s", item.name, item.code)


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
        completing_timeout=float(knobs.get("completing_timeout", 0)),
    )


def main() -> None:
    os.makedirs(os.path.dirname(LOG_FILE), exist_ok=True)
    logging.basicConfig(filename=LOG_FILE, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    memory = Memory()
    managing = False
    while True:
        started = time.monotonic()
        interval = 1.0
        try:
            write_heartbeat()
            with open(contract.KNOBS) as source:
                knobs = json.load(source)  # re-read every loop: changes apply live, as in ParallelCluster
            interval = float(knobs.get("clustermgtd_interval", 1.0))
            fleet = contract.connect(knobs)
            state = fleet.status()
            # Manage only a complete cluster (not one whose create, or delete, is under way).
            if not state.managed:
                managing = False
                time.sleep(0.2)
                continue
            if not managing:
                LOG.info("managing the cluster")
                managing = True
            obs = observe(fleet, state.status)
            planned_status, record_status = next_fleet_status(obs.fleet_status, obs)
            if record_status and record_status != obs.fleet_status:
                fleet.set_status(record_status)
            obs = Observation(obs.time, obs.nodes, obs.partitions, obs.instances, planned_status,
                              obs.running_jobs_by_partition)
            result = plan(obs, memory, settings_from(knobs))
            memory = result.memory
            act(list(result.actions), fleet, knobs)
        except Exception as err:  # noqa: BLE001 - the manager keeps running whatever one loop meets
            LOG.error("loop failed: %s: %s", type(err).__name__, err)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    main()

"""Slurm's ResumeProgram: launch instances for the nodes Slurm resumes, with the cluster's scaling strategy.

Runs on the head node as SlurmUser (standard library only), against the fleet its cluster's knobs name. Request ids
come from the Slurm call itself: the jobs and nodes of the resume request and the nodes' power-up generation (their
LastBusyTime and their job's allocation time), so a second run for the same power-up gets the same instances back
while a later power-up of the same nodes gets new ones. Nodes the early launch (PrologSlurmctld) already launched
for their job are skipped (paracluster.slurm.launching). Nodes that get no instance are set DOWN with
ParallelCluster's reason `(Code:<error>)Failure when resuming nodes`, so Slurm requeues their jobs at once instead of
waiting for ResumeTimeout; the cluster manager powers them down and handles insufficient capacity.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from paracluster import fleet as contract
from paracluster.fleet import FleetError, LaunchNode
from paracluster.slurm import launching
from paracluster.slurm.hostlist import compress_hostlist, expand_hostlist
from paracluster.slurm.scaling import resume as scale

LOG = "/var/log/parallelcluster/slurm_resume.log"
# Nodes bound (booted) per fleet call: a local boot takes a fraction of a second of the host's few cores, so one call
# for a 1,000-node burst would outlast the fleet client's timeout; batches also let the first nodes register early.
BIND_BATCH_SIZE = 50


def log(message: str) -> None:
    try:
        with open(LOG, "a") as out:
            stamp = time.time()
            out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(stamp))}.{int(stamp % 1 * 1000):03d} "
                      f"{message}\n")
    except OSError:
        sys.stderr.write(message + "\n")


def normalize_resume_file(data: dict | None) -> dict | None:
    """Slurm 22.05 writes {"all_nodes", "jobs": [{"job_id", "nodes"}]}; 23.x adds nodes_resume, nodes_alloc and more.

    The scaling logic follows the newer form; in the older one a job's nodes are both its allocation and the nodes
    to resume.
    """
    if not data:
        return data
    jobs = []
    for job in data.get("jobs") or []:
        job = dict(job)
        if "nodes_resume" not in job and "nodes" in job:
            job["nodes_resume"] = job["nodes"]
            job.setdefault("nodes_alloc", job["nodes"])
        jobs.append(job)
    normalized = dict(data, jobs=jobs)
    if "all_nodes_resume" not in normalized and "all_nodes" in normalized:
        normalized["all_nodes_resume"] = normalized["all_nodes"]
    return normalized


def power_up_generations(nodes: list[str]) -> dict[str, str]:
    """{node: LastBusyTime} from Slurm.

    Slurm 22.05 clears LastBusyTime when it powers a node down and sets it when the node registers, so it tells
    power-ups apart only together with the job's allocation time (`with_allocations`).
    """
    try:
        result = subprocess.run(["scontrol", "show", "nodes", compress_hostlist(nodes), "-o"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    generations = {}
    for line in result.stdout.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "NodeName" in fields:
            generations[fields["NodeName"]] = fields.get("LastBusyTime", "")
    return generations


def resume_request_id(kind: str, nodes: list[str], resume_file: dict | None, generations: dict[str, str]) -> str:
    """A request id for one part of a resume, from the Slurm call: its jobs, these nodes and their generations."""
    jobs = sorted(str(job.get("job_id")) for job in (resume_file or {}).get("jobs") or [])
    return contract.request_id(kind, {"jobs": jobs, "nodes": sorted(nodes),
                                      "generations": [generations.get(node, "") for node in sorted(nodes)]})


def set_down(nodes: list[str], code: str) -> None:
    if nodes:
        subprocess.run(["scontrol", "update", f"nodename={compress_hostlist(nodes)}", "state=down",
                        f"reason=(Code:{code})Failure when resuming nodes"], capture_output=True, timeout=60)


def resume(hostlist: str, resume_file: dict | None, knobs: dict, fleet, generations: dict[str, str],
           started: float, allocated: dict[str, float] | None = None) -> dict[str, str]:
    """Launch and bind instances for the nodes of `hostlist`; return {node: error code} of those that got none.

    With `allocated` ({node: its job's allocation time}), nodes that already have an instance launched since then
    (by the early launch, or an earlier run) are left as they are, and older instances of them are terminated.
    Hold the launch lock (paracluster.slurm.launching) around it.
    """
    nodes = expand_hostlist(hostlist)
    known = knobs["nodes"]

    def launch(names: list[str], all_or_nothing: bool):
        request = [LaunchNode(n, known[n]["queue"], known[n]["computeResource"]) for n in names if n in known]
        answer = fleet.launch(resume_request_id("launch", names, resume_file, generations), request, all_or_nothing)
        failed = {item.name: item.code for item in answer.failed}
        failed.update({n: contract.INVALID_NODE for n in names if n not in known})
        return {item.node_name: {"instanceId": item.instance_id, "name": item.node_name}
                for item in answer.launched}, failed

    try:
        if allocated:
            have, leftovers = launching.already_launched(fleet.instances(), allocated)
            if leftovers:
                log(f"terminating {len(leftovers)} instances left over from earlier power-ups of {hostlist}")
                fleet.terminate(resume_request_id("leftover", sorted(leftovers), resume_file, generations), leftovers)
            have &= set(nodes)
            if have:
                log(f"already launched for their jobs: {compress_hostlist(sorted(have))}")
                nodes = [node for node in nodes if node not in have]
                resume_file = launching.without_nodes(resume_file, have)
            if not nodes:
                return {}
        result = scale(nodes, resume_file, knobs.get("scaling_strategy", "all-or-nothing"), launch)
        failed = dict(result.failed)
        pairs = sorted((node, instance["instanceId"]) for node, instance in result.assigned.items())
        for start in range(0, len(pairs), BIND_BATCH_SIZE):
            bindings = {instance: node for node, instance in pairs[start:start + BIND_BATCH_SIZE]}
            bind_id = resume_request_id("bind", sorted(bindings.values()), resume_file, generations)
            answer = fleet.bind(bind_id, bindings)
            failed.update({item.name: item.code for item in answer.failed})
            log(f"booted {compress_hostlist(answer.bound)} in {time.time() - started:.2f}s")
        if result.to_terminate:
            fleet.terminate(resume_request_id("unused", nodes, resume_file, generations), result.to_terminate)
    except FleetError as err:
        log(f"failed to resume {hostlist}: {err}")
        failed = {node: contract.UNREACHABLE for node in nodes}
    return failed


def report(failed: dict[str, str], count: int, started: float, what: str = "resume") -> None:
    """Set the nodes that got no instance DOWN with their code (Slurm requeues their jobs) and log the outcome."""
    by_code: dict[str, list[str]] = {}
    for node, code in failed.items():
        by_code.setdefault(code, []).append(node)
    for code, names in sorted(by_code.items()):
        log(f"could not resume {compress_hostlist(names)}: {code}")
        set_down(names, code)
    log(f"{what} done in {time.time() - started:.2f}s: {count - len(failed)} launched, {len(failed)} failed")


def with_allocations(generations: dict[str, str], allocated: dict[str, float]) -> dict[str, str]:
    """Power-up generations that also name each node's job allocation, which a requeued job gets anew."""
    return {node: f"{generations.get(node, '')}@{allocated.get(node, '')}" for node in {*generations, *allocated}}


def main() -> None:
    started = time.time()
    resume_file = None
    path = os.environ.get("SLURM_RESUME_FILE")
    if path:
        try:  # Slurm removes the file soon: read it first
            with open(path) as source:
                resume_file = normalize_resume_file(json.load(source))
        except (OSError, ValueError) as err:
            log(f"failed to read SLURM_RESUME_FILE {path}: {err}; scaling by node list")
    hostlist = sys.argv[1]
    nodes = expand_hostlist(hostlist)
    log(f"resume {hostlist} ({len(nodes)} nodes); resume file: {json.dumps(resume_file)}")
    with open(contract.KNOBS) as source:
        knobs = json.load(source)
    try:
        fleet = contract.connect(knobs)
        with launching.launch_lock():
            jobs = [str(job.get("job_id")) for job in (resume_file or {}).get("jobs") or []]
            allocated = launching.allocation_times(launching.configuring_jobs(), jobs) if jobs else {}
            generations = with_allocations(power_up_generations(nodes), allocated)
            failed = resume(hostlist, resume_file, knobs, fleet, generations, started, allocated)
    except (FleetError, OSError) as err:
        log(f"failed to resume {hostlist}: {err}")
        failed = {node: contract.UNREACHABLE for node in nodes}
    report(failed, len(nodes), started)


if __name__ == "__main__":
    main()

"""Slurm's ResumeProgram: launch instances for the nodes Slurm resumes, with the cluster's scaling strategy.

Runs on the head node as SlurmUser (standard library only). Nodes that get no instance are set DOWN with
ParallelCluster's reason `(Code:<error>)Failure when resuming nodes`, so Slurm requeues their jobs at once instead of
waiting for ResumeTimeout; the cluster manager powers them down and handles insufficient capacity.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid

from paracluster.fleet import FleetClient, FleetError
from paracluster.slurm.hostlist import compress_hostlist, expand_hostlist
from paracluster.slurm.scaling import resume as scale

CONFIG = "/opt/slurm/etc/pcluster/paracluster.json"
LOG = "/var/log/parallelcluster/slurm_resume.log"


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


def set_down(nodes: list[str], code: str) -> None:
    if nodes:
        subprocess.run(["scontrol", "update", f"nodename={compress_hostlist(nodes)}", "state=down",
                        f"reason=(Code:{code})Failure when resuming nodes"], capture_output=True, timeout=60)


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
    nodes = expand_hostlist(sys.argv[1])
    log(f"resume {sys.argv[1]} ({len(nodes)} nodes); resume file: {json.dumps(resume_file)}")
    with open(CONFIG) as source:
        knobs = json.load(source)
    fleet = FleetClient()

    def launch(names: list[str], all_or_nothing: bool):
        known = [n for n in names if n in knobs["nodes"]]
        request = [{"name": n, "queue": knobs["nodes"][n]["queue"],
                    "compute_resource": knobs["nodes"][n]["computeResource"]} for n in known]
        answer = fleet.launch(request, all_or_nothing, request_id=uuid.uuid4().hex)
        failed = {item["name"]: item["code"] for item in answer["failed"]}
        failed.update({n: "InvalidNodenameError" for n in names if n not in knobs["nodes"]})
        return {item["name"]: item for item in answer["launched"]}, failed

    try:
        result = scale(nodes, resume_file, knobs.get("scaling_strategy", "all-or-nothing"), launch)
        failed = dict(result.failed)
        if result.assigned:
            assignments = {instance["instanceId"]: node for node, instance in result.assigned.items()}
            answer = fleet.call("assign", request_id=uuid.uuid4().hex, assignments=assignments,
                                not_before=math.floor(started) + 1)
            failed.update({item["name"]: item["code"] for item in answer["failed"]})
        if result.to_terminate:
            fleet.terminate(result.to_terminate, request_id=uuid.uuid4().hex)
    except FleetError as err:
        log(f"failed to resume {sys.argv[1]}: {err}")
        failed = {node: "Exception" for node in nodes}
    by_code: dict[str, list[str]] = {}
    for node, code in failed.items():
        by_code.setdefault(code, []).append(node)
    for code, names in sorted(by_code.items()):
        log(f"could not resume {compress_hostlist(names)}: {code}")
        set_down(names, code)
    log(f"resume done in {time.time() - started:.2f}s: {len(nodes) - len(failed)} launched, {len(failed)} failed")


if __name__ == "__main__":
    main()

"""PrologSlurmctld: launch a job's powered-down nodes at once, then hold the job until they are up.

Slurm runs it when the scheduler allocates a job. Its powered-down nodes would otherwise be launched only by
ResumeProgram on the power-save thread's next pass, about a second later; the early launch here goes through the
same code (scaling strategy, request ids, failed nodes set DOWN with their code so the job is requeued), and
ResumeProgram then skips what it launched (paracluster.slurm.launching). Then it waits: without a PrologSlurmctld a
batch job on resumed nodes starts only on slurmctld's 30-second periodic pass; when the prolog ends, slurmctld
launches the job immediately. It always exits 0: a node that never comes up is Slurm's ResumeTimeout's business.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from paracluster import fleet as contract
from paracluster.fleet import FleetError
from paracluster.slurm import launching
from paracluster.slurm.hostlist import compress_hostlist
from paracluster.slurm.resume import log, normalize_resume_file, report, resume, with_allocations

WAITING = ("POWERING_UP", "POWERED_DOWN", "NOT_RESPONDING", "POWER_UP")
# A node the early launch takes: still powered down (the power-save thread has not picked it up) and not on its way
# down, down or drained.
_NOT_LAUNCHABLE = ("POWERING_UP", "POWERING_DOWN", "POWER_DOWN", "DOWN", "DRAIN", "FAIL")
TIMEOUT = 600.0
POLL = 0.05


def node_fields(nodelist: str) -> dict[str, dict[str, str]] | None:
    """{node: its `scontrol show nodes -o` fields}; None if scontrol failed."""
    result = subprocess.run(["scontrol", "show", "nodes", nodelist, "-o"], capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        return None
    nodes = {}
    for line in result.stdout.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "NodeName" in fields:
            nodes[fields["NodeName"]] = fields
    return nodes


def _flags(fields: dict[str, str]) -> list[str]:
    return fields.get("State", "").split("+")


def nodes_ready(nodes: dict[str, dict[str, str]] | None) -> bool:
    return nodes is not None and not any(flag in WAITING for fields in nodes.values() for flag in _flags(fields))


def awaits_launch(fields: dict[str, str]) -> bool:
    flags = _flags(fields)
    return "POWERED_DOWN" in flags and not any(flag in _NOT_LAUNCHABLE for flag in flags)


def early_launch(started: float) -> None:
    """Launch the powered-down nodes of every job that waits for them (this one and any allocated alongside)."""
    with open(contract.KNOBS) as source:
        knobs = json.load(source)
    try:
        fleet = contract.connect(knobs)
        with launching.launch_lock():
            jobs = launching.configuring_jobs()
            if not jobs:
                return
            fields = node_fields(compress_hostlist(sorted({n for _, nodes in jobs.values() for n in nodes}))) or {}
            waiting = sorted(name for name, node in fields.items() if awaits_launch(node))
            if not waiting:
                return
            chosen = set(waiting)
            resume_file = normalize_resume_file({
                "jobs": [{"job_id": int(job), "nodes": compress_hostlist([n for n in nodes if n in chosen])}
                         for job, (_, nodes) in sorted(jobs.items()) if chosen & set(nodes)],
                "all_nodes": compress_hostlist(waiting),
            })
            allocated = launching.allocation_times(jobs)
            generations = with_allocations({n: fields[n].get("LastBusyTime", "") for n in waiting}, allocated)
            hostlist = compress_hostlist(waiting)
            log(f"early launch {hostlist} ({len(waiting)} nodes) for jobs {','.join(sorted(jobs))}")
            failed = resume(hostlist, resume_file, knobs, fleet, generations, started, allocated)
    except (FleetError, OSError) as err:
        log(f"early launch failed: {err}; ResumeProgram will launch")
        return
    report(failed, len(waiting), started, "early launch")


def main() -> None:
    started = time.time()
    nodelist = os.environ.get("SLURM_JOB_NODELIST", "")
    if not nodelist:
        return
    nodes = node_fields(nodelist)
    if nodes and any(awaits_launch(fields) for fields in nodes.values()):
        early_launch(started)
        nodes = node_fields(nodelist)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and not nodes_ready(nodes):
        time.sleep(POLL)
        nodes = node_fields(nodelist)


if __name__ == "__main__":
    main()

"""What the head node's launch programs share: one lock, and which nodes already have an instance for their job.

Slurm 22.05 calls ResumeProgram only on the power-save thread's next pass, about a second after the scheduler
allocated powered-down nodes to a job. PrologSlurmctld runs at the allocation itself, so it launches those nodes at
once (the early launch, `paracluster.slurm.prolog`); ResumeProgram, when Slurm calls it for the same nodes, launches
only what has no instance yet. Both choose and launch while holding LOCK, so whichever comes second sees the other's
instances: a node is never launched twice for one allocation. An instance counts for a node's job if it was launched
at or after the job's allocation; an older live instance of such a node is left over from an earlier power-up (its
termination failed) and is terminated instead of being taken for the new one.

Standard library only: this runs on the head node with the system Python, as the slurm user.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterable, Iterator

from paracluster.records import InstanceRecord, parse_time
from paracluster.slurm.hostlist import compress_hostlist, expand_hostlist

LOCK = "/run/slurm/paracluster-launch.lock"
# Instances in these states back no node: they neither count as launched nor are they leftovers to terminate here
# (the cluster manager counts failed bootstraps before it terminates them).
_NOT_BACKING = frozenset({"failed", "shutting-down", "terminated"})


@contextlib.contextmanager
def launch_lock(path: str = LOCK) -> Iterator[None]:
    """Hold the head node's launch lock (an flock, released if the holder dies)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def parse_slurm_time(text: str) -> float | None:
    """Epoch seconds of a time as scontrol and squeue print it (local time, whole seconds); None if there is none."""
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def configuring_jobs() -> dict[str, tuple[float, list[str]]]:
    """{job id: (allocation time, node names)} of the jobs Slurm holds CONFIGURING while their nodes power up."""
    try:
        result = subprocess.run(["squeue", "-h", "-t", "CONFIGURING", "-o", "%i|%S|%N"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    jobs = {}
    for line in result.stdout.splitlines():
        job, _, rest = line.strip().partition("|")
        start, _, nodes = rest.partition("|")
        allocated = parse_slurm_time(start)
        if job and allocated is not None and nodes:
            try:
                jobs[job] = (allocated, expand_hostlist(nodes))
            except ValueError:
                continue
    return jobs


def allocation_times(jobs: dict[str, tuple[float, list[str]]], wanted: Iterable[str] | None = None) -> dict[str, float]:
    """{node: its job's allocation time} for the nodes of these jobs (of the `wanted` jobs only, if given)."""
    chosen = set(wanted) if wanted is not None else set(jobs)
    times: dict[str, float] = {}
    for job, (allocated, nodes) in jobs.items():
        if job in chosen:
            for node in nodes:
                times[node] = max(times.get(node, allocated), allocated)
    return times


def already_launched(instances: list[InstanceRecord], allocated: dict[str, float]) -> tuple[set[str], list[str]]:
    """(nodes that have an instance launched since their job's allocation, ids of older instances of those nodes).

    `allocated` is {node: allocation time} in whole seconds, as Slurm keeps it; nodes without one are not judged.
    """
    launched: set[str] = set()
    leftovers: list[str] = []
    for instance in instances:
        since = allocated.get(instance.node_name or "")
        if since is None or instance.state in _NOT_BACKING:
            continue
        moment = parse_time(instance.launch_time)
        if moment is not None and moment >= since:
            launched.add(instance.node_name)
        else:
            leftovers.append(instance.instance_id)
    return launched, leftovers


def without_nodes(resume_file: dict | None, nodes: set[str]) -> dict | None:
    """The (normalized) resume file without these nodes; jobs left with no node to resume are dropped."""
    if not resume_file or not nodes:
        return resume_file
    jobs = []
    for job in resume_file.get("jobs") or []:
        rest = [node for node in expand_hostlist(job.get("nodes_resume") or "") if node not in nodes]
        if rest:
            jobs.append(dict(job, nodes_resume=compress_hostlist(rest)))
    remaining = [node for node in expand_hostlist(resume_file.get("all_nodes_resume") or "") if node not in nodes]
    return dict(resume_file, jobs=jobs, all_nodes_resume=compress_hostlist(remaining))

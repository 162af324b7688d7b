"""Slurm's view of a local cluster (sinfo, squeue, sacct on its head node) and a sampler of compute node counts.

Both serve ParaCluster's own dashboard endpoints, which ParallelCluster's API has no operation for. The Slurm query
is one command run inside the head node; its output is parsed by pure functions. The sampler keeps, per cluster,
the moments its compute instance counts changed, in a bounded window, in the host service's memory (a restart
starts the history anew).
"""

from __future__ import annotations

import collections
import logging
import os
import shlex
import threading

from paracluster.errors import ClusterError, ConflictError
from paracluster.providers.base import NodeCountSample, SlurmJob, SlurmNode, SlurmStatus
from paracluster.records import now

LOG = logging.getLogger("paracluster.local")

# Fields are joined by the ASCII unit separator, which no node name, reason or job name holds; the free-text field
# (reason, job name) comes last so that even a stray separator cannot shift the others.
SEP = "\x1f"
SECTION = "--paracluster-section--"
SINFO_FORMAT = SEP.join(["%N", "%P", "%T", "%E"])
SQUEUE_FORMAT = SEP.join(["%i", "%P", "%u", "%T", "%M", "%D", "%V", "%S", "%e", "%R", "%j"])
SACCT_FIELDS = "JobID,Partition,User,State,Elapsed,NNodes,Submit,Start,End,NodeList,JobName"
# At most this many jobs of each list (the newest): the dashboard shows recent work, not the whole history.
MAX_JOBS = 200
CREATED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED")
_NO_TIME = {"", "N/A", "Unknown", "None", "NONE"}


def query_script(accounting: bool) -> str:
    """The shell script run on the head node: sinfo, squeue and (with accounting) sacct, in marked sections."""
    parts = [
        f"sinfo --Node --noheader --format={shlex.quote(SINFO_FORMAT)}",
        f"echo {SECTION}",
        f"squeue --noheader --states=all --format={shlex.quote(SQUEUE_FORMAT)} | tail -n {MAX_JOBS}",
    ]
    if accounting:
        parts += [
            f"echo {SECTION}",
            f"sacct --allusers --allocations --noheader --parsable2 --delimiter={shlex.quote(SEP)} "
            f"--starttime=now-7days --format={SACCT_FIELDS} | tail -n {MAX_JOBS}",
        ]
    return "\n".join(parts)


def _time(text: str) -> str | None:
    return None if text.strip() in _NO_TIME else text.strip()


def parse_nodes(text: str) -> list[SlurmNode]:
    """sinfo's lines (one per node and partition): name, partition (`*` marks the default), state, reason."""
    nodes = []
    for line in text.splitlines():
        fields = line.split(SEP, 3)
        if len(fields) != 4:
            continue
        name, partition, state, reason = (field.strip() for field in fields)
        nodes.append(SlurmNode(name=name, partition=partition.rstrip("*"), state=state,
                               reason=None if reason in ("", "none") else reason))
    return nodes


def parse_jobs(text: str) -> list[SlurmJob]:
    """squeue's lines in SQUEUE_FORMAT's order, or sacct's in SACCT_FIELDS' (the same fields in the same order)."""
    jobs = []
    for line in text.splitlines():
        fields = line.split(SEP, 10)
        if len(fields) != 11:
            continue
        job_id, partition, user, state, elapsed, nodes, submit, start, end, where, name = fields
        jobs.append(SlurmJob(job_id=job_id.strip(), partition=partition.strip(), name=name.strip(), user=user.strip(),
                             state=state.strip(), elapsed=elapsed.strip(), nodes=_int(nodes),
                             node_list_or_reason=where.strip(), submit_time=_time(submit), start_time=_time(start),
                             end_time=_time(end)))
    return jobs


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


def parse_status(output: str, accounting: bool) -> SlurmStatus:
    """The query script's whole output as a SlurmStatus."""
    sections = output.split(SECTION + "\n")
    nodes = parse_nodes(sections[0]) if sections else []
    jobs = parse_jobs(sections[1]) if len(sections) > 1 else []
    finished = parse_jobs(sections[2]) if accounting and len(sections) > 2 else None
    return SlurmStatus(nodes=nodes, jobs=jobs, accounting=finished)


def slurm_status(record) -> SlurmStatus:
    """Ask Slurm on the cluster's head node (the cluster must be created and its head node running)."""
    from paracluster.providers.local.nodes import instances

    head = record.head
    if record.status not in CREATED or head is None or head.instance is None or head.instance.state != "running":
        raise ConflictError(f"cluster '{record.name}' is {record.status}; Slurm can be asked once it is created and "
                            "its head node runs")
    accounting = bool(record.accounting)
    result = instances.node_exec(head.instance.pid, ["sh", "-c", query_script(accounting)], timeout=30)
    if result.returncode != 0 and not result.stdout:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ClusterError(f"failed to ask Slurm on the head node of cluster '{record.name}': {reason}")
    return parse_status(result.stdout, accounting)


# --- node counts over time -----------------------------------------------------------------------------------------


def count_instances(record) -> dict[str, dict[str, int]]:
    """The cluster's compute instances per queue by state (pending, running); queues without any are left out."""
    counts: dict[str, dict[str, int]] = {}
    for node in record.nodes.values():
        instance = node.instance
        if node.node.node_type != "ComputeNode" or instance is None or instance.state not in ("pending", "running"):
            continue
        queue = counts.setdefault(node.node.queue or "", {"pending": 0, "running": 0})
        queue[instance.state] += 1
    return counts


class NodeCountSampler:
    """Every `interval` seconds, notes each cluster's compute instance counts when they changed (bounded per cluster).

    A cluster's record changes on disk whenever its instances do, so an unchanged file is not read again.
    """

    def __init__(self, store, interval: float = 1.0, keep: int = 2000):
        self.store = store
        self.interval = interval
        self.keep = keep
        self._lock = threading.Lock()
        self._history: dict[str, collections.deque[NodeCountSample]] = {}
        self._seen: dict[str, int] = {}  # cluster -> mtime (ns) of the record last read
        self._stop = threading.Event()

    def sample_once(self) -> None:
        present = set(self.store.names())
        for name in present:
            path = self.store.cluster_dir(name) / "cluster.json"
            try:
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                continue
            if self._seen.get(name) == mtime:
                continue
            record = self.store.load(name)
            if record is None:
                continue
            self._seen[name] = mtime
            self.note(name, count_instances(record))
        with self._lock:
            for gone in set(self._history) - present:
                del self._history[gone]
                self._seen.pop(gone, None)

    def note(self, name: str, counts: dict[str, dict[str, int]]) -> None:
        """Add a sample for `name` if its counts differ from the last one."""
        with self._lock:
            history = self._history.setdefault(name, collections.deque(maxlen=self.keep))
            if not history or history[-1].queues != counts:
                history.append(NodeCountSample(time=now(), queues=counts))

    def history(self, name: str) -> list[NodeCountSample]:
        with self._lock:
            return list(self._history.get(name, ()))

    def start(self) -> "NodeCountSampler":
        threading.Thread(target=self._run, name="node-count-sampler", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as err:  # noqa: BLE001 - a bad record must not end the sampling of the others
                LOG.warning("node count sampler: %s", err)
            self._stop.wait(self.interval)

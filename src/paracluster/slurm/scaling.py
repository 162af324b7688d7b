"""ParallelCluster's scaling strategies for ResumeProgram: what to launch, in which calls, and which node gets what."""

# This follows aws-parallelcluster-node's InstanceManager (src/slurm_plugin/instance_manager.py): job-level scaling
# from the Slurm resume file, a pool of launched-but-unassigned instances per (queue, compute resource), and the
# all-or-nothing, best-effort and greedy-all-or-nothing strategies. It is pure logic: the caller launches through
# the fleet, writes the assignments (DNS, scontrol) and terminates `to_terminate`. Standard library only, because
# it runs with the system Python inside the head node.

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from paracluster.slurm.hostlist import expand_hostlist

ALL_OR_NOTHING = "all-or-nothing"
BEST_EFFORT = "best-effort"
GREEDY_ALL_OR_NOTHING = "greedy-all-or-nothing"
STRATEGIES = (ALL_OR_NOTHING, BEST_EFFORT, GREEDY_ALL_OR_NOTHING)

INVALID_NODENAME = "InvalidNodenameError"
INSUFFICIENT_CAPACITY = "InsufficientInstanceCapacity"
LIMITED_CAPACITY = "LimitedInstanceCapacity"
LAUNCH_EXCEPTION = "Exception"  # ParallelCluster's code for a launch that raised without an error code

# slurm_resume.conf's launch_max_batch_size: all-or-nothing (MinCount = count) applies per batch of this size.
LAUNCH_MAX_BATCH_SIZE = 500

# ParallelCluster's parse_nodename regex, with the index captured. The groups are greedy, so in `a-st-b-dy-c-1` the
# queue is `a-st-b` and the compute resource `c`, exactly as ParallelCluster reads it.
_NODE_NAME = re.compile(r"([a-z0-9\-]+)-(st|dy)-([a-z0-9\-]+)-(\d+)")

# String aliases: they only appear in annotations, which are not evaluated, so older system Pythons can load this.
Launcher = "Callable[[list[str], bool], tuple[dict[str, dict], dict[str, str]]]"
Key = "tuple[str, str]"  # (queue, compute resource)


def parse_node_name(name: str) -> tuple[str, str, str, int]:
    """(queue, "st" or "dy", compute resource, index) of a ParallelCluster node name; ValueError if it is not one."""
    match = _NODE_NAME.fullmatch(name) if isinstance(name, str) else None
    if not match:
        raise ValueError(f"invalid node name {name!r}: expected <queue>-<st|dy>-<compute resource>-<number>")
    queue, kind, compute_resource, index = match.groups()
    return queue, kind, compute_resource, int(index)


@dataclass
class ScaleResult:
    """What one ResumeProgram run decided."""

    assigned: dict[str, dict] = field(default_factory=dict)  # node name -> the instance it now runs on
    failed: dict[str, str] = field(default_factory=dict)  # node name -> error code for its DOWN reason
    to_terminate: list[str] = field(default_factory=list)  # instance ids launched but given to no node
    launches: int = 0  # launch calls made


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


class _Scaler:
    """The state of one run: results so far and the pool of launched instances not yet assigned."""

    def __init__(self, launch: Launcher, batch_size: int):
        self.launch = launch
        self.batch_size = max(1, batch_size)
        self.result = ScaleResult()
        self.pool: dict[Key, list[dict]] = {}

    # --- failure bookkeeping, with ParallelCluster's override rules -------------------------------------------------

    def fail(self, nodes: Iterable[str], code: str, override: bool = True) -> None:
        # Assignment-time codes do not override a code set earlier (override=False), so a node whose launch came back
        # empty keeps InsufficientInstanceCapacity (or the launcher's own code) rather than LimitedInstanceCapacity.
        for node in nodes:
            if override or node not in self.result.failed:
                self.result.failed[node] = code

    def succeed(self, pairs: dict[str, dict]) -> None:
        # A node that failed in the scale-all launch may still get an instance later, for its own job.
        for node, instance in pairs.items():
            self.result.failed.pop(node, None)
            self.result.assigned[node] = instance

    # --- grouping, launching, assigning ------------------------------------------------------------------------------

    def group(self, nodes: Iterable[str]) -> list[tuple[Key, list[str]]]:
        """Nodes by compute resource, in ParallelCluster's order (by queue, then compute resource, first seen first).

        Nodes already assigned in this run are skipped: with oversubscription, several jobs may ask for one node.
        """
        by_queue: dict[str, dict[str, list[str]]] = {}
        for node in _unique(nodes):
            try:
                queue, _, compute_resource, _ = parse_node_name(node)
            except ValueError:
                self.fail([node], INVALID_NODENAME)
                continue
            if node not in self.result.assigned:
                by_queue.setdefault(queue, {}).setdefault(compute_resource, []).append(node)
        return [((queue, cr), names) for queue, crs in by_queue.items() for cr, names in crs.items()]

    def launch_batch(self, batch: list[str], all_or_nothing: bool) -> list[dict]:
        """Launch one batch of one compute resource; the instances that came back, in node order."""
        self.result.launches += 1
        try:
            launched, failed = self.launch(list(batch), all_or_nothing)
        except Exception as err:  # noqa: BLE001 - as ParallelCluster: fail the batch, keep what was launched before
            self.fail(batch, getattr(err, "code", None) or LAUNCH_EXCEPTION)
            return []
        instances = [launched[node] for node in batch if node in launched]
        if not instances:
            # An empty launch is where the launcher's own code (or InsufficientInstanceCapacity) is recorded; for a
            # partial launch ParallelCluster records nothing here and the assignment decides the code.
            for node in batch:
                self.fail([node], failed.get(node) or INSUFFICIENT_CAPACITY)
        return instances

    def take(self, groups: list[tuple[Key, list[str]]], strategy: str, for_job: bool = False,
             skip_launch: bool = False) -> dict[Key, list[dict]]:
        """Instances for the groups: first from the pool, then (unless skip_launch) launched for the remainder."""
        all_or_nothing = strategy == ALL_OR_NOTHING
        taken: dict[Key, list[dict]] = {}
        for key, nodes in groups:
            pooled = self.pool.get(key, [])
            self.pool[key] = pooled[len(nodes):]
            taken[key] = pooled[:len(nodes)]
            remaining = nodes[len(pooled):]
            if skip_launch:
                continue
            for start in range(0, len(remaining), self.batch_size):
                batch = remaining[start:start + self.batch_size]
                instances = self.launch_batch(batch, all_or_nothing)
                taken[key].extend(instances)
                if for_job and all_or_nothing and len(instances) < len(batch):
                    # The job cannot be complete: stop launching, so that what it holds can go back to the pool for
                    # later jobs instead of more capacity being spent on it.
                    return taken
        return taken

    def put_back(self, taken: dict[Key, list[dict]]) -> None:
        for key, instances in taken.items():
            self.pool.setdefault(key, []).extend(instances)

    def assign(self, groups: list[tuple[Key, list[str]]], taken: dict[Key, list[dict]], strategy: str) -> None:
        wanted = [node for _, nodes in groups for node in nodes]
        matched: dict[Key, dict[str, dict]] = {}
        for key, nodes in groups:
            matched[key], spare = _pair(nodes, taken.pop(key, []))
            self.put_back({key: spare})  # only if the launcher returned more than was asked for
        self.put_back(taken)  # the same, for compute resources that were not asked for
        pairs = {node: instance for by_node in matched.values() for node, instance in by_node.items()}
        if strategy == BEST_EFFORT:
            if pairs:
                self.succeed(pairs)
                self.fail([node for node in wanted if node not in pairs], LIMITED_CAPACITY, override=False)
            else:
                self.fail(wanted, INSUFFICIENT_CAPACITY, override=False)
        elif len(pairs) == len(wanted):
            self.succeed(pairs)
        elif pairs:
            # All-or-nothing: a partial set goes back to the pool, where a later job may complete with it.
            self.put_back({key: list(by_node.values()) for key, by_node in matched.items()})
            self.fail(wanted, LIMITED_CAPACITY, override=False)
        else:
            self.fail(wanted, INSUFFICIENT_CAPACITY, override=False)

    def scale_nodes(self, nodes: Iterable[str], strategy: str, for_job: bool = False,
                    skip_launch: bool = False) -> None:
        """ParallelCluster's _add_instances_for_nodes: take or launch instances for these nodes, then assign."""
        groups = self.group(nodes)
        taken = self.take(groups, strategy, for_job=for_job, skip_launch=skip_launch)
        self.assign(groups, taken, strategy)

    def scale_jobs(self, requested: list[str], jobs: list, strategy: str) -> None:
        """Job-level scaling from the resume file's jobs."""
        job_nodes = [nodes for nodes in (self.job_nodes(job) for job in jobs) if nodes]
        in_file = {node for nodes in job_nodes for node in nodes}
        # Slurm passes the same nodes as arguments and in the file; a node only in the arguments has no job to
        # scale for, and ParallelCluster fails it.
        self.fail([node for node in requested if node not in in_file], INVALID_NODENAME)

        single = [nodes for nodes in job_nodes if len(nodes) == 1]
        multi = [nodes for nodes in job_nodes if len(nodes) > 1]
        if len(single) == 1:
            self.scale_nodes(single[0], strategy, for_job=True)
        elif single:
            # One best-effort launch for all single-node jobs, whatever the strategy: each job is complete or not by
            # itself, and one call saves API requests and time.
            self.scale_nodes(_unique(nodes[0] for nodes in single), BEST_EFFORT)

        if not multi:
            return
        if not (strategy == ALL_OR_NOTHING and len(multi) == 1):
            # The preliminary scale-all launch fills the pool for every multi-node job at once; it is skipped only
            # where it would launch the very same nodes as the single job's own launch.
            self.put_back(self.take(self.group(node for nodes in multi for node in nodes), strategy))
        # best-effort and greedy-all-or-nothing rely on the scale-all launch alone; all-or-nothing launches per job.
        skip_launch = strategy in (BEST_EFFORT, GREEDY_ALL_OR_NOTHING)
        for nodes in multi:
            self.scale_nodes(nodes, strategy, for_job=True, skip_launch=skip_launch)

    def job_nodes(self, job) -> list[str]:
        """The valid node names of one job's nodes_resume; invalid ones fail with InvalidNodenameError."""
        text = job.get("nodes_resume") if isinstance(job, dict) else None
        try:
            names = expand_hostlist(text)
        except ValueError:
            return []  # its nodes, if Slurm asked for them, fail as "not in the file"
        valid = []
        for name in _unique(names):
            try:
                parse_node_name(name)
                valid.append(name)
            except ValueError:
                self.fail([name], INVALID_NODENAME)
        return valid


def _pair(nodes: list[str], instances: list[dict]) -> tuple[dict[str, dict], list[dict]]:
    """Assign instances to nodes of one compute resource; the instances left over.

    ParallelCluster pairs by position, so the nodes at the end of the list are the ones left without an instance.
    Here an instance first goes to the node it was launched for, if that node is in the list, so that fewer
    instances change node name; the rest pair by position. The counts, hence the codes, are the same.
    """
    wanted = set(nodes)
    pairs: dict[str, dict] = {}
    others: list[dict] = []
    for instance in instances:
        name = instance.get("name")
        if name in wanted and name not in pairs:
            pairs[name] = instance
        else:
            others.append(instance)
    free = [node for node in nodes if node not in pairs]
    pairs.update(zip(free, others))
    return {node: pairs[node] for node in nodes if node in pairs}, others[len(free):]


def _requested(node_names: Iterable[str], scaler: _Scaler) -> list[str]:
    """The argument nodes, expanded if given as hostlists; an entry that is not even a hostlist fails as it is."""
    names: list[str] = []
    for entry in node_names:
        try:
            names.extend(expand_hostlist(entry))
        except ValueError:
            scaler.fail([str(entry)], INVALID_NODENAME)
    return _unique(names)


def resume(node_names: list[str], resume_file: dict | None, strategy: str, launch: Launcher, *,
           launch_batch_size: int = LAUNCH_MAX_BATCH_SIZE) -> ScaleResult:
    """Decide and launch for one ResumeProgram call.

    launch(nodes, all_or_nothing) launches nodes of one compute resource and returns (node -> instance dict,
    node -> error code). With jobs in resume_file, ParallelCluster's job-level scaling; otherwise one node-list
    launch with the strategy. An unknown strategy is all-or-nothing, as in ParallelCluster.
    """
    strategy = str(strategy).lower()
    if strategy not in STRATEGIES:
        strategy = ALL_OR_NOTHING
    scaler = _Scaler(launch, launch_batch_size)
    requested = _requested(node_names, scaler)
    jobs = resume_file.get("jobs") if isinstance(resume_file, dict) else None
    if jobs and isinstance(jobs, list):
        scaler.scale_jobs(requested, jobs, strategy)
    else:
        scaler.scale_nodes(requested, strategy)
    scaler.result.to_terminate = [instance["instanceId"] for pooled in scaler.pool.values() for instance in pooled]
    return scaler.result

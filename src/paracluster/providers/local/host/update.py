"""Update a local cluster: a literal list of idempotent steps from its configuration to the requested one.

The request is planned with the neutral planner (`paracluster.config.update`) against the cluster's state; once it
is allowed the record turns UPDATE_IN_PROGRESS and the steps run, in the order ParallelCluster's head node applies an
update: nodes the configuration no longer has stop, shared storage is attached or detached (live, in the running
nodes), the hosts and Slurm files are rewritten and applied (slurmctld restarted when the node set changed, then
`scontrol reconfigure`), the queue update strategy drains or terminates the nodes of the queues it changes, new
static and login nodes start, and the running nodes get their new specs, with OnNodeUpdated on the head and login
nodes. Existing nodes keep their slots, so their names and addresses. A failed step rolls the cluster back: the same
steps run towards the previous configuration (without OnNodeUpdated, which ParallelCluster runs only while the
stack is UPDATE_IN_PROGRESS), and the cluster ends UPDATE_FAILED with the stack UPDATE_ROLLBACK_COMPLETE. Storage an
update removed is released (its DeletionPolicy honoured) only once the update succeeded, as CloudFormation deletes
removed resources in its cleanup.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import shutil
import time

from paracluster.config.update import FleetFacts, UpdatePlan, affected_queues, plan_update
from paracluster.errors import ClusterError, ConflictError
from paracluster.providers.local.host.events import StepEvents
from paracluster.providers.local.host.pipeline import (
    Cancelled,
    Creation,
    boot_and_wait,
    plan_node_records,
    remove_node_network,
    start_login_load_balancer,
)
from paracluster.providers.local.host.state import ClusterState, NodeRecord, UpdateRequest
from paracluster.providers.local.host.views import stack_arn, stack_status
from paracluster.providers.local.fleet import forget_answers
from paracluster.providers.local.nodes import instances, instancestore, livemount
from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath
from paracluster.providers.local.nodes.spec import LOGIN_SHARED, build_node_spec, shared_dirs, write_hosts, write_slurm_files
from paracluster.providers.local.standins import loadbalancer, storage
from paracluster.records import ConfigChange, Failure, UpdateOutcome

LOG = logging.getLogger("paracluster.local")
UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED")
CONFIG, PREVIOUS = "cluster-config.yaml", "cluster-config.previous.yaml"
STOPPED_FLEET = ("STOPPED", "STOPPING", "STOP_REQUESTED")
DRAIN_REASON = "Cluster update"  # the Slurm reason of nodes the queue update strategy replaces


# --- the request ---------------------------------------------------------------------------------------------------


def check_updatable(record: ClusterState) -> None:
    if record.status.endswith("_IN_PROGRESS"):
        raise ConflictError(f"Cannot execute update while stack is in {stack_status(record)} status.")
    if record.status not in UPDATABLE:
        raise ConflictError(f"cluster '{record.name}' is {record.status}; only a created cluster can be updated: "
                            f"delete it with `paracluster delete-cluster -n {record.name}` and create it again")


def fleet_facts(record: ClusterState) -> FleetFacts:
    """What the update policies look at: whether the compute fleet runs, and the login nodes running per pool."""
    login: dict[str, int] = {}
    for node in record.nodes.values():
        if node.node.node_type == "LoginNode" and node.instance and node.instance.state in ("pending", "running"):
            login[node.node.pool] = login.get(node.node.pool, 0) + 1
    return FleetFacts(compute_running=record.observed.fleet_status != "STOPPED", login_nodes=login)


def plan_change(record: ClusterState, old_text: str, new_text: str) -> UpdatePlan:
    from paracluster.config.load import load_config_text
    from paracluster.config.schema import CLUSTER

    old, new = (load_config_text(CLUSTER, text).data for text in (old_text, new_text))
    return plan_update(CLUSTER, old or {}, new or {}, fleet_facts(record))


def outcome(plan: UpdatePlan, force: bool, dryrun: bool) -> UpdateOutcome:
    """What becomes of the request: REFUSED, NO_CHANGES, CHECKED (a dry run) or STARTED."""
    changes = [ConfigChange(v.change.parameter, v.change.old, v.change.new, v.change.policy, v.check,
                            None if v.check == "SUCCEEDED" else v.message) for v in plan.rows]
    if not plan.allowed and not force:
        return UpdateOutcome("REFUSED", changes)
    if not plan.rows and not force:
        return UpdateOutcome("NO_CHANGES", changes)
    return UpdateOutcome("CHECKED" if dryrun else "STARTED", changes)


def start(record: ClusterState, cluster_dir, new_text: str, plan: UpdatePlan, force: bool) -> None:
    """Turn the record UPDATE_IN_PROGRESS and put the new configuration in place (the previous one kept)."""
    from paracluster.config.load import load_config_text
    from paracluster.config.schema import CLUSTER

    check_updatable(record)
    shutil.copyfile(cluster_dir / CONFIG, cluster_dir / PREVIOUS)
    (cluster_dir / CONFIG).write_text(new_text)
    config = load_config_text(CLUSTER, new_text).config
    queues = [queue.name for queue in config.scheduling.slurm_queues]
    record.update = UpdateRequest(force=force, queue_update_strategy=plan.queue_update_strategy,
                                  affected_queues=affected_queues(plan, queues))
    record.observed.status = "UPDATE_IN_PROGRESS"
    record.observed.progress = "start the update"
    record.observed.failures = []
    record.observed.rolled_back = False
    StepEvents(cluster_dir, record.name, stack_arn(record), "UPDATE").stack("UPDATE_IN_PROGRESS", "User Initiated")


# --- the steps -----------------------------------------------------------------------------------------------------


class Updating(Creation):
    """What the steps of one update (or of its rollback) share: a create's context plus what the steps found."""

    def __init__(self, record: ClusterState, plan, settings, store, faults=None):
        super().__init__(record, plan, settings, store, faults)
        self.request = record.update or UpdateRequest()
        # Unknown after a host service restart: then the steps assume a change and apply it.
        self.nodes_changed = True
        self.slurm_changed = True
        self.booted: set[str] = set()  # nodes this update booted: they start with the new spec


def _live(ctx: Updating, node_type: str | None = None) -> list[NodeRecord]:
    """The nodes whose instance runs now."""
    return [node for node in ctx.record.nodes.values()
            if node.instance and node.instance.state in ("pending", "running")
            and (node_type is None or node.node.node_type == node_type)
            and instances.is_alive(node.instance.pid, ctx.store.node_dir(ctx.record.name, node.name))]


def write_configuration(ctx: Updating) -> None:
    """The configuration the update moves to, where the nodes' scripts find it."""
    for shared in ("/opt/parallelcluster/shared", LOGIN_SHARED):
        shutil.copyfile(ctx.dir / CONFIG, shared_dirs(ctx.dir)[shared] / "cluster-config.yaml")


def retire_nodes(ctx: Updating) -> None:
    """Stop the nodes the configuration no longer has; plan records for its new ones (existing ones keep slots)."""
    record = ctx.record
    planned = {node.name for node in ctx.plan.nodes}
    ctx.nodes_changed = planned != set(record.nodes)
    gone = [node for name, node in record.nodes.items() if name not in planned]
    instances.stop_nodes([(node.instance.pid if node.instance else None, ctx.store.node_dir(record.name, node.name))
                          for node in gone])
    for node in gone:
        remove_node_network(record, node, ctx.store.root)
        instancestore.release(ctx.dir, node.name)
    forget_answers(record, [node.instance.instance_id for node in gone if node.instance])
    record.reservations = {key: value for key, value in record.reservations.items() if value.requested_for in planned}
    kept = {name: node for name, node in record.nodes.items() if name in planned}
    record.nodes = plan_node_records(ctx.plan, ipaddress.ip_network(record.network.subnet), kept)
    ctx.save()


def update_storage(ctx: Updating) -> None:
    """Detach the storage the configuration no longer has, attach what it adds, and mount or unmount it live."""
    record = ctx.record
    before = {item["name"]: bool(item.get("detached")) for item in record.storage}
    wanted = {planned.name for planned in ctx.plan.storage}
    detached = storage.mark_detached(record, wanted)
    live = _live(ctx)
    for item in detached:
        for node in live:
            livemount.unmount_in_node(node.instance.pid, item["mountDir"])
    ctx.save()
    storage.attach_shared_storage(ctx)
    changed = (wanted - set(before)) or any(before.get(item["name"]) != bool(item.get("detached"))
                                            for item in record.storage)
    if changed or ctx.request.rolling_back:
        for item in record.storage:
            if item.get("detached") or item["mountDir"].rstrip("/") == "/home":
                continue
            for node in live:
                head = node.node.node_type == "HeadNode"
                livemount.mount_in_node(node.instance.pid, item["source"], item["mountDir"], 0o1777 if head else None)
    ctx.save()


def _slurm_digest(ctx: Updating, pattern: str = "*") -> str:
    digest = hashlib.sha256()
    conf_dir = shared_dirs(ctx.dir)["/opt/slurm"] / "etc"
    for path in sorted(conf_dir.rglob(pattern)):
        if path.is_file():
            digest.update(str(path.relative_to(conf_dir)).encode() + path.read_bytes())
    if pattern == "*":
        digest.update((ctx.dir / "hosts").read_bytes() if (ctx.dir / "hosts").exists() else b"")
    return digest.hexdigest()


PARTITION_FILES = "slurm_parallelcluster_*_partition.conf"  # the queues' nodes and partitions


def write_slurm(ctx: Updating) -> None:
    """Every node name at its address in the hosts file, and Slurm's files and knobs for the new configuration."""
    before, partitions = _slurm_digest(ctx), _slurm_digest(ctx, PARTITION_FILES)
    write_hosts(ctx.record, ctx.config, ctx.dir, ctx.settings)
    write_slurm_files(ctx.record, ctx.plan, ctx.dir, ctx.settings)
    ctx.slurm_changed = _slurm_digest(ctx) != before
    # Nodes or partitions defined anew (an instance type, a queue's settings) need slurmctld restarted, as queue
    # changes do in ParallelCluster.
    ctx.nodes_changed = ctx.nodes_changed or _slurm_digest(ctx, PARTITION_FILES) != partitions


def _head_exec(ctx: Updating, argv: list[str], timeout: float = 60):
    return instances.node_exec(ctx.record.head.instance.pid, argv, timeout=timeout)


def _agent(ctx: Updating, node: NodeRecord, *flags: str) -> None:
    """Run the node agent inside a running node with `flags` (its update mode)."""
    argv = ["/usr/bin/env", f"PYTHONPATH={node_pythonpath()}", node_python(), "-m", "paracluster.node.agent", *flags]
    result = instances.node_exec(node.instance.pid, argv, timeout=ctx.settings["local.node_start_timeout"] + 60)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise ClusterError(f"node {node.name}: {lines[-1] if lines else f'the node agent exited {result.returncode}'}")


def apply_slurm(ctx: Updating) -> None:
    """slurmctld re-reads its files: restarted when nodes or partitions changed (Slurm 22.05 cannot change its node
    list on a reconfigure; ParallelCluster restarts it when queues change), then `scontrol reconfigure` for every
    daemon."""
    if not (ctx.slurm_changed or ctx.nodes_changed):
        return
    if ctx.nodes_changed:
        _agent(ctx, ctx.record.head, "--restart", "slurmctld")
    deadline = time.monotonic() + 60
    while True:
        result = _head_exec(ctx, ["scontrol", "reconfigure"], timeout=30)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"scontrol reconfigure failed: {result.stderr.strip()[-300:]}")
        time.sleep(0.2)  # slurmctld is still starting


def apply_queue_strategy(ctx: Updating) -> None:
    """DRAIN: static nodes of the changed queues drain (the cluster manager replaces them once idle) and dynamic ones
    power down after their jobs; TERMINATE: all their nodes power down at once (jobs are requeued)."""
    strategy = ctx.request.queue_update_strategy
    if ctx.request.rolling_back or strategy not in ("DRAIN", "TERMINATE") or not ctx.request.affected_queues:
        return
    if ctx.record.observed.fleet_status in STOPPED_FLEET:
        return
    nodes = [node for node in ctx.record.nodes.values()
             if node.node.node_type == "ComputeNode" and node.node.queue in ctx.request.affected_queues]
    groups = {"POWER_DOWN_FORCE": nodes} if strategy == "TERMINATE" else {
        "DRAIN": [node for node in nodes if node.node.static],
        "POWER_DOWN_ASAP": [node for node in nodes if not node.node.static]}
    from paracluster.slurm.hostlist import compress_hostlist

    for state, chosen in groups.items():
        if chosen:
            result = _head_exec(ctx, ["scontrol", "update", f"nodename={compress_hostlist([n.name for n in chosen])}",
                                      f"state={state}", f"reason={DRAIN_REASON}"])
            if result.returncode != 0:
                raise ClusterError(f"failed to set the nodes of queues {', '.join(ctx.request.affected_queues)} "
                                   f"{state}: {result.stderr.strip()[-300:]}")


def start_static_nodes(ctx: Updating) -> None:
    """Boot the static nodes that have no instance (the new ones) and wait until Slurm has them idle."""
    if ctx.record.observed.fleet_status in STOPPED_FLEET:
        return
    pending = [node for node in ctx.record.nodes.values() if node.node.static
               and not (node.instance and instances.is_alive(node.instance.pid,
                                                             ctx.store.node_dir(ctx.record.name, node.name)))]
    if not pending:
        return
    for node in pending:
        node.instance = None  # a node that died is a new instance
    ctx.booted |= {node.name for node in pending}
    failed = boot_and_wait(ctx, pending)
    if failed:
        raise next(iter(failed.values()))
    names = {node.name for node in pending}
    deadline = time.monotonic() + ctx.settings["local.node_start_timeout"]
    while True:
        result = _head_exec(ctx, ["sinfo", "-h", "-N", "-o", "%N %t"], timeout=10)
        states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        waiting = sorted(n for n in names if states.get(n, "").rstrip("*~#%!") not in ("idle", "mix", "alloc"))
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"the new static nodes did not become idle: "
                               + ", ".join(f"{n} is {states.get(n, 'unknown')}" for n in waiting[:5]))
        time.sleep(0.1)


def update_login_nodes(ctx: Updating) -> None:
    """Boot the login nodes a pool gained and put the pools' load balancer in line with the pools."""
    record = ctx.record
    pending = [node for node in record.nodes.values() if node.node.node_type == "LoginNode"
               and not (node.instance and instances.is_alive(node.instance.pid,
                                                             ctx.store.node_dir(record.name, node.name)))]
    for node in pending:
        node.instance = None
    ctx.booted |= {node.name for node in pending}
    failed = boot_and_wait(ctx, pending) if pending else {}
    if failed:
        raise next(iter(failed.values()))
    pools = {node.node.pool for node in record.nodes.values() if node.node.node_type == "LoginNode"}
    if record.load_balancer:
        record.load_balancer["listen"] = {pool: entry for pool, entry in record.load_balancer["listen"].items()
                                          if pool in pools}
    if pools:
        start_login_load_balancer(ctx)
    elif record.load_balancer:
        loadbalancer.stop(record, ctx.dir)
        record.load_balancer = None
    ctx.save()


def refresh_nodes(ctx: Updating) -> None:
    """Each running node gets its new spec (and custom action scripts); the head and login nodes then run the
    update (files, then OnNodeUpdated with cfn_postupdate) as ParallelCluster's cfn-hup does."""
    for node in _live(ctx):
        node_dir = ctx.store.node_dir(ctx.record.name, node.name)
        try:
            old = json.loads((node_dir / "spec.json").read_text())
        except (OSError, ValueError):
            old = {}
        spec = build_node_spec(ctx.record, ctx.plan, node, ctx.dir, ctx.settings)
        for kept in ("ephemeral",):  # what the instance has, not what the configuration says
            if kept in old:
                spec[kept] = old[kept]
        path = node_dir / "spec.json"
        with os.fdopen(os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(spec, indent=1))
        os.replace(path.with_suffix(".tmp"), path)
    for node in _live(ctx):
        # A node booted by this update ran its bootstrap with the new spec; OnNodeUpdated is for the nodes updated.
        if node.node.node_type in ("HeadNode", "LoginNode") and node.name not in ctx.booted:
            _agent(ctx, node, "--update", *(["--no-on-node-updated"] if ctx.request.rolling_back else []))


def release_storage(ctx: Updating) -> None:
    storage.release_detached(ctx.record, ctx.store.root, ctx.dir)
    ctx.save()


# The update pipeline, in order: (logical id of its stack events, what it does, the step). Each step is idempotent.
UPDATE_STEPS = [
    ("ClusterConfiguration", "write the configuration for the nodes", write_configuration),
    ("ComputeNodes", "stop the nodes the configuration no longer has", retire_nodes),
    ("SharedStorage", "attach the added shared storage and detach the removed one", update_storage),
    ("SlurmConfiguration", "write the hosts file and the Slurm configuration", write_slurm),
    ("Scheduler", "apply the Slurm configuration with scontrol reconfigure", apply_slurm),
    ("QueueUpdateStrategy", "drain or terminate the nodes of the queues the update changes", apply_queue_strategy),
    ("StaticComputeNodes", "start the new static compute nodes", start_static_nodes),
    ("LoginNodes", "start the new login nodes and update their load balancer", update_login_nodes),
    ("NodeSpecs", "refresh the nodes' specs and custom actions and run OnNodeUpdated", refresh_nodes),
]
# After the update (or its rollback) is over: what it removed goes (CloudFormation's cleanup).
CLEANUP_STEPS = [("SharedStorageCleanup", "release the shared storage the update removed", release_storage)]


def _run_steps(ctx: Updating, steps, events: StepEvents, label: str) -> str | None:
    """Run the steps; return the reason of the first failure, or None. Cancelled (a delete) goes through."""
    for logical_id, description, step in steps:
        started = time.monotonic()
        ctx.record.observed.progress = f"{label}{description}"
        ctx.save()
        events.started(logical_id, description)
        try:
            step(ctx)
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of a step fails the update with its reason
            reason = str(err) if isinstance(err, ClusterError) else f"{type(err).__name__}: {err}"
            LOG.error("update %s: %s: failed (%.1fs): %s", ctx.record.name, description, time.monotonic() - started,
                      reason)
            events.failed(logical_id, reason)
            return f"failed to {description}: {reason}"
        events.done(logical_id)
        LOG.info("update %s: %s%s: done (%.2fs)", ctx.record.name, label, description, time.monotonic() - started)
    return None


def run_update(service, name: str) -> None:
    """Carry out the update under way (or its rollback, after a restart); end UPDATE_COMPLETE or UPDATE_FAILED."""
    store = service.store
    record = store.load(name)
    if record is None or record.status != "UPDATE_IN_PROGRESS" or record.update is None:
        return
    cluster_dir = store.cluster_dir(name)
    events = StepEvents(cluster_dir, name, stack_arn(record), "UPDATE")
    started = time.monotonic()
    try:
        failure = record.update.failure
        if not record.update.rolling_back:
            ctx = Updating(record, service.plan(name), service.settings, store, service.faults)
            failure = _run_steps(ctx, UPDATE_STEPS, events, "")
            if failure is None:
                events.stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                _cleanup(ctx, events)
                _finish(store, name, ctx.record, "UPDATE_COMPLETE", None, rolled_back=False)
                events.stack("UPDATE_COMPLETE")
                LOG.info("update %s: complete in %.2fs", name, time.monotonic() - started)
                return
            ctx.record.update.rolling_back, ctx.record.update.failure = True, failure
            ctx.save()
            events.stack("UPDATE_ROLLBACK_IN_PROGRESS", failure)
            record = ctx.record
        # The previous configuration is the target again (also when a restarted service resumes the rollback).
        shutil.copyfile(cluster_dir / PREVIOUS, cluster_dir / CONFIG)
        ctx = Updating(record, service.plan(name), service.settings, store, service.faults)
        rollback_failure = _run_steps(ctx, UPDATE_STEPS, events, "roll back the failed update: ")
        if rollback_failure is None:
            events.stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
            _cleanup(ctx, events)
        reasons = [failure] + ([f"the rollback failed too: {rollback_failure}"] if rollback_failure else [])
        _finish(store, name, ctx.record, "UPDATE_FAILED", "; ".join(reasons), rolled_back=rollback_failure is None)
        events.stack("UPDATE_ROLLBACK_COMPLETE" if rollback_failure is None else "UPDATE_ROLLBACK_FAILED",
                     rollback_failure)
        LOG.info("update %s: rolled back in %.2fs", name, time.monotonic() - started)
    except Cancelled:
        LOG.info("update %s: stopped: the cluster is being deleted", name)


def _cleanup(ctx: Updating, events: StepEvents) -> None:
    failure = _run_steps(ctx, CLEANUP_STEPS, events, "")
    if failure:  # the cluster is in its new state; what could not be released is left (and logged)
        LOG.warning("update %s: cleanup: %s", ctx.record.name, failure)


def _finish(store, name: str, record: ClusterState, status: str, failure: str | None, rolled_back: bool) -> None:
    def finish(current: ClusterState) -> ClusterState:
        record.desired = current.desired
        record.observed.status = status
        record.observed.progress = None
        record.observed.rolled_back = rolled_back
        record.observed.failures = [Failure("ClusterUpdateFailure", failure)] if failure else []
        record.update = None
        return record

    store.update(name, finish)

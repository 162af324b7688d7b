"""Create and delete clusters on the local provider: each is one short function over a literal list of steps.

Steps read state before they act, so a step that already happened is a no-op when it runs again. A create saves
what it observed through `StateStore.update`, never over what was asked meanwhile: a delete-cluster during the
create is seen between steps, and the create stops there for the delete to run.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time

from paracluster.errors import ClusterError
from paracluster.plan import ClusterPlan
from paracluster.plan.inventory import assign_slots
from paracluster.providers.local.standins import accounting, loadbalancer, storage
from paracluster.providers.local.standins.awsapi import cluster as awsapi
from paracluster.providers.local.nodes import instances, instancestore, network
from paracluster.providers.local.fleet import forget_answers, record_bootstrap_failures
from paracluster.providers.local.nodes.spec import build_node_spec, choose_accounts, cluster_files
from paracluster.providers.local.host.state import ClusterState, Instance, Network, NodeRecord, StateStore
from paracluster.records import Failure, now

LOG = logging.getLogger("paracluster.local")


class Cancelled(Exception):
    """The create stopped because delete-cluster was asked meanwhile."""


class Creation:
    """What the steps of one create share: the record, the plan, the settings and the store."""

    def __init__(self, record: ClusterState, plan: ClusterPlan, settings, store: StateStore, faults=None):
        self.record = record
        self.plan = plan
        self.config = plan.config
        self.settings = settings
        self.store = store
        self.faults = faults
        self.dir = store.cluster_dir(record.name)

    def save(self) -> None:
        """Save what the create observed; keep what was asked meanwhile (`desired`), and stop if it was a delete."""

        def keep_desired(current: ClusterState) -> ClusterState:
            self.record.desired = current.desired
            return self.record

        self.store.update(self.record.name, keep_desired)
        if not self.record.desired.present:
            raise Cancelled()


def allocate_network(ctx: Creation) -> None:
    """Pick the cluster's subnet and bridge number, unless it has them already, and create its bridge."""
    if ctx.record.network is not None:
        create_bridge(ctx)  # a create resumed after a restart may not have got this far
        return
    # The bridge is created under the lock, so that the number is taken on the host before another picks.
    with network.allocation_lock():
        # Node namespaces are named by cluster: a host service with another state directory may have this name.
        others = network.cluster_namespaces(ctx.record.name)
        if others:
            raise ClusterError(f"network namespaces {', '.join(others[:3])} of another cluster named "
                               f"'{ctx.record.name}' exist on this host (another state directory); choose "
                               "another cluster name")
        taken = [ipaddress.ip_network(other.network.subnet) for other in ctx.store.records()
                 if other.network is not None and other.name != ctx.record.name]
        index, subnet = network.choose_subnet(
            ctx.settings["local.address_pool"], ctx.settings["local.cluster_prefix_length"], taken,
            network.host_networks(), network.bridge_numbers(),
        )
        ctx.record.network = Network(str(subnet), index)
        ctx.record.nodes = plan_node_records(ctx.plan, subnet, ctx.record.nodes)
        ctx.save()
        create_bridge(ctx)


def plan_node_records(plan: ClusterPlan, subnet, existing: dict[str, NodeRecord]) -> dict[str, NodeRecord]:
    """A record for every node of the plan with its address; nodes that have one keep their slot (and address)."""
    # The subnet's last usable address is the accounting database's (database.attachment_address).
    capacity = subnet.num_addresses - 4
    try:
        slots = assign_slots([node.name for node in plan.nodes], {n: r.slot for n, r in existing.items()}, capacity)
    except ValueError:
        raise ClusterError(f"failed to address the cluster's {len(plan.nodes)} nodes: the cluster network {subnet} "
                           f"has room for {capacity}; lower MaxCount or the setting local.cluster_prefix_length"
                           ) from None
    records = {}
    for node in plan.nodes:
        old = existing.get(node.name)
        records[node.name] = NodeRecord(node, slots[node.name], network.node_address(subnet, slots[node.name]),
                                        old.instance if old else None)
    return records


def prepare_shared(ctx: Creation) -> None:
    """Create the shared directories, keys, hosts file and Slurm configuration the nodes mount (idempotent)."""
    choose_accounts(ctx.record, ctx.config)
    cluster_files(ctx.record, ctx.plan, ctx.dir, ctx.settings)
    ctx.save()


def mount_overlay_tmpfs(ctx: Creation) -> None:
    """Mount the tmpfs that holds the nodes' overlay upper layers (a separate filesystem from the host root)."""
    ovl = ctx.dir / "ovl"
    ovl.mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(ovl):
        network.run(["mount", "-t", "tmpfs", "-o", "mode=0700", f"paracluster-{ctx.record.name}", str(ovl)])


def create_bridge(ctx: Creation) -> None:
    network.create_bridge(ctx.record.network.index, ipaddress.ip_network(ctx.record.network.subnet),
                          bridge_owner(ctx.store, ctx.record))


def bridge_owner(store: StateStore, record: ClusterState) -> str:
    return f"paracluster {record.name} {store.cluster_dir(record.name)}"


def start_aws_endpoints(ctx: Creation) -> None:
    """Serve the local buckets as S3 and the local secrets as Secrets Manager on the cluster network."""
    awsapi.start_endpoints(ctx.settings.state_path, ctx.record)


def check_secrets(ctx: Creation) -> None:
    """Every secret the configuration names must be in the local store before anything is created."""
    accounting.check_secrets(ctx.settings.state_path, ctx.config)


def attach_storage(ctx: Creation) -> None:
    storage.attach_shared_storage(ctx)


def connect_accounting(ctx: Creation) -> None:
    """Start the cluster's accounting database (or find its slurmdbd) and join it to the cluster network."""
    accounting.connect_accounting(ctx.record, ctx.config, ctx.settings.state_path)
    ctx.save()


def start_head_node(ctx: Creation) -> None:
    start_node(ctx, ctx.record.head)


PROTECTED_MESSAGE = "the cluster has been set to PROTECTED mode due to failures detected in static node provisioning"


def start_static_nodes(ctx: Creation) -> None:
    """Boot the static nodes; relaunch those whose bootstrap fails until their queue reaches protected mode.

    ParallelCluster's cluster manager keeps replacing a failing static node while the head node waits for the static
    fleet, and the create fails only once the failures of a queue reach protected_failure_count.
    """
    limit = ctx.settings["local.protected_failure_count"]
    failures_by_queue: dict[str, int] = {}
    pending = [node for node in ctx.record.nodes.values() if node.node.static]
    while pending:
        failed = boot_and_wait(ctx, pending)
        if not failed:
            return
        record_bootstrap_failures(ctx.record, {name: str(err) for name, err in failed.items()})
        last = next(iter(failed.values()))
        # Kept failed nodes stay up for debugging, and without protected mode nothing would end the retries.
        if ctx.settings["keep_failed_nodes"] or limit <= 0:
            raise last
        pending = [ctx.record.nodes[name] for name in failed]
        for node in pending:
            failures_by_queue[node.node.queue] = failures_by_queue.get(node.node.queue, 0) + 1
        over = sorted(queue for queue, count in failures_by_queue.items() if count >= limit)
        if over:
            raise ClusterError(f"{PROTECTED_MESSAGE} (queue {over[0]}: {failures_by_queue[over[0]]} bootstrap "
                               f"failures; the last: {last})")
        LOG.warning("create %s: relaunching static nodes whose bootstrap failed: %s", ctx.record.name,
                    ", ".join(sorted(failed)))
        stop_instances(ctx, pending)
        ctx.save()


def stop_instances(ctx: Creation, nodes: list[NodeRecord]) -> None:
    """Stop nodes (their instances end: a relaunch is a new instance)."""
    instances.stop_nodes([(node.instance.pid if node.instance else None, ctx.store.node_dir(ctx.record.name, node.name))
                          for node in nodes])
    forget_answers(ctx.record, [node.instance.instance_id for node in nodes if node.instance])
    for node in nodes:
        node.instance = None


def _start_all(ctx: Creation, nodes: list[NodeRecord]) -> None:
    """Boot the nodes together and wait for them; raise the first failure."""
    failed = boot_and_wait(ctx, nodes)
    if failed:
        raise next(iter(failed.values()))


def boot_and_wait(ctx: Creation, nodes: list[NodeRecord]) -> dict[str, ClusterError]:
    """Boot the nodes together, then wait for each (their bootstraps run side by side); the failures by node."""
    for node in nodes:
        start_node(ctx, node, wait=False)
    failed = {}
    for node in nodes:
        try:
            wait_node(ctx, node)
        except ClusterError as err:
            failed[node.name] = err
    ctx.save()
    return failed


def start_node(ctx: Creation, node: NodeRecord, wait: bool = True, save: bool = True) -> None:
    """Boot one node (no-op if it runs); with `wait`, until its services are up; `save` records it at once."""
    node_dir = ctx.store.node_dir(ctx.record.name, node.name)
    running = instances.find_pid(node.instance.pid if node.instance else None, node_dir)
    if running:
        # Already booted, perhaps by a service instance that stopped before it could record the node.
        if node.instance is None:
            node.instance = Instance(instances.new_instance_id(), "pending", now())
        node.instance.pid = running
    else:
        instances.stop_node(None, node_dir)  # a boot cut short must not share the overlay directories
        netns = instances.start_network(ctx.record, node)
        instancestore.release(ctx.dir, node.name)  # a new instance starts with blank local disks
        spec = build_node_spec(ctx.record, ctx.plan, node, ctx.dir, ctx.settings)
        spec["ephemeral"] = instancestore.attach(ctx, node)
        if ctx.faults is not None and ctx.faults.bootstrap_failure(node.node.instance_type):
            spec["inject_failure"] = "injected bootstrap failure (setting local.inject_bootstrap_failures)"
        instance_id = node.instance.instance_id if node.instance else instances.new_instance_id()
        node.instance = Instance(instance_id, "pending", now())
        awsapi.register_node(ctx.settings.state_path, ctx.config, ctx.plan.catalog, ctx.record, node, netns,
                             ctx.settings["local.instance_metadata_tags"])
        node.instance.pid = instances.boot_node(spec, node_dir, netns)
    if save:
        ctx.save()
    if wait:
        wait_node(ctx, node)
        ctx.save()


def start_login_nodes(ctx: Creation) -> None:
    """Boot every login pool's nodes (munge, Slurm clients, sshd, their custom actions) and wait for them."""
    _start_all(ctx, [node for node in ctx.record.nodes.values() if node.node.node_type == "LoginNode"])


def start_login_load_balancer(ctx: Creation) -> None:
    """Put HAProxy in front of each login pool (ParallelCluster's Network Load Balancer), on the host's address."""
    listen = loadbalancer.ensure(ctx.record, ctx.dir, network.gateway(ipaddress.ip_network(ctx.record.network.subnet)),
                                 ctx.settings["login_extra_ports"])
    if listen is None:
        return
    ctx.save()
    # Login nodes share the cluster's host key, so ssh through the balancer knows whom it reaches.
    known_hosts = ctx.dir / "ssh" / "known_hosts"
    key = " ".join((ctx.dir / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    lines = known_hosts.read_text().splitlines()
    for entry in listen.values():
        host = entry["address"] if entry["port"] == 22 else f"[{entry['address']}]:{entry['port']}"
        if f"{host} {key}" not in lines:
            lines.append(f"{host} {key}")
    known_hosts.write_text("\n".join(lines) + "\n")


def wait_node(ctx: Creation, node: NodeRecord) -> None:
    """Wait until the node's services run (raise ClusterError with the reason if not), and mark it running."""
    node_dir = ctx.store.node_dir(ctx.record.name, node.name)
    instances.wait_running(node.name, node.instance.pid, node_dir, ctx.settings["local.node_start_timeout"])
    node.instance.state = "running"


def wait_for_compute_nodes(ctx: Creation) -> None:
    """Wait until slurmctld answers and every static node is idle (or allocated)."""
    static = [node.name for node in ctx.record.nodes.values() if node.node.static]
    timeout = min(ctx.settings["local.head_node_bootstrap_timeout"],
                  ctx.config.dev_settings.timeouts.head_node_bootstrap_timeout)
    deadline = time.monotonic() + timeout
    pending = set(static)
    last = "slurmctld did not answer"
    while True:
        result = instances.node_exec(ctx.record.head.instance.pid, ["sinfo", "-h", "-N", "-o", "%N %t"], timeout=10)
        if result.returncode == 0:
            states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
            pending = {name for name in static if states.get(name, "").rstrip("*~#%!") not in ("idle", "mix", "alloc")}
            if not pending:
                return
            last = ", ".join(f"{name} is {states.get(name, 'unknown')}" for name in sorted(pending)[:5])
        else:
            last = result.stderr.strip()[-200:]
        if time.monotonic() > deadline:
            raise ClusterError(f"the static compute nodes did not become idle within {timeout:.0f} s: {last}")
        time.sleep(0.1)


# The create pipeline, in order: (logical id of its stack events, what it does, the step). Each step is idempotent.
CREATE_STEPS = [
    ("Secrets", "check the secrets the configuration names", check_secrets),
    ("ClusterNetwork", "allocate the cluster network and create its bridge", allocate_network),
    ("AwsEndpoints", "start the cluster's S3 and Secrets Manager endpoints", start_aws_endpoints),
    ("SharedFiles", "prepare shared directories, keys and Slurm configuration", prepare_shared),
    ("SharedStorage", "create or attach the shared storage", attach_storage),
    ("RootLayers", "mount the nodes' root layers", mount_overlay_tmpfs),
    ("AccountingDatabase", "start the accounting database and join it to the cluster network", connect_accounting),
    ("HeadNode", "start the head node and run its bootstrap", start_head_node),
    ("StaticComputeNodes", "start the static compute nodes", start_static_nodes),
    ("LoginNodes", "start the login nodes", start_login_nodes),
    ("LoginNodesLoadBalancer", "start the login nodes' load balancer", start_login_load_balancer),
    ("ComputeFleet", "wait for the static nodes to be idle in Slurm", wait_for_compute_nodes),
]


def create(ctx: Creation) -> None:
    """Run the create steps; on failure record CREATE_FAILED with the reason and roll back unless told not to.

    Every failure, whatever its kind, ends in CREATE_FAILED with a reason; a delete asked meanwhile stops the create
    between steps (the delete then removes what it made).
    """
    started = time.monotonic()
    name = ctx.record.name
    events = _events(ctx.store, ctx.record, "CREATE")
    if not (ctx.dir / events_file()).exists():
        events.stack("CREATE_IN_PROGRESS", "User Initiated")
    for logical_id, description, step in CREATE_STEPS:
        step_started = time.monotonic()
        try:
            ctx.record.observed.progress = description
            ctx.save()
            events.started(logical_id, description)
            step(ctx)
        except Cancelled:
            LOG.info("create %s: stopped before '%s': the cluster is being deleted", name, description)
            return
        except Exception as err:  # noqa: BLE001 - any failure of a step fails the create with its reason
            reason = str(err) if isinstance(err, ClusterError) else f"{type(err).__name__}: {err}"
            LOG.error("create %s: %s: failed (%.1fs): %s", name, description, time.monotonic() - step_started, reason)
            events.failed(logical_id, reason)
            fail_create(ctx.store, name, f"failed to {description}: {reason}", ctx.record)
            return
        events.done(logical_id)
        LOG.info("create %s: %s: done (%.1fs)", name, description, time.monotonic() - step_started)

    def complete(current: ClusterState) -> ClusterState:
        ctx.record.desired = current.desired
        ctx.record.observed.status = "CREATE_COMPLETE"
        ctx.record.observed.progress = None
        ctx.record.observed.fleet_status = "RUNNING"
        ctx.record.observed.fleet_status_time = now()
        return ctx.record

    ctx.store.update(name, complete)
    events.stack("CREATE_COMPLETE")
    LOG.info("create %s: complete in %.1fs", name, time.monotonic() - started)


def _events(store: StateStore, record: ClusterState, verb: str):
    from paracluster.providers.local.host.events import StepEvents
    from paracluster.providers.local.host.views import stack_arn

    return StepEvents(store.cluster_dir(record.name), record.name, stack_arn(record), verb)


def events_file() -> str:
    from paracluster.providers.local.host.events import EVENTS_FILE

    return EVENTS_FILE


def fail_create(store: StateStore, name: str, reason: str, record: ClusterState | None = None) -> None:
    """Record CREATE_FAILED with the reason, after rolling back if the create asked for it.

    The status turns CREATE_FAILED only once the rollback is over, so a waiter sees the final state. `record` is the
    create's own copy (with what it made); without it the stored record is used.
    """
    def observe(current: ClusterState) -> ClusterState:
        chosen = record or current
        chosen.desired = current.desired
        chosen.observed.failures = [Failure("ClusterCreationFailure", reason)]
        chosen.observed.progress = "roll back the failed create" if chosen.desired.rollback_on_failure else None
        return chosen

    current = store.update(name, observe)
    events = _events(store, current, "CREATE")
    if current.desired.rollback_on_failure and current.desired.present:
        events.stack("ROLLBACK_IN_PROGRESS", reason)
        try:
            teardown(current, store)
            current.observed.rolled_back = True
            events.stack("ROLLBACK_COMPLETE")
        except ClusterError as err:  # still CREATE_FAILED; delete-cluster retries the cleanup
            current.observed.failures.append(Failure("ClusterRollbackFailure", f"failed to roll back: {err}"))
            events.stack("ROLLBACK_FAILED", str(err))
    else:
        events.stack("CREATE_FAILED", reason)

    def finish(latest: ClusterState) -> ClusterState:
        current.desired = latest.desired
        current.observed.status = "CREATE_FAILED"
        current.observed.progress = None
        return current

    store.update(name, finish)


def _stop_load_balancer(record: ClusterState, store: StateStore) -> None:
    loadbalancer.stop(record, store.cluster_dir(record.name))


def _stop_nodes(record: ClusterState, store: StateStore) -> None:
    nodes = list(record.nodes.values())
    instances.stop_nodes([(node.instance.pid if node.instance else None, store.node_dir(record.name, node.name))
                          for node in nodes])
    for node in nodes:
        if node.instance is not None:
            node.instance.state, node.instance.pid = "terminated", None


def _remove_network(record: ClusterState, store: StateStore) -> None:
    if record.network is None:
        return
    for node in record.nodes.values():
        remove_node_network(record, node, store.root)
    accounting.disconnect_accounting(record)
    network.delete_bridge(record.network.index, bridge_owner(store, record))


def remove_node_network(record: ClusterState, node: NodeRecord, state_dir) -> None:
    """Stop serving the node's IMDS, then remove its namespace (the server's socket there would keep it alive)."""
    awsapi.unregister_node(state_dir, record, node)
    instances.remove_network(record, node)


def _stop_aws_endpoints(record: ClusterState, store: StateStore) -> None:
    awsapi.stop_endpoints(store.root, record)


def _release_instance_stores(record: ClusterState, store: StateStore) -> None:
    instancestore.release_all(store.cluster_dir(record.name))


def _release_shared_storage(record: ClusterState, store: StateStore) -> None:
    storage.release_shared_storage(record, store.root, store.cluster_dir(record.name))


def _unmount_root_layers(record: ClusterState, store: StateStore) -> None:
    import shutil

    ovl = store.cluster_dir(record.name) / "ovl"
    if os.path.ismount(ovl):
        network.run(["umount", "-l", str(ovl)], check=False)
    shutil.rmtree(ovl, ignore_errors=True)


# The delete pipeline, in order: (logical id of its stack events, what it does, the step). Each step is idempotent;
# all of them run even when one fails.
TEARDOWN_STEPS = [
    ("LoginNodesLoadBalancer", "stop the login load balancer", _stop_load_balancer),
    ("Nodes", "stop the nodes", _stop_nodes),
    ("AwsEndpoints", "stop the cluster's S3 and Secrets Manager endpoints", _stop_aws_endpoints),
    ("ClusterNetwork", "remove the cluster network", _remove_network),
    ("InstanceStores", "release the instance store disks", _release_instance_stores),
    ("SharedStorage", "detach or delete the shared storage", _release_shared_storage),
    ("RootLayers", "unmount the nodes' root layers", _unmount_root_layers),
]


def teardown(record: ClusterState, store: StateStore) -> None:
    """Stop every node and remove every host resource of the cluster (processes, namespaces, links, mounts).

    Safe to run again, and on a cluster that was only partly created. A step that fails does not keep the others
    from running; the failures are raised together at the end.
    """
    events = _events(store, record, "DELETE")
    failed = []
    for logical_id, description, step in TEARDOWN_STEPS:
        events.started(logical_id, description)
        try:
            step(record, store)
        except Exception as err:  # noqa: BLE001 - every step gets its chance; failures are reported together
            LOG.error("delete %s: %s: failed: %s", record.name, description, err)
            failed.append(f"failed to {description}: {err}")
            events.failed(logical_id, str(err))
            continue
        events.done(logical_id)
    if failed:
        raise ClusterError("; ".join(failed))

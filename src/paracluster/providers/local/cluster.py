"""Create and delete clusters on the local provider: each is one short function over a literal list of steps.

Steps read state before they act, so a step that already happened is a no-op when it runs again.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time

from paracluster.errors import ClusterError
from paracluster.providers.local import accounting, instances, instancestore, loadbalancer, network, storage
from paracluster.providers.local.fleet import record_bootstrap_failures
from paracluster.providers.local.nodespec import build_node_spec, cluster_files
from paracluster.providers.local.state import StateStore, now

LOG = logging.getLogger("paracluster.local")

HEAD_NODE_NAME = "head"


class Creation:
    """What the steps of one create share: the record, the loaded config, the settings and the store."""

    def __init__(self, record: dict, config, settings, store: StateStore, faults=None):
        self.record = record
        self.config = config
        self.settings = settings
        self.store = store
        self.faults = faults
        self.dir = store.cluster_dir(record["name"])

    def save(self) -> None:
        self.store.save(self.record)


def allocate_network(ctx: Creation) -> None:
    """Pick the cluster's subnet and bridge number, unless it has them already, and create its bridge."""
    import ipaddress

    if ctx.record.get("subnet"):
        create_bridge(ctx)  # a create resumed after a restart may not have got this far
        return
    # The bridge is created under the lock, so that the number is taken on the host before another picks.
    with network.allocation_lock():
        # Node namespaces are named by cluster: a host service with another state directory may have this name.
        others = network.cluster_namespaces(ctx.record["name"])
        if others:
            raise ClusterError(f"network namespaces {', '.join(others[:3])} of another cluster named "
                               f"'{ctx.record['name']}' exist on this host (another state directory); choose "
                               "another cluster name")
        taken = [
            ipaddress.ip_network(other["subnet"])
            for other in ctx.store.records()
            if other.get("subnet") and other["name"] != ctx.record["name"]
        ]
        index, subnet = network.choose_subnet(
            ctx.settings["local.address_pool"], ctx.settings["local.cluster_prefix_length"], taken,
            network.host_networks(), network.bridge_numbers(),
        )
        ctx.record.update(subnet=str(subnet), netIndex=index)
        ctx.record["instances"] = plan_instances(ctx.record, ctx.config, subnet)
        ctx.save()
        create_bridge(ctx)


def plan_instances(record: dict, config, subnet) -> dict:
    """Every node the cluster may ever have, with its fixed address (Slurm's cloud_dns model): head, then compute."""
    from paracluster.slurm.nodes import plan_node_groups
    from paracluster.catalog import catalog_for_config

    nodes = {
        HEAD_NODE_NAME: _instance(HEAD_NODE_NAME, "HeadNode", None, None, config.head_node.instance_type, 0, subnet)
    }
    for group in plan_node_groups(config, catalog_for_config(config)):
        for static, names in ((True, group.static_nodes), (False, group.dynamic_nodes)):
            for name in names:
                node = _instance(name, "ComputeNode", group.queue, group.compute_resource, group.instance_types[0],
                                 len(nodes), subnet)
                node["static"] = static
                nodes[name] = node
    for pool in config.login_nodes.pools:
        for number in range(1, pool.count + 1):
            name = f"login-{pool.name}-{number}"
            node = _instance(name, "LoginNode", None, None, pool.instance_type, len(nodes), subnet)
            node.update(poolName=pool.name, state="stopped")
            nodes[name] = node
    return nodes


def _instance(name, node_type, queue, compute_resource, instance_type, index, subnet) -> dict:
    return {
        "nodeName": name,
        "nodeType": node_type,
        "queueName": queue,
        "computeResource": compute_resource,
        "instanceType": instance_type,
        "nodeIndex": index,
        "privateIpAddress": network.node_address(subnet, index),
        "state": "pending" if node_type == "HeadNode" else "stopped",
        "instanceId": None,
        "launchTime": None,
        "pid": None,
    }


def prepare_shared(ctx: Creation) -> None:
    """Create the shared directories, keys, hosts file and Slurm configuration the nodes mount (idempotent)."""
    cluster_files(ctx.record, ctx.config, ctx.dir, ctx.settings)


def mount_overlay_tmpfs(ctx: Creation) -> None:
    """Mount the tmpfs that holds the nodes' overlay upper layers (a separate filesystem from the host root)."""
    ovl = ctx.dir / "ovl"
    ovl.mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(ovl):
        network.run(["mount", "-t", "tmpfs", "-o", "mode=0700", f"paracluster-{ctx.record['name']}", str(ovl)])


def create_bridge(ctx: Creation) -> None:
    import ipaddress

    network.create_bridge(ctx.record["netIndex"], ipaddress.ip_network(ctx.record["subnet"]),
                          bridge_owner(ctx.store, ctx.record))


def bridge_owner(store: StateStore, record: dict) -> str:
    return f"paracluster {record['name']} {store.cluster_dir(record['name'])}"


def check_secrets(ctx: Creation) -> None:
    """Every secret the configuration names must be in the local store before anything is created."""
    accounting.check_secrets(ctx.settings.state_path, ctx.config)


def connect_accounting(ctx: Creation) -> None:
    """Start the cluster's accounting database (or find its slurmdbd) and join it to the cluster network."""
    accounting.connect_accounting(ctx.record, ctx.config, ctx.settings.state_path)
    ctx.save()


def start_head_node(ctx: Creation) -> None:
    start_node(ctx, ctx.record["instances"][HEAD_NODE_NAME])


PROTECTED_MESSAGE = "the cluster has been set to PROTECTED mode due to failures detected in static node provisioning"


def start_static_nodes(ctx: Creation) -> None:
    """Boot the static nodes; relaunch those whose bootstrap fails until their queue reaches protected mode.

    ParallelCluster's cluster manager keeps replacing a failing static node while the head node waits for the static
    fleet, and the create fails only once the failures of a queue reach protected_failure_count.
    """
    limit = ctx.settings["local.protected_failure_count"]
    failures_by_queue: dict[str, int] = {}
    pending = [node for node in ctx.record["instances"].values() if node.get("static")]
    while pending:
        failed = _boot_and_wait(ctx, pending)
        if not failed:
            return
        record_bootstrap_failures(ctx.record, {name: str(err) for name, err in failed.items()})
        last = next(iter(failed.values()))
        # Kept failed nodes stay up for debugging, and without protected mode nothing would end the retries.
        if ctx.settings["keep_failed_nodes"] or limit <= 0:
            raise last
        pending = [ctx.record["instances"][name] for name in failed]
        for node in pending:
            failures_by_queue[node["queueName"]] = failures_by_queue.get(node["queueName"], 0) + 1
        over = sorted(queue for queue, count in failures_by_queue.items() if count >= limit)
        if over:
            raise ClusterError(f"{PROTECTED_MESSAGE} (queue {over[0]}: {failures_by_queue[over[0]]} bootstrap "
                               f"failures; the last: {last})")
        LOG.warning("create %s: relaunching static nodes whose bootstrap failed: %s", ctx.record["name"],
                    ", ".join(sorted(failed)))
        instances.stop_nodes([(node.get("pid"), ctx.store.node_dir(ctx.record["name"], node["nodeName"]))
                              for node in pending])
        for node in pending:
            node.update(instanceId=None, pid=None, state="terminated")  # the relaunch is a new instance
        ctx.save()


def _start_all(ctx: Creation, nodes: list[dict]) -> None:
    """Boot the nodes together and wait for them; raise the first failure."""
    failed = _boot_and_wait(ctx, nodes)
    if failed:
        raise next(iter(failed.values()))


def _boot_and_wait(ctx: Creation, nodes: list[dict]) -> dict[str, ClusterError]:
    """Boot the nodes together, then wait for each (their bootstraps run side by side); the failures by node."""
    for node in nodes:
        start_node(ctx, node, wait=False)
    failed = {}
    for node in nodes:
        try:
            wait_node(ctx, node)
        except ClusterError as err:
            failed[node["nodeName"]] = err
    ctx.save()
    return failed


def start_node(ctx: Creation, node: dict, wait: bool = True, save: bool = True) -> None:
    """Boot one node (no-op if it runs); with `wait`, until its services are up; `save` records it at once."""
    node_dir = ctx.store.node_dir(ctx.record["name"], node["nodeName"])
    running = instances.find_pid(node.get("pid"), node_dir)
    if running:
        # Already booted, perhaps by a service instance that stopped before it could record the node.
        node.update(pid=running, instanceId=node.get("instanceId") or instances.new_instance_id(),
                    launchTime=node.get("launchTime") or now())
    else:
        instances.stop_node(None, node_dir)  # a boot cut short must not share the overlay directories
        netns = instances.start_network(ctx.record, node)
        instancestore.release(ctx.dir, node["nodeName"])  # a new instance starts with blank local disks
        spec = build_node_spec(ctx.record, ctx.config, node, ctx.dir, ctx.settings)
        spec["ephemeral"] = instancestore.attach(ctx, node)
        if ctx.faults is not None and ctx.faults.bootstrap_failure(node["instanceType"]):
            spec["inject_failure"] = "injected bootstrap failure (setting local.inject_bootstrap_failures)"
        node.update(
            instanceId=node.get("instanceId") or instances.new_instance_id(),
            launchTime=now(),
            state="pending",
            pid=instances.boot_node(spec, node_dir, netns),
        )
    if save:
        ctx.save()
    if wait:
        wait_node(ctx, node)
        ctx.save()


def start_login_nodes(ctx: Creation) -> None:
    """Boot every login pool's nodes (munge, Slurm clients, sshd, their custom actions) and wait for them."""
    _start_all(ctx, [node for node in ctx.record["instances"].values() if node["nodeType"] == "LoginNode"])


def start_login_load_balancer(ctx: Creation) -> None:
    """Put HAProxy in front of each login pool (ParallelCluster's Network Load Balancer), on the host's address."""
    import ipaddress

    listen = loadbalancer.ensure(ctx.record, ctx.dir, network.gateway(ipaddress.ip_network(ctx.record["subnet"])))
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


def wait_node(ctx: Creation, node: dict) -> None:
    """Wait until the node's services run (raise ClusterError with the reason if not), and mark it running."""
    node_dir = ctx.store.node_dir(ctx.record["name"], node["nodeName"])
    instances.wait_running(node["nodeName"], node["pid"], node_dir, ctx.settings["local.node_start_timeout"])
    node["state"] = "running"


def wait_for_compute_nodes(ctx: Creation) -> None:
    """Wait until slurmctld answers and every static node is idle (or allocated)."""
    static = [node["nodeName"] for node in ctx.record["instances"].values() if node.get("static")]
    head = ctx.record["instances"][HEAD_NODE_NAME]
    timeout = min(ctx.settings["local.head_node_bootstrap_timeout"],
                  ctx.config.dev_settings.timeouts.head_node_bootstrap_timeout)
    deadline = time.monotonic() + timeout
    pending = set(static)
    last = "slurmctld did not answer"
    while True:
        result = instances.node_exec(head["pid"], ["sinfo", "-h", "-N", "-o", "%N %t"], timeout=10)
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


# The create pipeline, in order. Each step is idempotent.
CREATE_STEPS = [
    ("check the secrets the configuration names", check_secrets),
    ("allocate the cluster network and create its bridge", allocate_network),
    ("prepare shared directories, keys and Slurm configuration", prepare_shared),
    ("create or attach the shared storage", storage.attach_shared_storage),
    ("mount the nodes' root layers", mount_overlay_tmpfs),
    ("start the accounting database and join it to the cluster network", connect_accounting),
    ("start the head node and run its bootstrap", start_head_node),
    ("start the static compute nodes", start_static_nodes),
    ("start the login nodes", start_login_nodes),
    ("start the login nodes' load balancer", start_login_load_balancer),
    ("wait for the static nodes to be idle in Slurm", wait_for_compute_nodes),
]


def create(ctx: Creation, *, rollback: bool) -> None:
    """Run the create steps; on failure record CREATE_FAILED with the reason and roll back unless told not to."""
    started = time.monotonic()
    name = ctx.record["name"]
    # The head node's cluster manager must not manage a cluster whose create is under way (or resumed).
    (ctx.dir / "fleet" / "ready").unlink(missing_ok=True)
    for description, step in CREATE_STEPS:
        step_started = time.monotonic()
        ctx.record["progress"] = description
        ctx.save()
        try:
            step(ctx)
        except Exception as err:  # noqa: BLE001 - any failure of a step fails the create with its reason
            reason = str(err) if isinstance(err, ClusterError) else f"{type(err).__name__}: {err}"
            LOG.error("create %s: %s: failed (%.1fs): %s", name, description, time.monotonic() - step_started, reason)
            ctx.record["failures"] = [
                {"failureCode": "ClusterCreationFailure", "failureReason": f"failed to {description}: {reason}"}
            ]
            if rollback:
                # The status turns CREATE_FAILED only once the rollback is over, so a waiter sees the final state.
                ctx.record["progress"] = "roll back the failed create"
                ctx.save()
                try:
                    teardown(ctx.record, ctx.store)
                    ctx.record["rolledBack"] = True
                except ClusterError as err:  # still CREATE_FAILED; delete-cluster retries the cleanup
                    ctx.record["failures"].append({"failureCode": "ClusterRollbackFailure",
                                                   "failureReason": f"failed to roll back: {err}"})
            ctx.record.update(status="CREATE_FAILED", progress=None)
            ctx.save()
            return
        LOG.info("create %s: %s: done (%.1fs)", name, description, time.monotonic() - step_started)
    ctx.record.update(status="CREATE_COMPLETE", computeFleetStatus="RUNNING", progress=None, fleetStatusTime=now())
    ctx.save()
    # The head node's cluster manager starts managing once the cluster is complete (it waits for this file).
    (ctx.dir / "fleet" / "ready").write_text(now())
    LOG.info("create %s: complete in %.1fs", name, time.monotonic() - started)


def _stop_load_balancer(record: dict, store: StateStore) -> None:
    loadbalancer.stop(record, store.cluster_dir(record["name"]))


def _stop_nodes(record: dict, store: StateStore) -> None:
    nodes = list((record.get("instances") or {}).values())
    instances.stop_nodes([(node.get("pid"), store.node_dir(record["name"], node["nodeName"])) for node in nodes])
    for node in nodes:
        node.update(state="terminated", pid=None)


def _remove_network(record: dict, store: StateStore) -> None:
    if record.get("netIndex") is None:
        return
    for node in (record.get("instances") or {}).values():
        instances.remove_network(record, node)
    accounting.disconnect_accounting(record)
    network.delete_bridge(record["netIndex"], bridge_owner(store, record))


def _release_instance_stores(record: dict, store: StateStore) -> None:
    instancestore.release_all(store.cluster_dir(record["name"]))


def _release_shared_storage(record: dict, store: StateStore) -> None:
    storage.release_shared_storage(record, store.root, store.cluster_dir(record["name"]))


def _unmount_root_layers(record: dict, store: StateStore) -> None:
    ovl = store.cluster_dir(record["name"]) / "ovl"
    if os.path.ismount(ovl):
        subprocess.run(["umount", "-l", str(ovl)], capture_output=True)
    shutil.rmtree(ovl, ignore_errors=True)


# The delete pipeline, in order. Each step is idempotent; all of them run even when one fails.
TEARDOWN_STEPS = [
    ("stop the login load balancer", _stop_load_balancer),
    ("stop the nodes", _stop_nodes),
    ("remove the cluster network", _remove_network),
    ("release the instance store disks", _release_instance_stores),
    ("detach or delete the shared storage", _release_shared_storage),
    ("unmount the nodes' root layers", _unmount_root_layers),
]


def teardown(record: dict, store: StateStore) -> None:
    """Stop every node and remove every host resource of the cluster (processes, namespaces, links, mounts).

    Safe to run again, and on a cluster that was only partly created. A step that fails does not keep the others
    from running; the failures are raised together at the end.
    """
    failed = []
    for description, step in TEARDOWN_STEPS:
        try:
            step(record, store)
        except Exception as err:  # noqa: BLE001 - every step gets its chance; failures are reported together
            LOG.error("delete %s: %s: failed: %s", record["name"], description, err)
            failed.append(f"failed to {description}: {err}")
    if failed:
        raise ClusterError("; ".join(failed))

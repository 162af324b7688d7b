"""The local provider's host service: owns every local resource; the CLI (and the nodes) talk to it over sockets.

Run: python -m paracluster.providers.local.host.service (the client starts it on demand). One JSON request per line
on a unix socket under the state directory, one JSON answer per line. Long operations on one cluster (create, delete,
fleet launches) are serialized by its operation lock; requests (delete-cluster, update-compute-fleet) only change
the record, through the store's short lock, so they never wait for an operation. After a restart it picks up
clusters whose create or delete was under way.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from paracluster import __version__, rpc
from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotFoundError
from paracluster.providers.local.host import accounting_requests as accounting_service
from paracluster.providers.local.host import log_requests
from paracluster.providers.local.host import image_requests
from paracluster.providers.local.host import pipeline as pipeline
from paracluster.providers.local.nodes import instances
from paracluster.providers.local.host import views
from paracluster.providers.local.host.faults import Faults
from paracluster.providers.local.host.logcollect import LogCollector
from paracluster.providers.local.host.commands import ChildReaper
from paracluster.providers.local.nodes.runtime import code_digest, install_runtime
from paracluster.providers.local.host.state import ClusterState, Desired, Observed, StateStore
from paracluster.records import Failure, now, to_data
from paracluster.settings import Settings, load_settings

LOG = logging.getLogger("paracluster.local")
SOCKET_NAME = "service.sock"
# The Service methods the socket serves; the others (locks, fleets, background work) are internal.
REQUESTS = frozenset({
    "ping", "create_cluster", "delete_cluster", "describe_cluster", "list_clusters", "cluster_instances",
    "update_compute_fleet", "ssh_target", "slurm_token",
    "list_databases", "delete_database", "create_slurmdbd", "list_slurmdbds", "delete_slurmdbd",
    "update_cluster", "delete_cluster_instances", "stack_events",
    "slurm_status", "node_count_history",
    "cluster_log_group", "log_groups", "delete_log_group", "log_streams", "log_events", "diagnostics",
    "build_image", "describe_image", "list_images", "delete_image", "image_log_streams", "image_log_events",
    "image_stack_events", "image_aliases", "alias_image", "delete_image_alias",
})
CREATED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED")  # a failed update was rolled back: it works


class Service:
    """The operations of the host service; each public method answers one request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = StateStore(settings.state_path)
        self.faults = Faults(settings)
        self.capacity_lock = threading.Lock()  # local.capacity counts instances of every cluster of this service
        self._registry = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._fleets: dict[str, object] = {}
        self._plans: dict[str, tuple[str, object]] = {}
        self.collector = LogCollector(self)  # serve() starts its thread

    def lock(self, name: str) -> threading.Lock:
        """The cluster's operation lock (create, delete and fleet operations take turns)."""
        with self._registry:
            return self._locks.setdefault(name, threading.Lock())

    def _background(self, key: str, target, *args) -> None:
        """Run an operation in a thread of its own; finished threads are forgotten (their number stays bounded)."""
        thread = threading.Thread(target=target, args=args, daemon=True, name=key)
        with self._registry:
            self._workers = {k: t for k, t in self._workers.items() if t.is_alive()}
            self._workers[f"{key}-{time.monotonic_ns()}"] = thread
        thread.start()

    # --- requests ---------------------------------------------------------------------------------------------

    def ping(self) -> dict:
        return {"version": __version__, "pid": os.getpid(), "stateDir": str(self.store.root),
                "codeDigest": code_digest()}

    def create_cluster(self, name: str, config_text: str, rollback_on_failure: bool = True,
                       region: str | None = None) -> dict:
        record = ClusterState(name=name, region=region or "local", version=__version__, creation_time=now(),
                              desired=Desired(rollback_on_failure=rollback_on_failure), observed=Observed(),
                              slurmrestd=bool(self.settings["slurmrestd"]))
        if not self.store.create(record, {"cluster-config.yaml": config_text}):
            existing = self.store.load(name)
            status = existing.status if existing else "unknown"
            raise ConflictError(f"cluster '{name}' already exists (status {status}); choose another name or "
                                f"delete it with `paracluster delete-cluster -n {name}`")
        self._background(f"create-{name}", self._run_create, name)
        return to_data(views.cluster_record(record, self.store))

    def ensure_fleet(self, name: str) -> None:
        """Serve the cluster's fleet socket (the head node's resume program and cluster manager use it)."""
        from paracluster.providers.local.fleet import serve_fleet

        with self._registry:
            if name not in self._fleets:
                self._fleets[name] = serve_fleet(self, name)

    def _stop_fleet(self, name: str) -> None:
        with self._registry:
            server = self._fleets.pop(name, None)
        if server is not None:
            server.shutdown()
            server.server_close()

    def _run_create(self, name: str) -> None:
        with self.lock(name):
            record = self.store.load(name)
            if record is None or record.status != "CREATE_IN_PROGRESS":
                return
            try:
                self.ensure_fleet(name)
                plan = self.plan(name)
                ctx = pipeline.Creation(record, plan, self.settings, self.store, self.faults)
            except Exception as err:  # noqa: BLE001 - whatever stops a create ends it as CREATE_FAILED
                reason = str(err) if isinstance(err, ClusterError) else f"{type(err).__name__}: {err}"
                LOG.error("create %s: failed to prepare: %s", name, reason)
                pipeline.fail_create(self.store, name, f"failed to prepare the create: {reason}")
                return
            pipeline.create(ctx)

    def plan(self, name: str):
        """The cluster's plan, from its stored configuration (kept while the configuration is unchanged)."""
        from paracluster.config.load import load_config_text
        from paracluster.config.schema import CLUSTER
        from paracluster.plan import build_plan

        text = (self.store.cluster_dir(name) / "cluster-config.yaml").read_text()
        cached = self._plans.get(name)
        if cached and cached[0] == text:
            return cached[1]
        loaded = load_config_text(CLUSTER, text)
        if loaded.config is None:
            raise ClusterError(f"the stored configuration of cluster '{name}' no longer loads: {loaded.problems[0]}")
        plan = build_plan(name, loaded.config)
        self._plans[name] = (text, plan)
        return plan

    def delete_cluster(self, name: str, region: str | None = None) -> dict:
        """Ask for the cluster to go; a create under way stops at its next step and the delete follows it."""
        self.record(name, region)

        def ask(record: ClusterState) -> None:
            record.desired.present = False
            if record.observed.status == "DELETE_FAILED":
                record.observed.status = "DELETE_IN_PROGRESS"
                record.observed.failures = []

        record = self.store.update(name, ask)
        self._stack_events(record, "DELETE").stack("DELETE_IN_PROGRESS", "User Initiated")
        self._background(f"delete-{name}", self._run_delete, name)
        return to_data(views.cluster_record(record, self.store))

    def _run_delete(self, name: str) -> None:
        started = time.monotonic()
        self._stop_fleet(name)
        LOG.info("delete %s: fleet server stopped (%.2fs)", name, time.monotonic() - started)
        with self.lock(name):
            LOG.info("delete %s: locked (%.2fs)", name, time.monotonic() - started)
            record = self.store.load(name)
            if record is None or record.desired.present:
                return
            try:
                pipeline.teardown(record, self.store)
            except Exception as err:  # noqa: BLE001 - a failed delete is reported, and can be retried
                LOG.error("delete %s failed: %s", name, err)
                reason = str(err)

                def failed(current: ClusterState) -> None:
                    current.observed.status = "DELETE_FAILED"
                    current.observed.failures = [Failure("ClusterDeletionFailure", reason)]

                self._stack_events(self.store.update(name, failed), "DELETE").stack("DELETE_FAILED", reason)
                return
            self.collector.cluster_deleted(record)  # its log group goes or stays, by its DeletionPolicy
            image_requests.collect_garbage(self)  # layers of force-deleted images that only this cluster used
            self.store.remove(name)
            self._plans.pop(name, None)
            LOG.info("delete %s: complete (%.2fs)", name, time.monotonic() - started)

    def describe_cluster(self, name: str, region: str | None = None) -> dict:
        record = self.record(name, region)
        self.refresh_states(record)
        return to_data(views.cluster_record(record, self.store, detail=True))

    def list_clusters(self, region: str | None = None) -> list:
        return [to_data(views.cluster_record(r, self.store)) for r in self.store.records()
                if region is None or r.region == region]

    def cluster_instances(self, name: str, region: str | None = None) -> dict:
        record = self.record(name, region)
        self.refresh_states(record)
        return {"instances": to_data(views.instance_records(record)),
                "node_failures": to_data(record.observed.node_failures)}

    def update_compute_fleet(self, name: str, status: str, region: str | None = None) -> dict:
        """Ask the cluster manager to stop or start the compute fleet (it moves the status on as it acts)."""
        allowed = {"START_REQUESTED": ("STOPPED", "STOPPING", "STOP_REQUESTED", "PROTECTED"),
                   "STOP_REQUESTED": ("RUNNING", "STARTING", "START_REQUESTED", "PROTECTED")}
        if status not in allowed:
            raise BadRequestError(f"--status {status} is not valid for a Slurm cluster; use START_REQUESTED or "
                                  "STOP_REQUESTED")
        self.record(name, region)

        def request(record: ClusterState) -> None:
            current = record.observed.fleet_status
            if record.status not in CREATED:
                raise ConflictError(f"cluster '{name}' is {record.status}; the compute fleet can be stopped or "
                                    "started once the cluster is created")
            if current not in allowed[status]:
                raise ConflictError(f"the compute fleet of cluster '{name}' is {current}; {status} is not possible "
                                    "now")
            record.observed.fleet_status = status
            record.observed.fleet_status_time = now()

        record = self.store.update(name, request)
        return {"status": record.observed.fleet_status, "last_updated_time": record.observed.fleet_status_time}

    def ssh_target(self, name: str, login_pool: str | None = None, region: str | None = None) -> dict:
        record = self.record(name, region)
        head = record.head
        if head is None or head.state != "running":
            raise ClusterError(f"the head node of cluster '{name}' is not running (cluster status {record.status})")
        target = {
            "user": record.default_user.name if record.default_user else None,
            "address": head.address,
            "key_name": record.key_name,
            "known_hosts": str(self.store.cluster_dir(name) / "ssh" / "known_hosts"),
        }
        if login_pool is not None:
            listen = (record.load_balancer or {}).get("listen", {})
            if login_pool not in listen:
                pools = ", ".join(sorted(listen)) or "none"
                raise NotFoundError(f"cluster '{name}' has no login pool '{login_pool}' (its pools: {pools})")
            target.update(address=listen[login_pool]["address"], port=listen[login_pool]["port"])
        return target

    def slurm_token(self, name: str, user: str | None = None, lifespan: int | None = None,
                    region: str | None = None) -> dict:
        return accounting_service.cluster_token(self, self.record(name, region), user, lifespan)

    # --- accounting (providers/local/accounting_service.py) -------------------------------------------------

    def list_databases(self) -> dict:
        return accounting_service.list_databases(self)

    def delete_database(self, uri: str) -> dict:
        return accounting_service.delete_database(self, uri)

    def create_slurmdbd(self, **request) -> dict:
        return accounting_service.create_slurmdbd(self, **request)

    def list_slurmdbds(self) -> dict:
        return accounting_service.list_slurmdbds(self)

    def delete_slurmdbd(self, host: str, port: int) -> dict:
        return accounting_service.delete_slurmdbd(self, host, port)

    # --- internal ---------------------------------------------------------------------------------------------

    def record(self, name: str, region: str | None = None) -> ClusterState:
        """The cluster's record; a cluster of another region is not found, as in ParallelCluster."""
        record = self.store.load(name)
        if record is None or (region is not None and record.region != region):
            where = f" in region {region}" if region else ""
            raise NotFoundError(f"cluster '{name}' does not exist{where}; see `paracluster list-clusters`")
        return record

    def refresh_states(self, record: ClusterState) -> None:
        """Report nodes whose PID 1 is gone as terminated (a crash or a kill while the service looked away)."""
        for node in record.nodes.values():
            instance = node.instance
            if instance and instance.state in ("running", "pending") and instance.pid:
                if not instances.is_alive(instance.pid, self.store.node_dir(record.name, node.name)):
                    instance.state = "terminated"

    def instances_in_use(self, instance_type: str) -> int:
        """Instances of this type running or reserved, across every cluster of this host service."""
        count = 0
        for record in self.store.records():
            count += sum(1 for r in record.reservations.values() if r.instance_type == instance_type)
            count += sum(1 for node in record.nodes.values()
                         if node.instance and node.node.instance_type == instance_type
                         and node.instance.state in ("pending", "running"))
        return count

    # --- Day-2 operations: update-cluster, delete-cluster-instances, stack events (host/update.py, events.py) ---------

    def update_cluster(self, name: str, config_text: str, force: bool = False, dryrun: bool = False,
                       region: str | None = None) -> dict:
        """Plan the update on the cluster's state; unless it is refused or a dry run, start it (UPDATE_IN_PROGRESS)."""
        from paracluster.providers.local.host import update as updating

        record = self.record(name, region)
        updating.check_updatable(record)
        directory = self.store.cluster_dir(name)
        plan = updating.plan_change(record, (directory / updating.CONFIG).read_text(), config_text)
        outcome = updating.outcome(plan, force, dryrun)
        if outcome.result == "STARTED":
            record = self.store.update(name, lambda current: updating.start(current, directory, config_text, plan,
                                                                            force))
            self._background(f"update-{name}", self._run_update, name)
            outcome.cluster = views.cluster_record(record, self.store)
        return to_data(outcome)

    def _run_update(self, name: str) -> None:
        from paracluster.providers.local.host import update as updating

        with self.lock(name):
            try:
                updating.run_update(self, name)
            except Exception:  # noqa: BLE001 - logged; the record stays UPDATE_IN_PROGRESS for a restart to resume
                LOG.exception("update %s stopped", name)

    def delete_cluster_instances(self, name: str, region: str | None = None) -> dict:
        """Terminate every compute instance (in the background); the cluster manager relaunches static nodes."""
        import uuid

        from paracluster.providers.local.fleet import LocalFleet

        record = self.record(name, region)
        ids = [node.instance.instance_id for node in record.nodes.values()
               if node.node.node_type == "ComputeNode" and node.instance is not None]
        ids += list(record.reservations)
        if ids:
            self._background(f"terminate-{name}", LocalFleet(self, name).terminate,
                             f"delete-cluster-instances-{uuid.uuid4().hex}", ids)
        return {}

    def stack_events(self, name: str, next_token: str | None = None, region: str | None = None) -> dict:
        from paracluster.providers.local.host import events

        self.record(name, region)
        found, token = events.page(self.store.cluster_dir(name), next_token)
        return {"events": to_data(found), "next_token": token}

    def _stack_events(self, record: ClusterState, verb: str):
        from paracluster.providers.local.host.events import StepEvents

        return StepEvents(self.store.cluster_dir(record.name), record.name, views.stack_arn(record), verb)

    # --- restart ----------------------------------------------------------------------------------------------

    def resume(self) -> None:
        """Continue what a previous service instance left under way (steps are idempotent)."""
        self._background("awsapi", self._start_aws_standins)
        image_requests.resume(self)
        for record in self.store.records():
            if record.status not in ("DELETE_IN_PROGRESS", "CREATE_FAILED"):
                self.ensure_fleet(record.name)
                if record.accounting:
                    self._background(f"accounting-{record.name}", accounting_service.reconnect, self, record.name)
            if record.status == "CREATE_IN_PROGRESS":
                LOG.info("resuming the create of %s", record.name)
                self._background(f"create-{record.name}", self._run_create, record.name)
            elif record.status == "DELETE_IN_PROGRESS":
                LOG.info("resuming the delete of %s", record.name)
                self._background(f"delete-{record.name}", self._run_delete, record.name)
            elif record.status == "UPDATE_IN_PROGRESS":
                LOG.info("resuming the update of %s", record.name)
                self._background(f"update-{record.name}", self._run_update, record.name)

    def _start_aws_standins(self) -> None:
        """Serve IMDS, and the endpoints of the clusters whose nodes run (the stand-ins stop with the service)."""
        from paracluster.providers.local.standins.awsapi import cluster as awsapi
        from paracluster.providers.local.standins.awsapi import imds_server

        try:
            imds_server.start(self.store.root)
        except ClusterError as err:  # nodes that boot later ask again, and fail with the reason
            LOG.error("failed to start the IMDS server: %s", err)
        for record in self.store.records():
            if record.network is not None and record.status != "DELETE_IN_PROGRESS" and not record.observed.rolled_back:
                try:
                    awsapi.start_endpoints(self.store.root, record)
                except ClusterError as err:
                    LOG.error("failed to start the AWS endpoints of cluster %s: %s", record.name, err)

    # --- the dashboard's Slurm view and node counts (host/slurm_watch.py) -------------------------------------

    def slurm_status(self, name: str, region: str | None = None) -> dict:
        from paracluster.providers.local.host import slurm_watch

        return to_data(slurm_watch.slurm_status(self.record(name, region)))

    def start_sampler(self) -> None:
        """Start recording compute node counts over time (serve() calls this once)."""
        from paracluster.providers.local.host import slurm_watch

        self._sampler = slurm_watch.NodeCountSampler(self.store).start()

    def node_count_history(self, name: str, region: str | None = None) -> list:
        self.record(name, region)
        sampler = getattr(self, "_sampler", None)
        return to_data(sampler.history(name)) if sampler else []

    # --- cluster logs (host/log_requests.py, logcollect.py) and diagnosis (host/diagnostics.py) -----------------

    def cluster_log_group(self, name: str, region: str | None = None) -> dict:
        return log_requests.cluster_log_group(self, name, region)

    def log_groups(self, region: str | None = None) -> list:
        return log_requests.log_groups(self, region)

    def delete_log_group(self, group: str) -> dict:
        return log_requests.delete_log_group(self, group)

    def log_streams(self, group: str, prefix: str | None = None, next_token: str | None = None) -> dict:
        return log_requests.log_streams(self, group, prefix, next_token)

    def log_events(self, group: str, stream: str, start: int | None = None, end: int | None = None,
                   start_from_head: bool = False, limit: int | None = None, next_token: str | None = None) -> dict:
        return log_requests.log_events(self, group, stream, start, end, start_from_head, limit, next_token)

    def diagnostics(self, name: str, region: str | None = None) -> dict:
        from paracluster.providers.local.host import diagnostics

        return to_data(diagnostics.gather(self, self.record(name, region)))


    # --- images (host/image_requests.py) ----------------------------------------------------------------------

    def build_image(self, image_id: str, config_text: str, region: str | None = None,
                    rollback_on_failure: bool = False) -> dict:
        return image_requests.build_image(self, image_id, config_text, region, rollback_on_failure)

    def describe_image(self, image_id: str, region: str | None = None) -> dict:
        return image_requests.describe_image(self, image_id, region)

    def list_images(self, region: str | None = None) -> list:
        return image_requests.list_images(self, region)

    def delete_image(self, image_id: str, region: str | None = None, force: bool = False) -> dict:
        return image_requests.delete_image(self, image_id, region, force)

    def image_log_streams(self, image_id: str, region: str | None = None) -> list:
        return image_requests.image_log_streams(self, image_id, region)

    def image_log_events(self, image_id: str, stream: str, region: str | None = None) -> list:
        return image_requests.image_log_events(self, image_id, stream, region)

    def image_stack_events(self, image_id: str, next_token: str | None = None, region: str | None = None) -> dict:
        return image_requests.image_stack_events(self, image_id, next_token, region)

    def image_aliases(self, region: str | None = None) -> list:
        return image_requests.image_aliases(self, region)

    def alias_image(self, alias: str, image_id: str, region: str | None = None) -> dict:
        return image_requests.alias_image(self, alias, image_id, region)

    def delete_image_alias(self, alias: str, region: str | None = None) -> dict:
        return image_requests.delete_image_alias(self, alias, region)


def serve(settings: Settings) -> None:
    import fcntl

    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    lock_file = open(state / "service.lock", "w")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        LOG.info("another host service owns %s; exiting", state)
        return
    # Nodes outlive their booters; as their subreaper the service reaps them, and only them.
    ChildReaper.install()
    install_runtime()
    service = Service(settings)
    socket_path = state / SOCKET_NAME
    socket_path.unlink(missing_ok=True)
    server = rpc.Server(str(socket_path), service, REQUESTS, "host service", LOG)
    socket_path.chmod(0o600)
    service.resume()
    service.start_sampler()
    instances.STOPPED_OBSERVERS.append(service.collector.nodes_stopped)
    service.collector.start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    LOG.info("host service %s listening on %s (settings from %s)", os.getpid(), socket_path, settings.source)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        socket_path.unlink(missing_ok=True)
        _stop_aws_standins(state)


def _stop_aws_standins(state: Path) -> None:
    """The AWS stand-ins run this service's code: they stop with it, and the next service starts them again."""
    from paracluster.providers.local.standins.awsapi import cluster as awsapi

    awsapi.stop_all(state)


def main() -> None:
    settings = load_settings()
    log_path = Path(settings.state_path) / "service.log"
    Path(settings.state_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=log_path, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(settings)
    except Exception:
        LOG.exception("host service stopped")
        sys.exit(1)


if __name__ == "__main__":
    main()

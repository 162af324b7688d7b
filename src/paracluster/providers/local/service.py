"""The local provider's host service: owns every local resource; the CLI (and later the nodes) talk to it over a socket.

Run: python -m paracluster.providers.local.service (the client starts it on demand). One JSON request per line on a
unix socket under the state directory, one JSON answer per line. Work on one cluster is serialized by its lock; work
on different clusters runs in parallel. After a restart it picks up clusters whose create or delete was under way.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from paracluster import __version__, rpc
from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotFoundError
from paracluster.providers.local import cluster as pipeline
from paracluster.providers.local import accounting_service, instances
from paracluster.providers.local.faults import Faults
from paracluster.providers.local.describe import describe_cluster, describe_instances, summary
from paracluster.providers.local.runtime import code_digest, install_runtime
from paracluster.providers.local.state import StateStore, now
from paracluster.settings import Settings, load_settings

LOG = logging.getLogger("paracluster.local")
SOCKET_NAME = "service.sock"
# The Service methods the socket serves; the others (locks, resume, fleets) are internal.
REQUESTS = frozenset({
    "ping", "create_cluster", "delete_cluster", "describe_cluster", "list_clusters", "describe_cluster_instances",
    "describe_compute_fleet", "update_compute_fleet", "ssh_target",
    "list_databases", "delete_database", "cluster_token", "create_slurmdbd", "list_slurmdbds", "delete_slurmdbd",
})
PR_SET_CHILD_SUBREAPER = 36


class Service:
    """The operations of the host service; each public method answers one request."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = StateStore(settings.state_path)
        self.faults = Faults(settings)
        self._registry = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._threads: list[threading.Thread] = []
        self._fleets: dict[str, object] = {}

    def lock(self, name: str) -> threading.Lock:
        with self._registry:
            return self._locks.setdefault(name, threading.Lock())

    def _background(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    # --- requests ---------------------------------------------------------------------------------------------

    def ping(self) -> dict:
        return {"version": __version__, "pid": os.getpid(), "stateDir": str(self.store.root),
                "codeDigest": code_digest()}

    def create_cluster(self, name: str, config_text: str, rollback_on_failure: bool = True,
                       region: str | None = None) -> dict:
        with self._registry:
            existing = self.store.load(name)
            if existing is not None:
                raise ConflictError(
                    f"cluster '{name}' already exists (status {existing['status']}); choose another name or "
                    f"delete it with `paracluster delete-cluster -n {name}`"
                )
            record = {
                "name": name,
                "status": "CREATE_IN_PROGRESS",
                "region": region or "local",
                "version": __version__,
                "creationTime": now(),
                "computeFleetStatus": "UNKNOWN",
                "rollbackOnFailure": rollback_on_failure,
                "failures": [],
                "instances": {},
            }
            self.store.save(record)
            (self.store.cluster_dir(name) / "cluster-config.yaml").write_text(config_text)
        self._background(self._run_create, name)
        return summary(record)

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
        self.ensure_fleet(name)
        with self.lock(name):
            record = self.store.load(name)
            if record is None or record["status"] != "CREATE_IN_PROGRESS":
                return
            try:
                config = self.config(name)
            except ClusterError as err:
                record.update(status="CREATE_FAILED",
                              failures=[{"failureCode": "ClusterCreationFailure", "failureReason": str(err)}])
                self.store.save(record)
                return
            ctx = pipeline.Creation(record, config, self.settings, self.store, self.faults)
            pipeline.create(ctx, rollback=record.get("rollbackOnFailure", True))

    def config(self, name: str):
        from paracluster.config.load import load_config_text
        from paracluster.config.schema import CLUSTER

        loaded = load_config_text(CLUSTER, (self.store.cluster_dir(name) / "cluster-config.yaml").read_text())
        if loaded.config is None:
            raise ClusterError(f"the stored configuration of cluster '{name}' no longer loads: {loaded.errors[0]}")
        return loaded.config

    def delete_cluster(self, name: str) -> dict:
        with self._registry:
            record = self.record(name)
            if record["status"] != "DELETE_IN_PROGRESS":
                record["status"] = "DELETE_IN_PROGRESS"
                self.store.save(record)
        self._background(self._run_delete, name)
        return summary(record)

    def _run_delete(self, name: str) -> None:
        started = time.monotonic()
        self._stop_fleet(name)
        LOG.info("delete %s: fleet server stopped (%.2fs)", name, time.monotonic() - started)
        with self.lock(name):
            LOG.info("delete %s: locked (%.2fs)", name, time.monotonic() - started)
            record = self.store.load(name)
            if record is None:
                return
            try:
                pipeline.teardown(record, self.store)
            except Exception as err:  # noqa: BLE001 - a failed delete is reported, and can be retried
                LOG.error("delete %s failed: %s", name, err)
                record.update(status="DELETE_FAILED",
                              failures=[{"failureCode": "ClusterDeletionFailure", "failureReason": str(err)}])
                self.store.save(record)
                return
            self.store.remove(name)
            LOG.info("delete %s: complete (%.2fs)", name, time.monotonic() - started)

    def describe_cluster(self, name: str) -> dict:
        record = self.record(name)
        self.refresh_states(record)
        return describe_cluster(record, self.store)

    def list_clusters(self, statuses: list[str] | None = None) -> dict:
        records = self.store.records()
        return {"clusters": [summary(r) for r in records if not statuses or r["status"] in statuses]}

    def describe_cluster_instances(self, name: str, node_type: str | None = None, queue: str | None = None) -> dict:
        record = self.record(name)
        self.refresh_states(record)
        body = {"instances": describe_instances(record, node_type, queue)}
        failures = [f for f in record.get("nodeFailures", [])
                    if not queue or f["nodeName"].startswith(f"{queue}-")]
        if failures and node_type in (None, "ComputeNode"):
            body["nodeFailures"] = failures  # ParaCluster: recent launch failures of compute nodes
        return body

    def describe_compute_fleet(self, name: str) -> dict:
        record = self.record(name)
        return {"status": record.get("computeFleetStatus", "UNKNOWN"),
                "lastStatusUpdatedTime": record.get("fleetStatusTime") or record.get("lastUpdatedTime")}

    def update_compute_fleet(self, name: str, status: str) -> dict:
        """Ask the cluster manager to stop or start the compute fleet (it moves the status on as it acts)."""
        allowed = {"START_REQUESTED": ("STOPPED", "STOPPING", "STOP_REQUESTED", "PROTECTED"),
                   "STOP_REQUESTED": ("RUNNING", "STARTING", "START_REQUESTED", "PROTECTED")}
        if status not in allowed:
            raise BadRequestError(f"--status {status} is not valid for a Slurm cluster; use START_REQUESTED or "
                                  "STOP_REQUESTED")
        with self.lock(name):
            record = self.record(name)
            current = record.get("computeFleetStatus", "UNKNOWN")
            if record["status"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                raise ConflictError(f"cluster '{name}' is {record['status']}; the compute fleet can be stopped or "
                                    "started once the cluster is created")
            if current not in allowed[status]:
                raise ConflictError(f"the compute fleet of cluster '{name}' is {current}; {status} is not possible "
                                    "now")
            record.update(computeFleetStatus=status, fleetStatusTime=now())
            self.store.save(record)
        return self.describe_compute_fleet(name)

    def ssh_target(self, name: str, login_pool: str | None = None) -> dict:
        record = self.record(name)
        head = record.get("instances", {}).get(pipeline.HEAD_NODE_NAME)
        if not head or head.get("state") != "running":
            raise ClusterError(f"the head node of cluster '{name}' is not running (cluster status {record['status']})")
        target = {
            "user": (record.get("defaultUser") or {}).get("name"),
            "address": head["privateIpAddress"],
            "keyName": record.get("keyName"),
            "knownHosts": str(self.store.cluster_dir(name) / "ssh" / "known_hosts"),
        }
        if login_pool is not None:
            listen = (record.get("loginLoadBalancer") or {}).get("listen", {})
            if login_pool not in listen:
                pools = ", ".join(sorted(listen)) or "none"
                raise NotFoundError(f"cluster '{name}' has no login pool '{login_pool}' (its pools: {pools})")
            target.update(address=listen[login_pool]["address"], port=listen[login_pool]["port"])
        return target

    # --- accounting (providers/local/accounting_service.py) -------------------------------------------------

    def list_databases(self) -> dict:
        return accounting_service.list_databases(self)

    def delete_database(self, uri: str) -> dict:
        return accounting_service.delete_database(self, uri)

    def cluster_token(self, name: str, user: str | None = None, lifespan: int | None = None) -> dict:
        return accounting_service.cluster_token(self, name, user, lifespan)

    def create_slurmdbd(self, **request) -> dict:
        return accounting_service.create_slurmdbd(self, **request)

    def list_slurmdbds(self) -> dict:
        return accounting_service.list_slurmdbds(self)

    def delete_slurmdbd(self, host: str, port: int) -> dict:
        return accounting_service.delete_slurmdbd(self, host, port)

    def record(self, name: str) -> dict:
        record = self.store.load(name)
        if record is None:
            raise NotFoundError(f"cluster '{name}' does not exist; see `paracluster list-clusters`")
        return record

    def refresh_states(self, record: dict) -> None:
        """Report nodes whose PID 1 is gone as terminated (a crash or a kill while the service looked away)."""
        for node in record.get("instances", {}).values():
            if node.get("state") in ("running", "pending") and node.get("pid"):
                if not instances.is_alive(node["pid"], self.store.node_dir(record["name"], node["nodeName"])):
                    node["state"] = "terminated"

    # --- restart ----------------------------------------------------------------------------------------------

    def resume(self) -> None:
        """Continue what a previous service instance left under way (steps are idempotent)."""
        for record in self.store.records():
            if record["status"] not in ("DELETE_IN_PROGRESS", "CREATE_FAILED"):
                self.ensure_fleet(record["name"])
                if record.get("accounting"):
                    self._background(accounting_service.reconnect, self, record["name"])
            if record["status"] == "CREATE_IN_PROGRESS":
                LOG.info("resuming the create of %s", record["name"])
                self._background(self._run_create, record["name"])
            elif record["status"] == "DELETE_IN_PROGRESS":
                LOG.info("resuming the delete of %s", record["name"])
                self._background(self._run_delete, record["name"])


def _reap_children(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    # As a child subreaper the service inherits nodes whose booter exited; reap them when they end.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(settings: Settings) -> None:
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    lock_file = open(state / "service.lock", "w")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        LOG.info("another host service owns %s; exiting", state)
        return
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGCHLD, _reap_children)
    install_runtime()
    service = Service(settings)
    socket_path = state / SOCKET_NAME
    socket_path.unlink(missing_ok=True)
    server = rpc.Server(str(socket_path), service, REQUESTS, "host service", LOG)
    socket_path.chmod(0o600)
    service.resume()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    LOG.info("host service %s listening on %s (settings from %s)", os.getpid(), socket_path, settings.source)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        socket_path.unlink(missing_ok=True)


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

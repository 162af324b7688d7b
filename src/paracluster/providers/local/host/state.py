"""On-disk state of the local provider: one typed record per cluster, changed only by `StateStore.update`.

A cluster's record keeps what was asked (`desired`: that it exist, how a failed create ends) apart from what was
observed (`observed`: status, progress, failures, fleet status), and one `NodeRecord` per node the plan has: the
planned node with its address slot, and the instance that backs it now, if any.

Layout under the state directory:
  clusters/<name>/cluster.json       the record
  clusters/<name>/cluster-config.yaml the configuration as submitted (by the create, or by the latest update)
  clusters/<name>/cluster-config.previous.yaml  the configuration an update moves from (its rollback target)
  clusters/<name>/stack-events.jsonl the create, update and delete steps as stack events (events.py)
  clusters/<name>/shared/            /home, /opt/slurm and /opt/parallelcluster/shared of the cluster
  clusters/<name>/nodes/<node>/      each node's spec, PID, status and service logs
  clusters/<name>/ovl/               a tmpfs with the nodes' overlay upper layers
  clusters/<name>/storage/<item>/    mount points of its EBS volumes (loop-mounted)
  clusters/<name>/ephemeral/<node>/  instance store disk images of its running nodes
  removing/<name>-<id>/              a deleted cluster's directory while its files are removed
  storage/<id>/                      registered file systems, volumes and snapshots (storage_registry.py)
  keypairs/<name>.pem, .pub          key pairs
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Callable

from paracluster.plan.inventory import PlannedNode
from paracluster.plan.spec import Account
from paracluster.records import Failure, NodeFailure, from_data, now, to_data


@dataclasses.dataclass
class Instance:
    """The instance backing a node now (observed)."""

    instance_id: str
    state: str  # pending | running | terminated
    launch_time: str
    pid: int | None = None  # the node's PID 1 on the host
    failure_recorded: bool = False  # its failed bootstrap has been counted


@dataclasses.dataclass
class NodeRecord:
    """A node of the plan with its address slot (desired), and the instance that backs it (observed)."""

    node: PlannedNode
    slot: int
    address: str
    instance: Instance | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def state(self) -> str:
        return self.instance.state if self.instance else "stopped"


@dataclasses.dataclass
class Network:
    subnet: str
    index: int  # the bridge's number, pclbr<index>


@dataclasses.dataclass
class Reservation:
    """Capacity taken by a launch for a Slurm node, until the instance is bound to it (booted) or terminated."""

    instance_type: str
    queue: str
    compute_resource: str
    launch_time: str
    requested_for: str


@dataclasses.dataclass
class Desired:
    """What was asked of the cluster: set by requests, never by the operations that carry them out."""

    present: bool = True  # False once delete-cluster was asked, also during a create
    rollback_on_failure: bool = True


@dataclasses.dataclass
class Observed:
    """Where the cluster's operations got to: set by the create, delete and fleet operations."""

    status: str = "CREATE_IN_PROGRESS"
    progress: str | None = None
    failures: list[Failure] = dataclasses.field(default_factory=list)
    rolled_back: bool = False
    fleet_status: str = "UNKNOWN"
    fleet_status_time: str | None = None
    node_failures: list[NodeFailure] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class UpdateRequest:
    """An update under way: how it was asked and, once a step failed, that it rolls back and why.

    The configuration it moves to is cluster-config.yaml; the one it moves from, cluster-config.previous.yaml.
    """

    force: bool = False
    queue_update_strategy: str = "COMPUTE_FLEET_STOP"
    affected_queues: list[str] = dataclasses.field(default_factory=list)
    rolling_back: bool = False
    failure: str | None = None


@dataclasses.dataclass
class ClusterState:
    """One local cluster, as the host service keeps it."""

    name: str
    region: str
    version: str
    creation_time: str
    last_updated_time: str | None = None
    desired: Desired = dataclasses.field(default_factory=Desired)
    observed: Observed = dataclasses.field(default_factory=Observed)
    nodes: dict[str, NodeRecord] = dataclasses.field(default_factory=dict)
    network: Network | None = None
    default_user: Account | None = None
    rest_user: Account | None = None
    key_name: str | None = None
    slurmrestd: bool = True
    shared_storage_type: str | None = None
    storage: list[dict] = dataclasses.field(default_factory=list)  # storage.py's attachments
    internal_efs: str | None = None
    accounting: dict | None = None  # accounting.py: the database or slurmdbd and its address on the network
    load_balancer: dict | None = None  # loadbalancer.py: HAProxy's PID and each pool's address and port
    reservations: dict[str, Reservation] = dataclasses.field(default_factory=dict)
    fleet_answers: dict[str, dict] = dataclasses.field(default_factory=dict)  # fleet.py: answers by request id
    update: UpdateRequest | None = None  # update.py: the update under way

    @property
    def status(self) -> str:
        """The cluster status requests see: a delete asked for is under way until it fails or ends."""
        if not self.desired.present and self.observed.status != "DELETE_FAILED":
            return "DELETE_IN_PROGRESS"
        return self.observed.status

    @property
    def head(self) -> NodeRecord | None:
        return next((node for node in self.nodes.values() if node.node.node_type == "HeadNode"), None)

    def by_instance(self) -> dict[str, NodeRecord]:
        return {node.instance.instance_id: node for node in self.nodes.values() if node.instance}


class StateStore:
    """Reads cluster records under one state directory; every change goes through `update`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @property
    def clusters_dir(self) -> Path:
        return self.root / "clusters"

    def cluster_dir(self, name: str) -> Path:
        return self.clusters_dir / name

    def node_dir(self, name: str, node: str) -> Path:
        """A node's host directory: its spec, PID file, status and service logs."""
        return self.cluster_dir(name) / "nodes" / node

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def load(self, name: str) -> ClusterState | None:
        try:
            data = json.loads((self.cluster_dir(name) / "cluster.json").read_text())
        except FileNotFoundError:
            return None
        return from_data(ClusterState, data)

    def create(self, record: ClusterState, files: dict[str, str] | None = None) -> bool:
        """Save a new record and its `files` (name -> text, in the cluster's directory); False (and nothing
        written) when a cluster of that name exists."""
        with self._lock(record.name):
            if (self.cluster_dir(record.name) / "cluster.json").exists():
                return False
            self.cluster_dir(record.name).mkdir(parents=True, exist_ok=True)
            for file_name, text in (files or {}).items():
                (self.cluster_dir(record.name) / file_name).write_text(text)
            self._save(record)
            return True

    def update(self, name: str, change: Callable[[ClusterState], ClusterState | None]) -> ClusterState:
        """Lock the record, reload it, apply `change` (which edits it, or returns its replacement), save it.

        Raises LookupError when the cluster has no record (any more).
        """
        with self._lock(name):
            current = self.load(name)
            if current is None:
                raise LookupError(name)
            replacement = change(current)
            record = current if replacement is None else replacement
            self._save(record)
            return record

    def _save(self, record: ClusterState) -> None:
        record.last_updated_time = now()
        directory = self.cluster_dir(record.name)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "cluster.json"
        temporary = path.with_suffix(f".json.tmp{threading.get_ident()}")
        temporary.write_text(json.dumps(to_data(record), indent=1, sort_keys=True))
        os.replace(temporary, path)

    def names(self) -> list[str]:
        if not self.clusters_dir.exists():
            return []
        return sorted(path.parent.name for path in self.clusters_dir.glob("*/cluster.json"))

    def records(self) -> list[ClusterState]:
        return [record for record in (self.load(name) for name in self.names()) if record]

    def remove(self, name: str) -> None:
        """Remove the cluster's directory: moved aside at once (a create of the same name right after the delete
        starts afresh, whatever the removal of the old files still has to do), then deleted."""
        trash = self.root / "removing" / f"{name}-{uuid.uuid4().hex[:8]}"
        with self._lock(name):
            if not self.cluster_dir(name).exists():
                return
            trash.parent.mkdir(exist_ok=True)
            os.rename(self.cluster_dir(name), trash)
        shutil.rmtree(trash, ignore_errors=True)

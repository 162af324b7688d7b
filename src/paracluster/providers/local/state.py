"""On-disk state of the local provider: one directory and one JSON record per cluster, written atomically.

Layout under the state directory:
  clusters/<name>/cluster.json       the record (status, network, instances, failures)
  clusters/<name>/cluster-config.yaml the configuration as submitted
  clusters/<name>/shared/            /home, /opt/slurm and /opt/parallelcluster/shared of the cluster
  clusters/<name>/nodes/<node>/      each node's spec, PID, status and service logs
  clusters/<name>/ovl/               a tmpfs with the nodes' overlay upper layers
  clusters/<name>/storage/<item>/    mount points of its EBS volumes (loop-mounted)
  clusters/<name>/ephemeral/<node>/  instance store disk images of its running nodes
  storage/<id>/                      registered file systems, volumes and snapshots (storage_registry.py)
  keypairs/<name>.pem, .pub          key pairs
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path


def now() -> str:
    """The current time in ParallelCluster's ISO 8601 form."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StateStore:
    """Reads and writes cluster records under one state directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def clusters_dir(self) -> Path:
        return self.root / "clusters"

    def cluster_dir(self, name: str) -> Path:
        return self.clusters_dir / name

    def node_dir(self, name: str, node: str) -> Path:
        """A node's host directory: its spec, PID file, status and service logs."""
        return self.cluster_dir(name) / "nodes" / node

    def exists(self, name: str) -> bool:
        return (self.cluster_dir(name) / "cluster.json").exists()

    def load(self, name: str) -> dict | None:
        try:
            return json.loads((self.cluster_dir(name) / "cluster.json").read_text())
        except FileNotFoundError:
            return None

    def save(self, record: dict) -> None:
        record["lastUpdatedTime"] = now()
        directory = self.cluster_dir(record["name"])
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "cluster.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True))
        os.replace(temporary, path)

    def names(self) -> list[str]:
        if not self.clusters_dir.exists():
            return []
        return sorted(path.parent.name for path in self.clusters_dir.glob("*/cluster.json"))

    def records(self) -> list[dict]:
        return [record for record in (self.load(name) for name in self.names()) if record]

    def remove(self, name: str) -> None:
        shutil.rmtree(self.cluster_dir(name), ignore_errors=True)

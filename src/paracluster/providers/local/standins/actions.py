"""Custom actions of a node, resolved on the host: which scripts its role runs, fetched where the node can read them.

Nodes have no route out, so the host does what ParallelCluster's node-side executor does with the instance role:
`s3://` objects come from the local buckets, `https://` scripts are downloaded (once per cluster and URL) and local
paths are read. Each script is copied into the node's directory; a script that cannot be fetched is passed on as
an error, so the node fails its bootstrap in the "downloading" stage exactly as a ParallelCluster node would.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from paracluster.errors import ClusterError
from paracluster.plan.actions import scripts_of
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.local.standins import buckets

HTTPS_TIMEOUT = 60  # seconds, as ParallelCluster's executor


def resolve(config, node: PlannedNode, state_dir: Path, cluster_dir: Path, node_dir: Path) -> dict[str, list[dict]]:
    """Fetch the node's scripts into `<node_dir>/actions/` and return the spec's `actions` entry.

    Each step gets `file` (its path inside the node) or `error` (why it could not be fetched).
    """
    target = node_dir / "actions"
    shutil.rmtree(target, ignore_errors=True)
    resolved: dict[str, list[dict]] = {}
    for event, steps in scripts_of(config, node).items():
        for index, step in enumerate(steps, 1):
            entry = dict(step)
            name = f"{event}-{index}"
            try:
                source = _fetch(step["url"], state_dir, cluster_dir)
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target / name)
                entry["file"] = f"/run/paracluster/node/actions/{name}"
            except ClusterError as err:
                entry["error"] = str(err)
            resolved.setdefault(event, []).append(entry)
    return resolved


def _fetch(url: str, state_dir: Path, cluster_dir: Path) -> Path:
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        try:
            return buckets.object_path(state_dir, url)
        except Exception as err:  # noqa: BLE001 - NotFound or a bad URL: both are download failures of the node
            raise ClusterError(str(err)) from None
    if parsed.scheme == "https":
        return download(url, cluster_dir / "downloads")
    path = Path(parsed.path if parsed.scheme == "file" else url)
    if not path.is_file():
        raise ClusterError(f"{path} is no file on the host")
    return path


def download(url: str, cache: Path) -> Path:
    """Download an https:// script once per cluster (the host has the route the nodes lack)."""
    path = cache / hashlib.sha256(url.encode()).hexdigest()[:32]
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=HTTPS_TIMEOUT) as answer:  # noqa: S310 - https only (checked)
            data = answer.read()
    except urllib.error.HTTPError as err:
        raise ClusterError(f"the server answered HTTP status {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ClusterError(f"the download failed: {reason}") from None
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return path

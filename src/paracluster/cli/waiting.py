"""`--wait` of create-cluster, update-cluster and delete-cluster: poll describe-cluster until the operation ends."""

from __future__ import annotations

import sys
import time

from paracluster.errors import ClusterOperationFailed, NotFoundError

POLL_SECONDS = 0.2


def progress_printer():
    """Print progress lines on stderr (stdout stays one JSON document)."""
    return lambda text: (sys.stderr.write(text + "\n"), sys.stderr.flush())


def wait_for_create(describe, name: str, progress, verb: str = "create") -> dict:
    """Poll `describe()` (describe-cluster's answer) until the create (or update) ends; raise if it failed."""
    started, last = time.monotonic(), None
    while True:
        cluster = describe()
        status = cluster["clusterStatus"]
        step = cluster.get("progress") or status
        if step != last:
            progress(f"{name}: {step} ({time.monotonic() - started:.1f}s)")
            last = step
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(POLL_SECONDS)
    if status.endswith("_FAILED") or status.startswith("DELETE"):
        reasons = "; ".join(f["failureReason"] for f in cluster.get("failures", [])) or "no reason recorded"
        raise ClusterOperationFailed(f"failed to {verb} cluster '{name}': {reasons}", cluster)
    return cluster


def wait_for_cluster(args, answer: dict, verb: str) -> dict:
    """--wait of create-cluster and update-cluster: describe-cluster's answer once the operation ended."""
    from paracluster import api

    region = answer["cluster"]["region"]
    return wait_for_create(lambda: api.describe_cluster(cluster_name=args.cluster_name, region=region,
                                                        provider_name=args.provider),
                           args.cluster_name, progress_printer(), verb=verb)


def wait_for_delete(describe, name: str, progress) -> dict:
    """Poll `describe()` until the cluster is gone; raise if its delete failed."""
    started = time.monotonic()
    while True:
        try:
            described = describe()
        except NotFoundError:
            return {"message": f"Successfully deleted cluster '{name}'."}
        if described["clusterStatus"] == "DELETE_FAILED":
            reasons = "; ".join(f["failureReason"] for f in described.get("failures", []))
            raise ClusterOperationFailed(f"failed to delete cluster '{name}': {reasons}", described)
        progress(f"{name}: {described['clusterStatus']} ({time.monotonic() - started:.1f}s)")
        time.sleep(POLL_SECONDS / 2)

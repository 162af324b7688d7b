"""ParallelCluster's JSON shapes for clusters and instances, built from the local provider's records.

Keys ParaCluster adds are camelCase and documented in the README: `nodeName` on instances (the Slurm node name).
"""

from __future__ import annotations

from paracluster.providers.local.state import StateStore


def _stack_status(record: dict) -> str:
    # CloudFormation reports a rolled-back create as ROLLBACK_COMPLETE while the cluster status is CREATE_FAILED.
    if record["status"] == "CREATE_FAILED" and record.get("rolledBack"):
        return "ROLLBACK_COMPLETE"
    return record["status"]


def _stack_arn(record: dict) -> str:
    return f"arn:paracluster:local:{record.get('region', 'local')}:cluster/{record['name']}"


def summary(record: dict) -> dict:
    """A cluster as list-clusters and create/delete-cluster show it."""
    return {
        "clusterName": record["name"],
        "region": record.get("region", "local"),
        "version": record.get("version"),
        "cloudformationStackArn": _stack_arn(record),
        "cloudformationStackStatus": _stack_status(record),
        "clusterStatus": record["status"],
        "scheduler": {"type": "slurm"},
    }


def _instance(node: dict, with_node_type: bool = True) -> dict:
    body = {
        "instanceId": node["instanceId"],
        "instanceType": node["instanceType"],
        "launchTime": node["launchTime"],
        "privateIpAddress": node["privateIpAddress"],
        "state": node["state"],
    }
    if with_node_type:
        body["nodeType"] = node["nodeType"]
        if node.get("queueName"):
            body["queueName"] = node["queueName"]
        if node.get("poolName"):
            body["poolName"] = node["poolName"]
        body["nodeName"] = node["nodeName"]
    return body


def describe_cluster(record: dict, store: StateStore) -> dict:
    """A cluster as describe-cluster shows it."""
    body = {
        "clusterName": record["name"],
        "region": record.get("region", "local"),
        "version": record.get("version"),
        "cloudFormationStackStatus": _stack_status(record),
        "clusterStatus": record["status"],
        "scheduler": {"type": "slurm", "metadata": {"name": "slurm", "version": "22.05"}},
        "cloudformationStackArn": _stack_arn(record),
        "creationTime": record.get("creationTime"),
        "lastUpdatedTime": record.get("lastUpdatedTime"),
        "clusterConfiguration": {"url": (store.cluster_dir(record["name"]) / "cluster-config.yaml").as_uri()},
        "computeFleetStatus": record.get("computeFleetStatus", "UNKNOWN"),
        "tags": [{"key": "parallelcluster:version", "value": record.get("version")}],
    }
    head = (record.get("instances") or {}).get("head")
    if head and head.get("instanceId"):
        body["headNode"] = _instance(head, with_node_type=False)
        # ParaCluster: Slurm's REST API on the head node (JWT auth; get a token with `paracluster token`).
        from paracluster.providers.local.accounting import slurmrestd_url

        if slurmrestd_url(record):
            body["scheduler"]["slurmrestdUrl"] = slurmrestd_url(record)
    pools = _login_pools(record, store)
    if pools:
        body["loginNodes"] = pools
    if record.get("failures"):
        body["failures"] = record["failures"]
    if record.get("progress"):
        body["progress"] = record["progress"]  # ParaCluster: the create step under way
    return body


def _login_pools(record: dict, store: StateStore) -> list[dict]:
    """Each login pool as ParallelCluster describes it (its load balancer's address and health), plus the port."""
    from paracluster.providers.local import loadbalancer

    listen = (record.get("loginLoadBalancer") or {}).get("listen", {})
    if not listen:
        return []
    health = loadbalancer.health(store.cluster_dir(record["name"]))
    pools = []
    for pool, entry in listen.items():
        counts = health.get(pool)
        pools.append({
            "status": "active" if counts is not None else "failed",
            "poolName": pool,
            "address": entry["address"],
            "port": entry["port"],  # ParaCluster: the load balancer's TCP port (ParallelCluster's is always 22)
            "scheme": "internal",
            "healthyNodes": (counts or {}).get("healthy", 0),
            "unhealthyNodes": (counts or {}).get("unhealthy", 0),
        })
    return pools


def describe_instances(record: dict, node_type: str | None, queue: str | None) -> list[dict]:
    """The cluster's instances (launched nodes) as describe-cluster-instances shows them."""
    found = []
    for node in (record.get("instances") or {}).values():
        if not node.get("instanceId") or node.get("state") == "stopped":
            continue
        if node_type and node["nodeType"] != node_type:
            continue
        if queue and node.get("queueName") != queue:
            continue
        found.append(_instance(node))
    return found

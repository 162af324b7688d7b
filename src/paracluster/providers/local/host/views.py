"""The local provider's records as the provider contract reports them: clusters, instances and node failures."""

from __future__ import annotations

from paracluster.providers.local.host.state import ClusterState, NodeRecord, StateStore
from paracluster.records import ClusterRecord, InstanceRecord, LoginPoolRecord


def stack_arn(record: ClusterState) -> str:
    return f"arn:paracluster:local:{record.region}:cluster/{record.name}"


def stack_status(record: ClusterState) -> str:
    """The stack status CloudFormation would show: a rolled-back create is ROLLBACK_COMPLETE (cluster status
    CREATE_FAILED), a failed update UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED if its rollback failed too."""
    if record.status == "CREATE_FAILED" and record.observed.rolled_back:
        return "ROLLBACK_COMPLETE"
    if record.status == "UPDATE_FAILED":
        return "UPDATE_ROLLBACK_COMPLETE" if record.observed.rolled_back else "UPDATE_ROLLBACK_FAILED"
    return record.status


def cluster_record(record: ClusterState, store: StateStore, detail: bool = False) -> ClusterRecord:
    """The cluster as the provider contract reports it; `detail` adds the head node, login pools and failures."""
    from paracluster.providers.local.standins.accounting import slurmrestd_url

    cluster = ClusterRecord(
        name=record.name,
        region=record.region,
        version=record.version,
        status=record.status,
        stack_status=stack_status(record),
        stack_arn=stack_arn(record),
        creation_time=record.creation_time,
        last_updated_time=record.last_updated_time,
        fleet_status=record.observed.fleet_status,
        fleet_status_time=record.observed.fleet_status_time,
        failures=list(record.observed.failures),
        progress=record.observed.progress,
        tags={"parallelcluster:version": record.version},
    )
    if not detail:
        return cluster
    cluster.config_url = (store.cluster_dir(record.name) / "cluster-config.yaml").as_uri()
    head = record.head
    if head is not None and head.instance is not None:
        cluster.head_node = instance_record(head)
        cluster.slurmrestd_url = slurmrestd_url(record)
    cluster.login_pools = _login_pools(record, store)
    return cluster


def _login_pools(record: ClusterState, store: StateStore) -> list[LoginPoolRecord]:
    """Each login pool as ParallelCluster describes it: its load balancer's address and its nodes' health."""
    from paracluster.providers.local.standins import loadbalancer

    listen = (record.load_balancer or {}).get("listen", {})
    if not listen:
        return []
    health = loadbalancer.health(store.cluster_dir(record.name))
    pools = []
    for pool, entry in listen.items():
        counts = health.get(pool)
        pools.append(LoginPoolRecord(name=pool, address=entry["address"], port=entry["port"],
                                     status="active" if counts is not None else "failed",
                                     healthy=(counts or {}).get("healthy", 0),
                                     unhealthy=(counts or {}).get("unhealthy", 0),
                                     extra_ports=[item["port"] for item in entry.get("extra", [])]))
    return pools


def instance_record(node: NodeRecord) -> InstanceRecord:
    planned, instance = node.node, node.instance
    return InstanceRecord(
        instance_id=instance.instance_id,
        node_type=planned.node_type,
        instance_type=planned.instance_type,
        state=instance.state,
        address=node.address,
        launch_time=instance.launch_time,
        node_name=planned.name,
        queue=planned.queue,
        compute_resource=planned.compute_resource,
        pool=planned.pool,
    )


def instance_records(record: ClusterState) -> list[InstanceRecord]:
    """The cluster's launched instances as describe-cluster-instances lists them."""
    return [instance_record(node) for node in record.nodes.values() if node.instance is not None]

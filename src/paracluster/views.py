"""ParallelCluster's JSON shapes, rendered from typed records: the one place that knows pcluster's camelCase answers.

Keys ParaCluster adds are camelCase and documented in the README: `progress` (describe-cluster), `nodeName` and
`nodeFailures` (describe-cluster-instances), `port` and `extraPorts` of login pools, `scheduler.slurmrestdUrl`.
ParaCluster's own operations (a cluster's Slurm nodes and jobs, its node counts over time) are rendered here too, in
the same camelCase style.
"""

from __future__ import annotations

import json

from paracluster.records import ClusterRecord, ConfigChange, FleetStatusRecord, InstanceRecord, NodeFailure, StackEvent

# Slurm's state suffixes (sinfo's %T) and what they mean for a node of the fleet, tried in this order.
_STATE_SUFFIXES = (("~", "powered down"), ("#", "powering up"), ("%", "powering down"), ("!", "powering down"),
                   ("*", "not responding"))


def cluster_summary(cluster: ClusterRecord) -> dict:
    """A cluster as list-clusters and create/delete-cluster show it."""
    return {
        "clusterName": cluster.name,
        "region": cluster.region,
        "version": cluster.version,
        "cloudformationStackArn": cluster.stack_arn,
        "cloudformationStackStatus": cluster.stack_status,
        "clusterStatus": cluster.status,
        "scheduler": {"type": "slurm"},
    }


def cluster_description(cluster: ClusterRecord) -> dict:
    """A cluster as describe-cluster shows it."""
    scheduler = {"type": "slurm", "metadata": {"name": "slurm", "version": cluster.slurm_version}}
    if cluster.slurmrestd_url:
        scheduler["slurmrestdUrl"] = cluster.slurmrestd_url
    body = {
        "clusterName": cluster.name,
        "region": cluster.region,
        "version": cluster.version,
        "cloudFormationStackStatus": cluster.stack_status,
        "clusterStatus": cluster.status,
        "scheduler": scheduler,
        "cloudformationStackArn": cluster.stack_arn,
        "creationTime": cluster.creation_time,
        "lastUpdatedTime": cluster.last_updated_time,
        "clusterConfiguration": {"url": cluster.config_url},
        "computeFleetStatus": cluster.fleet_status,
        "tags": [{"key": key, "value": value} for key, value in cluster.tags.items()],
    }
    if cluster.head_node is not None:
        body["headNode"] = instance(cluster.head_node, with_node_type=False)
    if cluster.login_pools:
        body["loginNodes"] = [
            {
                "status": pool.status,
                "poolName": pool.name,
                "address": pool.address,
                "port": pool.port,
                **({"extraPorts": pool.extra_ports} if pool.extra_ports else {}),
                "scheme": "internal",
                "healthyNodes": pool.healthy,
                "unhealthyNodes": pool.unhealthy,
            }
            for pool in cluster.login_pools
        ]
    if cluster.failures:
        body["failures"] = [{"failureCode": f.code, "failureReason": f.reason} for f in cluster.failures]
    if cluster.progress:
        body["progress"] = cluster.progress
    return body


def instance(record: InstanceRecord, with_node_type: bool = True) -> dict:
    """An instance as describe-cluster-instances (or describe-cluster's headNode) shows it."""
    body = {
        "instanceId": record.instance_id,
        "instanceType": record.instance_type,
        "launchTime": record.launch_time,
        "privateIpAddress": record.address,
        "state": record.state,
    }
    if with_node_type:
        body["nodeType"] = record.node_type
        if record.queue:
            body["queueName"] = record.queue
        if record.pool:
            body["poolName"] = record.pool
        if record.node_name:
            body["nodeName"] = record.node_name
    return body


def node_failure(failure: NodeFailure) -> dict:
    return {"nodeName": failure.node_name, "failureCode": failure.code, "failureReason": failure.reason,
            "time": failure.time}


def compute_fleet(status: FleetStatusRecord) -> dict:
    return {"status": status.status, "lastStatusUpdatedTime": status.last_updated_time}


def _shown(value: object) -> str:
    """A changed value as ParallelCluster's API types it (a string): "-" when absent, JSON for numbers, booleans,
    lists and sections."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value)


def change_set(changes: list[ConfigChange]) -> list[dict]:
    """update-cluster's changeSet: every change it reports."""
    return [{"parameter": c.parameter, "currentValue": _shown(c.current_value),
             "requestedValue": _shown(c.requested_value)} for c in changes]


def update_validation_errors(changes: list[ConfigChange]) -> list[dict]:
    """update-cluster's updateValidationErrors: the changes not allowed now, with ParallelCluster's reason."""
    return [{"parameter": c.parameter, "currentValue": _shown(c.current_value),
             "requestedValue": _shown(c.requested_value), "message": c.message}
            for c in changes if c.check != "SUCCEEDED"]


def stack_event(event: StackEvent) -> dict:
    """An event as get-cluster-stack-events shows it (CloudFormation's fields in camelCase)."""
    body = {
        "stackId": event.stack_id,
        "eventId": event.event_id,
        "stackName": event.stack_name,
        "logicalResourceId": event.logical_resource_id,
        "physicalResourceId": event.physical_resource_id,
        "resourceType": event.resource_type,
        "timestamp": event.timestamp,
        "resourceStatus": event.resource_status,
    }
    if event.resource_status_reason:
        body["resourceStatusReason"] = event.resource_status_reason
    return body


def stack_events(events: list[StackEvent], next_token: str | None) -> dict:
    """A page of stack events (get-cluster-stack-events, get-image-stack-events) and the next page's token."""
    body = {"events": [stack_event(event) for event in events]}
    if next_token:
        body["nextToken"] = next_token
    return body


def slurm_node_category(state: str) -> str:
    """What a Slurm node state (`idle~`, `mixed#`, `down*`, `allocated`, ...) means: the dashboard's grouping."""
    base = state.rstrip("~#%!*$@^-+")
    suffix = state[len(base):]
    if base.startswith(("down", "fail")):
        return "down"
    if base.startswith("drain"):
        return "drained"
    for mark, meaning in _STATE_SUFFIXES:
        if mark in suffix:
            return meaning
    if base in ("alloc", "allocated", "mixed", "mix", "completing", "comp"):
        return "allocated"
    return base or "unknown"


def slurm_status(status) -> dict:
    """A cluster's Slurm nodes and jobs (ParaCluster's own operation)."""
    body = {
        "nodes": [{"nodeName": node.name, "queueName": node.partition, "state": node.state,
                   "category": slurm_node_category(node.state), **({"reason": node.reason} if node.reason else {})}
                  for node in status.nodes],
        "jobs": [slurm_job(job) for job in status.jobs],
    }
    if status.accounting is not None:
        body["accounting"] = [slurm_job(job) for job in status.accounting]
    return body


def slurm_job(job) -> dict:
    return {"jobId": job.job_id, "queueName": job.partition, "name": job.name, "user": job.user, "state": job.state,
            "elapsed": job.elapsed, "nodes": job.nodes, "nodeListOrReason": job.node_list_or_reason,
            "submitTime": job.submit_time, "startTime": job.start_time, "endTime": job.end_time}


def node_count_sample(sample) -> dict:
    return {"time": sample.time, "queues": sample.queues}


def log_stream(stream) -> dict:
    """A log stream as list-cluster-log-streams shows it (CloudWatch's DescribeLogStreams fields)."""
    return {
        "logStreamName": stream.name,
        "creationTime": stream.creation_time,
        "firstEventTimestamp": stream.first_event_time,
        "lastEventTimestamp": stream.last_event_time,
        "lastIngestionTime": stream.last_ingestion_time,
        "uploadSequenceToken": stream.upload_sequence_token,
        "logStreamArn": stream.arn,
    }


def log_events(page) -> dict:
    """A page of events as get-cluster-log-events shows it: nextToken goes forward, prevToken back."""
    return {"events": [{"timestamp": event.timestamp, "message": event.message} for event in page.events],
            "nextToken": page.next_forward_token, "prevToken": page.next_backward_token}


def log_group(group) -> dict:
    """A log group as `paracluster log-groups list` shows it (CloudWatch's DescribeLogGroups fields, and its
    cluster)."""
    body = {"logGroupName": group.name, "clusterName": group.cluster, "region": group.region,
            "creationTime": group.creation_time, "storedBytes": group.stored_bytes,
            "deletionPolicy": group.deletion_policy}
    if group.retention_days:
        body["retentionInDays"] = group.retention_days
    if group.cluster_deleted_time:
        body["clusterDeletedTime"] = group.cluster_deleted_time
    return body

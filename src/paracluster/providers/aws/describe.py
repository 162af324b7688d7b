"""What the aws provider reports: cluster records from the stack (status, outputs, events), EC2 (instances by
tags), the table (fleet status) and the login pools' target groups."""

from __future__ import annotations

from paracluster.providers.aws import deploy, events, fleet_status
from paracluster.providers.aws.naming import (
    CONFIG_FILE, NODE_TYPES_BY_TAG, TAG_CLUSTER, TAG_COMPUTE_RESOURCE, TAG_LOGIN_POOL, TAG_NODE_TYPE,
    TAG_PARACLUSTER_CLUSTER, TAG_PARACLUSTER_VERSION, TAG_QUEUE, cluster_prefix,
)
from paracluster.records import ClusterRecord, InstanceRecord, LoginPoolRecord, format_time

LIVE_STATES = ["pending", "running", "stopping", "stopped"]
_INTERNAL_TAGS = (TAG_PARACLUSTER_CLUSTER, TAG_PARACLUSTER_VERSION, deploy.TAG_BUCKET)


def _time(value) -> str | None:
    if value is None:
        return None
    return format_time(value.timestamp()) if hasattr(value, "timestamp") else str(value)


def cluster_instances(session, cluster: str, node_type: str | None = None, states=None) -> list[dict]:
    """EC2 instances tagged with the cluster (and a node-type tag value), in the given states."""
    filters = [{"Name": f"tag:{TAG_CLUSTER}", "Values": [cluster]},
               {"Name": "instance-state-name", "Values": states or LIVE_STATES}]
    if node_type:
        filters.append({"Name": f"tag:{TAG_NODE_TYPE}", "Values": [node_type]})
    reservations = session.pages(f"list the instances of cluster '{cluster}'", "ec2", "describe_instances",
                                 "Reservations", Filters=filters)
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def instance_record(instance: dict) -> InstanceRecord:
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    node_type = NODE_TYPES_BY_TAG.get(tags.get(TAG_NODE_TYPE, ""), "ComputeNode")
    name = tags.get("Name") if node_type == "ComputeNode" and tags.get("Name") not in (None, "Compute") else None
    return InstanceRecord(
        instance_id=instance["InstanceId"],
        node_type=node_type,
        instance_type=instance.get("InstanceType", ""),
        state=instance.get("State", {}).get("Name", "pending"),
        address=instance.get("PrivateIpAddress"),
        launch_time=_time(instance.get("LaunchTime")),
        node_name=name,  # part 2 names a compute instance after its Slurm node
        queue=tags.get(TAG_QUEUE),
        compute_resource=tags.get(TAG_COMPUTE_RESOURCE),
        pool=tags.get(TAG_LOGIN_POOL),
    )


def summary(session, stack: dict) -> ClusterRecord:
    """A cluster as list-clusters shows it: from the stack alone."""
    tags = deploy.tags(stack)
    stack_status = stack["StackStatus"]
    return ClusterRecord(
        name=tags.get(TAG_PARACLUSTER_CLUSTER, stack["StackName"]),
        region=session.region,
        version=tags.get(TAG_PARACLUSTER_VERSION, ""),
        status=events.cluster_status(stack_status),
        stack_status=stack_status,
        stack_arn=stack["StackId"],
        creation_time=_time(stack.get("CreationTime")),
        last_updated_time=_time(stack.get("LastUpdatedTime") or stack.get("CreationTime")),
        tags={key: value for key, value in tags.items() if key not in _INTERNAL_TAGS},
    )


def description(session, stack: dict) -> ClusterRecord:
    """A cluster as describe-cluster shows it: the stack, its latest events, the head node, fleet, login pools."""
    record = summary(session, stack)
    stack_status = record.stack_status
    if stack_status.endswith("_IN_PROGRESS") or record.status in events.FAILED:
        recent = events.recent_events(session, stack["StackId"])
        if stack_status.endswith("_IN_PROGRESS"):
            record.progress = events.progress(recent)
        if record.status in events.FAILED:
            failure = events.first_failure(recent, "DELETE" if stack_status.startswith("DELETE") else "CREATE")
            record.failures = [failure] if failure else []
    heads = cluster_instances(session, record.name, "HeadNode")
    if heads:
        record.head_node = instance_record(heads[0])
    if record.status not in ("CREATE_IN_PROGRESS", "CREATE_FAILED"):
        fleet = fleet_status.read(session, record.name)
        record.fleet_status, record.fleet_status_time = fleet.status, fleet.last_updated_time
    record.login_pools = login_pools(session, deploy.outputs(stack))
    bucket = deploy.tags(stack).get(deploy.TAG_BUCKET)
    if bucket:
        record.config_url = config_url(session, bucket, record.name)
    return record


def config_url(session, bucket: str, cluster: str) -> str:
    """A presigned (one hour) URL of the cluster's config, as describe-cluster's clusterConfiguration.url."""
    return session.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": f"{cluster_prefix(cluster)}/{CONFIG_FILE}"}, ExpiresIn=3600)


def login_pools(session, outputs: dict[str, str]) -> list[LoginPoolRecord]:
    pools = []
    for key, value in outputs.items():
        if not (key.startswith("OutputLoginPool") and key.endswith("Name")):
            continue
        base = key[:-len("Name")]
        ports = [int(port) for port in outputs.get(f"{base}Ports", "22").split(",") if port]
        healthy = unhealthy = 0
        target_group = outputs.get(f"{base}TargetGroup")
        if target_group:
            health = session.call(f"read the health of login pool {value}", "elbv2", "describe_target_health",
                                  TargetGroupArn=target_group)["TargetHealthDescriptions"]
            healthy = sum(1 for target in health if target["TargetHealth"]["State"] == "healthy")
            unhealthy = len(health) - healthy
        pools.append(LoginPoolRecord(name=value, address=outputs.get(f"{base}Address", ""), port=ports[0],
                                     status="active", healthy=healthy, unhealthy=unhealthy, extra_ports=ports[1:]))
    return pools

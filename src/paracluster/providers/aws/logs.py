"""Cluster logs on the aws provider: CloudWatch Logs itself (the stack's log group, its streams and events).

The nodes' CloudWatch agent writes them (part 2); these are the reads ParallelCluster's log verbs make, and the
listing and deletion of groups retained after their cluster. Streams of a node start with its short private DNS
name, so the head node's filter is its instance's.
"""

from __future__ import annotations

from paracluster.cwlogs.agent_config import LOG_GROUP_PREFIX
from paracluster.errors import BadRequestError, NotFoundError
from paracluster.providers.aws import deploy
from paracluster.providers.aws.describe import cluster_instances
from paracluster.records import LogEvent, LogEventsPage, LogGroupRecord, LogStreamRecord, format_time


def _iso(millis) -> str:
    return format_time((millis or 0) / 1000)


def _group_record(group: dict, region: str) -> LogGroupRecord:
    """A group as CloudWatch describes it; its cluster is in its name (CloudWatch knows no deletion policy, and
    not when the cluster went: a group a stack no longer holds is retained)."""
    name = group["logGroupName"]
    return LogGroupRecord(
        name=name, cluster=name[len(LOG_GROUP_PREFIX):].rsplit("-", 1)[0], region=region,
        creation_time=_iso(group.get("creationTime")), retention_days=group.get("retentionInDays"),
        deletion_policy="Retain", stored_bytes=group.get("storedBytes", 0),
    )


def cluster_log_group(session, name: str) -> LogGroupRecord:
    """The log group the cluster's stack made (an output of its stack), with the head node's DNS name prefix."""
    stack = deploy.require_cluster_stack(session, name)
    group_name = deploy.outputs(stack).get("ClusterLogGroup")
    if not group_name:
        raise BadRequestError(f"CloudWatch logging is not enabled for cluster {name}.")
    found = session.call(f"read the log group of cluster '{name}'", "logs", "describe_log_groups",
                         logGroupNamePrefix=group_name).get("logGroups", [])
    group = next((item for item in found if item["logGroupName"] == group_name), {"logGroupName": group_name})
    record = _group_record(group, session.region)
    record.cluster = name
    heads = cluster_instances(session, name, "HeadNode", ["running"])
    if heads and heads[0].get("PrivateDnsName"):
        record.head_node_hostname = heads[0]["PrivateDnsName"].split(".")[0]
    return record


def log_groups(session) -> list[LogGroupRecord]:
    """The log groups of the region named as ParallelCluster names cluster groups."""
    groups = session.pages("list the clusters' log groups", "logs", "describe_log_groups", "logGroups",
                           logGroupNamePrefix=LOG_GROUP_PREFIX)
    return [_group_record(group, session.region) for group in groups]


def delete_log_group(session, group: str) -> None:
    session.call(f"delete log group {group}", "logs", "delete_log_group", logGroupName=group)


def log_streams(session, group: str, prefix: str | None, next_token: str | None):
    params = {"logGroupName": group, **({"logStreamNamePrefix": prefix} if prefix else {}),
              **({"nextToken": next_token} if next_token else {})}
    page = session.call(f"list the log streams of {group}", "logs", "describe_log_streams", **params)
    streams = [LogStreamRecord(
        name=item["logStreamName"], arn=item.get("arn", ""), creation_time=_iso(item.get("creationTime")),
        first_event_time=_iso(item.get("firstEventTimestamp")), last_event_time=_iso(item.get("lastEventTimestamp")),
        last_ingestion_time=_iso(item.get("lastIngestionTime")),
        upload_sequence_token=item.get("uploadSequenceToken", ""), stored_bytes=item.get("storedBytes", 0),
    ) for item in page.get("logStreams", [])]
    return streams, page.get("nextToken")


def log_events(session, group: str, stream: str, start, end, start_from_head: bool, limit,
               next_token) -> LogEventsPage:
    params = {"logGroupName": group, "logStreamName": stream, "startFromHead": start_from_head,
              **{key: value for key, value in (("startTime", start), ("endTime", end), ("limit", limit),
                                               ("nextToken", next_token)) if value is not None}}
    try:
        page = session.call(f"read log stream {stream}", "logs", "get_log_events", **params)
    except NotFoundError:
        raise NotFoundError(f"The specified log stream {stream} does not exist.") from None
    return LogEventsPage([LogEvent(_iso(item["timestamp"]), item["message"]) for item in page.get("events", [])],
                         page.get("nextForwardToken", ""), page.get("nextBackwardToken", ""))

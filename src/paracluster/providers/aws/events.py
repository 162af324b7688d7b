"""Stack events: progress of a create or delete, the failure that ended one, and get-cluster-stack-events' shape."""

from __future__ import annotations

from paracluster.records import Failure, StackEvent, format_time

# Stack statuses and the cluster status ParallelCluster reports for them (others map to themselves).
CLUSTER_STATUS = {
    "ROLLBACK_IN_PROGRESS": "CREATE_FAILED",
    "ROLLBACK_FAILED": "CREATE_FAILED",
    "ROLLBACK_COMPLETE": "CREATE_FAILED",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED": "UPDATE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE": "UPDATE_FAILED",
}
FAILED = ("CREATE_FAILED", "DELETE_FAILED", "UPDATE_FAILED")
# Reasons CloudFormation gives to resources it stopped because another one failed: never the cause.
_CONSEQUENCES = ("Resource creation cancelled", "Resource update cancelled", "The following resource(s) failed")
# Failure codes of describe-cluster, by the resource that failed.
_CODES = {"HeadNodeWaitCondition": "HeadNodeBootstrapFailure", "HeadNode": "HeadNodeFailure"}


def cluster_status(stack_status: str) -> str:
    return CLUSTER_STATUS.get(stack_status, stack_status)


def recent_events(session, stack_id: str) -> list[dict]:
    """The stack's most recent events, newest first (one page: what progress and failures need)."""
    return session.call("read the stack events", "cloudformation", "describe_stack_events",
                        StackName=stack_id).get("StackEvents", [])


def first_failure(events: list[dict], operation: str) -> Failure | None:
    """The earliest failed resource event of the latest operation, as describe-cluster's failure."""
    failed = [event for event in events
              if str(event.get("ResourceStatus", "")).endswith("_FAILED")
              and not str(event.get("ResourceStatusReason", "")).startswith(_CONSEQUENCES)
              and event.get("ResourceType") != "AWS::CloudFormation::Stack"]
    if not failed:
        stack_failures = [event for event in events if str(event.get("ResourceStatus", "")).endswith("_FAILED")]
        if not stack_failures:
            return None
        failed = stack_failures
    event = min(failed, key=lambda item: item["Timestamp"])
    default = "ClusterDeletionFailure" if operation == "DELETE" else "ClusterCreationFailure"
    code = _CODES.get(event.get("LogicalResourceId", ""), default)
    reason = f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): {event.get('ResourceStatusReason')}"
    return Failure(code, reason)


def progress(events: list[dict]) -> str | None:
    """The step under way: the latest resource event (`HeadNode CREATE_IN_PROGRESS`)."""
    for event in events:
        if event.get("ResourceType") != "AWS::CloudFormation::Stack":
            return f"{event.get('LogicalResourceId')} {event.get('ResourceStatus')}"
    return None


def event_record(event: dict) -> StackEvent:
    """A CloudFormation event as the provider contract's record (get-cluster-stack-events shows it)."""
    stamp = event.get("Timestamp")
    return StackEvent(
        event_id=event.get("EventId", ""), stack_id=event.get("StackId", ""), stack_name=event.get("StackName", ""),
        logical_resource_id=event.get("LogicalResourceId", ""),
        physical_resource_id=event.get("PhysicalResourceId", ""), resource_type=event.get("ResourceType", ""),
        timestamp=format_time(stamp.timestamp()) if hasattr(stamp, "timestamp") else str(stamp),
        resource_status=event.get("ResourceStatus", ""), resource_status_reason=event.get("ResourceStatusReason"),
    )

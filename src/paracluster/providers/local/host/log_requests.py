"""The host service's log requests: a cluster's log group, the log groups kept (also after their cluster), their
streams and events, as CloudWatch Logs answers (collection: logcollect.py; files: standins/cwlogs.py)."""

from __future__ import annotations

from paracluster.cwlogs.query import event_page, iso_millis, page_of
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.records import to_data


def _logs(service):
    return service.collector.logs


def cluster_log_group(service, name: str, region: str | None = None) -> dict:
    """The log group of an existing cluster; a cluster whose logging is disabled has none (ParallelCluster's 400)."""
    record = service.record(name, region)
    group = service.collector.group_of(record)
    if group is None:
        raise BadRequestError(f"CloudWatch logging is not enabled for cluster {name}.")
    found = _logs(service).group(group.name) or group
    head = record.head
    if head is not None and head.instance is not None:
        spec = service.collector.node_spec(service.store.node_dir(name, head.name))
        found.head_node_hostname = (spec or {}).get("hostname") or head.name
    return to_data(found)


def log_groups(service, region: str | None = None) -> list:
    return [to_data(group) for group in _logs(service).groups() if region is None or group.region == region]


def delete_log_group(service, group: str) -> dict:
    found = _logs(service).group(group)
    if found is None:
        raise NotFoundError(f"log group '{group}' does not exist; see `paracluster log-groups list`")
    record = service.store.load(found.cluster)
    if record is not None and found.cluster_deleted_time is None:
        raise ConflictError(f"log group '{group}' belongs to cluster '{found.cluster}', which still exists; delete "
                            "the cluster first (its DeletionPolicy decides whether the group stays)")
    _logs(service).delete_group(group)
    return {"message": f"Deleted log group {group}."}


def log_streams(service, group: str, prefix: str | None = None, next_token: str | None = None) -> dict:
    logs = _logs(service)
    found = logs.group(group)
    if found is None:
        raise NotFoundError(f"log group '{group}' does not exist; see `paracluster log-groups list`")
    names = [name for name in logs.stream_names(group) if not prefix or name.startswith(prefix)]
    page, token = page_of(names, next_token)
    streams = [stream for stream in (logs.stream(group, found.region, name) for name in page) if stream]
    return {"streams": to_data(streams), "next_token": token}


def log_events(service, group: str, stream: str, start: int | None = None, end: int | None = None,
               start_from_head: bool = False, limit: int | None = None, next_token: str | None = None) -> dict:
    if _logs(service).group(group) is None:
        raise NotFoundError(f"log group '{group}' does not exist; see `paracluster log-groups list`")
    page = event_page(_logs(service).events(group, stream), start, end, start_from_head, limit, next_token)
    # LogEventsPage's data, built directly: a page holds up to 10,000 events.
    return {"events": [{"timestamp": iso_millis(event.timestamp), "message": event.message} for event in page.events],
            "next_forward_token": page.forward_token, "next_backward_token": page.backward_token}

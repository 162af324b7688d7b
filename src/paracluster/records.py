"""Typed records that providers return and keep (clusters, nodes, instances, failures), and their one time format.

Records are plain dataclasses with snake_case fields; `to_data` and `from_data` turn any of them into JSON-ready
data and back (field names as they are), so a record survives a socket or a state file unchanged. ParallelCluster's
camelCase JSON is rendered from records in one place, `paracluster.views`. Standard library only: the head node's
programs use these records too.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import datetime, timezone

# --- time -------------------------------------------------------------------------------------------------------


def now() -> str:
    """The current time as every record keeps it: ISO 8601, UTC, milliseconds, `Z` (ParallelCluster's form)."""
    return format_time(datetime.now(timezone.utc).timestamp())


def format_time(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of a record's time, or None when there is none."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- records ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Failure:
    """Why an operation on a cluster failed (describe-cluster's `failures`)."""

    code: str
    reason: str


@dataclasses.dataclass
class NodeFailure:
    """A compute node's launch or bootstrap failure, with the fleet's code (InsufficientInstanceCapacity, ...)."""

    node_name: str
    code: str
    reason: str
    time: str


@dataclasses.dataclass
class InstanceRecord:
    """One instance of a cluster: the head node, a login node or a compute node backing a Slurm node."""

    instance_id: str
    node_type: str  # HeadNode | ComputeNode | LoginNode
    instance_type: str
    state: str  # pending | running | stopping | stopped | terminated | failed
    address: str | None = None
    launch_time: str | None = None
    node_name: str | None = None  # the Slurm node (compute) or the node's name (head, login)
    queue: str | None = None
    compute_resource: str | None = None
    pool: str | None = None
    reason: str | None = None  # why it failed, when state is failed


@dataclasses.dataclass
class LoginPoolRecord:
    """A login pool behind its load balancer."""

    name: str
    address: str
    port: int
    status: str  # active | failed
    healthy: int = 0
    unhealthy: int = 0
    extra_ports: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ClusterRecord:
    """What a provider reports about one cluster."""

    name: str
    region: str
    version: str
    status: str  # CREATE_IN_PROGRESS | CREATE_COMPLETE | CREATE_FAILED | DELETE_IN_PROGRESS | ...
    stack_status: str
    stack_arn: str
    creation_time: str | None = None
    last_updated_time: str | None = None
    fleet_status: str = "UNKNOWN"
    fleet_status_time: str | None = None
    failures: list[Failure] = dataclasses.field(default_factory=list)
    progress: str | None = None  # the step of the operation under way
    head_node: InstanceRecord | None = None
    login_pools: list[LoginPoolRecord] = dataclasses.field(default_factory=list)
    slurm_version: str = "22.05"
    slurmrestd_url: str | None = None
    config_url: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class FleetStatusRecord:
    """The compute fleet's status as update/describe-compute-fleet report it."""

    status: str
    last_updated_time: str | None


@dataclasses.dataclass
class ConfigChange:
    """One change of an update-cluster request, with its update policy and ParallelCluster's check of it."""

    parameter: str  # Scheduling.SlurmQueues[q1].ComputeResources[cr1].MaxCount
    current_value: object
    requested_value: object
    update_policy: str
    check: str = "SUCCEEDED"  # SUCCEEDED | ACTION NEEDED | FAILED
    message: str | None = None  # reason and action needed, when the check did not succeed


@dataclasses.dataclass
class UpdateOutcome:
    """What a provider did with an update-cluster request: `result` is STARTED, CHECKED (dry run), REFUSED (a
    change is not allowed now) or NO_CHANGES; `cluster` is set once the update started."""

    result: str
    changes: list[ConfigChange] = dataclasses.field(default_factory=list)
    cluster: ClusterRecord | None = None


@dataclasses.dataclass
class StackEvent:
    """A CloudFormation-style event of a cluster's stack: a create, update or delete step, or the stack's status."""

    event_id: str
    stack_id: str
    stack_name: str
    logical_resource_id: str
    physical_resource_id: str
    resource_type: str
    timestamp: str
    resource_status: str
    resource_status_reason: str | None = None


@dataclasses.dataclass
class LogGroupRecord:
    """A cluster's CloudWatch log group: kept with the cluster, and after it when its DeletionPolicy is Retain."""

    name: str  # /aws/parallelcluster/<cluster>-<YYYYMMDDhhmm>
    cluster: str
    region: str
    creation_time: str
    retention_days: int | None  # None: events never expire
    deletion_policy: str  # Retain | Delete
    stored_bytes: int = 0
    cluster_deleted_time: str | None = None  # set once the cluster is gone (a retained group)
    head_node_hostname: str | None = None  # the head node's stream prefix (--filters Name=node-type,Values=HeadNode)


@dataclasses.dataclass
class LogStreamRecord:
    """A log stream (`<hostname>.<instance id>.<log name>`) and the times of its events."""

    name: str
    arn: str
    creation_time: str
    first_event_time: str
    last_event_time: str
    last_ingestion_time: str
    upload_sequence_token: str
    stored_bytes: int = 0


@dataclasses.dataclass
class LogEvent:
    timestamp: str
    message: str


@dataclasses.dataclass
class LogEventsPage:
    """A page of a stream's events, oldest first, with the tokens of the next and the previous page."""

    events: list[LogEvent]
    next_forward_token: str
    next_backward_token: str


# --- data conversion ----------------------------------------------------------------------------------------------


def to_data(record: object) -> object:
    """JSON-ready data of a record (nested records, lists and dicts included)."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {field.name: to_data(getattr(record, field.name)) for field in dataclasses.fields(record)}
    if isinstance(record, (list, tuple)):
        return [to_data(item) for item in record]
    if isinstance(record, dict):
        return {key: to_data(value) for key, value in record.items()}
    return record


def from_data(kind: type, data: object):
    """The record of type `kind` that `to_data` made `data` from; keys the record does not know are ignored."""
    return _converter(kind)(data)


@functools.cache
@typing.no_type_check
def _converter(kind):
    """A function converting data to `kind`, worked out once per type: a local cluster's record (a thousand nodes)
    is converted on every load, and the cluster manager lists the fleet every second."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return _converter(options[0]) if len(options) == 1 else _identity
    if origin is list:
        (item,) = typing.get_args(kind) or (object,)
        convert_item = _converter(item)
        return lambda data: None if data is None else [convert_item(value) for value in data]
    if origin is dict:
        _, item = typing.get_args(kind) or (str, object)
        convert_item = _converter(item)
        return lambda data: None if data is None else {key: convert_item(value) for key, value in data.items()}
    if dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        fields = {field.name: _converter(hints[field.name]) for field in dataclasses.fields(kind) if field.init}
        return lambda data: None if data is None else kind(
            **{key: fields[key](value) for key, value in data.items() if key in fields})
    return _identity


def _identity(data):
    return data


_HINTS: dict[type, dict] = {}


def _hints(kind: type) -> dict:
    # Resolving string annotations is slow; records are converted often (every state load).
    if kind not in _HINTS:
        _HINTS[kind] = typing.get_type_hints(kind)
    return _HINTS[kind]

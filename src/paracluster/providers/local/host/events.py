"""Stack events of a local cluster: each create, update and delete step as a CloudFormation-style event.

Events go to a JSON-lines file of the cluster directory (so they never load with the record, and go with the
cluster), keeping the latest KEEP. The stack itself is an event source of type AWS::CloudFormation::Stack, as in
CloudFormation; each step is a resource of type ParaCluster::Local::Step named by its logical id.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

from paracluster.records import StackEvent, from_data, now, to_data

EVENTS_FILE = "stack-events.jsonl"
KEEP = 500  # events kept per cluster: a few dozen updates' worth
PAGE = 100  # events per page, as CloudFormation's DescribeStackEvents
STACK_TYPE = "AWS::CloudFormation::Stack"
STEP_TYPE = "ParaCluster::Local::Step"
_LOCK = threading.Lock()


def add(cluster_dir: Path, name: str, stack_arn: str, status: str, logical_id: str | None = None,
        reason: str | None = None) -> None:
    """Record one event: of the stack (no logical id) or of one step."""
    event = StackEvent(
        event_id=str(uuid.uuid4()), stack_id=stack_arn, stack_name=name,
        logical_resource_id=logical_id or name,
        physical_resource_id=stack_arn if logical_id is None else f"{stack_arn}/{logical_id}",
        resource_type=STACK_TYPE if logical_id is None else STEP_TYPE,
        timestamp=now(), resource_status=status, resource_status_reason=reason,
    )
    path = cluster_dir / EVENTS_FILE
    if not cluster_dir.is_dir():
        return  # the cluster is gone (its delete ended): nothing to record to
    with _LOCK:
        with path.open("a") as out:
            out.write(json.dumps(to_data(event)) + "\n")
        lines = path.read_text().splitlines()
        if len(lines) > KEEP + KEEP // 2:  # rewrite only now and then, not on every event
            path.write_text("\n".join(lines[-KEEP:]) + "\n")


def page(cluster_dir: Path, next_token: str | None) -> tuple[list[StackEvent], str | None]:
    """A page of events, newest first (as CloudFormation lists them), and the token of the next page."""
    try:
        lines = (cluster_dir / EVENTS_FILE).read_text().splitlines()
    except FileNotFoundError:
        lines = []
    events = [from_data(StackEvent, json.loads(line)) for line in reversed(lines[-KEEP:]) if line.strip()]
    start = int(next_token) if next_token and next_token.isdigit() else 0
    chosen = events[start:start + PAGE]
    more = start + PAGE < len(events)
    return chosen, str(start + PAGE) if more else None


class StepEvents:
    """Events of one operation: the stack's status, and each step's IN_PROGRESS and COMPLETE/FAILED."""

    def __init__(self, cluster_dir: Path, name: str, stack_arn: str, verb: str):
        self.dir, self.name, self.arn, self.verb = cluster_dir, name, stack_arn, verb  # verb: CREATE|UPDATE|DELETE

    def stack(self, status: str, reason: str | None = None) -> None:
        add(self.dir, self.name, self.arn, status, None, reason)

    def started(self, logical_id: str, description: str) -> None:
        add(self.dir, self.name, self.arn, f"{self.verb}_IN_PROGRESS", logical_id, description)

    def done(self, logical_id: str) -> None:
        add(self.dir, self.name, self.arn, f"{self.verb}_COMPLETE", logical_id)

    def failed(self, logical_id: str, reason: str) -> None:
        add(self.dir, self.name, self.arn, f"{self.verb}_FAILED", logical_id, reason)

"""The REST app in-process (Starlette's test client) on an in-memory provider behind `api`, and API tokens."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client; httpx (a test dependency anyway) works the same here.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from paracluster import api
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.providers.base import InstanceListing, NodeCountSample, SlurmJob, SlurmNode, SlurmStatus
from paracluster.records import (
    ClusterRecord,
    ConfigChange,
    FleetStatusRecord,
    InstanceRecord,
    LogEvent,
    LogEventsPage,
    LogGroupRecord,
    LogStreamRecord,
    StackEvent,
    UpdateOutcome,
    format_time,
    now,
)
from paracluster.rest.app import create_app
from paracluster.rest.auth import TokenStore


class MemoryProvider:
    """The provider contract on a dict: what a REST request does reaches it through `api`, as the CLI's does."""

    name = "memory"
    services = None

    LAUNCHED = "2026-01-02T03:04:05.000Z"

    def __init__(self):
        self.clusters: dict[str, ClusterRecord] = {}
        self.calls: list[tuple] = []

    def check_config(self, config, updating=None) -> None:
        pass

    def create_cluster(self, name, config_text, region, rollback_on_failure):
        self.calls.append(("create_cluster", name, region, rollback_on_failure))
        if name in self.clusters:
            raise ConflictError(f"cluster '{name}' already exists")
        record = ClusterRecord(name=name, region=region or "us-east-1", version="0.1.0", status="CREATE_IN_PROGRESS",
                               stack_status="CREATE_IN_PROGRESS", stack_arn=f"arn:test:{name}", creation_time=now(),
                               last_updated_time=now(), fleet_status="RUNNING", fleet_status_time=now())
        self.clusters[name] = record
        return record

    def _get(self, name, region):
        record = self.clusters.get(name)
        if record is None or (region and record.region != region):
            raise NotFoundError(f"cluster '{name}' does not exist")
        return record

    def delete_cluster(self, name, region):
        self.calls.append(("delete_cluster", name, region))
        record = self._get(name, region)
        record.status = record.stack_status = "DELETE_IN_PROGRESS"
        return record

    def describe_cluster(self, name, region):
        return self._get(name, region)

    def list_clusters(self, region):
        return [r for r in self.clusters.values() if region is None or r.region == region]

    def cluster_instances(self, name, region):
        self._get(name, region)
        return InstanceListing([
            InstanceRecord("i-head", "HeadNode", "c5.xlarge", "running", "10.0.0.2", self.LAUNCHED, "head"),
            InstanceRecord("i-c1", "ComputeNode", "c5.xlarge", "running", "10.0.0.3", self.LAUNCHED, "q1-st-c5-1",
                           "q1"),
        ], [])

    def compute_fleet(self, name, region):
        record = self._get(name, region)
        return FleetStatusRecord(record.fleet_status, record.fleet_status_time)

    def update_compute_fleet(self, name, region, status):
        record = self._get(name, region)
        if status == "START_REQUESTED" and record.fleet_status == "RUNNING":
            raise ConflictError(f"the compute fleet of cluster '{name}' is RUNNING; {status} is not possible now")
        record.fleet_status = status
        return FleetStatusRecord(status, now())

    def update_cluster(self, name, region, config_text, force, dryrun):
        # The memory provider's whole policy: MaxCount may rise; the head node's instance type may not change.
        record = self._get(name, region)
        self.calls.append(("update_cluster", name, region, force, dryrun))
        if "c5.9xlarge" in config_text:
            change = ConfigChange("HeadNode.InstanceType", "c5.xlarge", "c5.9xlarge", "UNSUPPORTED", "FAILED",
                                  "Update actions are not currently supported for the 'InstanceType' parameter.")
            return UpdateOutcome("REFUSED" if not force else "STARTED", [change], None if not force else record)
        if "MaxCount: 20" not in config_text:
            return UpdateOutcome("NO_CHANGES")
        changes = [ConfigChange("Scheduling.SlurmQueues[queue1].ComputeResources[cr1].MaxCount", 10, 20, "SUPPORTED")]
        if dryrun:
            return UpdateOutcome("CHECKED", changes)
        record.status = "UPDATE_IN_PROGRESS"
        return UpdateOutcome("STARTED", changes, record)

    def delete_cluster_instances(self, name, region):
        self._get(name, region)
        self.calls.append(("delete_cluster_instances", name, region))

    def stack_events(self, name, region, next_token):
        self._get(name, region)
        events = [StackEvent(f"e{i}", f"arn:test:{name}", name, "HeadNode", "i-head", "AWS::EC2::Instance", now(),
                             "CREATE_COMPLETE") for i in range(3)]
        start = int(next_token or 0)
        return events[start:start + 2], ("2" if start == 0 else None)

    def slurm_status(self, name, region):
        self._get(name, region)
        return SlurmStatus(nodes=[SlurmNode("q1-st-c5-1", "q1", "idle"), SlurmNode("q1-dy-c5-1", "q1", "idle~"),
                                  SlurmNode("q1-dy-c5-2", "q1", "down~", "(Code:InsufficientInstanceCapacity)")],
                           jobs=[SlurmJob("7", "q1", "wrap", "ec2-user", "RUNNING", "0:05", 1, "q1-st-c5-1")])

    def node_count_history(self, name, region):
        self._get(name, region)
        return [NodeCountSample(now(), {"q1": {"pending": 0, "running": 1}})]

    # Cluster logs: each cluster has a log group with two streams of three events (seconds 1, 2, 3 of 2026-01-02);
    # groups of deleted clusters stay in `retained`.
    STREAMS = ("head.i-head.slurmctld", "q1-st-c5-1.i-c1.slurmd")
    retained: list = []

    def _group(self, name):
        record = self.clusters[name]
        return LogGroupRecord(f"/aws/parallelcluster/{name}-202601020304", name, record.region, "2026-01-02T03:04:05.000Z",
                              180, "Retain", head_node_hostname="head")

    def cluster_log_group(self, name, region):
        self._get(name, region)
        if name.startswith("nolog"):
            raise BadRequestError(f"CloudWatch logging is not enabled for cluster {name}.")
        return self._group(name)

    def log_groups(self, region):
        return [self._group(name) for name in self.clusters] + self.retained

    def log_streams(self, group, prefix, next_token):
        self.calls.append(("log_streams", group.name, prefix, next_token))
        return [LogStreamRecord(name, f"arn:{name}", "2026-01-02T03:05:00.000Z", "2026-01-02T03:05:01.000Z",
                                "2026-01-02T03:05:03.000Z", "2026-01-02T03:05:00.000Z", "3")
                for name in self.STREAMS if not prefix or name.startswith(prefix)], None

    def log_events(self, group, stream, start, end, start_from_head, limit, next_token):
        from paracluster.cwlogs.query import StoredEvent, event_page

        if stream not in self.STREAMS:
            raise NotFoundError(f"The specified log stream {stream} does not exist.")
        base = 1767323100000  # 2026-01-02T03:05:00Z, after the group was made
        stored = [StoredEvent(i, base + 1000 * (i + 1), base, f"{stream} line {i}") for i in range(3)]
        page = event_page(stored, start, end, start_from_head, limit, next_token)
        return LogEventsPage([LogEvent(format_time(e.timestamp / 1000), e.message) for e in page.events],
                             page.forward_token, page.backward_token)

    def delete_log_group(self, group, region):
        self.retained = [kept for kept in self.retained if kept.name != group]

    def diagnostics(self, name, region):
        import copy
        import json
        from pathlib import Path

        from paracluster.diagnose.facts import ClusterFacts
        from paracluster.records import from_data

        self._get(name, region)
        captured = Path(__file__).parents[1] / "diagnose" / "healthy_cluster.json"
        facts = from_data(ClusterFacts, copy.deepcopy(json.loads(captured.read_text())))
        facts.cluster = name
        return facts


@pytest.fixture
def provider(monkeypatch):
    memory = MemoryProvider()
    monkeypatch.setattr(api, "provider", lambda name=None: memory)
    return memory


@pytest.fixture
def tokens(tmp_path):
    return TokenStore(tmp_path / "state")


@pytest.fixture
def client(provider, tokens):
    """A test client whose requests carry a read-write token (per request headers can replace it)."""
    token = tokens.create(name="test")["token"]
    with TestClient(create_app(tokens), headers={"Authorization": f"Bearer {token}"}) as test_client:
        yield test_client

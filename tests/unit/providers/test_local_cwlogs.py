"""The local provider's CloudWatch Logs: log groups as files, and the host service's collector reading nodes' files
from the host side (their overlay upper layer, bind mounts and host log directory), on a fake node layout."""

from __future__ import annotations

import json
import os
import time

import pytest

from paracluster.cwlogs.agent_config import agent_config
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.local.host import log_requests
from paracluster.providers.local.host.logcollect import NodeView
from paracluster.providers.local.host.service import Service
from paracluster.providers.local.host.state import ClusterState, Instance, NodeRecord, Observed
from paracluster.providers.local.standins.cwlogs import LogStore
from paracluster.records import LogGroupRecord, now
from paracluster.settings import load_settings
from support import MINIMAL_CLUSTER

GROUP = "/aws/parallelcluster/demo-202601020304"


def group(**changes) -> LogGroupRecord:
    fields = dict(name=GROUP, cluster="demo", region="us-east-1", creation_time=now(), retention_days=1,
                  deletion_policy="Retain")
    return LogGroupRecord(**{**fields, **changes})


def test_streams_keep_events_in_arrival_order_and_report_their_times(tmp_path):
    store = LogStore(tmp_path)
    store.save_group(group())
    store.append(GROUP, "head.i-1.slurmctld", [(1000, 1500, "one"), (2000, 2500, "two")])
    store.append(GROUP, "head.i-1.slurmctld", [(3000, 3500, "three")])
    store.append(GROUP, "a/b.i-1.x", [(5, 5, "slash")])
    assert sorted(store.stream_names(GROUP)) == ["a/b.i-1.x", "head.i-1.slurmctld"]
    assert [(e.seq, e.message) for e in store.events(GROUP, "head.i-1.slurmctld")] == \
        [(0, "one"), (1, "two"), (2, "three")]
    stream = store.stream(GROUP, "us-east-1", "head.i-1.slurmctld")
    assert stream.first_event_time == "1970-01-01T00:00:01.000Z"
    assert stream.last_event_time == "1970-01-01T00:00:03.000Z"
    assert stream.last_ingestion_time == "1970-01-01T00:00:03.500Z"
    assert stream.arn == f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:log-stream:head.i-1.slurmctld"
    # A line still being written is not an event yet; numbering goes on after it once it is complete.
    path = tmp_path / "logs" / "demo-202601020304" / "streams" / "head.i-1.slurmctld.jsonl"
    with path.open("a") as out:
        out.write('[3, 4000, 4000, "hal')
    assert len(store.events(GROUP, "head.i-1.slurmctld")) == 3
    with pytest.raises(NotFoundError, match="The specified log stream nope does not exist."):
        store.events(GROUP, "nope")
    with pytest.raises(BadRequestError, match="is invalid"):
        store.append(GROUP, "bad:name", [(1, 1, "x")])


def test_retention_drops_old_events_and_empty_streams(tmp_path):
    store = LogStore(tmp_path)
    store.save_group(group(retention_days=1))
    day = 86400 * 1000
    store.append(GROUP, "old", [(0, 0, "gone")])
    store.append(GROUP, "mixed", [(0, 0, "gone"), (3 * day, 3 * day, "kept")])
    assert store.prune(store.group(GROUP), now=3 * 86400 + 10) == 2
    assert store.stream_names(GROUP) == ["mixed"]
    assert [e.message for e in store.events(GROUP, "mixed")] == ["kept"]
    store.append(GROUP, "mixed", [(3 * day, 3 * day, "next")])
    assert [e.seq for e in store.events(GROUP, "mixed")] == [1, 2]  # numbers are not reused


def test_a_node_view_reads_what_the_node_wrote_and_never_the_hosts_own_files(tmp_path):
    upper, shared, node_dir = tmp_path / "upper", tmp_path / "home", tmp_path / "node"
    (upper / "var/log/slurm").mkdir(parents=True)
    (upper / "var/log/slurm/slurmd.log").write_text("slurmd\n")
    os.symlink("/var/log/slurm/slurmd.log", upper / "var/log/slurmd.log")  # absolute: inside the node's view
    os.symlink("slurm/slurmd.log", upper / "var/log/relative.log")
    os.symlink("/etc/hostname", upper / "var/log/escape.log")  # the host's file: not the node's
    (shared / "user").mkdir(parents=True)
    (shared / "user/job.log").write_text("job\n")
    (node_dir / "logs").mkdir(parents=True)
    (node_dir / "logs/bootstrap.log").write_text("phase\n")
    view = NodeView({"overlay": {"upper": str(upper)}, "node_dir": str(node_dir),
                     "binds": [{"source": str(shared), "target": "/home"}]})
    assert view.read("/var/log/slurmd.log") == "slurmd\n"
    assert view.read("/var/log/relative.log") == "slurmd\n"
    assert view.read("/var/log/escape.log") is None
    assert view.read("/etc/hostname") is None  # only in the lower layer: the host's
    assert view.read("/home/user/job.log") == "job\n"
    assert view.read("/run/paracluster/node/logs/bootstrap.log") == "phase\n"
    assert view.glob("/var/log/slurm/*.log") == str(upper / "var/log/slurm/slurmd.log")


class FakeCluster:
    """A cluster record with one compute node on a fake node layout (no namespaces): its spec, upper layer and host
    log directory, with ParallelCluster's agent config for the node."""

    def __init__(self, service: Service, config_text: str = MINIMAL_CLUSTER):
        self.service, self.store = service, service.store
        record = ClusterState(name="demo", region="us-east-1", version="0", creation_time="2026-01-02T03:04:05.000Z",
                              observed=Observed(status="CREATE_COMPLETE"))
        node = PlannedNode("queue1-st-cr1-1", "ComputeNode", "c5.xlarge", "queue1", "cr1", static=True)
        record.nodes = {node.name: NodeRecord(node, 1, "10.0.0.3", Instance("i-first", "running", now()))}
        self.store.create(record)
        (self.store.cluster_dir("demo") / "cluster-config.yaml").write_text(config_text)
        self.node_dir = self.store.node_dir("demo", node.name)
        self.upper = self.store.cluster_dir("demo") / "ovl" / node.name / "upper"
        self.boot()

    def boot(self) -> None:
        """A new root disk (as each instance gets), the agent config, and the spec."""
        (self.upper / "opt/aws/amazon-cloudwatch-agent/etc").mkdir(parents=True, exist_ok=True)
        config = agent_config("ComputeFleet", "amazon", frozenset(), GROUP, "queue1-st-cr1-1")
        (self.upper / "opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json").write_text(
            json.dumps(config))
        (self.upper / "etc/chef").mkdir(parents=True, exist_ok=True)
        (self.upper / "etc/chef/dna.json").write_text(json.dumps({"cluster": {"cw_logging_enabled": "true"}}))
        (self.upper / "var/log/slurm").mkdir(parents=True, exist_ok=True)
        (self.node_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.node_dir / "spec.json").write_text(json.dumps({
            "hostname": "queue1-st-cr1-1", "node_dir": str(self.node_dir), "binds": [],
            "overlay": {"upper": str(self.upper)}}))

    def write(self, path: str, text: str) -> None:
        target = self.node_dir / "logs" / path.rsplit("/", 1)[1] if path.startswith("/run/") else \
            self.upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as out:
            out.write(text)

    def relaunch(self, instance_id: str) -> None:
        """The node stops (the collector reads its last lines), its root disk goes, a new instance boots."""
        self.service.collector.nodes_stopped([self.node_dir])
        for path in sorted(self.upper.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        self.boot()

        def new(record):
            record.nodes["queue1-st-cr1-1"].instance = Instance(instance_id, "running", now())

        self.store.update("demo", new)

    def streams(self) -> dict[str, list[str]]:
        logs = self.service.collector.logs
        group_name = self.service.collector.group_of(self.store.load("demo")).name
        return {name: [e.message for e in logs.events(group_name, name)] for name in logs.stream_names(group_name)}


@pytest.fixture
def cluster():
    return FakeCluster(Service(load_settings()))


def test_the_collector_ships_listed_files_into_streams_named_after_host_instance_and_log(cluster):
    cluster.write("/var/log/slurm/slurmd.log", "[2026-01-02T03:04:06.250] slurmd started\n[2026-01-02T03:04:07.0")
    cluster.write("/run/paracluster/node/logs/bootstrap.log", "phase base setup\n")
    cluster.service.collector.collect_all()
    assert cluster.streams() == {"queue1-st-cr1-1.i-first.slurmd": ["[2026-01-02T03:04:06.250] slurmd started"],
                                 "queue1-st-cr1-1.i-first.cloud-init-output": ["phase base setup"]}
    event = cluster.service.collector.logs.events(GROUP, "queue1-st-cr1-1.i-first.slurmd")[0]
    assert event.timestamp == int(time.mktime((2026, 1, 2, 3, 4, 6, 0, 0, -1))) * 1000 + 250  # read off the line
    cluster.service.collector.collect_all()  # nothing new: nothing repeated
    assert len(cluster.streams()["queue1-st-cr1-1.i-first.slurmd"]) == 1


def test_a_stopped_nodes_last_lines_stay_with_its_instance_and_the_next_instance_gets_new_streams(cluster):
    cluster.write("/run/paracluster/node/logs/bootstrap.log", "first boot\n")
    cluster.write("/var/log/parallelcluster/bootstrap_error_msg", '{"message": "OnNodeConfigured failed"}')
    cluster.service.collector.collect_all()
    cluster.write("/run/paracluster/node/logs/bootstrap.log", "script exited with code 3")  # no newline yet
    cluster.relaunch("i-second")
    cluster.write("/run/paracluster/node/logs/bootstrap.log", "\nsecond boot\n")
    cluster.service.collector.collect_all()
    streams = cluster.streams()
    assert streams["queue1-st-cr1-1.i-first.cloud-init-output"] == ["first boot", "script exited with code 3"]
    assert streams["queue1-st-cr1-1.i-first.bootstrap_error_msg"] == ['{"message": "OnNodeConfigured failed"}']
    assert streams["queue1-st-cr1-1.i-second.cloud-init-output"] == ["second boot"]


def test_a_host_service_restart_neither_loses_nor_repeats_lines(cluster):
    cluster.write("/var/log/slurm/slurmd.log", "one\n")
    cluster.service.collector.collect_all()
    cluster.write("/var/log/slurm/slurmd.log", "two\n")
    restarted = Service(load_settings())
    restarted.collector.collect_all()
    assert cluster.streams()["queue1-st-cr1-1.i-first.slurmd"] == ["one", "two"]


def test_a_stopped_agent_collects_nothing_and_other_log_groups_are_not_the_clusters(cluster):
    cluster.write("/var/log/slurm/slurmd.log", "one\n")
    (cluster.upper / "opt/aws/amazon-cloudwatch-agent/var").mkdir(parents=True)
    (cluster.upper / "opt/aws/amazon-cloudwatch-agent/var/agent-state.json").write_text('{"status": "stopped"}')
    cluster.service.collector.collect_all()
    assert cluster.streams() == {}


def test_retain_keeps_the_group_after_the_cluster_and_its_delete_verb_removes_it(cluster):
    cluster.write("/var/log/slurm/slurmd.log", "kept\n")
    cluster.service.collector.collect_all()
    with pytest.raises(ConflictError, match="still exists"):
        log_requests.delete_log_group(cluster.service, GROUP)
    cluster.service.collector.cluster_deleted(cluster.store.load("demo"))
    cluster.store.remove("demo")
    [kept] = log_requests.log_groups(cluster.service)
    assert kept["name"] == GROUP and kept["cluster_deleted_time"] and kept["stored_bytes"] > 0
    assert log_requests.log_events(cluster.service, GROUP, "queue1-st-cr1-1.i-first.slurmd")["events"][0][
        "message"] == "kept"
    log_requests.delete_log_group(cluster.service, GROUP)
    assert log_requests.log_groups(cluster.service) == []


def test_delete_policy_removes_the_group_with_the_cluster():
    service = Service(load_settings())
    cluster = FakeCluster(service, MINIMAL_CLUSTER + "Monitoring:\n  Logs:\n    CloudWatch:\n"
                                                  "      DeletionPolicy: Delete\n")
    cluster.write("/var/log/slurm/slurmd.log", "gone\n")
    service.collector.collect_all()
    service.collector.cluster_deleted(service.store.load("demo"))
    assert log_requests.log_groups(service) == []


def test_disabled_logging_has_no_group_and_says_so():
    service = Service(load_settings())
    FakeCluster(service, MINIMAL_CLUSTER + "Monitoring:\n  Logs:\n    CloudWatch:\n      Enabled: false\n")
    service.collector.collect_all()
    assert log_requests.log_groups(service) == []
    with pytest.raises(BadRequestError, match="CloudWatch logging is not enabled for cluster demo."):
        log_requests.cluster_log_group(service, "demo")

"""Cluster logs on the aws provider against in-process moto: the stack's log group, its streams and events through
`api` as the CLI calls it, the head node filter by its private DNS name, export, and the group kept after delete."""

from __future__ import annotations

import tarfile
import time

import pytest

from conftest import REGION, client, example_text
from paracluster import api
from paracluster.errors import BadRequestError
from paracluster.records import format_time

NAME = "logged"
START = (int(time.time()) - 60) * 1000  # CloudWatch takes events of the last 14 days only


def _logs_call(**fields):
    return {"provider_name": "aws", "region": REGION, **fields}


@pytest.fixture
def cluster(network):
    client("ec2").create_key_pair(KeyName="paracluster")
    api.create_cluster(cluster_name=NAME, config_text=example_text("basic.yaml", network), provider_name="aws",
                       region=REGION)
    group = api.provider("aws").cluster_log_group(NAME, REGION)
    head = api.describe_cluster_instances(cluster_name=NAME, node_type="HeadNode", **_logs_call())["instances"][0]
    host = group.head_node_hostname
    logs = client("logs")
    # What the nodes' CloudWatch agent writes (part 2): a head node stream and a compute node stream.
    for stream, lines in ((f"{host}.{head['instanceId']}.slurmctld", ["[slurmctld] started", "[slurmctld] ready"]),
                          ("ip-10-0-1-99.i-0123456789abcdef0.slurmd", ["slurmd started"])):
        logs.create_log_stream(logGroupName=group.name, logStreamName=stream)
        logs.put_log_events(logGroupName=group.name, logStreamName=stream, logEvents=[
            {"timestamp": START + 1000 * index, "message": line} for index, line in enumerate(lines)])
    return group


def test_the_stacks_log_group_lists_its_streams_and_events(cluster):
    assert cluster.name.startswith(f"/aws/parallelcluster/{NAME}-") and cluster.retention_days == 180
    assert cluster.head_node_hostname.startswith("ip-10-0-1-")
    names = [s["logStreamName"] for s in api.list_cluster_log_streams(cluster_name=NAME, **_logs_call())["logStreams"]]
    assert len(names) == 2
    head = api.list_cluster_log_streams(cluster_name=NAME, filters=["Name=node-type,Values=HeadNode"],
                                        **_logs_call())["logStreams"]
    assert [s["logStreamName"] for s in head] == [n for n in names if n.startswith(cluster.head_node_hostname)]
    events = api.get_cluster_log_events(cluster_name=NAME, log_stream_name=head[0]["logStreamName"],
                                        start_from_head=True, **_logs_call())
    assert [e["message"] for e in events["events"]] == ["[slurmctld] started", "[slurmctld] ready"]
    assert events["events"][0]["timestamp"] == format_time(START / 1000) and events["nextToken"]


def test_export_and_a_group_kept_after_its_cluster(cluster, tmp_path):
    exported = api.export_cluster_logs(cluster_name=NAME, output_file=str(tmp_path / "logs.tar.gz"),
                                       start_time=format_time(time.time() - 3600), **_logs_call())
    with tarfile.open(exported["path"]) as archive:
        names = archive.getnames()
    assert any(name.endswith(".slurmd/000000") for name in names) and any(n.endswith("-cfn-events") for n in names)
    api.delete_cluster(cluster_name=NAME, **_logs_call())
    # The template's log group has DeletionPolicy Retain: it outlives the stack.
    [kept] = [g for g in api.log_groups(**_logs_call())["logGroups"] if g["clusterName"] == NAME]
    assert kept["logGroupName"] == cluster.name
    api.delete_log_group(log_group_name=cluster.name, **_logs_call())
    assert api.log_groups(**_logs_call())["logGroups"] == []


def test_diagnose_says_it_needs_part_2(cluster):
    with pytest.raises(Exception, match="diagnose runs its checks on the cluster's nodes"):
        api.diagnose(cluster_name=NAME, **_logs_call())
    with pytest.raises(BadRequestError, match="The only accepted value"):
        api.list_cluster_log_streams(cluster_name=NAME, filters=["Name=node-type,Values=LoginNode"], **_logs_call())

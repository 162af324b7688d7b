"""The local provider answers in ParallelCluster's JSON shapes."""

from __future__ import annotations

from pathlib import Path

from paracluster.providers.local.describe import describe_cluster, describe_instances, summary
from paracluster.providers.local.state import StateStore

RECORD = {
    "name": "c1", "status": "CREATE_FAILED", "rolledBack": True, "region": "us-east-1", "version": "0.1.0",
    "creationTime": "t0", "lastUpdatedTime": "t1", "computeFleetStatus": "UNKNOWN",
    "failures": [{"failureCode": "ClusterCreationFailure", "failureReason": "failed to x: y"}],
    "instances": {
        "head": {"nodeName": "head", "nodeType": "HeadNode", "instanceId": "i-0123456789abcdef0", "instanceType":
                 "c5.xlarge", "launchTime": "t0", "privateIpAddress": "10.0.0.2", "state": "terminated"},
        "q-dy-c-1": {"nodeName": "q-dy-c-1", "nodeType": "ComputeNode", "queueName": "q", "instanceId": None,
                     "instanceType": "c5.xlarge", "launchTime": None, "privateIpAddress": "10.0.0.3", "state": "stopped"},
    },
}


def test_summary_and_rolled_back_stack_status():
    body = summary(RECORD)
    assert body == {
        "clusterName": "c1", "region": "us-east-1", "version": "0.1.0",
        "cloudformationStackArn": "arn:paracluster:local:us-east-1:cluster/c1",
        "cloudformationStackStatus": "ROLLBACK_COMPLETE", "clusterStatus": "CREATE_FAILED",
        "scheduler": {"type": "slurm"},
    }


def test_describe_cluster_keys(tmp_path):
    body = describe_cluster(RECORD, StateStore(tmp_path))
    assert body["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"  # capital F here only, as in pcluster
    assert body["headNode"]["privateIpAddress"] == "10.0.0.2" and "nodeType" not in body["headNode"]
    assert body["failures"][0]["failureReason"] == "failed to x: y"
    assert body["clusterConfiguration"]["url"] == (Path(tmp_path) / "clusters/c1/cluster-config.yaml").as_uri()


def test_instances_exclude_nodes_never_launched():
    found = describe_instances(RECORD, None, None)
    assert [i["nodeName"] for i in found] == ["head"]
    assert describe_instances(RECORD, "ComputeNode", None) == []

"""ParallelCluster's JSON shapes rendered from records (the one place that knows them)."""

from __future__ import annotations

from paracluster import views
from paracluster.records import ClusterRecord, Failure, FleetStatusRecord, InstanceRecord, LoginPoolRecord, NodeFailure

HEAD = InstanceRecord("i-0123456789abcdef0", "HeadNode", "c5.xlarge", "running", "10.0.0.2", "t0", "head")
CLUSTER = ClusterRecord(
    name="c1", region="us-east-1", version="0.1.0", status="CREATE_FAILED", stack_status="ROLLBACK_COMPLETE",
    stack_arn="arn:paracluster:local:us-east-1:cluster/c1", creation_time="t0", last_updated_time="t1",
    failures=[Failure("ClusterCreationFailure", "failed to x: y")], head_node=HEAD, config_url="file:///c.yaml",
    login_pools=[LoginPoolRecord("gate", "10.0.0.1", 22, "active", 2, 0)], tags={"parallelcluster:version": "0.1.0"},
)


def test_summary():
    assert views.cluster_summary(CLUSTER) == {
        "clusterName": "c1", "region": "us-east-1", "version": "0.1.0",
        "cloudformationStackArn": "arn:paracluster:local:us-east-1:cluster/c1",
        "cloudformationStackStatus": "ROLLBACK_COMPLETE", "clusterStatus": "CREATE_FAILED",
        "scheduler": {"type": "slurm"},
    }


def test_description():
    body = views.cluster_description(CLUSTER)
    assert body["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"  # capital F here only, as in pcluster
    assert body["headNode"] == {"instanceId": "i-0123456789abcdef0", "instanceType": "c5.xlarge", "launchTime": "t0",
                                "privateIpAddress": "10.0.0.2", "state": "running"}
    assert body["failures"] == [{"failureCode": "ClusterCreationFailure", "failureReason": "failed to x: y"}]
    assert body["clusterConfiguration"] == {"url": "file:///c.yaml"}
    assert body["loginNodes"] == [{"status": "active", "poolName": "gate", "address": "10.0.0.1", "port": 22,
                                   "scheme": "internal", "healthyNodes": 2, "unhealthyNodes": 0}]
    assert body["tags"] == [{"key": "parallelcluster:version", "value": "0.1.0"}]
    assert "progress" not in body and "slurmrestdUrl" not in body["scheduler"]


def test_instance_and_failure_and_fleet():
    compute = InstanceRecord("i-1", "ComputeNode", "c5.xlarge", "running", "10.0.0.3", "t2", "q-dy-c-1", "q", "c")
    assert views.instance(compute) == {"instanceId": "i-1", "instanceType": "c5.xlarge", "launchTime": "t2",
                                       "privateIpAddress": "10.0.0.3", "state": "running", "nodeType": "ComputeNode",
                                       "queueName": "q", "nodeName": "q-dy-c-1"}
    assert views.node_failure(NodeFailure("q-dy-c-1", "BootstrapFailure", "why", "t3")) == {
        "nodeName": "q-dy-c-1", "failureCode": "BootstrapFailure", "failureReason": "why", "time": "t3"}
    assert views.compute_fleet(FleetStatusRecord("RUNNING", "t4")) == {"status": "RUNNING",
                                                                       "lastStatusUpdatedTime": "t4"}

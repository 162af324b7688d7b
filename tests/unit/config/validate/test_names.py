"""Name and count validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings


@pytest.mark.parametrize(
    ("name", "ok"),
    [("mycluster", True), ("a" * 60, True), ("a" * 61, False), ("1cluster", False), ("my_cluster", False)],
)
def test_cluster_name(name, ok):
    found = findings(BASE_CLUSTER, "ClusterNameValidator", cluster_name=name)
    assert (found == []) is ok
    if not ok:
        assert found[0][0] == "ERROR" and found[0][1].startswith("--cluster-name ")


def test_cluster_name_is_shorter_with_accounting():
    text = BASE_CLUSTER.replace("  Scheduler: slurm\n", """  Scheduler: slurm
  SlurmSettings:
    Database:
      Uri: db.example.com:3306
      UserName: admin
      PasswordSecretArn: arn:aws:secretsmanager:us-east-1:111111111111:secret:pw
""")
    assert findings(text, "ClusterNameValidator", cluster_name="a" * 40) == []
    assert "at most 40 characters" in findings(text, "ClusterNameValidator", cluster_name="a" * 41)[0][1]


@pytest.mark.parametrize("bad", ["Queue_1", "default", "q" * 26, "1queue"])
def test_queue_names(bad):
    assert findings(BASE_CLUSTER, "NameValidator") == []
    found = findings(BASE_CLUSTER.replace("Name: queue1", f"Name: {bad}"), "NameValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/Name (line 10): ")


def test_compute_resource_name():
    found = findings(BASE_CLUSTER.replace("Name: cr1", "Name: CR1"), "NameValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/ComputeResources[0]/Name (line 12): 'CR1' is invalid; "
                      "use lowercase letters, digits and hyphens, starting with a letter")]


def _queues(count: int, crs: int = 1) -> str:
    queue = """\
    - Name: q{i}
      ComputeResources:
{crs}
      Networking:
        SubnetIds: [subnet-12345678]
"""
    cr = "        - Name: cr{j}\n          InstanceType: c5.xlarge\n"
    body = "".join(queue.format(i=i, crs="".join(cr.format(j=j) for j in range(crs)).rstrip("\n"))
                   for i in range(count))
    return BASE_CLUSTER.split("  SlurmQueues:\n")[0] + "  SlurmQueues:\n" + body


def test_max_counts():
    assert findings(_queues(50), "MaxCountValidator") == []
    found = findings(_queues(51), "MaxCountValidator")
    assert any("has 51 queues; a cluster can have at most 50" in message for _, message in found)
    found = findings(_queues(1, crs=51), "MaxCountValidator")
    assert any("queue 'q0' has 51 compute resources" in message for _, message in found)
    found = findings(_queues(2, crs=26), "MaxCountValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues (line 9): the queues have 52 compute resources in all; "
                      "a cluster can have at most 50")]


def _login_pools(count: int) -> str:
    pool = ("    - Name: p{i}\n      InstanceType: c5.xlarge\n      Count: 1\n"
            "      Networking:\n        SubnetIds: [subnet-12345678]\n")
    return BASE_CLUSTER + "LoginNodes:\n  Pools:\n" + "".join(pool.format(i=i) for i in range(count))


def test_max_login_node_pools():
    # ParallelCluster 3.13 allows at most 10 login node pools.
    assert findings(_login_pools(10), "MaxCountValidator") == []
    assert findings(_login_pools(11), "MaxCountValidator") == [
        ("ERROR", "LoginNodes/Pools (line 18): has 11 login node pools; a cluster can have at most 10")]


def test_duplicate_names():
    text = _queues(2).replace("Name: q1", "Name: q0")
    found = findings(text, "DuplicateNameValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/Name (line 10): the queue name 'q0' is used 2 times; "
                      "make each unique")]
    assert findings(_queues(2), "DuplicateNameValidator") == []


STORAGE = """\
SharedStorage:
  - Name: {name}
    MountDir: /shared
    StorageType: Efs
"""


@pytest.mark.parametrize(("name", "ok"), [("data", True), ("has space", False), ("x" * 31, False),
                                          ("default", False)])
def test_shared_storage_name(name, ok):
    found = findings(BASE_CLUSTER + STORAGE.format(name=name), "SharedStorageNameValidator")
    assert (found == []) is ok


def test_name_rules_are_independent():
    # As in ParallelCluster, an invalid name that is also too long gets both findings.
    found = findings(BASE_CLUSTER.replace("Name: queue1", "Name: " + "Q" * 26), "NameValidator")
    assert [level for level, _ in found] == ["ERROR", "ERROR"]
    assert "is invalid" in found[0][1] and "is too long" in found[1][1]


def test_duplicates_are_one_finding_per_list():
    text = _queues(5).replace("Name: q1", "Name: q0").replace("Name: q3", "Name: q2").replace("Name: q4", "Name: q2")
    found = findings(text, "DuplicateNameValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/Name (line 10): the queue names 'q0' (2 times), "
                      "'q2' (3 times) are repeated; make each unique")]


def test_duplicate_compute_resource_names():
    found = findings(_queues(1, crs=2).replace("Name: cr1", "Name: cr0"), "DuplicateNameValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/ComputeResources[0]/Name (line 12): the compute resource "
                      "name 'cr0' is used 2 times in queue 'q0'; make each unique")]


def test_duplicate_existing_storage_ids():
    item = "  - Name: {name}\n    MountDir: /{name}\n    StorageType: Efs\n    EfsSettings:\n      FileSystemId: {id}\n"
    storage = "SharedStorage:\n" + item.format(name="a", id="fs-12345678") + item.format(name="b", id="fs-12345678")
    found = findings(BASE_CLUSTER + storage, "DuplicateNameValidator")
    assert found == [("ERROR", "SharedStorage[0]/EfsSettings/FileSystemId (line 22): the existing file system or "
                      "volume id 'fs-12345678' is used 2 times; make each unique")]
    other = storage.replace("fs-12345678", "fs-87654321", 1)
    assert findings(BASE_CLUSTER + other, "DuplicateNameValidator") == []


def test_data_repository_association_names():
    lustre = """\
SharedStorage:
  - Name: fsx
    MountDir: /fsx
    StorageType: FsxLustre
    FsxLustreSettings:
      StorageCapacity: 1200
      DeploymentType: PERSISTENT_2
      PerUnitStorageThroughput: 125
      DataRepositoryAssociations:
        - Name: {name}
          DataRepositoryPath: s3://bucket/data
          FileSystemPath: /data
"""
    assert findings(BASE_CLUSTER + lustre.format(name="dra"), "SharedStorageNameValidator") == []
    found = findings(BASE_CLUSTER + lustre.format(name="default"), "SharedStorageNameValidator")
    assert found == [("ERROR", "SharedStorage[0]/FsxLustreSettings/DataRepositoryAssociations[0]/Name (line 26): "
                      "'default' is reserved; choose another name")]


def test_cluster_name_is_shorter_with_external_slurmdbd():
    text = BASE_CLUSTER.replace("  Scheduler: slurm\n", """  Scheduler: slurm
  SlurmSettings:
    MungeKeySecretArn: arn:aws:secretsmanager:us-east-1:111111111111:secret:munge
    ExternalSlurmdbd:
      Host: dbd.example.com
""")
    assert "at most 40 characters" in findings(text, "ClusterNameValidator", cluster_name="a" * 41)[0][1]

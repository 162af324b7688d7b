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

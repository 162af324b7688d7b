"""update-cluster's change planner: the diff along the key tree and ParallelCluster's verdict per update policy."""

from __future__ import annotations

import copy

import pytest
import yaml

from paracluster.config.schema import CLUSTER
from paracluster.config.update import (
    ACTION_NEEDED,
    FAILED,
    SUCCEEDED,
    FleetFacts,
    affected_queues,
    diff,
    plan_update,
)

BASE = yaml.safe_load("""
Region: us-east-1
Image: {Os: alinux2023}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {SubnetId: subnet-0123456789abcdef0}
  Ssh: {KeyName: k}
  LocalStorage: {RootVolume: {Size: 40}}
Scheduling:
  Scheduler: slurm
  SlurmSettings: {ScaledownIdletime: 5}
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - {Name: cr1, InstanceType: c5.xlarge, MinCount: 1, MaxCount: 4}
      Networking: {SubnetIds: [subnet-0123456789abcdef0]}
    - Name: q2
      ComputeResources:
        - {Name: cr1, InstanceType: c5.xlarge, MaxCount: 2}
      Networking: {SubnetIds: [subnet-0123456789abcdef0]}
LoginNodes:
  Pools:
    - Name: p1
      InstanceType: c5.large
      Count: 1
      Networking: {SubnetIds: [subnet-0123456789abcdef0]}
SharedStorage:
  - Name: data
    StorageType: Efs
    MountDir: /data
""")

RUNNING = FleetFacts(compute_running=True, login_nodes={"p1": 1})
STOPPED = FleetFacts(compute_running=False, login_nodes={})


def edited(edit) -> dict:
    config = copy.deepcopy(BASE)
    edit(config)
    return config


def queue(config, name="q1"):
    return next(q for q in config["Scheduling"]["SlurmQueues"] if q["Name"] == name)


def only(plan):
    assert len(plan.rows) == 1, [v.change.parameter for v in plan.rows]
    return plan.rows[0]


def test_no_change_is_an_empty_plan():
    plan = plan_update(CLUSTER, BASE, copy.deepcopy(BASE), RUNNING)
    assert plan.rows == [] and plan.allowed


def test_changes_are_named_as_parallelcluster_names_them():
    new = edited(lambda c: queue(c)["ComputeResources"][0].update(MaxCount=8))
    (change,) = diff(CLUSTER, BASE, new)
    assert change.parameter == "Scheduling.SlurmQueues[q1].ComputeResources[cr1].MaxCount"
    assert (change.old, change.new, change.policy) == (4, 8, "RESIZE_UPDATE_STRATEGY_ON_REMOVE")


def test_a_queue_added_is_one_change_of_the_whole_item_and_allowed_while_running():
    added = {"Name": "q3", "ComputeResources": [{"Name": "cr1", "InstanceType": "c5.xlarge", "MaxCount": 2}],
             "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]}}
    plan = plan_update(CLUSTER, BASE, edited(lambda c: c["Scheduling"]["SlurmQueues"].append(added)), RUNNING)
    verdict = only(plan)
    assert verdict.change.parameter == "Scheduling.SlurmQueues"
    assert (verdict.change.old, verdict.change.new, verdict.check) == (None, added, SUCCEEDED)


# (edit, facts, expected check, reason start) for one changed key
CASES = {
    "MaxCount raised while running": (
        lambda c: queue(c)["ComputeResources"][0].update(MaxCount=9), RUNNING, SUCCEEDED, "-"),
    "MaxCount lowered while running": (
        lambda c: queue(c)["ComputeResources"][0].update(MaxCount=2), RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped or QueueUpdateStrategy must be set to TERMINATE"),
    "MaxCount lowered with the fleet stopped": (
        lambda c: queue(c)["ComputeResources"][0].update(MaxCount=2), STOPPED, SUCCEEDED, "-"),
    "queue removed while running": (
        lambda c: c["Scheduling"]["SlurmQueues"].pop(), RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped or QueueUpdateStrategy must be set to TERMINATE"),
    "instance type while running": (
        lambda c: queue(c)["ComputeResources"][0].update(InstanceType="c5.2xlarge"), RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped"),
    "instance type with the fleet stopped": (
        lambda c: queue(c)["ComputeResources"][0].update(InstanceType="c5.2xlarge"), STOPPED, SUCCEEDED, "-"),
    "queue CustomSlurmSettings": (
        lambda c: queue(c).update(CustomSlurmSettings={"MaxTime": "10"}), RUNNING, SUCCEEDED, "-"),
    "cluster CustomSlurmSettings": (
        lambda c: c["Scheduling"]["SlurmSettings"].update(CustomSlurmSettings=[{"MessageTimeout": 20}]), RUNNING,
        SUCCEEDED, "-"),
    "ScaledownIdletime while running": (
        lambda c: c["Scheduling"]["SlurmSettings"].update(ScaledownIdletime=7), RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped"),
    "queue capacity type while running": (
        lambda c: queue(c).update(CapacityType="SPOT"), RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped or QueueUpdateStrategy must be set"),
    "head node instance type": (
        lambda c: c["HeadNode"].update(InstanceType="c5.2xlarge"), STOPPED, FAILED,
        "Update actions are not currently supported for the 'InstanceType' parameter"),
    "head node root volume size": (
        lambda c: c["HeadNode"]["LocalStorage"]["RootVolume"].update(Size=80), STOPPED, FAILED,
        "Updating the file system after a resize operation requires commands specific to your operating system."),
    "login pool count": (lambda c: c["LoginNodes"]["Pools"][0].update(Count=2), RUNNING, SUCCEEDED, "-"),
    "login pool instance type while it runs": (
        lambda c: c["LoginNodes"]["Pools"][0].update(InstanceType="c5.xlarge"), RUNNING, ACTION_NEEDED,
        "The update is not supported when login nodes in p1 are running"),
    "new managed storage while nodes run": (
        lambda c: c["SharedStorage"].append({"Name": "more", "StorageType": "Efs", "MountDir": "/more"}),
        RUNNING, ACTION_NEEDED,
        "All compute nodes must be stopped or QueueUpdateStrategy must be set. All login nodes must be stopped"),
    "existing EFS mounted live": (
        lambda c: c["SharedStorage"].append({"Name": "ext", "StorageType": "Efs", "MountDir": "/ext",
                                             "EfsSettings": {"FileSystemId": "fs-0123456789abcdef0"}}),
        RUNNING, SUCCEEDED, "-"),
    "storage on /home": (
        lambda c: c["SharedStorage"].append({"Name": "home", "StorageType": "Efs", "MountDir": "/home"}),
        STOPPED, ACTION_NEEDED, "The /home directory cannot be changed during an update"),
    "OnNodeUpdated script": (
        lambda c: c["HeadNode"].update(CustomActions={"OnNodeUpdated": {"Script": "s3://b/u.sh"}}), RUNNING,
        SUCCEEDED, "-"),
    "OnNodeConfigured script of the head node": (
        lambda c: c["HeadNode"].update(CustomActions={"OnNodeConfigured": {"Script": "s3://b/c.sh"}}), STOPPED,
        FAILED, "Update actions are not currently supported for the 'OnNodeConfigured' parameter"),
    "custom S3 bucket": (lambda c: c.update(CustomS3Bucket="other"), STOPPED, ACTION_NEEDED,
                         "'CustomS3Bucket' parameter is a read only parameter"),
    "a reconfigure timeout in ExtraChefAttributes": (
        lambda c: c.update(DevSettings={"Cookbook": {"ExtraChefAttributes":
                                                     '{"cluster": {"slurm": {"reconfigure_timeout": 600}}}'}}),
        RUNNING, SUCCEEDED, "-"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdicts_follow_parallelclusters_policies(name):
    edit, facts, check, reason = CASES[name]
    verdict = only(plan_update(CLUSTER, BASE, edited(edit), facts))
    assert verdict.check == check
    assert (verdict.reason or "").startswith(reason), verdict.reason


def test_queue_update_strategy_lets_queue_changes_through_while_running():
    def edit(config):
        queue(config).update(CapacityType="SPOT")
        config["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "DRAIN"

    plan = plan_update(CLUSTER, BASE, edited(edit), RUNNING)
    assert plan.allowed
    # QueueUpdateStrategy itself is IGNORED: not reported.
    assert [v.change.parameter for v in plan.rows] == ["Scheduling.SlurmQueues[q1].CapacityType"]
    assert plan.queue_update_strategy == "DRAIN"
    assert affected_queues(plan, ["q1", "q2"]) == ["q1"]


def test_terminate_strategy_allows_removing_nodes():
    def edit(config):
        queue(config)["ComputeResources"][0]["MaxCount"] = 2
        config["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "TERMINATE"

    assert plan_update(CLUSTER, BASE, edited(edit), RUNNING).allowed


def test_min_count_raised_with_max_count_by_as_much():
    def edit(config):
        queue(config)["ComputeResources"][0].update(MinCount=3, MaxCount=6)

    assert plan_update(CLUSTER, BASE, edited(edit), RUNNING).allowed

    def too_much(config):
        queue(config)["ComputeResources"][0].update(MinCount=4, MaxCount=5)

    plan = plan_update(CLUSTER, BASE, edited(too_much), RUNNING)
    assert [v.change.key for v in plan.errors] == ["MinCount"]


def test_unsupported_action_and_message():
    verdict = only(plan_update(CLUSTER, BASE, edited(lambda c: c["HeadNode"].update(InstanceType="c5.2xlarge")),
                               STOPPED))
    assert verdict.action == ("Restore 'InstanceType' value to 'c5.xlarge'. If you need this change, please consider "
                              "creating a new cluster instead of updating the existing one.")
    assert verdict.message == f"{verdict.reason}. {verdict.action}"


def test_non_live_storage_changes_affect_every_queue():
    def edit(config):
        config["SharedStorage"].append({"Name": "more", "StorageType": "Efs", "MountDir": "/more"})
        config["Scheduling"]["SlurmSettings"]["QueueUpdateStrategy"] = "TERMINATE"

    plan = plan_update(CLUSTER, BASE, edited(edit), FleetFacts(compute_running=True))
    assert plan.allowed
    assert affected_queues(plan, ["q1", "q2"]) == ["q1", "q2"]


def test_custom_action_sequences_are_compared_by_position():
    def with_sequence(scripts):
        return lambda c: c["HeadNode"].update(
            CustomActions={"OnNodeUpdated": {"Sequence": [{"Script": script} for script in scripts]}})

    old, new = edited(with_sequence(["s3://b/a.sh", "s3://b/b.sh"])), edited(with_sequence(["s3://b/a.sh",
                                                                                             "s3://b/c.sh"]))
    (change,) = diff(CLUSTER, old, new)
    assert change.parameter == "HeadNode.CustomActions.OnNodeUpdated.Sequence[1].Script"

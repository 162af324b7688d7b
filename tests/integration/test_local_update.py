"""Day-2 operations on one real local cluster: update-cluster (applied, refused, rolled back), delete-cluster-instances
and stack events. The tests run in order on the module's cluster; each leaves it in a state the next one expects."""

from __future__ import annotations

import json

import pytest
import yaml
from cluster_support import HEADER, node_exec, wait_for

NAME = "itupdate"
# The compute resource's instance type: the tests run in order, and one changes it with the fleet stopped.
CURRENT = {"instance_type": "c5.xlarge"}


def config(*, max_count=3, extra_queue=False, on_updated=None, message_timeout=None, strategy=None,
           storage=None, login_count=None, login_script=None) -> str:
    """The module cluster's configuration with the given changes (as YAML text)."""
    data = yaml.safe_load(HEADER)
    if on_updated:
        data["HeadNode"]["CustomActions"] = {"OnNodeUpdated": {"Script": str(on_updated), "Args": ["first", "second"]}}
    settings = {"ScaledownIdletime": 10}
    if message_timeout:
        settings["CustomSlurmSettings"] = [{"MessageTimeout": message_timeout}]
    if strategy:
        settings["QueueUpdateStrategy"] = strategy
    queues = [{"Name": "compute", "ComputeResources": [{"Name": "c5", "InstanceType": CURRENT["instance_type"],
                                                          "MinCount": 1,
                                                          "MaxCount": max_count}],
               "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]}}]
    if extra_queue:
        queues.append({"Name": "extra", "ComputeResources": [{"Name": "m5", "InstanceType": "c5.large",
                                                              "MinCount": 1, "MaxCount": 2}],
                       "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]}})
    data["Scheduling"] = {"Scheduler": "slurm", "SlurmSettings": settings, "SlurmQueues": queues}
    if storage:
        data["SharedStorage"] = storage
    if login_count is not None:
        pool = {"Name": "gate", "InstanceType": "c5.large", "Count": login_count,
                "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"]}}
        if login_script:
            pool["CustomActions"] = {"OnNodeUpdated": {"Script": str(login_script)}}
        data["LoginNodes"] = {"Pools": [pool]}
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture(scope="module")
def cluster(cli):
    cli.create(NAME, config())
    yield NAME
    cli.run("delete-cluster", "-n", NAME, "--wait")


def update(cli, text: str, *extra: str, expect: int = 0) -> dict:
    return cli.json("update-cluster", "-n", NAME, "-c", str(cli.config(text)), *extra, expect=expect, timeout=180)


def sinfo(cli) -> dict[str, str]:
    out = node_exec(cli, NAME, "head", "sinfo -h -N -o '%N %t'").stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def instances(cli) -> dict[str, dict]:
    listed = cli.json("describe-cluster-instances", "-n", NAME)["instances"]
    return {item["nodeName"]: item for item in listed}


def events(cli) -> list[dict]:
    return cli.json("get-cluster-stack-events", "-n", NAME)["events"]


def test_stack_events_record_the_create_steps(cli, cluster):
    found = events(cli)
    stack = [e["resourceStatus"] for e in found if e["resourceType"] == "AWS::CloudFormation::Stack"]
    assert stack[0] == "CREATE_COMPLETE" and stack[-1] == "CREATE_IN_PROGRESS"  # newest first
    steps = {e["logicalResourceId"]: e["resourceStatus"] for e in reversed(found)
             if e["resourceType"] != "AWS::CloudFormation::Stack"}
    assert steps["HeadNode"] == "CREATE_COMPLETE" and steps["StaticComputeNodes"] == "CREATE_COMPLETE"
    first = found[-1]
    assert first["resourceStatusReason"] == "User Initiated" and first["stackName"] == NAME
    assert set(first) >= {"stackId", "eventId", "physicalResourceId", "timestamp"}


def test_an_update_adds_a_queue_and_nodes_while_a_job_runs(cli, cluster, tmp_path):
    job = node_exec(cli, NAME, "head", "cd /tmp && sbatch --parsable -o /dev/null -p compute -w compute-st-c5-1 --wrap 'sleep 600'",
                    user="ec2-user").stdout.strip()
    wait_for(lambda: "RUNNING" in node_exec(cli, NAME, "head", f"squeue -h -j {job} -o %T").stdout, 30,
             what="the job to run")
    before = instances(cli)
    script = tmp_path / "on-updated.sh"
    script.write_text("#!/bin/bash\necho \"$* $cfn_postupdate $cfn_postupdate_args\" >> "
                      "/opt/parallelcluster/shared/on-updated.txt\n")
    answer = update(cli, config(max_count=5, extra_queue=True, on_updated=script))
    assert answer["cluster"]["clusterStatus"] == "UPDATE_IN_PROGRESS"
    parameters = {change["parameter"] for change in answer["changeSet"]}
    assert {"Scheduling.SlurmQueues[compute].ComputeResources[c5].MaxCount", "Scheduling.SlurmQueues",
            "HeadNode.CustomActions.OnNodeUpdated"} <= parameters
    described = wait_for(lambda: (d := cli.json("describe-cluster", "-n", NAME))["clusterStatus"] != "UPDATE_IN_PROGRESS"
                         and d, 120, what="the update to end")
    assert (described["clusterStatus"], described["cloudFormationStackStatus"]) == ("UPDATE_COMPLETE",) * 2
    # The running job in the untouched queue survived; the old nodes kept their instances and addresses.
    assert node_exec(cli, NAME, "head", f"squeue -h -j {job} -o %T").stdout.strip() == "RUNNING"
    after = instances(cli)
    for node in ("head", "compute-st-c5-1"):
        assert (after[node]["instanceId"], after[node]["privateIpAddress"]) == (
            before[node]["instanceId"], before[node]["privateIpAddress"])
    states = sinfo(cli)
    assert states["extra-st-m5-1"] == "idle" and "compute-dy-c5-4" in states and "extra-dy-m5-1" in states
    # The new nodes are usable: the new static node, and a new dynamic node powered up for a job.
    assert node_exec(cli, NAME, "head", "cd /tmp && srun -p extra -w extra-st-m5-1 hostname", user="ec2-user").stdout.strip() \
        == "extra-st-m5-1"
    ran = node_exec(cli, NAME, "head", "cd /tmp && srun -p compute -w compute-dy-c5-4 hostname", user="ec2-user")
    assert ran.stdout.strip() == "compute-dy-c5-4", ran.stderr
    # OnNodeUpdated ran on the head node with its args and cfn_postupdate.
    marker = cli.state_dir / "clusters" / NAME / "shared" / "parallelcluster" / "on-updated.txt"
    assert marker.read_text().split() == ["first", "second", str(script), "(\"first\"", "\"second\")"]
    node_exec(cli, NAME, "head", f"scancel {job}")
    steps = [e["logicalResourceId"] for e in events(cli) if e["resourceStatus"] == "UPDATE_COMPLETE"]
    assert steps[0] == NAME and "Scheduler" in steps and "StaticComputeNodes" in steps


def test_custom_slurm_settings_reach_slurm(cli, cluster, tmp_path):
    answer = update(cli, config(max_count=5, extra_queue=True, message_timeout=33), "--wait")
    assert answer["clusterStatus"] == "UPDATE_COMPLETE"
    shown = node_exec(cli, NAME, "head", "scontrol show config | grep MessageTimeout").stdout
    assert "33 sec" in shown


def test_an_update_a_policy_refuses_is_refused_then_accepted_with_the_fleet_stopped(cli, cluster):
    without_extra = config(max_count=5, message_timeout=33)
    refused = update(cli, without_extra, expect=1)
    assert refused["message"] == "Update failure"
    (error,) = refused["updateValidationErrors"]
    assert error["parameter"] == "Scheduling.SlurmQueues" and json.loads(error["currentValue"])["Name"] == "extra"
    assert error["requestedValue"] == "-"
    assert error["message"].startswith("All compute nodes must be stopped or QueueUpdateStrategy must be set to "
                                       "TERMINATE. Stop the compute fleet")
    assert cli.json("describe-cluster", "-n", NAME)["clusterStatus"] == "UPDATE_COMPLETE"
    assert "extra-st-m5-1" in sinfo(cli)
    # The dry run of the same request says the same; no change at all is refused too.
    assert update(cli, without_extra, "--dryrun", "true", expect=1)["message"] == "Update failure"
    same = config(max_count=5, extra_queue=True, message_timeout=33)
    assert update(cli, same, expect=1) == {"message": "No changes found in your cluster configuration."}

    cli.json("update-compute-fleet", "-n", NAME, "--status", "STOP_REQUESTED")
    wait_for(lambda: cli.json("describe-compute-fleet", "-n", NAME)["status"] == "STOPPED", 60,
             what="the fleet to stop")
    dry = update(cli, without_extra, "--dryrun", "true", expect=1)
    assert dry["message"] == "Request would have succeeded, but DryRun flag is set."
    assert [change["parameter"] for change in dry["changeSet"]] == ["Scheduling.SlurmQueues"]
    # With the fleet stopped, the instance type may change too (COMPUTE_FLEET_STOP).
    CURRENT["instance_type"] = "c5.2xlarge"
    assert update(cli, config(max_count=5, message_timeout=33), "--wait")["clusterStatus"] == "UPDATE_COMPLETE"
    assert "extra-st-m5-1" not in sinfo(cli)
    cli.json("update-compute-fleet", "-n", NAME, "--status", "START_REQUESTED")
    wait_for(lambda: sinfo(cli).get("compute-st-c5-1") == "idle", 60, what="the static node to be back")
    assert "CPUTot=8 " in node_exec(cli, NAME, "head", "scontrol show node compute-st-c5-1").stdout
    assert instances(cli)["compute-st-c5-1"]["instanceType"] == "c5.2xlarge"


def test_a_failed_update_rolls_back_to_the_previous_configuration(cli, cluster, tmp_path):
    script = tmp_path / "failing.sh"
    script.write_text("#!/bin/bash\necho 'no luck today'\nexit 3\n")
    previous = (cli.state_dir / "clusters" / NAME / "cluster-config.yaml").read_text()
    result = cli.run("update-cluster", "-n", NAME, "-c", str(cli.config(config(max_count=7, on_updated=script,
                                                                                   message_timeout=33))),
                     "--wait", timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    described = json.loads(result.stdout)
    assert (described["clusterStatus"], described["cloudFormationStackStatus"]) == ("UPDATE_FAILED",
                                                                                      "UPDATE_ROLLBACK_COMPLETE")
    reason = described["failures"][0]["failureReason"]
    assert "OnNodeUpdated" in reason and str(script) in reason and "exited with code 3" in reason
    # The previous configuration is back: its nodes, its file.
    assert "compute-dy-c5-6" not in sinfo(cli) and "compute-dy-c5-4" in sinfo(cli)
    assert (cli.state_dir / "clusters" / NAME / "cluster-config.yaml").read_text() == previous
    stack = [e["resourceStatus"] for e in events(cli) if e["resourceType"] == "AWS::CloudFormation::Stack"]
    assert stack[:2] == ["UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"]
    assert "UPDATE_ROLLBACK_IN_PROGRESS" in stack
    # A cluster rolled back works: its fleet is managed, and it can be updated again.
    assert update(cli, config(max_count=6, message_timeout=33), "--wait")["clusterStatus"] == \
        "UPDATE_COMPLETE"


def test_delete_cluster_instances_and_static_nodes_come_back(cli, cluster):
    before = instances(cli)["compute-st-c5-1"]["instanceId"]
    result = cli.run("delete-cluster-instances", "-n", NAME)
    assert (result.returncode, result.stdout) == (0, "")
    wait_for(lambda: instances(cli).get("compute-st-c5-1", {}).get("instanceId") not in (None, before)
             and sinfo(cli).get("compute-st-c5-1") == "idle", 90, what="the static node to be replaced",
             explain=lambda: json.dumps(sinfo(cli)))
    assert instances(cli)["head"]["state"] == "running"
    missing = cli.run("delete-cluster-instances", "-n", "nosuchcluster")
    assert missing.returncode == 1 and "please use the `force` param" in json.loads(missing.stdout)["message"]
    assert cli.run("delete-cluster-instances", "-n", "nosuchcluster", "--force", "true").returncode == 0


def test_storage_added_live_and_removed_with_its_deletion_policy(cli, cluster):
    storage = [{"Name": "scratchfs", "StorageType": "Efs", "MountDir": "/scratchfs",
                "EfsSettings": {"DeletionPolicy": "Retain"}}]
    refused = update(cli, config(max_count=6, message_timeout=33, storage=storage), expect=1)
    assert refused["updateValidationErrors"][0]["message"].startswith(
        "All compute nodes must be stopped or QueueUpdateStrategy must be set.")
    static = instances(cli)["compute-st-c5-1"]["instanceId"]
    added = update(cli, config(max_count=6, message_timeout=33, storage=storage, strategy="DRAIN"), "--wait")
    assert added["clusterStatus"] == "UPDATE_COMPLETE"
    # Mounted in the running head node at once (mode 1777 there, as ParallelCluster).
    assert node_exec(cli, NAME, "head", "touch /scratchfs/from-head && stat -c %a /scratchfs").stdout.strip() == "1777"
    # DRAIN: the static node of the queue was drained, then replaced by the cluster manager; the new one has it too.
    wait_for(lambda: instances(cli).get("compute-st-c5-1", {}).get("instanceId") not in (None, static)
             and sinfo(cli).get("compute-st-c5-1") == "idle", 90, what="the drained static node to be replaced",
             explain=lambda: json.dumps(sinfo(cli)))
    assert node_exec(cli, NAME, "compute-st-c5-1", "ls /scratchfs").stdout.split() == ["from-head"]
    registered = cli.json("storage", "list")["storage"]
    efs = next(item for item in registered if item.get("name") == "scratchfs")
    removed = update(cli, config(max_count=6, message_timeout=33, strategy="DRAIN"), "--wait")
    assert removed["clusterStatus"] == "UPDATE_COMPLETE"
    assert node_exec(cli, NAME, "head", "mountpoint -q /scratchfs").returncode != 0
    # DeletionPolicy Retain: the file system stays, detached, with what the cluster wrote.
    kept = next(item for item in cli.json("storage", "list")["storage"] if item["id"] == efs["id"])
    assert not kept.get("attachments")
    cli.run("storage", "delete", efs["id"])


def test_login_pool_counts_follow_updates(cli, cluster, tmp_path):
    script = tmp_path / "login-updated.sh"
    script.write_text("#!/bin/bash\nhostname >> /home/ec2-user/login-updated.txt\n")
    marker = cli.state_dir / "clusters" / NAME / "shared" / "home" / "ec2-user" / "login-updated.txt"

    def pools() -> dict:
        return {pool["poolName"]: pool for pool in cli.json("describe-cluster", "-n", NAME).get("loginNodes", [])}

    added = update(cli, config(max_count=6, message_timeout=33, login_count=1, login_script=script), "--wait")
    assert added["clusterStatus"] == "UPDATE_COMPLETE"
    assert instances(cli)["login-gate-1"]["state"] == "running"
    wait_for(lambda: pools().get("gate", {}).get("healthyNodes") == 1, 30, what="the login node behind its balancer")
    assert not marker.exists()  # a node the update booted ran its bootstrap, not OnNodeUpdated
    grown = update(cli, config(max_count=6, message_timeout=33, login_count=2, login_script=script), "--wait")
    assert grown["clusterStatus"] == "UPDATE_COMPLETE"
    wait_for(lambda: pools().get("gate", {}).get("healthyNodes") == 2, 30, what="two login nodes behind the balancer")
    # OnNodeUpdated on the login node that was there (login nodes keep EC2's hostname, as in ParallelCluster).
    first = "ip-" + instances(cli)["login-gate-1"]["privateIpAddress"].replace(".", "-")
    assert marker.read_text().split() == [first]
    assert cli.json("update-cluster", "-n", NAME, "-c", str(cli.config(config(max_count=6, message_timeout=33,
                                                                              login_count=0))), "--wait"
                    )["clusterStatus"] == "UPDATE_COMPLETE"
    assert not any(name.startswith("login-") for name in instances(cli))
    assert "gate" not in pools()


def test_stack_events_record_a_rolled_back_create(cli, tmp_path):
    script = tmp_path / "broken.sh"
    script.write_text("#!/bin/bash\nexit 4\n")
    text = HEADER.replace("  Ssh:", f"  CustomActions:\n    OnNodeConfigured:\n      Script: {script}\n  Ssh:") + \
        "Scheduling:\n  Scheduler: slurm\n  SlurmQueues:\n    - Name: q\n      ComputeResources:\n" \
        "        - {Name: c, InstanceType: c5.large, MaxCount: 1}\n      Networking:\n" \
        "        SubnetIds: [subnet-0123456789abcdef0]\n"
    cli.run("create-cluster", "-n", "itupdatefail", "-c", str(cli.config(text)), "--wait", timeout=180)
    try:
        found = cli.json("get-cluster-stack-events", "-n", "itupdatefail")["events"]
        stack = [e["resourceStatus"] for e in found if e["resourceType"] == "AWS::CloudFormation::Stack"]
        assert stack == ["ROLLBACK_COMPLETE", "ROLLBACK_IN_PROGRESS", "CREATE_IN_PROGRESS"]
        failed = next(e for e in found if e["resourceStatus"] == "CREATE_FAILED")
        assert failed["logicalResourceId"] == "HeadNode" and "exit" in failed["resourceStatusReason"]
        deleted = {e["logicalResourceId"] for e in found if e["resourceStatus"] == "DELETE_COMPLETE"}
        assert {"Nodes", "ClusterNetwork", "SharedStorage"} <= deleted
    finally:
        cli.run("delete-cluster", "-n", "itupdatefail", "--wait")

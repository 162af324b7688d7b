"""The elastic compute fleet on real local clusters: dynamic nodes, scaling strategies, the cluster manager.

A host service of its own runs with fast timers (idle nodes power down after 4 s), a capacity model (c5.large: at
most 3 instances) and an instance type that always lacks capacity (m5.large: 0). Every job has a time limit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from cluster_support import (
    HEADER,
    Cli,
    cluster_record,
    node_exec,
    stop_service,
    wait_for,
)

IDLE_SECONDS = 4

ELASTIC = HEADER + """\
Scheduling:
  Scheduler: slurm
  ScalingStrategy: {strategy}
  SlurmQueues:
    - Name: dyn
      ComputeResources:
        - Name: xl
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: 4
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: cap
      ComputeResources:
        - Name: large
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 4
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: ice
      ComputeResources:
        - Name: scarce
          InstanceType: m5.large
          MinCount: 0
          MaxCount: 2
          DynamicNodePriority: 1
        - Name: plenty
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: 2
          DynamicNodePriority: 100
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: st
      ComputeResources:
        - Name: xl
          InstanceType: c5.xlarge
          MinCount: 1
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


@pytest.fixture(scope="module")
def elastic(tmp_path_factory):
    state_dir = Path(f"/tmp/paracluster-test-{uuid.uuid4().hex[:8]}")
    runner = Cli(state_dir, tmp_path_factory.mktemp("elastic"))
    runner.env.update({
        "PARACLUSTER_LOCAL_SCALEDOWN_IDLETIME_SECONDS": str(IDLE_SECONDS),
        "PARACLUSTER_LOCAL_CAPACITY": json.dumps({"c5.large": 3, "m5.large": 0}),
        "PARACLUSTER_LOCAL_ORPHAN_TIMEOUT": "2",
        "PARACLUSTER_LOCAL_INSUFFICIENT_CAPACITY_TIMEOUT": "60",
    })
    yield runner
    for cluster in json.loads(runner.run("list-clusters").stdout or '{"clusters": []}').get("clusters", []):
        runner.run("delete-cluster", "-n", cluster["clusterName"], "--wait")
    stop_service(state_dir)
    subprocess.run(["rm", "-rf", str(state_dir)])


@pytest.fixture(scope="module")
def cluster(elastic):
    described = elastic.create("elastic", ELASTIC.format(strategy="all-or-nothing"))
    assert described["clusterStatus"] == "CREATE_COMPLETE"
    return "elastic"


def sh(cli, cluster, command, timeout=120):
    result = cli.ssh(cluster, command, timeout=timeout)
    return result.stdout.strip()



def node_states(cli, cluster, partition):
    text = sh(cli, cluster, f"sinfo -h -N -p {partition} -o '%N %t'")
    return dict(line.split() for line in text.splitlines() if line.strip())


def fleet_picture(cli, cluster):
    """What the cluster looks like now, for a failed wait: Slurm's nodes, the instances, the manager's log tail."""
    nodes = sh(cli, cluster, "scontrol show node -o | cut -c1-400")
    instances = cli.run("describe-cluster-instances", "-n", cluster).stdout
    log = node_exec(cli, cluster, "head", "tail -n 40 /var/log/parallelcluster/clustermgtd.log").stdout
    slurmctld = node_exec(cli, cluster, "head", "grep -v 'sched' /var/log/slurm/slurmctld.log | tail -n 100").stdout
    return f"nodes:\n{nodes}\ninstances:\n{instances}\nclustermgtd.log:\n{log}\nslurmctld.log:\n{slurmctld}"


def job_state(cli, cluster, job):
    assert job.isdigit(), f"not a job id: {job!r}"
    text = sh(cli, cluster, f"scontrol show job {job} -o")
    match = re.search(r"JobState=(\S+)", text)
    return match.group(1) if match else ""


def test_job_on_powered_down_partition_runs_and_node_powers_down(elastic, cluster):
    assert set(node_states(elastic, cluster, "dyn").values()) == {"idle~"}
    job = sh(elastic, cluster, "sbatch --parsable -p dyn -N1 -t 1 --wrap 'hostname; sleep 1'")
    wait_for(lambda: job_state(elastic, cluster, job) == "COMPLETED", 60, what=f"job {job} to complete")
    output = sh(elastic, cluster, f"cat slurm-{job}.out")
    assert output.startswith("dyn-dy-xl-")
    instances = elastic.json("describe-cluster-instances", "-n", cluster, "--queue-name", "dyn")["instances"]
    assert [i["nodeName"] for i in instances] == [output]
    # After the idle time the node is powered down again and its instance is gone.
    wait_for(lambda: node_states(elastic, cluster, "dyn").get(output) == "idle~", IDLE_SECONDS + 30,
             what=f"{output} to power down")
    wait_for(lambda: not elastic.json("describe-cluster-instances", "-n", cluster, "--queue-name", "dyn")
             ["instances"], 15, what="the dynamic instance to terminate")


def test_two_node_mpi_job_on_cold_nodes(elastic, cluster):
    code = (Path(__file__).resolve().parents[2] / "examples/jobs/mpi_hello.c").read_text()
    elastic.run("ssh", "-n", cluster, "--", "cat > hello.c && mpicc -o hello hello.c", input_text=code)
    job = sh(elastic, cluster, "sbatch --parsable -p dyn -N2 --ntasks-per-node=2 -t 2 --wrap 'srun --mpi=pmix ./hello'")
    wait_for(lambda: job_state(elastic, cluster, job) in ("COMPLETED", "FAILED", "TIMEOUT"), 90, what="MPI job")
    assert job_state(elastic, cluster, job) == "COMPLETED"
    output = sh(elastic, cluster, f"cat slurm-{job}.out")
    assert output.count("of 4") == 4 and "sum of ranks 6" in output, output


@pytest.mark.parametrize(
    ("strategy", "expected_instances", "codes"),
    [
        ("all-or-nothing", 0, {"InsufficientInstanceCapacity"}),
        ("best-effort", 3, {"LimitedInstanceCapacity"}),
        ("greedy-all-or-nothing", 0, {"LimitedInstanceCapacity", "InsufficientInstanceCapacity"}),
    ],
)
def test_scaling_strategy_under_capacity_limit(elastic, strategy, expected_instances, codes):
    name = f"s-{strategy.split('-')[0]}"
    elastic.create(name, ELASTIC.format(strategy=strategy))
    job = sh(elastic, name, "sbatch --parsable -p cap -N4 -t 1 --wrap 'hostname'")
    # The resume program sets failed nodes DOWN with ParallelCluster's reason; the cluster manager soon powers
    # them down (replacing the reason), so the reasons are read from the resume log, and the failures from
    # describe-cluster-instances.
    logged = wait_for(lambda: re.findall(r"could not resume \S+: (\w+)",
                                         sh(elastic, name, "cat /var/log/parallelcluster/slurm_resume.log")),
                      40, what="resume failures")
    assert set(logged) <= codes, logged
    described = elastic.json("describe-cluster-instances", "-n", name, "--queue-name", "cap")
    assert {f["failureCode"] for f in described["nodeFailures"]} <= codes | {"InsufficientInstanceCapacity"}
    assert len(described["instances"]) == expected_instances, (strategy, described)
    sh(elastic, name, f"scancel {job}")
    elastic.json("delete-cluster", "-n", name, "--wait")


def _code_reasons(cli, cluster, partition):
    text = sh(cli, cluster, f"sinfo -h -N -p {partition} -o '%N|%E'")
    found = {}
    for line in text.splitlines():
        node, _, reason = line.partition("|")
        match = re.match(r"\(Code:(\w+)\)", reason)
        if match:
            found[node] = match.group(1)
    return found


def test_insufficient_capacity_sends_jobs_to_another_compute_resource(elastic, cluster):
    job = sh(elastic, cluster, "sbatch --parsable -p ice -N1 -t 1 --wrap 'hostname'")
    wait_for(lambda: job_state(elastic, cluster, job) == "COMPLETED", 90, what="the job to run on another CR")
    assert sh(elastic, cluster, f"cat slurm-{job}.out").startswith("ice-dy-plenty-")
    reasons = _code_reasons(elastic, cluster, "ice")
    assert any(node.startswith("ice-dy-scarce-") and code == "InsufficientInstanceCapacity"
               for node, code in reasons.items()), reasons


def test_killed_static_node_is_replaced(elastic, cluster):
    before = {i["nodeName"]: i["instanceId"] for i in
              elastic.json("describe-cluster-instances", "-n", cluster, "--queue-name", "st")["instances"]}
    record = cluster_record(elastic, cluster)
    os.kill(record.nodes["st-st-xl-1"].instance.pid, signal.SIGKILL)  # the instance dies with its PID 1

    def replaced():
        now = {i["nodeName"]: i["instanceId"] for i in
               elastic.json("describe-cluster-instances", "-n", cluster, "--queue-name", "st")["instances"]
               if i["state"] == "running"}
        return now.get("st-st-xl-1") not in (None, before["st-st-xl-1"]) and \
            node_states(elastic, cluster, "st").get("st-st-xl-1") == "idle"

    wait_for(replaced, 60, what="the static node to be replaced")
    assert sh(elastic, cluster, "srun -p st -N1 -t 1 hostname") == "st-st-xl-1"


def test_orphan_instance_is_terminated(elastic, cluster):
    # Launch an instance for a powered-down node behind Slurm's back: no Slurm job owns it.
    from paracluster.fleet import FleetClient, LaunchNode

    fleet = FleetClient(str(elastic.state_dir / "clusters" / cluster / "fleet" / "fleet.sock"))
    answer = fleet.launch(uuid.uuid4().hex, [LaunchNode("dyn-dy-xl-4", "dyn", "xl")], True)
    fleet.bind(uuid.uuid4().hex, {answer.launched[0].instance_id: "dyn-dy-xl-4"})
    assert any(i.node_name == "dyn-dy-xl-4" for i in fleet.instances())
    wait_for(lambda: not any(i.node_name == "dyn-dy-xl-4" for i in fleet.instances()), 30,
             what="the orphan to be terminated")


def test_stop_and_start_the_compute_fleet(elastic, cluster):
    assert elastic.json("describe-compute-fleet", "-n", cluster)["status"] == "RUNNING"
    assert elastic.json("update-compute-fleet", "-n", cluster, "--status", "STOP_REQUESTED")["status"] == \
        "STOP_REQUESTED"
    wait_for(lambda: elastic.json("describe-compute-fleet", "-n", cluster)["status"] == "STOPPED", 60,
             what="the fleet to stop")
    assert elastic.json("describe-cluster-instances", "-n", cluster, "--node-type", "ComputeNode")["instances"] == []
    assert "inact" in sh(elastic, cluster, "sinfo -h -p st -o %a")
    refused = elastic.ssh(cluster, "sbatch --parsable -p dyn -N1 -t 1 --wrap hostname")
    assert refused.returncode != 0 and "partition not available" in refused.stderr  # no job starts on a stopped fleet
    elastic.json("update-compute-fleet", "-n", cluster, "--status", "START_REQUESTED")
    wait_for(lambda: elastic.json("describe-compute-fleet", "-n", cluster)["status"] == "RUNNING", 60,
             what="the fleet to start")
    wait_for(lambda: node_states(elastic, cluster, "st").get("st-st-xl-1") == "idle", 60,
             what="the static node to come back", explain=lambda: fleet_picture(elastic, cluster))
    job = sh(elastic, cluster, "sbatch --parsable -p dyn -N1 -t 1 --wrap hostname")
    wait_for(lambda: job_state(elastic, cluster, job) == "COMPLETED", 60, what="a job to run after the start")


def test_repeated_bootstrap_failures_enter_protected_mode(tmp_path_factory):
    """Nodes of one queue keep failing their bootstrap: the queue goes INACTIVE and the fleet PROTECTED."""
    state_dir = Path(f"/tmp/paracluster-test-{uuid.uuid4().hex[:8]}")
    runner = Cli(state_dir, tmp_path_factory.mktemp("protected"))
    runner.env.update({
        "PARACLUSTER_LOCAL_INJECT_BOOTSTRAP_FAILURES": json.dumps({"t3.micro": 100}),
        "PARACLUSTER_LOCAL_PROTECTED_FAILURE_COUNT": "2",
    })
    config = ELASTIC.format(strategy="all-or-nothing").replace(
        "          InstanceType: c5.large\n", "          InstanceType: t3.micro\n")
    try:
        runner.create("prot", config)
        job = sh(runner, "prot", "sbatch --parsable -p cap -N1 -t 1 --wrap hostname")
        assert job.isdigit()
        wait_for(lambda: runner.json("describe-compute-fleet", "-n", "prot")["status"] == "PROTECTED", 120,
                 what="protected mode")
        assert "inact" in sh(runner, "prot", "sinfo -h -p cap -o %a")
        assert "up" in sh(runner, "prot", "sinfo -h -p dyn -o %a")  # other queues keep working
        failures = runner.json("describe-cluster-instances", "-n", "prot", "--queue-name", "cap").get("nodeFailures")
        assert failures is None or all(f["nodeName"].startswith("cap-") for f in failures)
        # Recovery is manual, as in ParallelCluster: start the fleet again.
        runner.json("update-compute-fleet", "-n", "prot", "--status", "START_REQUESTED")
        wait_for(lambda: runner.json("describe-compute-fleet", "-n", "prot")["status"] == "RUNNING", 60,
                 what="the fleet to run again")
        sh(runner, "prot", f"scancel {job}")
    finally:
        runner.run("delete-cluster", "-n", "prot", "--wait")
        stop_service(state_dir)
        subprocess.run(["rm", "-rf", str(state_dir)])

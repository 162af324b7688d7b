"""The elastic fleet when things go wrong at the wrong moment, on real local clusters.

A node that misses the end of a job (its network gone while the job is cancelled) does not keep the job COMPLETING;
a node name terminated while it boots and launched again at once boots; the early launch (PrologSlurmctld) and
ResumeProgram give a node one instance per job; a cluster created right after the delete of its name comes up.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest
from cluster_support import HEADER, node_exec, private_cli, wait_for

IDLE_SECONDS = 3

CONFIG = HEADER + """\
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: dyn
      ComputeResources:
        - Name: xl
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: 4
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    with private_cli(tmp_path_factory.mktemp("recovery"),
                     PARACLUSTER_LOCAL_SCALEDOWN_IDLETIME_SECONDS=str(IDLE_SECONDS)) as runner:
        yield runner


@pytest.fixture(scope="module")
def cluster(cli):
    name = f"rec{uuid.uuid4().hex[:4]}"  # node namespaces are named by cluster: another state directory may have ours
    assert cli.create(name, CONFIG)["clusterStatus"] == "CREATE_COMPLETE"
    return name


def sh(cli, cluster, command, timeout=120):
    return cli.ssh(cluster, command, timeout=timeout).stdout.strip()


def node_states(cli, cluster):
    text = sh(cli, cluster, "sinfo -h -N -p dyn -o '%N %T'")
    return dict(line.split() for line in text.splitlines() if line.strip())


def all_powered_down(cli, cluster):
    states = node_states(cli, cluster)
    return states and all(state.endswith("~") or "POWERED_DOWN" in state.upper() for state in states.values())


def test_a_node_that_missed_the_end_of_a_job_does_not_keep_it_completing(cli, cluster):
    wait_for(lambda: all_powered_down(cli, cluster), 60, what="powered-down nodes")
    job = sh(cli, cluster, "sbatch --parsable -p dyn -N2 -t 5 --wrap 'srun sleep 300'")
    wait_for(lambda: ".0" in sh(cli, cluster, f"squeue -h -s -j {job} -o %i"), 90, what=f"job {job}'s step to run")
    lost = sh(cli, cluster, f"squeue -h -j {job} -o %N")
    lost = sh(cli, cluster, f"scontrol show hostnames {lost} | tail -1")
    namespace = f"paracluster-{cluster}-{lost}"
    subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", "down"], check=True)
    try:
        sh(cli, cluster, f"scancel {job}")
        time.sleep(15)  # slurmctld's termination message to that node fails meanwhile
    finally:
        subprocess.run(["ip", "-n", namespace, "link", "set", "eth0", "up"], check=False)
    # Slurm alone retries the lost termination minutes later; the cluster manager powers the node down instead.
    wait_for(lambda: not sh(cli, cluster, f"squeue -h -j {job} -o %T"), 60, what=f"job {job} to end",
             explain=lambda: sh(cli, cluster, "scontrol show node -o | cut -c1-300"))
    wait_for(lambda: all_powered_down(cli, cluster), 60, what="every node to power down")


def test_a_node_name_terminated_while_it_boots_boots_again(cli, cluster):
    from paracluster.fleet import FleetClient

    fleet = FleetClient(str(cli.state_dir / "clusters" / cluster / "fleet" / "fleet.sock"))
    node = "dyn-dy-xl-4"
    # The cluster manager would terminate an instance that no Slurm job asked for: it waits meanwhile.
    node_exec(cli, cluster, "head", "systemctl stop paracluster-clustermgtd")
    try:
        _terminate_while_booting_and_relaunch(cli, cluster, fleet, node)
    finally:
        node_exec(cli, cluster, "head", "systemctl start paracluster-clustermgtd")


def _terminate_while_booting_and_relaunch(cli, cluster, fleet, node):
    from paracluster.fleet import LaunchNode

    for attempt in range(4):
        answer = fleet.launch(uuid.uuid4().hex, [LaunchNode(node, "dyn", "xl")], True)
        instance = answer.launched[0].instance_id
        assert fleet.bind(uuid.uuid4().hex, {instance: node}).bound == [node]
        if attempt % 2:
            time.sleep(0.3 * attempt)  # at different moments of the boot
        assert fleet.terminate(uuid.uuid4().hex, [instance]).terminated == [instance]
    answer = fleet.launch(uuid.uuid4().hex, [LaunchNode(node, "dyn", "xl")], True)
    bound = fleet.bind(uuid.uuid4().hex, {answer.launched[0].instance_id: node})
    assert bound.bound == [node], bound.failed
    status = cli.state_dir / "clusters" / cluster / "nodes" / node / "status.json"
    wait_for(lambda: status.exists() and '"running"' in status.read_text(), 60, what=f"{node} to run",
             explain=lambda: status.read_text() if status.exists() else "no status.json")
    # Its services answer: slurmd registered with slurmctld (the node is up in Slurm, powered down or not).
    wait_for(lambda: node_exec(cli, cluster, node, "systemctl is-active slurmd").stdout.strip() == "active", 30,
             what="slurmd on the relaunched node")
    fleet.terminate(uuid.uuid4().hex, [answer.launched[0].instance_id])


def test_the_early_launch_and_resume_program_give_a_node_one_instance(cli, cluster):
    wait_for(lambda: all_powered_down(cli, cluster), 60, what="powered-down nodes")
    job = sh(cli, cluster, "sbatch --parsable -p dyn -N2 -t 2 --wrap 'srun hostname'")
    wait_for(lambda: not sh(cli, cluster, f"squeue -h -j {job} -o %T"), 90, what=f"job {job} to end")
    assert "JobState=COMPLETED" in sh(cli, cluster, f"scontrol show job {job} -o")
    nodes = sh(cli, cluster, f"cat slurm-{job}.out").split()
    log = sh(cli, cluster, "cat /var/log/parallelcluster/slurm_resume.log")
    # The lines of this job's launches: the early launch's and ResumeProgram's, in either order.
    lines = log[log.rindex(f"for jobs {job}") if f"for jobs {job}" in log else log.rindex(f'"job_id": {job}'):]
    booted = [name for match in re.findall(r"booted (\S+) in", lines)
              for name in sh(cli, cluster, f"scontrol show hostnames {match}").split()]
    assert sorted(booted) == sorted(nodes)  # each node booted once for the job
    assert "could not resume" not in lines


def test_a_cluster_created_right_after_the_delete_of_its_name_comes_up(cli):
    name = f"again{uuid.uuid4().hex[:4]}"
    for _ in range(2):
        assert cli.create(name, CONFIG)["clusterStatus"] == "CREATE_COMPLETE"
        cli.json("delete-cluster", "-n", name, "--wait")
    assert cli.create(name, CONFIG)["clusterStatus"] == "CREATE_COMPLETE"
    cli.json("delete-cluster", "-n", name, "--wait")

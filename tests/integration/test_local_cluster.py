"""Real local clusters: create, Slurm jobs (sinfo, srun, sbatch, squeue, scontrol, MPI), describe, ssh, delete.

These tests run real slurmctld, slurmd, munged and sshd in Linux namespaces; every job carries a time limit.
"""

from __future__ import annotations

import time

import pytest
from cluster_support import cluster_record, links_of, residue, stop_service


@pytest.fixture(scope="module")
def cluster(cli):
    """One cluster shared by the tests of this module: head node and two static compute nodes."""
    described = cli.create("itest")
    assert described["clusterStatus"] == "CREATE_COMPLETE", described
    yield "itest"
    cli.run("delete-cluster", "-n", "itest", "--wait")


def test_describe_reports_the_truth(cli, cluster):
    described = cli.json("describe-cluster", "-n", cluster)
    assert described["clusterStatus"] == "CREATE_COMPLETE"
    assert described["cloudFormationStackStatus"] == "CREATE_COMPLETE"
    assert described["computeFleetStatus"] == "RUNNING"
    head = described["headNode"]
    assert head["state"] == "running" and head["instanceType"] == "c5.xlarge"
    assert head["instanceId"].startswith("i-") and len(head["instanceId"]) == 19
    # The head node really has that address: slurmctld is asked there from a compute node.
    pid = _pid(cli, cluster, "compute-st-c5-1")
    probe = _node_exec(pid, ["scontrol", "ping"])
    assert "UP" in probe.stdout
    hosts = _node_exec(pid, ["getent", "hosts", "head"]).stdout.split()
    assert hosts[0] == head["privateIpAddress"]


def test_list_clusters_and_status_filter(cli, cluster):
    names = [c["clusterName"] for c in cli.json("list-clusters")["clusters"]]
    assert cluster in names
    filtered = cli.json("list-clusters", "--cluster-status", "CREATE_FAILED")["clusters"]
    assert cluster not in [c["clusterName"] for c in filtered]


def test_describe_cluster_instances(cli, cluster):
    instances = cli.json("describe-cluster-instances", "-n", cluster)["instances"]
    by_name = {i["nodeName"]: i for i in instances}
    assert set(by_name) == {"head", "compute-st-c5-1", "compute-st-c5-2"}
    assert all(i["state"] == "running" for i in instances)
    assert by_name["compute-st-c5-1"]["queueName"] == "compute"
    assert by_name["head"]["nodeType"] == "HeadNode"
    compute = cli.json("describe-cluster-instances", "-n", cluster, "--node-type", "ComputeNode")["instances"]
    assert {i["nodeName"] for i in compute} == {"compute-st-c5-1", "compute-st-c5-2"}
    assert cli.json("describe-cluster-instances", "-n", cluster, "--queue-name", "other")["instances"] == []


def test_sinfo_shows_static_idle_and_dynamic_powered_down(cli, cluster):
    result = cli.ssh(cluster, "sinfo -h -N -o '%N %t %c %m'")
    assert result.returncode == 0, result.stderr
    nodes = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert nodes["compute-st-c5-1"][0] == "idle" and nodes["compute-st-c5-2"][0] == "idle"
    assert nodes["compute-dy-c5-1"][0] == "idle~"
    # Slurm sees the catalog's size of a c5.xlarge (4 vCPUs, 8 GiB), not the host's.
    assert nodes["compute-st-c5-1"][1] == "4"
    assert int(nodes["compute-st-c5-1"][2]) == int(8192 * 0.95)


def test_srun_runs_on_two_nodes(cli, cluster):
    result = cli.ssh(cluster, "srun -N2 -t 1 hostname | sort")
    assert result.stdout.split() == ["compute-st-c5-1", "compute-st-c5-2"], result.stderr


def test_sbatch_squeue_scontrol(cli, cluster):
    script = "#!/bin/bash\\n#SBATCH -N 2\\n#SBATCH -t 1\\nsrun hostname\\nsleep 2\\n"
    submit = cli.ssh(cluster, f"printf '{script}' > job.sh && sbatch --parsable job.sh")
    job = submit.stdout.strip()
    assert job.isdigit(), submit.stderr
    queue = cli.ssh(cluster, f"squeue -h -j {job} -o '%i %T'")
    assert queue.stdout.split()[0] == job
    done = _wait_job(cli, cluster, job)
    assert done["JobState"] == "COMPLETED", done
    output = cli.ssh(cluster, f"cat slurm-{job}.out").stdout.split()
    assert sorted(output) == ["compute-st-c5-1", "compute-st-c5-2"]


def test_mpi_with_srun_pmix_and_mpirun(cli, cluster):
    code = open(f"{_project()}/examples/jobs/mpi_hello.c").read()
    result = cli.run("ssh", "-n", cluster, "--", "cat > hello.c && mpicc -o hello hello.c", input_text=code)
    assert result.returncode == 0, result.stderr
    srun = cli.ssh(cluster, "srun -N2 -n4 -t 1 --mpi=pmix ./hello | sort")
    assert srun.stdout.count("of 4") == 4 and "compute-st-c5-2" in srun.stdout, srun.stderr
    assert "sum of ranks 6" in srun.stdout
    script = ("#!/bin/bash\\n#SBATCH -N 2\\n#SBATCH --ntasks-per-node=1\\n#SBATCH -t 1\\n"
              "mpirun --mca btl self,tcp --mca btl_tcp_if_include eth0 ./hello\\n")
    job = cli.ssh(cluster, f"printf '{script}' > mpi.sh && sbatch --parsable mpi.sh").stdout.strip()
    done = _wait_job(cli, cluster, job)
    assert done["JobState"] == "COMPLETED", done
    output = cli.ssh(cluster, f"cat slurm-{job}.out").stdout
    assert output.count("of 2") == 2 and "sum of ranks 1" in output, output


def test_ssh_is_the_default_user_on_the_head_node(cli, cluster):
    result = cli.ssh(cluster, "whoami; hostname; echo $HOME")
    # The head node keeps EC2's hostname, as in ParallelCluster.
    head = "ip-" + cli.json("describe-cluster", "-n", cluster)["headNode"]["privateIpAddress"].replace(".", "-")
    assert result.stdout.split() == ["ec2-user", head, "/home/ec2-user"], result.stderr
    dry = cli.json("ssh", "-n", cluster, "--dryrun", "true")
    assert dry["command"].startswith("ssh ") and "ec2-user@" in dry["command"]


def test_home_is_shared_between_nodes(cli, cluster):
    cli.ssh(cluster, "echo shared-$(hostname) > marker.txt")
    result = cli.ssh(cluster, "srun -N1 -w compute-st-c5-2 -t 1 cat marker.txt")
    assert result.stdout.strip().startswith("shared-ip-")
    tmp = cli.ssh(cluster, "touch /tmp/only-head && srun -N1 -w compute-st-c5-1 -t 1 ls /tmp/only-head")
    assert tmp.returncode != 0  # /tmp is private to each node


def test_host_service_restart_loses_nothing(cli, cluster):
    before = cli.json("describe-cluster-instances", "-n", cluster)["instances"]
    stop_service(cli.state_dir)
    after = cli.json("describe-cluster-instances", "-n", cluster)["instances"]  # starts the service again
    assert {i["instanceId"] for i in after} == {i["instanceId"] for i in before}
    assert all(i["state"] == "running" for i in after)
    assert cli.ssh(cluster, "srun -N2 -t 1 hostname | wc -l").stdout.strip() == "2"


def test_errors_are_one_sentence(cli, cluster):
    again = cli.json("create-cluster", "-n", cluster, "-c", str(cli.config()), expect=1)
    assert again["message"].startswith(f"cluster '{cluster}' already exists")
    for verb in ("describe-cluster", "delete-cluster", "describe-cluster-instances"):
        missing = cli.json(verb, "-n", "nosuchcluster", expect=1)
        assert missing["message"] == "cluster 'nosuchcluster' does not exist; see `paracluster list-clusters`"


def _project():
    from cluster_support import PROJECT

    return PROJECT


def _pid(cli, cluster, node):
    record = cluster_record(cli, cluster)
    return record.nodes[node].instance.pid


def _node_exec(pid, argv):
    from paracluster.providers.local.nodes.instances import node_exec

    return node_exec(pid, argv, timeout=30)


def _wait_job(cli, cluster, job, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = cli.ssh(cluster, f"scontrol show job {job} -o").stdout
        fields = dict(item.split("=", 1) for item in text.split() if "=" in item)
        if fields.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
            return fields
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not finish within {timeout} s")


def test_delete_leaves_nothing_behind(cli):
    cli.create("short")
    record = cluster_record(cli, "short")
    index = record.network.index
    assert links_of(index)
    result = cli.json("delete-cluster", "-n", "short", "--wait")
    assert result == {"message": "Successfully deleted cluster 'short'."}
    left = residue(cli.state_dir, "short")
    assert all(not items for items in left.values()), left
    assert links_of(index) == []
    assert not (cli.state_dir / "clusters" / "short").exists()

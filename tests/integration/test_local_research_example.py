"""examples/research.yaml on a real local cluster: site scripts from a bucket, storage, login pool, three queues.

The example's own instructions are followed (scripts and data copied to local buckets), then users' work: log in
through the login pool's balancer, submit to the queues, read imported reference data, use /scratch.
"""

from __future__ import annotations

import json

from cluster_support import PROJECT, cluster_record, wait_for

from paracluster.providers.local.nodes.instances import node_exec


def test_research_example_cluster(cli):
    examples = PROJECT / "examples"
    for source, target in ((examples / "scripts", "s3://research-site/bootstrap/"),
                           (examples / "data", "s3://research-data/reference/")):
        result = cli.run("s3", "cp", str(source), target)
        assert result.returncode == 0, result.stdout + result.stderr
    described = cli.json("create-cluster", "-n", "research", "-c", str(examples / "research.yaml"), "--wait",
                         timeout=300)
    assert described["clusterStatus"] == "CREATE_COMPLETE", described
    assert described["loginNodes"][0]["poolName"] == "users"

    def login(command: str):
        return cli.run("ssh", "-n", "research", "--login-pool", "users", "--", command, timeout=180)

    # Site scripts ran on the head, the login nodes and the static debug node, leaving their marks on /projects.
    log = login("cat /home/site-bootstrap.log").stdout
    record = cluster_record(cli, "research")
    assert "head node configured for research-lab" in log
    for name in ("login-users-1", "login-users-2"):  # login nodes keep EC2's hostname, as in ParallelCluster
        assert f"ip-{record.nodes[name].address.replace('.', '-')} login node configured" in log, log
    assert "debug-st-small-1 starting in queue debug with 2 slots" in log
    assert "Research cluster login node" in login("cat /etc/motd").stdout
    # The head node's cfnconfig names its EBS volume, as ParallelCluster's does.
    cfnconfig = node_exec(record.nodes["head"].instance.pid, ["cat", "/etc/parallelcluster/cfnconfig"]).stdout
    assert 'cfn_volume="vol-' in cfnconfig and 'cfn_ebs_shared_dirs="/apps"' in cfnconfig, cfnconfig
    # Reference data imported from the bucket into the FSx for Lustre file system.
    assert login("cat /fsx/reference/genome.tsv").stdout.split() == ["chr1", "248956422"]
    # A job in the elastic cpu queue, from a login node: the dynamic node bootstraps with both scripts, then runs it.
    job = login("sbatch -t 2 -p cpu --parsable --wrap 'hostname > /projects/research-lab/cpu-job.out'").stdout.strip()
    assert job.isdigit(), job
    wait_for(lambda: login("cat /projects/research-lab/cpu-job.out 2>/dev/null").stdout.strip(),
             what=f"cpu job {job} output")
    assert "configured as cpu" in login("cat /home/site-bootstrap.log").stdout
    # The scratch queue's c5d.24xlarge node stripes its four instance store disks at /scratch.
    out = login("srun -t 2 -p scratch -N 1 bash -c 'df --output=fstype,target /scratch | tail -1; "
                "echo data > /scratch/mine && hostname'").stdout.split()
    assert out == ["btrfs", "/scratch", "scratch-dy-c5d-1"], out
    record = cluster_record(cli, "research")  # now with c5d
    node = node_exec(record.nodes["scratch-dy-c5d-1"].instance.pid, ["btrfs", "filesystem", "show", "/scratch"])
    assert node.stdout.count("devid") == 4, node.stdout
    cli.run("delete-cluster", "-n", "research", "--wait", timeout=120)
    # DeletionPolicy: /projects (Efs, Retain) stays registered, /apps (Ebs, Snapshot) leaves a snapshot, /fsx goes.
    kept = [(item["type"], item["name"]) for item in json.loads(cli.run("storage", "list").stdout)["storage"]
            if item.get("createdBy") == "research"]
    assert ("Snapshot", "apps") in kept and any(name == "projects" for _, name in kept), kept
    assert not any(name == "reference" for _, name in kept), kept

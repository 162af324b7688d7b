"""Nodes that site scripts accept: the unchanged AWS CLI, boto3 and IMDS on head, login and compute nodes of a real
local cluster; ParallelCluster's hostnames with UseEc2Hostnames; storage named by an account's id; login pools on
extra ports. One cluster for the module, with a host service of its own (for its settings).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from awsapi_support import metadata_address_on_host
from cluster_support import HEADER, node_exec, private_cli, stop_service, wait_for
from rest_support import SMALL
from support import LOGIN_POOL

NAME = "nodeaws"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:site/license-AbC123"
FS_ID = "fs-0123456789abcdef0"
EXTRA_PORT = 8787
IMDS = "http://169.254.169.254/latest"
TOKEN = f"TOKEN=$(curl -sf -X PUT {IMDS}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')"
TOKEN_HEADER = '-H "X-aws-ec2-metadata-token: $TOKEN"'

# A head node site script as published ones are: everything with the unchanged AWS CLI and curl.
HEAD_SCRIPT = f"""\
#!/bin/bash
set -euo pipefail
aws s3 cp --only-show-errors --recursive s3://site-data/bootstrap/ /opt/site/
aws secretsmanager get-secret-value --secret-id {ARN} --query SecretString --output text > /opt/site/license
{TOKEN}
curl -sf {TOKEN_HEADER} {IMDS}/meta-data/instance-id > /opt/site/instance-id
"""

BOTO3_SCRIPT = """\
import json, boto3
s3 = boto3.client("s3")
s3.put_object(Bucket="site-data", Key="results/from-compute.txt", Body=b"written by boto3")
print(json.dumps({
    "keys": sorted(item["Key"] for item in s3.list_objects_v2(Bucket="site-data", Prefix="bootstrap/")["Contents"]),
    "secret": boto3.client("secretsmanager").get_secret_value(SecretId="site/license")["SecretString"],
    "credentials": boto3.Session().get_credentials().method,
}))
"""


def config(script: Path) -> str:
    header = HEADER.replace("HeadNode:\n", f"Tags:\n  - Key: team\n    Value: hpc\nHeadNode:\n  CustomActions:\n"
                                          f"    OnNodeConfigured:\n      Script: {script}\n", 1)
    scheduling = SMALL.split(HEADER)[1].replace("Scheduler: slurm\n", "Scheduler: slurm\n  SlurmSettings:\n"
                                                                   "    Dns:\n      UseEc2Hostnames: true\n")
    storage = f"SharedStorage:\n  - Name: existing-efs\n    StorageType: Efs\n    MountDir: /shared-efs\n" \
              f"    EfsSettings:\n      FileSystemId: {FS_ID}\n"
    return header + scheduling + LOGIN_POOL + storage


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nodeaws")
    host_before = metadata_address_on_host()
    script = tmp / "head-configured.sh"
    script.write_text(HEAD_SCRIPT)
    data = tmp / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha\n")
    (data / "sub" / "b.txt").write_text("beta\n")
    secret = tmp / "license"
    secret.write_text("license-key-42")
    settings = {"PARACLUSTER_LOGIN_EXTRA_PORTS": json.dumps({"users": [EXTRA_PORT]}),
                "PARACLUSTER_LOCAL_INSTANCE_METADATA_TAGS": "true"}
    with private_cli(tmp, **settings) as cli:
        for args in (("s3", "cp", str(data), "s3://site-data/bootstrap/"),
                     ("secrets", "put", ARN, "--value-file", str(secret)),
                     ("storage", "create-file-system", "--type", "Efs", "--id", FS_ID)):
            result = cli.run(*args)
            assert result.returncode == 0, result.stdout + result.stderr
        described = cli.create(NAME, config(script))
        assert described["clusterStatus"] == "CREATE_COMPLETE", described
        yield cli
        state_dir = cli.state_dir
    assert not [line for line in _processes() if str(state_dir) in line]  # the stand-ins went with the service
    assert metadata_address_on_host() == host_before  # nothing of 169.254.169.254 on the host, ever


def _processes() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return found


def run(cli, node: str, command: str, user: str | None = None) -> str:
    result = node_exec(cli, NAME, node, command, user=user)
    assert result.returncode == 0, f"{node}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def instances(cli) -> dict[str, dict]:
    listing = cli.json("describe-cluster-instances", "-n", NAME)["instances"]
    return {item["nodeName"]: item for item in listing}


def test_head_node_script_copied_the_prefix_read_the_secret_and_its_instance_id(cluster):
    site = run(cluster, "head", "cat /opt/site/a.txt /opt/site/sub/b.txt /opt/site/license; echo; "
                                "cat /opt/site/instance-id").split()
    head = cluster.json("describe-cluster", "-n", NAME)["headNode"]
    assert site == ["alpha", "beta", "license-key-42", head["instanceId"]]


def test_boto3_in_a_job_on_a_compute_node_writes_where_paracluster_s3_reads(cluster):
    run(cluster, "head", f"cat > /home/ec2-user/probe.py <<'EOF'\n{BOTO3_SCRIPT}EOF")
    out = cluster.ssh(NAME, "cd ~ && srun -t 1 -p work python3 probe.py")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"keys": ["bootstrap/a.txt", "bootstrap/sub/b.txt"],
                                      "secret": "license-key-42", "credentials": "iam-role"}
    listed = cluster.json("s3", "ls", "s3://site-data/results/")["objects"]
    assert "results/from-compute.txt" in [item["key"] for item in listed]
    stored = cluster.state_dir / "buckets" / "site-data" / "results" / "from-compute.txt"
    assert stored.read_text() == "written by boto3"


def test_login_node_has_the_cli_and_its_own_imds_with_tags(cluster):
    login = instances(cluster)["login-users-1"]
    # A user's session through the pool's load balancer, as `ssh` to ParallelCluster's login pool.
    out = cluster.run("ssh", "-n", NAME, "--login-pool", "users", "--",
                      f"set -e; aws s3 ls s3://site-data/bootstrap/sub/; {TOKEN}; "
                      f"for path in instance-id tags/instance/parallelcluster:node-type tags/instance/team "
                      f"placement/region; do curl -sf {TOKEN_HEADER} {IMDS}/meta-data/$path; echo; done")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith(" b.txt")
    assert lines[1:] == [login["instanceId"], "LoginNode", "hpc", "us-east-1"]


def test_hostnames_follow_use_ec2_hostnames_and_match_imds(cluster):
    for node in ("head", "work-st-c5-1", "login-users-1"):
        out = run(cluster, node, f"hostname; hostname -f; {TOKEN}; curl -sf {TOKEN_HEADER} "
                                 f"{IMDS}/meta-data/local-hostname").split()
        address = instances(cluster)[node]["privateIpAddress"]
        short = "ip-" + address.replace(".", "-")
        assert out == [short, f"{short}.ec2.internal", f"{short}.ec2.internal"], node
    # Slurm still knows the compute node by its Slurm name, and jobs run there.
    ran = cluster.ssh(NAME, "srun -t 1 -p work -w work-st-c5-1 hostname")
    assert ran.stdout.strip().startswith("ip-"), ran.stderr


def test_storage_created_with_an_accounts_id_is_the_clusters(cluster):
    run(cluster, "head", "echo from-head > /shared-efs/probe.txt")
    assert (cluster.state_dir / "storage" / FS_ID / "data" / "probe.txt").read_text() == "from-head\n"
    listed = {item["id"]: item for item in cluster.json("storage", "list")["storage"]}
    assert listed[FS_ID]["attachments"] == [NAME]


def test_login_pool_serves_its_extra_port_through_the_balancer(cluster):
    (pool,) = cluster.json("describe-cluster", "-n", NAME)["loginNodes"]
    (port,) = pool["extraPorts"]
    # An IDE server on the login node (here: a directory listing), started the way a site would.
    run(cluster, "login-users-1", f"mkdir -p /tmp/ide && echo ide-up > /tmp/ide/index.html && cd /tmp/ide && "
                                  f"setsid -f timeout 300 python3 -m http.server {EXTRA_PORT} >/dev/null 2>&1")

    def fetched():
        try:
            with urllib.request.urlopen(f"http://{pool['address']}:{port}/index.html", timeout=2) as answer:
                return answer.read().decode()
        except OSError:
            return None

    assert wait_for(fetched, timeout=30, what=f"the login node's port {EXTRA_PORT} through the balancer") == \
        "ide-up\n"
    # The balancer health-checks the port: with the server gone, it stops forwarding.
    run(cluster, "login-users-1", f"pkill -f 'http[.]server {EXTRA_PORT}'")  # [.]: not this shell itself

    def refused():
        try:
            with socket.create_connection((pool["address"], port), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return conn.recv(100) == b""  # HAProxy closes: no server is up
        except OSError:
            return True

    assert wait_for(refused, timeout=30, what="the balancer to take the stopped server out")


def test_a_restarted_host_service_serves_the_same_data_and_metadata(cluster):
    head_id = cluster.json("describe-cluster", "-n", NAME)["headNode"]["instanceId"]
    wrote = cluster.ssh(NAME, "echo before-restart > /tmp/r.txt && aws s3 cp --only-show-errors /tmp/r.txt "
                              "s3://site-data/results/r.txt")
    assert wrote.returncode == 0, wrote.stderr
    stop_service(cluster.state_dir)
    started = time.monotonic()
    assert cluster.json("describe-cluster", "-n", NAME)["clusterStatus"] == "CREATE_COMPLETE"  # starts it again

    def after_restart():
        result = cluster.ssh(NAME, f"aws s3 cp --only-show-errors s3://site-data/results/r.txt - && {TOKEN} && "
                                   f"curl -sf {TOKEN_HEADER} {IMDS}/meta-data/instance-id")
        return result.stdout.split() if result.returncode == 0 else None

    assert wait_for(after_restart, timeout=30, what="S3 and IMDS after a host service restart") == \
        ["before-restart", head_id]
    print(f"S3 and IMDS answered {time.monotonic() - started:.2f} s after the restart began")
    shutil.rmtree(cluster.state_dir / "buckets" / "site-data" / "results")

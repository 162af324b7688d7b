"""The AWS stand-ins seen from node namespaces: the real `aws` command and boto3 with no flag, IMDS per node.

Two namespaces on a test bridge stand in for nodes; commands run there over an overlay root that holds only the
node files of nodesdk.node_files, like a node's. The host's 169.254.169.254 is never queried or touched.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from awsapi_support import NodeNet, metadata_address_on_host, node_root, run_on_node
from cluster_support import wait_for

from paracluster.providers.local.standins import buckets, secrets
from paracluster.providers.local.standins.awsapi import endpoints, imds_server, nodesdk
from paracluster.plan.identity import ec2_hostname
from paracluster.providers.local.standins.awsapi.imds import NodeRecord

REGION = "eu-west-1"
ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:site/db-AbC123"
IMDS = "http://169.254.169.254"
TOKEN = f"TOKEN=$(curl -sf -X PUT {IMDS}/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two nodes (v2-only and v1-allowed IMDS), the cluster's endpoints on the bridge, the IMDS server."""
    host_before = metadata_address_on_host()
    nodesdk.install_sdk()
    state_dir = Path(f"/tmp/pcl-awsapi-test-{uuid.uuid4().hex[:8]}")
    with NodeNet() as net:
        namespaces = {name: net.add_node(name) for name in ("head", "compute")}
        urls = endpoints.start_cluster_endpoints(state_dir, net.gateway)
        imds_server.start(state_dir)
        records = {}
        for name, tokens in (("head", "required"), ("compute", "optional")):
            records[name] = NodeRecord(
                netns=namespaces[name], instance_id=f"i-0{uuid.uuid4().hex[:16]}", instance_type="c5.xlarge",
                local_ipv4=net.addresses[name], local_hostname=ec2_hostname(net.addresses[name], REGION),
                availability_zone=f"{REGION}a", region=REGION, subnet_cidr=str(net.subnet), role_name=f"{name}-role",
                tags={"Name": name, "parallelcluster:node-type": name}, http_tokens=tokens, launch_time=time.time())
            imds_server.register(state_dir, records[name])
        files = nodesdk.node_files(REGION, urls)
        assert metadata_address_on_host() == host_before  # served in the namespaces, nothing on the host
        with node_root(files) as root:
            yield {"net": net, "state_dir": state_dir, "urls": urls, "records": records, "root": root,
                   "env": nodesdk.node_environment(REGION, urls)}
        imds_server.stop(state_dir)
        endpoints.stop_cluster_endpoints(state_dir, net.gateway)
    shutil.rmtree(state_dir, ignore_errors=True)
    assert metadata_address_on_host() == host_before


def on_node(cluster, node: str, command: str, env: dict | None = None, stdin: str | None = None) -> str:
    result = run_on_node(cluster["net"].namespaces[node], cluster["root"], command,
                         cluster["env"] if env is None else env, stdin=stdin)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_unchanged_aws_cli_commands_reach_the_local_endpoints(cluster, tmp_path):
    state_dir = cluster["state_dir"]
    for name in ("a.sh", "sub/b.sh"):
        source = tmp_path / name.replace("/", "-")
        source.write_text(f"echo {name}\n")
        buckets.put(state_dir, source, f"s3://site-bucket/bootstrap/{name}")
    secrets.put(state_dir, ARN, b"db-password")
    out = on_node(cluster, "head", (
        "set -e; aws s3 cp --only-show-errors --recursive s3://site-bucket/bootstrap/ /tmp/bootstrap/; "
        "cat /tmp/bootstrap/a.sh /tmp/bootstrap/sub/b.sh; "
        "aws s3 ls s3://site-bucket/bootstrap/; "
        "echo result > /tmp/r.txt; aws s3 cp --only-show-errors /tmp/r.txt s3://site-bucket/results/r.txt; "
        f"aws secretsmanager get-secret-value --secret-id {ARN} --query SecretString --output text"))
    lines = out.splitlines()
    assert lines[:2] == ["echo a.sh", "echo sub/b.sh"]
    assert any(line.strip() == "PRE sub/" for line in lines) and any(line.endswith(" a.sh") for line in lines)
    assert lines[-1] == "db-password"
    assert (buckets.prefix_path(state_dir, "s3://site-bucket/results/") / "r.txt").read_text() == "result\n"


BOTO3_SCRIPT = """
import boto3, json
s3 = boto3.client("s3")
s3.put_object(Bucket="site-bucket", Key="boto/x.txt", Body=b"from boto3")
print(json.dumps({
    "get": s3.get_object(Bucket="site-bucket", Key="boto/x.txt")["Body"].read().decode(),
    "head": s3.head_object(Bucket="site-bucket", Key="boto/x.txt")["ContentLength"],
    "keys": [item["Key"] for item in s3.list_objects_v2(Bucket="site-bucket", Prefix="boto/")["Contents"]],
    "secret": boto3.client("secretsmanager").get_secret_value(SecretId="site/db")["SecretString"],
    "credentials": boto3.Session().get_credentials().method,
    "region": boto3.Session().region_name,
}))
"""


def test_boto3_in_a_script_reaches_them_with_credentials_from_imds(cluster, tmp_path):
    secrets.put(cluster["state_dir"], ARN, b"db-password")
    buckets.put(cluster["state_dir"], tmp_path, "s3://site-bucket/")  # the bucket exists (empty directory)
    answer = json.loads(on_node(cluster, "head", "/usr/bin/python3 -", stdin=BOTO3_SCRIPT))
    assert answer == {"get": "from boto3", "head": 10, "keys": ["boto/x.txt"], "secret": "db-password",
                      "credentials": "iam-role", "region": REGION}
    assert (buckets.prefix_path(cluster["state_dir"], "s3://site-bucket/boto/") / "x.txt").read_text() == \
        "from boto3"


def test_python_processes_without_the_environment_still_get_it(cluster, tmp_path):
    """sudo, cron or `env -i` drop the variables; the python start-up hook reads them from aws.env."""
    secrets.put(cluster["state_dir"], ARN, b"db-password")
    out = on_node(cluster, "compute", f"env -i /usr/local/bin/aws secretsmanager get-secret-value --secret-id {ARN} "
                                      "--query SecretString --output text", env={})
    assert out.strip() == "db-password"


def test_imds_answers_each_node_from_its_own_record(cluster):
    for node, record in cluster["records"].items():
        out = on_node(cluster, node, (
            f"{TOKEN}; for path in instance-id instance-type local-ipv4 local-hostname placement/availability-zone "
            f"placement/region tags/instance/Name iam/security-credentials/{node}-role; do "
            f"curl -sf -H \"X-aws-ec2-metadata-token: $TOKEN\" {IMDS}/latest/meta-data/$path; echo; done"))
        values = out.split("\n", 7)
        assert values[:7] == [record.instance_id, "c5.xlarge", record.local_ipv4, record.local_hostname,
                              f"{REGION}a", REGION, node]
        assert json.loads(values[7])["AccessKeyId"].startswith("ASIA")


def test_imds_v1_follows_http_tokens(cluster):
    status = f"curl -s -o /dev/null -w '%{{http_code}}' {IMDS}/latest/meta-data/instance-id"
    assert on_node(cluster, "head", status) == "401"  # ImdsSupport v2.0
    assert on_node(cluster, "compute", status) == "200"  # ImdsSupport v1.0
    mac = on_node(cluster, "head", f"{TOKEN}; curl -sf -H \"X-aws-ec2-metadata-token: $TOKEN\" "
                                   f"{IMDS}/latest/meta-data/mac")
    assert mac == on_node(cluster, "head", "cat /sys/class/net/eth0/address").strip()


def test_a_restarted_imds_server_serves_the_registered_nodes_again(cluster):
    state_dir = cluster["state_dir"]
    before = imds_server.start(state_dir)
    imds_server.stop(state_dir)
    assert imds_server.start(state_dir)["pid"] != before["pid"]
    compute = cluster["records"]["compute"]
    assert on_node(cluster, "compute", f"curl -sf {IMDS}/latest/meta-data/instance-id") == compute.instance_id


def test_unregistered_and_deleted_nodes_are_released(cluster):
    state_dir, net = cluster["state_dir"], cluster["net"]
    netns = net.add_node("gone")
    veth = f"pclaws{net.tag}v{len(net.namespaces) - 1}"
    record = NodeRecord(netns=netns, instance_id="i-0aaaaaaaaaaaaaaaa", instance_type="t3.micro",
                        local_ipv4=net.addresses["gone"], local_hostname="gone", availability_zone=f"{REGION}b",
                        region=REGION, http_tokens="optional")
    imds_server.register(state_dir, record)
    assert on_node(cluster, "gone", f"curl -sf {IMDS}/latest/meta-data/instance-id") == record.instance_id
    imds_server.unregister(state_dir, netns)
    refused = run_on_node(net.namespaces["gone"], cluster["root"], f"curl -sf {IMDS}/latest/meta-data/", {})
    assert refused.returncode == 7  # curl: could not connect
    # Registered again and then deleted without unregistering: the server lets go of the namespace, so its
    # veth goes away with it instead of lingering on the bridge.
    imds_server.register(state_dir, record)
    net.delete_node("gone")
    wait_for(lambda: not Path("/sys/class/net", veth).exists(), timeout=10, what=f"{veth} to go with its namespace")
    assert sorted(item.netns for item in imds_server.registered(state_dir)) == \
        sorted(item.netns for item in cluster["records"].values())

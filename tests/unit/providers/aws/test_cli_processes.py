"""The `paracluster` command with `--provider aws` as whole processes, pointed at a moto server by AWS_ENDPOINT_URL:
dry runs (with the AWS validators and suppression), then create, describe, stack events, instances, ssh and delete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import FAKE_ENVIRONMENT, FreshCopies, REGION, Network, example_text
from support import MINIMAL_CLUSTER

NAME = "research"


@pytest.fixture
def moto_server(monkeypatch):
    """A moto server in this process (so the test-only patches apply to it) on a free port of 127.0.0.1."""
    import moto.ec2.models.amis as moto_amis
    import requests
    from moto.server import ThreadedMotoServer

    import aws_moto_patches

    monkeypatch.setattr(moto_amis, "AMIS", FreshCopies(json.loads(
        open(FAKE_ENVIRONMENT["MOTO_AMIS_PATH"]).read())))
    aws_moto_patches.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    try:
        yield endpoint
    finally:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        server.stop()


@pytest.fixture
def site(moto_server) -> Network:
    """The research example's VPC, key pair, scripts and data bucket, made in the moto server."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]
    ec2.create_key_pair(KeyName="research")
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("research-site", "research-data"):
        s3.create_bucket(Bucket=bucket)
    for script in ("head-configured.sh", "login-configured.sh", "compute-start.sh", "compute-configured.sh"):
        s3.put_object(Bucket="research-site", Key=f"bootstrap/{script}", Body=b"#!/bin/sh\n")
    return Network(vpc, subnet["SubnetId"], subnet["SubnetId"])


def paracluster(*args: str) -> tuple[int, dict | None, str]:
    done = subprocess.run([sys.executable, "-m", "paracluster", *args], capture_output=True, text=True, timeout=120)
    body = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, body, done.stderr


def test_dry_run_runs_the_aws_validators(site, tmp_path):
    config = tmp_path / "research.yaml"
    config.write_text(example_text("research.yaml", site))
    code, body, _ = paracluster("create-cluster", "-n", NAME, "-c", str(config), "--dryrun", "true", "--provider",
                                "aws")
    assert code == 1 and body["message"] == "Request would have succeeded, but DryRun flag is set."

    config.write_text(example_text("research.yaml", site).replace("KeyName: research", "KeyName: absent"))
    code, body, _ = paracluster("create-cluster", "-n", NAME, "-c", str(config), "--dryrun", "true", "--provider",
                                "aws")
    assert body["message"] == "Invalid cluster configuration."
    assert [(item["level"], item["type"]) for item in body["configurationValidationErrors"]
            if item["level"] == "ERROR"] == [("ERROR", "KeyPairValidator")]
    code, body, _ = paracluster("create-cluster", "-n", NAME, "-c", str(config), "--dryrun", "true", "--provider",
                                "aws", "--suppress-validators", "type:KeyPairValidator")
    assert body["message"] == "Request would have succeeded, but DryRun flag is set."


def test_cluster_verbs_as_processes(site, tmp_path):
    config = tmp_path / "research.yaml"
    config.write_text(example_text("research.yaml", site))
    code, body, _ = paracluster("create-cluster", "-n", NAME, "-c", str(config), "--provider", "aws", "--wait")
    assert code == 0, body
    assert body["clusterStatus"] == "CREATE_COMPLETE" and body["headNode"]["privateIpAddress"].startswith("10.0.1.")

    code, body, _ = paracluster("list-clusters", "--provider", "aws", "--query", "clusters[].clusterName")
    assert (code, body) == (0, [NAME])
    code, body, _ = paracluster("get-cluster-stack-events", "-n", NAME, "--provider", "aws")
    assert code == 0 and body["events"][0]["stackName"] == NAME
    code, body, _ = paracluster("describe-cluster-instances", "-n", NAME, "--provider", "aws", "--node-type",
                                "LoginNode")
    assert code == 0 and len(body["instances"]) == 2
    code, body, _ = paracluster("ssh", "-n", NAME, "--provider", "aws", "--dryrun", "true")
    assert code == 0 and body["command"].startswith("ssh -o LogLevel=ERROR ubuntu@10.0.1.")
    code, body, _ = paracluster("update-compute-fleet", "-n", NAME, "--provider", "aws", "--status", "STOP_REQUESTED")
    assert code == 0 and body["status"] == "STOP_REQUESTED"

    code, body, _ = paracluster("delete-cluster", "-n", NAME, "--provider", "aws", "--wait")
    assert (code, body) == (0, {"message": f"Successfully deleted cluster '{NAME}'."})
    code, body, _ = paracluster("describe-cluster", "-n", NAME, "--provider", "aws")
    assert code == 1 and body["message"].startswith(f"cluster '{NAME}' does not exist in {REGION}")


def test_update_on_the_aws_provider_is_refused_with_a_sentence(tmp_path):
    config = tmp_path / "cluster.yaml"
    config.write_text("Region: us-east-1\n" + MINIMAL_CLUSTER)
    code, body, _ = paracluster("update-cluster", "-n", "any", "-c", str(config), "--provider", "aws")
    assert code == 1
    assert body["message"].startswith("update-cluster is not available on the aws provider yet")
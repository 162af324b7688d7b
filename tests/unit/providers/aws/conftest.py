"""Fixtures of the aws provider's tests: fake credentials (the host's metadata service is never asked), moto in
process with the test-only patches, a VPC with two subnets, and the example configs pointed at them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import PROJECT

HERE = Path(__file__).parent
AMIS_FILE = HERE / "amis.json"
REGION = "us-east-1"
EXAMPLE_SUBNET = "subnet-0123456789abcdef0"
FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "MOTO_AMIS_PATH": str(AMIS_FILE),
}


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    """Fake credentials, no profile or endpoint from the host, fresh sessions, no pacing or polling waits."""
    for key, value in FAKE_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    from paracluster.providers.aws import provider

    provider.reset_sessions()
    monkeypatch.setattr(provider.AwsProvider, "describe_interval", 0.0)
    monkeypatch.setattr(provider, "TERMINATE_POLL", 0.0)
    yield
    provider.reset_sessions()


class FreshCopies(list):
    """A list whose items are copied when iterated: moto parses its AMI entries in place on every backend reset."""

    def __iter__(self):
        return (dict(item) for item in super().__iter__())


@pytest.fixture
def aws(monkeypatch):
    """In-process moto with the test AMIs (instead of moto's 1,300) and the test-only CloudFormation patches."""
    import moto.ec2.models.amis as moto_amis
    from moto import mock_aws

    import aws_moto_patches

    monkeypatch.setattr(moto_amis, "AMIS", FreshCopies(json.loads(AMIS_FILE.read_text())))
    aws_moto_patches.apply()
    with mock_aws():
        yield


@dataclass
class Network:
    vpc: str
    subnet_a: str  # us-east-1a
    subnet_b: str  # us-east-1b


def client(service: str):
    import boto3

    return boto3.client(service, region_name=REGION)


@pytest.fixture
def network(aws) -> Network:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for index, zone in enumerate((f"{REGION}a", f"{REGION}b"), start=1)]
    return Network(vpc, *subnets)


def example_text(name: str, network: Network) -> str:
    """An example config of the project with its placeholder subnet replaced by the test VPC's first subnet."""
    return (PROJECT / "examples" / name).read_text().replace(EXAMPLE_SUBNET, network.subnet_a)


@pytest.fixture
def research_site(network) -> Network:
    """What examples/research.yaml names besides subnets: its key pair, site scripts and data bucket."""
    client("ec2").create_key_pair(KeyName="research")
    s3 = client("s3")
    for bucket in ("research-site", "research-data"):
        s3.create_bucket(Bucket=bucket)
    for script in (PROJECT / "examples" / "scripts").iterdir():
        s3.put_object(Bucket="research-site", Key=f"bootstrap/{script.name}", Body=script.read_bytes())
    s3.put_object(Bucket="research-data", Key="reference/genome.tsv", Body=b"chr1\t1\n")
    return network

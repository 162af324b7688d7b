"""The AWS validators against in-process moto: each one's finding when AWS lacks what the config names (or has it
in the wrong place), and its silence when AWS has it."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from conftest import REGION, client
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan import build_plan
from paracluster.providers.aws.lookups import Lookups
from paracluster.providers.aws.provider import session_for
from paracluster.providers.aws.validate import AwsContext, run_aws_validators

SECRET_PREFIX = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:"


def config_text(network, head: str = "", queue: str = "", top: str = "", compute: str = "InstanceType: c5.xlarge",
                subnets: str | None = None, head_networking: str = "", queue_networking: str = "") -> str:
    """A small valid config in the test VPC; the arguments add YAML lines to its sections."""
    text = f"""\
Image:
  Os: alinux2023
{top}
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: {network.subnet_a}
{textwrap.indent(head_networking, '    ')}
{textwrap.indent(head, '  ')}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      Networking:
        SubnetIds: [{subnets or network.subnet_a}]
{textwrap.indent(queue_networking, '        ')}
      ComputeResources:
        - Name: cr1
          {compute}
{textwrap.indent(queue, '      ')}
"""
    return text


def findings(text: str, validator_type: str | None = None, suppress=()) -> list[tuple[str, str, str]]:
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None, [str(problem) for problem in loaded.problems]
    plan = build_plan("checked", loaded.config)
    context = AwsContext(loaded.config, plan.catalog, Lookups(session_for(REGION)), "checked")
    found = run_aws_validators(context, suppress)
    return [(f.level.name, f.type, f.message) for f in found if validator_type in (None, f.type)]


def messages(text: str, validator_type: str) -> list[tuple[str, str]]:
    return [(level, message) for level, _, message in findings(text, validator_type)]


def test_a_config_whose_ids_all_exist_has_no_findings(network):
    client("ec2").create_key_pair(KeyName="mine")
    assert findings(config_text(network, head="Ssh:\n  KeyName: mine\n")) == []


def test_key_pair_must_exist(network):
    text = config_text(network, head="Ssh:\n  KeyName: missing\n")
    [(level, message)] = messages(text, "KeyPairValidator")
    assert level == "ERROR" and message.startswith("HeadNode/Ssh/KeyName (line 10): key pair 'missing' does not exist")
    assert findings(text, "KeyPairValidator", suppress=("type:KeyPairValidator",)) == []


def test_subnets_must_exist_in_one_vpc_with_dns(network):
    text = config_text(network, subnets="subnet-0123456789abcdef0")
    [(level, message)] = messages(text, "SubnetsValidator")
    assert "Scheduling/SlurmQueues[0]/Networking/SubnetIds" in message
    assert "subnet-0123456789abcdef0 does not" in message

    ec2 = client("ec2")
    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_subnet(VpcId=other, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    found = messages(config_text(network, subnets=elsewhere), "SubnetsValidator")
    assert any("are in 2 VPCs" in message for _, message in found)
    assert any(f"VPC {other} does not have enableDnsHostnames" in message for _, message in found)


def test_queue_lists_one_subnet_per_zone(network):
    ec2 = client("ec2")
    same_zone = ec2.create_subnet(VpcId=network.vpc, CidrBlock="10.0.9.0/24",
                                  AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
    text = config_text(network, subnets=f"{network.subnet_a}, {same_zone}",
                       compute="Instances: [{InstanceType: c5.xlarge}]")
    [(level, message)] = messages(text, "QueueSubnetsValidator")
    assert level == "ERROR" and f"are all in {REGION}a" in message
    text = config_text(network, subnets=f"{network.subnet_a}, {network.subnet_b}",
                       compute="Instances: [{InstanceType: c5.xlarge}]")
    assert messages(text, "QueueSubnetsValidator") == []


def test_security_groups_must_exist_in_the_clusters_vpc(network):
    ec2 = client("ec2")
    mine = ec2.create_security_group(GroupName="mine", Description="mine", VpcId=network.vpc)["GroupId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    theirs = ec2.create_security_group(GroupName="theirs", Description="theirs", VpcId=other_vpc)["GroupId"]
    text = config_text(network, head_networking=f"AdditionalSecurityGroups: [{mine}, {theirs}, sg-0123456789abcdef0]\n")
    found = messages(text, "SecurityGroupsValidator")
    assert [message.split(": ", 1)[1].split(";")[0] for _, message in found] == [
        f"security group {theirs} belongs to VPC {other_vpc}, not to the cluster's VPC {network.vpc}",
        "security group sg-0123456789abcdef0 does not exist in us-east-1"]


def test_elastic_ip_allocation_must_exist(network):
    [(level, message)] = messages(config_text(network, head_networking="ElasticIp: eipalloc-0123456789abcdef0\n"),
                                  "ElasticIpValidator")
    assert message.startswith("HeadNode/Networking/ElasticIp (line") and "does not exist" in message
    allocation = client("ec2").allocate_address(Domain="vpc")["AllocationId"]
    assert messages(config_text(network, head_networking=f"ElasticIp: {allocation}\n"), "ElasticIpValidator") == []


def test_instance_types_must_be_offered_in_the_subnets_zones(network):
    # In moto's offerings data, trn1.32xlarge is offered in us-east-1b but not in us-east-1a.
    only_a = config_text(network, compute="InstanceType: trn1.32xlarge")
    [(level, message)] = messages(only_a, "InstanceTypeValidator")
    assert level == "ERROR" and "instance type trn1.32xlarge is not offered in us-east-1a" in message
    both = config_text(network, subnets=f"{network.subnet_a}, {network.subnet_b}",
                       compute="Instances: [{InstanceType: trn1.32xlarge}]")
    [(level, message)] = messages(both, "InstanceTypeValidator")
    assert level == "WARNING" and "launch only in the other zones" in message


def test_amis_must_exist_for_the_nodes_architecture(network):
    missing = config_text(network, top="", head="", queue="Image:\n  CustomAmi: ami-0123456789abcdef0\n")
    [(level, message)] = messages(missing, "InstanceTypeBaseAMICompatibleValidator")
    assert message.startswith("Scheduling/SlurmQueues[0]/Image/CustomAmi (line")
    assert "AMI ami-0123456789abcdef0 does not exist" in message
    arm = config_text(network, head="Image:\n  CustomAmi: ami-0a1b2c3d4e5f60002\n")
    [(level, message)] = messages(arm, "InstanceTypeBaseAMICompatibleValidator")
    assert "is for arm64, but the instance type of the head node is x86_64" in message
    no_base = config_text(network).replace("alinux2023", "rhel8")
    [(level, message)] = messages(no_base, "InstanceTypeBaseAMICompatibleValidator")
    assert message.startswith("Image/Os (line 2): no rhel8 base AMI for x86_64 was found")
    assert messages(config_text(network, head="Image:\n  CustomAmi: ami-0a1b2c3d4e5f60007\n"),
                    "InstanceTypeBaseAMICompatibleValidator") == []


def test_root_volume_must_hold_the_ami(network):
    size = client("ec2").describe_images(ImageIds=["ami-0a1b2c3d4e5f60001"])["Images"][0]["BlockDeviceMappings"][0][
        "Ebs"]["VolumeSize"]
    text = config_text(network, head=f"LocalStorage:\n  RootVolume:\n    Size: {size - 1}\n")
    [(level, message)] = messages(text, "RootVolumeSizeValidator")
    assert level == "ERROR" and f"smaller than the {size} GiB of AMI ami-0a1b2c3d4e5f60001" in message


def test_secrets_must_exist(network):
    arn = SECRET_PREFIX + "slurmdb"
    top_database = ("Scheduling:\n" "  Scheduler: slurm\n" "  SlurmSettings:\n" "    Database:\n"
                    "      Uri: db.example.internal:3306\n" "      UserName: admin\n"
                    f"      PasswordSecretArn: {{arn}}\n")
    text = config_text(network).replace("Scheduling:\n  Scheduler: slurm\n", top_database.format(arn=arn))
    [(level, message)] = messages(text, "PasswordSecretArnValidator")
    assert level == "ERROR" and f"secret {arn} does not exist" in message
    created = client("secretsmanager").create_secret(Name="slurmdb", SecretString="pw")["ARN"]
    text = config_text(network).replace("Scheduling:\n  Scheduler: slurm\n", top_database.format(arn=created))
    assert messages(text, "PasswordSecretArnValidator") == []


@pytest.mark.parametrize("value, problem", [
    (None, "does not exist"),
    ("not base64!", "is not base64"),
    (base64.b64encode(b"k" * 8).decode(), "has 64 bits"),
    (base64.b64encode(b"k" * 128).decode(), None),
])
def test_munge_key_secret_is_a_base64_key_of_the_right_size(network, value, problem):
    arn = SECRET_PREFIX + "munge"
    if value is not None:
        arn = client("secretsmanager").create_secret(Name="munge", SecretString=value)["ARN"]
    text = config_text(network).replace("Scheduler: slurm\n", f"Scheduler: slurm\n  SlurmSettings:\n"
                                                              f"    MungeKeySecretArn: {arn}\n")
    found = messages(text, "MungeKeySecretSizeAndBase64Validator")
    assert [problem in message for _, message in found] == ([True] if problem else [])


def test_s3_scripts_and_files_must_be_readable(network):
    action = "CustomActions:\n  OnNodeStart:\n    Script: s3://site/start.sh\n"
    [(level, message)] = messages(config_text(network, queue=action), "AsyncTimedUrlValidator")
    assert message.startswith("Scheduling/SlurmQueues[0]/CustomActions/OnNodeStart/Script (line")
    assert "s3://site/start.sh does not exist" in message
    client("s3").create_bucket(Bucket="site")
    client("s3").put_object(Bucket="site", Key="start.sh", Body=b"#!/bin/sh\n")
    assert messages(config_text(network, queue=action), "AsyncTimedUrlValidator") == []
    settings = "Scheduler: slurm\n  SlurmSettings:\n    CustomSlurmSettingsIncludeFile: s3://site/x.conf\n"
    include = config_text(network).replace("Scheduler: slurm\n", settings)
    assert "s3://site/x.conf does not exist" in messages(include, "UrlValidator")[0][1]


def test_storage_buckets_and_custom_bucket_must_exist(network):
    lustre = ("SharedStorage:\n  - Name: fsx\n    StorageType: FsxLustre\n    MountDir: /fsx\n"
              "    FsxLustreSettings:\n      StorageCapacity: 1200\n      ImportPath: s3://no-such-data\n")
    text = config_text(network) + lustre
    [(level, message)] = messages(text, "S3BucketUriValidator")
    assert "SharedStorage[0]/FsxLustreSettings/ImportPath" in message and "bucket no-such-data does not" in message
    [(level, message)] = messages(config_text(network, top="CustomS3Bucket: my-bucket\n"), "S3BucketValidator")
    assert level == "ERROR" and message.startswith("CustomS3Bucket (line")
    client("s3").create_bucket(Bucket="my-bucket")
    [(level, message)] = messages(config_text(network, top="CustomS3Bucket: my-bucket\n"), "S3BucketValidator")
    assert level == "WARNING" and "does not keep versions" in message


def test_iam_roles_profiles_and_policies_must_exist(network):
    client("iam").create_policy(PolicyName="site", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))
    head = ("Iam:\n  AdditionalIamPolicies:\n    - Policy: arn:aws:iam::123456789012:policy/nothing\n"
            "    - Policy: arn:aws:iam::123456789012:policy/site\n")
    queue = "Iam:\n  InstanceRole: arn:aws:iam::123456789012:role/absent\n"
    text = config_text(network, head=head, queue=queue)
    assert [message.split(": ", 1)[1] for _, message in messages(text, "AdditionalIamPolicyValidator")] == [
        "arn:aws:iam::123456789012:policy/nothing does not exist; create it in IAM or fix the ARN"]
    assert "role/absent does not exist" in messages(text, "RoleValidator")[0][1]
    profile = "Iam:\n  InstanceProfile: arn:aws:iam::123456789012:instance-profile/absent\n"
    assert messages(config_text(network, queue=profile), "InstanceProfileValidator")


def _ebs(volume: str = "", snapshot: str = "", size: str = "") -> str:
    settings = "".join(f"      {key}: {value}\n" for key, value in
                       (("VolumeId", volume), ("SnapshotId", snapshot), ("Size", size)) if value)
    return f"SharedStorage:\n  - Name: data\n    StorageType: Ebs\n    MountDir: /data\n    EbsSettings:\n{settings}"


def test_existing_ebs_volume_is_free_and_in_the_head_nodes_zone(network):
    ec2 = client("ec2")
    assert "does not exist" in messages(config_text(network) + _ebs(volume="vol-0123456789abcdef0"),
                                        "SharedEbsVolumeIdValidator")[0][1]
    elsewhere = ec2.create_volume(Size=10, AvailabilityZone=f"{REGION}b")["VolumeId"]
    [(level, message)] = messages(config_text(network) + _ebs(volume=elsewhere), "SharedEbsVolumeIdValidator")
    assert f"is in {REGION}b but the head node is in {REGION}a" in message
    here = ec2.create_volume(Size=10, AvailabilityZone=f"{REGION}a")["VolumeId"]
    assert messages(config_text(network) + _ebs(volume=here), "SharedEbsVolumeIdValidator") == []
    instance = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60001", MinCount=1, MaxCount=1,
                                 SubnetId=network.subnet_a)["Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=here, InstanceId=instance, Device="/dev/sdf")
    [(level, message)] = messages(config_text(network) + _ebs(volume=here), "SharedEbsVolumeIdValidator")
    assert "is in-use; an EBS volume attaches to one instance at a time" in message


def test_snapshot_exists_and_fits_the_size(network):
    ec2 = client("ec2")
    volume = ec2.create_volume(Size=50, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    [(level, message)] = messages(config_text(network) + _ebs(snapshot=snapshot, size="20"),
                                  "EbsVolumeSizeSnapshotValidator")
    assert message.startswith("SharedStorage[0]/EbsSettings/SnapshotId") and "holds 50 GiB but Size is 20" in message
    assert messages(config_text(network) + _ebs(snapshot=snapshot, size="60"), "EbsVolumeSizeSnapshotValidator") == []
    assert "does not exist" in messages(config_text(network) + _ebs(snapshot="snap-0123456789abcdef0"),
                                        "EbsVolumeSizeSnapshotValidator")[0][1]


def test_existing_efs_needs_a_mount_target_where_nodes_are(network):
    efs = client("efs")
    file_system = efs.create_file_system(CreationToken="t")["FileSystemId"]
    storage = f"SharedStorage:\n  - Name: home\n    StorageType: Efs\n    MountDir: /shared\n" \
              f"    EfsSettings:\n      FileSystemId: {file_system}\n"
    [(level, message)] = messages(config_text(network) + storage, "EfsIdValidator")
    assert f"has no mount target in {REGION}a" in message
    efs.create_mount_target(FileSystemId=file_system, SubnetId=network.subnet_a)
    assert messages(config_text(network) + storage, "EfsIdValidator") == []
    missing = storage.replace(file_system, "fs-0123456789abcdef0")
    assert "does not exist" in messages(config_text(network) + missing, "EfsIdValidator")[0][1]


def test_existing_lustre_file_system_and_backup_must_exist(network):
    storage = ("SharedStorage:\n  - Name: fsx\n    StorageType: FsxLustre\n    MountDir: /fsx\n"
               "    FsxLustreSettings:\n      FileSystemId: fs-0123456789abcdef0\n")
    [(level, message)] = messages(config_text(network) + storage, "ExistingFsxNetworkingValidator")
    assert "FSx for Lustre file system fs-0123456789abcdef0 does not exist" in message
    # moto's FSx ids (fs- and 8 digits) do not fit the 17 ParallelCluster's schema wants: the found and
    # wrong-VPC cases are Stubber tests (test_stubbed.py).
    backup = ("SharedStorage:\n  - Name: fsx\n    StorageType: FsxLustre\n    MountDir: /fsx\n"
              "    FsxLustreSettings:\n      BackupId: backup-0123456789abcdef0\n")
    assert "FSx backup backup-0123456789abcdef0 does not exist" in messages(config_text(network) + backup,
                                                                          "FsxBackupIdValidator")[0][1]


def test_a_failing_check_is_an_error_and_the_others_still_run(network, monkeypatch):
    from paracluster.providers.aws.validate import network as network_checks

    def broken(context):
        raise RuntimeError("no answer")

    monkeypatch.setattr(network_checks, "cluster_vpc", broken)
    ec2 = client("ec2")
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=network.vpc)["GroupId"]
    found = findings(config_text(network, head_networking=f"AdditionalSecurityGroups: [{group}]\n",
                                 head="Ssh:\n  KeyName: nope\n"))
    types = {validator_type: message for _, validator_type, message in found}
    assert types["SecurityGroupsValidator"] == "failed to run the SecurityGroupsValidator check: no answer"
    assert "key pair 'nope' does not exist" in types["KeyPairValidator"]

"""The v2 converter on small INI files: each mapping, each refusal, where we knowingly differ from ParallelCluster."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from paracluster.config.validate import validate_config
from paracluster.convert import ConversionError, convert_v2, looks_like_v2_ini, to_yaml

BASE = """\
[aws]
aws_region_name = eu-west-1

[global]
cluster_template = main

[cluster main]
key_name = mykey
vpc_settings = net
base_os = alinux2023
scheduler = slurm
master_instance_type = c5.xlarge
{cluster}

[vpc net]
vpc_id = vpc-0123456789abcdef0
master_subnet_id = subnet-0123456789abcdef0
{vpc}
{sections}
"""


def v2(cluster: str = "", vpc: str = "", sections: str = "") -> str:
    return BASE.format(cluster=textwrap.dedent(cluster).strip(), vpc=textwrap.dedent(vpc).strip(),
                       sections=textwrap.dedent(sections))


def convert(text: str, **kwargs):
    kwargs.setdefault("account_id", lambda: "111122223333")
    return convert_v2(text, source="v2.ini", **kwargs)


def refused(text: str, **kwargs) -> str:
    with pytest.raises(ConversionError) as error:
        convert(text, **kwargs)
    message = str(error.value)
    assert message.startswith("v2.ini: ") and "\n" not in message
    return message


def test_a_realistic_cluster_converts_to_a_config_that_validates():
    # Elsewhere than in ParallelCluster's placeholder-laden test data, the converted file passes validation.
    text = v2(
        cluster="""
            queue_settings = cpu, gpu
            ebs_settings = data
            efs_settings = home
            cw_log_settings = logs
            scaling_settings = fast
            pre_install = s3://site-bucket/pre.sh
            pre_install_args = "--fast 'two words'"
            post_install = https://example.com/post.sh
            s3_read_resource = arn:aws:s3:::site-bucket/*
            tags = {"project": "alpha"}
            master_root_volume_size = 50
        """,
        vpc="compute_subnet_id = subnet-0fedcba9876543210",
        sections="""
            [queue cpu]
            compute_resource_settings = c5
            compute_type = ondemand

            [queue gpu]
            compute_resource_settings = g4
            compute_type = spot
            placement_group = DYNAMIC

            [compute_resource c5]
            instance_type = c5.xlarge
            min_count = 1
            max_count = 8

            [compute_resource g4]
            instance_type = g4dn.xlarge
            max_count = 2

            [ebs data]
            shared_dir = /data
            volume_size = 100

            [efs home]
            shared_dir = /efs
            throughput_mode = bursting

            [cw_log logs]
            enable = true
            retention_days = 30

            [scaling fast]
            scaledown_idletime = 5
        """,
    )
    conversion = convert(text)
    config = conversion.config
    assert config["HeadNode"]["CustomActions"]["OnNodeStart"] == {
        "Script": "s3://site-bucket/pre.sh", "Args": ["s3://site-bucket/pre.sh", "--fast", "two", "words"]}
    assert config["HeadNode"]["CustomActions"]["OnNodeConfigured"] == {"Script": "https://example.com/post.sh"}
    queues = config["Scheduling"]["SlurmQueues"]
    assert [q["Name"] for q in queues] == ["cpu", "gpu"]
    assert queues[0]["CapacityType"] == "ONDEMAND" and queues[1]["CapacityType"] == "SPOT"
    assert queues[0]["Networking"] == {"SubnetIds": ["subnet-0fedcba9876543210"]}
    assert queues[1]["Networking"]["PlacementGroup"] == {"Enabled": True}
    assert queues[0]["ComputeResources"] == [{"Name": "c5", "InstanceType": "c5.xlarge", "MinCount": 1, "MaxCount": 8}]
    assert config["SharedStorage"] == [
        {"Name": "data", "StorageType": "Ebs", "MountDir": "/data", "EbsSettings": {"Size": 100}},
        {"Name": "home", "StorageType": "Efs", "MountDir": "/efs", "EfsSettings": {"ThroughputMode": "bursting"}},
    ]
    assert config["Monitoring"] == {"Logs": {"CloudWatch": {"Enabled": True, "RetentionInDays": 30}}}
    assert config["Scheduling"]["SlurmSettings"] == {"ScaledownIdletime": 5}
    assert config["Tags"] == [{"Key": "project", "Value": "alpha"}]
    outcome = validate_config(None, text=to_yaml(conversion), cluster_name="converted")
    assert outcome.schema_ok and not outcome.blocking, [f.message for f in outcome.findings]


def test_cluster_section_choice():
    text = v2().replace("[cluster main]", "[cluster default]").replace("cluster_template = main\n", "")
    assert convert(text).config["HeadNode"]["Ssh"] == {"KeyName": "mykey"}
    assert "has no [cluster other] section; pass -t with one of: main" in refused(v2(), cluster_template="other")
    no_cluster = "[aws]\naws_region_name = eu-west-1\n"
    assert "has no cluster section to convert" in refused(no_cluster)


def test_vpc_settings_must_name_a_vpc_section():
    assert "has no vpc_settings" in refused(v2().replace("vpc_settings = net\n", ""))
    # ParallelCluster's converter goes on and writes a config with no subnets; we refuse with a sentence instead.
    message = refused(v2().replace("vpc_settings = net", "vpc_settings = other"))
    assert message == ("v2.ini: [cluster main] vpc_settings = other names no [vpc other] section; add that section "
                       "or fix the name")


@pytest.mark.parametrize(("scheduler", "expected"), [
    ("sge", "ParallelCluster 3.0 removed SGE"), ("torque", "ParallelCluster 3.0 removed Torque"),
    ("awsbatch", "ParallelCluster 3.16 removed AWS Batch"), ("lsf", "scheduler = lsf is unknown; use slurm"),
])
def test_schedulers_other_than_slurm_are_refused(scheduler, expected):
    assert expected in refused(v2().replace("scheduler = slurm", f"scheduler = {scheduler}"))
    assert "has no scheduler; set scheduler = slurm" in refused(v2().replace("scheduler = slurm\n", ""))


def test_iam_role_names_become_arns_in_the_region_partition():
    text = v2(cluster="ec2_iam_role = NodeRole\niam_lambda_role = LambdaRole")
    config = convert(text).config
    assert config["HeadNode"]["Iam"] == {"InstanceRole": "arn:aws:iam::111122223333:role/NodeRole"}
    # ParallelCluster's converter writes Iam/Role/LambdaFunctionRole, which its own schema rejects; v3's key is
    # Iam/Roles/LambdaFunctionsRole.
    assert config["Iam"] == {"Roles": {"LambdaFunctionsRole": "arn:aws:iam::111122223333:role/LambdaRole"}}
    china = text.replace("aws_region_name = eu-west-1", "aws_region_name = cn-north-1")
    assert convert(china).config["HeadNode"]["Iam"]["InstanceRole"].startswith("arn:aws-cn:iam::")
    no_region = text.replace("aws_region_name = eu-west-1\n", "")
    assert "no region to build the ARN of IAM role LambdaRole with" in refused(no_region)
    gov = convert(no_region, region=lambda: "us-gov-west-1").config
    assert gov["HeadNode"]["Iam"]["InstanceRole"].startswith("arn:aws-us-gov:iam::")


def test_account_is_asked_only_for_role_names():
    def never() -> str:
        raise AssertionError("the account was asked for without an IAM role to convert")

    assert "Iam" not in convert(v2(), account_id=never).config["HeadNode"]


def test_raid_throughput_gets_the_v3_key():
    # ParallelCluster's converter writes volume_throughput of a [raid] section as "Throughout", which v3 rejects.
    text = v2(cluster="raid_settings = r", sections="""
        [raid r]
        shared_dir = /raid
        volume_type = gp3
        volume_throughput = 250
        num_of_raid_volumes = 3
        raid_type = 0
    """)
    raid = convert(text).config["SharedStorage"][1]
    assert raid == {"Name": "r", "StorageType": "Ebs", "MountDir": "/raid", "EbsSettings": {
        "VolumeType": "gp3", "Throughput": 250, "Raid": {"NumberOfVolumes": 3, "Type": 0}}}


def test_s3_access_from_arns():
    config = convert(v2(cluster="s3_read_resource = *\ns3_read_write_resource = arn:aws:s3:::bucket*")).config
    assert config["HeadNode"]["Iam"]["S3Access"] == [
        {"BucketName": "*"}, {"EnableWriteAccess": True, "BucketName": "bucket"}]
    assert "names no bucket" in refused(v2(cluster="s3_read_write_resource = arn:aws:s3:::/key"))
    assert "is not an S3 ARN" in refused(v2(cluster="s3_read_resource = bucket/key"))


def test_head_node_details():
    text = v2(
        cluster="dcv_settings = d\nproxy_server = http://proxy:8080\ndisable_hyperthreading = true",
        vpc="use_public_ips = false\nssh_from = 10.0.0.0/8\nadditional_sg = sg-0123456789abcdef0",
        sections="[dcv d]\nenable = master\nport = 8444\naccess_from = 10.0.0.0/8\n",
    )
    head = convert(text).config["HeadNode"]
    assert head["Networking"] == {"SubnetId": "subnet-0123456789abcdef0", "ElasticIp": False,
                                  "Proxy": {"HttpProxyAddress": "http://proxy:8080"},
                                  "AdditionalSecurityGroups": ["sg-0123456789abcdef0"]}
    assert head["DisableSimultaneousMultithreading"] is True
    assert head["Ssh"] == {"KeyName": "mykey", "AllowedIps": "10.0.0.0/8"}
    assert head["Dcv"] == {"Enabled": True, "Port": 8444, "AllowedIps": "10.0.0.0/8"}


def test_single_queue_cluster():
    text = v2(cluster="compute_instance_type = c5.2xlarge\ninitial_queue_size = 2\nmaintain_initial_size = true\n"
                      "max_queue_size = 6\ncluster_type = spot\nplacement_group = my-group\nshared_dir = /work")
    config = convert(text).config
    assert config["Scheduling"]["SlurmQueues"] == [{
        "Name": "default-queue", "CapacityType": "SPOT",
        "Networking": {"SubnetIds": ["subnet-0123456789abcdef0"], "PlacementGroup": {"Id": "my-group"}},
        "ComputeResources": [{"Name": "default-resource", "MaxCount": 6, "MinCount": 2,
                              "InstanceType": "c5.2xlarge"}],
    }]
    # Without ebs_settings, v2's /shared volume becomes default-ebs, mounted at shared_dir.
    assert config["SharedStorage"] == [{"MountDir": "/work", "Name": "default-ebs", "StorageType": "Ebs"}]


def test_bad_values_are_named():
    assert refused(v2(cluster="master_root_volume_size = big")) == (
        "v2.ini: [cluster main] master_root_volume_size = big is not an integer; fix the value")
    assert "tags = [1] is not a JSON object" in refused(v2(cluster="tags = [1]"))
    assert "[queue q] has no compute_resource_settings" in refused(v2(cluster="queue_settings = q",
                                                                     sections="[queue q]\ncompute_type = spot\n"))
    assert "cannot be read as a ParallelCluster 2 INI file" in refused(v2() + "[aws]\n")
    assert "[cluster main] post_install cannot be read" in refused(v2(cluster="post_install = 100%done"))


def test_warnings_for_names_and_dropped_settings():
    text = v2(
        cluster="ebs_settings = default, data\nfsx_settings = data\nqueue_settings = my_queue",
        sections="""
            [global]
            sanity_check = false
            [ebs default]
            shared_dir = /a
            [ebs data]
            shared_dir = /b
            [fsx data]
            shared_dir = /c
            [queue my_queue]
            compute_resource_settings = default
            [compute_resource default]
            instance_type = c5.large
        """.replace("[global]\n", "[extra]\n"),
    )
    text = text.replace("[global]\n", "[global]\nsanity_check = false\n")
    kinds = [(m.kind, m.subject) for m in convert(text).messages]
    assert kinds == [
        ("encryption", "Encrypted"), ("imds", "HeadNode/Imds/Secured"), ("ignored", "vpc_id"),
        ("ignored", "sanity_check"), ("default_name", "ebs default"), ("duplicate_name", "data"),
        ("underscore", "queue my_queue"), ("default_name", "compute_resource default"),
    ]


def test_dev_settings_need_force():
    text = v2(cluster="extra_json = {\"cluster\": {}}\ntemplate_url = https://example.com/t.yaml")
    assert "rerun with --force-convert" in refused(text)
    config = convert(text, force=True).config
    assert config["DevSettings"] == {"ClusterTemplate": "https://example.com/t.yaml",
                                     "Cookbook": {"ExtraChefAttributes": '{"cluster": {}}'}}


def test_yaml_has_the_messages_as_comments_then_the_config():
    conversion = convert(v2())
    text = to_yaml(conversion)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments == [f"# {m.text}" for m in conversion.messages]
    assert yaml.safe_load(text) == conversion.config
    assert "      SubnetIds:\n          - subnet-0123456789abcdef0" in text  # lists indented under their key


def test_v2_files_are_recognised():
    assert looks_like_v2_ini(v2())
    assert looks_like_v2_ini("[cluster default]\nscheduler = slurm\n")
    assert not looks_like_v2_ini("HeadNode:\n  InstanceType: c5.xlarge\n")
    assert not looks_like_v2_ini("- [aws]\n")

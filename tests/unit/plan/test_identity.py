"""A node as an EC2 instance: ParallelCluster's hostnames per Dns settings, /etc/hosts lines, tags, roles; the spec."""

from __future__ import annotations

import pytest
from support import LOGIN_POOL

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan import build_plan
from paracluster.plan.identity import (
    ec2_hostname,
    hosts_line,
    instance_role,
    instance_tags,
    node_hostname,
    subnet_id,
)
from paracluster.plan.spec import Account, ClusterFacts, NodeKeys, node_spec

CONFIG = """\
Region: eu-west-1
Image:
  Os: alinux2023
Tags:
  - Key: team
    Value: hpc
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-0aaaaaaaaaaaaaaaa
  Iam:
    InstanceRole: arn:aws:iam::111122223333:role/site/HeadRole
Scheduling:
  Scheduler: slurm
  SlurmSettings:
    Dns: {DNS}
  SlurmQueues:
    - Name: work
      Tags:
        - Key: team
          Value: queue-wins
        - Key: cost
          Value: q
      ComputeResources:
        - Name: c5
          InstanceType: c5.xlarge
          MinCount: 1
          MaxCount: 1
          Tags:
            - Key: cost
              Value: cr-wins
      Networking:
        SubnetIds:
          - subnet-0bbbbbbbbbbbbbbbb
      Iam:
        InstanceProfile: arn:aws:iam::111122223333:instance-profile/WorkProfile
""" + LOGIN_POOL


def plan_of(dns: str = "{}"):
    loaded = load_config_text(CLUSTER, CONFIG.replace("{DNS}", dns))
    assert loaded.config is not None, loaded.problems
    plan = build_plan("demo", loaded.config)
    return plan, {node.node_type: node for node in plan.nodes}


def test_ec2_names_follow_the_region():
    assert ec2_hostname("10.1.2.3", "us-east-1") == "ip-10-1-2-3.ec2.internal"
    assert ec2_hostname("10.1.2.3", "eu-west-1") == "ip-10-1-2-3.eu-west-1.compute.internal"


def test_compute_nodes_take_their_slurm_name_in_the_cluster_domain_head_and_login_keep_ec2s():
    plan, nodes = plan_of()
    compute = node_hostname(plan.config, "demo", "eu-west-1", nodes["ComputeNode"], "10.0.0.3")
    assert (compute.short, compute.fqdn) == ("work-st-c5-1", "work-st-c5-1.demo.pcluster")
    for kind in ("HeadNode", "LoginNode"):
        own = node_hostname(plan.config, "demo", "eu-west-1", nodes[kind], "10.0.0.2")
        assert (own.short, own.fqdn) == ("ip-10-0-0-2", "ip-10-0-0-2.eu-west-1.compute.internal")


@pytest.mark.parametrize("dns, short, fqdn", [
    ("{UseEc2Hostnames: true}", "ip-10-0-0-3", "ip-10-0-0-3.eu-west-1.compute.internal"),
    ("{DisableManagedDns: true}", "work-st-c5-1", "work-st-c5-1.eu-west-1.compute.internal"),
])
def test_dns_settings_change_compute_hostnames(dns, short, fqdn):
    plan, nodes = plan_of(dns)
    own = node_hostname(plan.config, "demo", "eu-west-1", nodes["ComputeNode"], "10.0.0.3")
    assert (own.short, own.fqdn) == (short, fqdn)


def test_hosts_lines_put_the_fqdn_first_and_every_name_once():
    plan, nodes = plan_of()
    assert hosts_line(plan.config, "demo", "us-east-1", nodes["ComputeNode"], "10.0.0.3") == \
        "10.0.0.3 work-st-c5-1.demo.pcluster work-st-c5-1 ip-10-0-0-3.ec2.internal ip-10-0-0-3"
    assert hosts_line(plan.config, "demo", "us-east-1", nodes["HeadNode"], "10.0.0.2") == \
        "10.0.0.2 ip-10-0-0-2.ec2.internal ip-10-0-0-2 head"
    plan, nodes = plan_of("{UseEc2Hostnames: true}")
    assert hosts_line(plan.config, "demo", "us-east-1", nodes["ComputeNode"], "10.0.0.3") == \
        "10.0.0.3 ip-10-0-0-3.ec2.internal ip-10-0-0-3 work-st-c5-1"


def test_tags_are_the_launch_templates_inner_sections_winning():
    plan, nodes = plan_of()
    assert instance_tags(plan.config, "demo", nodes["ComputeNode"]) == {
        "team": "queue-wins", "cost": "cr-wins", "parallelcluster:node-type": "Compute",
        "parallelcluster:queue-name": "work", "parallelcluster:compute-resource-name": "c5",
        "parallelcluster:cluster-name": "demo", "Name": "Compute"}
    assert instance_tags(plan.config, "demo", nodes["LoginNode"]) == {
        "team": "hpc", "parallelcluster:node-type": "LoginNode", "parallelcluster:login-nodes-pool": "users",
        "parallelcluster:cluster-name": "demo", "Name": "LoginNode"}
    assert instance_tags(plan.config, "demo", nodes["HeadNode"])["parallelcluster:node-type"] == "HeadNode"


def test_roles_come_from_iam_or_are_named_like_cloudformations():
    plan, nodes = plan_of()
    assert instance_role(plan.config, "demo", nodes["HeadNode"]).role_name == "HeadRole"
    assert instance_role(plan.config, "demo", nodes["ComputeNode"]).instance_profile_name == "WorkProfile"
    login = instance_role(plan.config, "demo", nodes["LoginNode"])
    assert login.role_name.startswith("demo-RolePoolusers-") and len(login.role_name) <= 64
    assert login == instance_role(plan.config, "demo", nodes["LoginNode"])  # stable across calls
    assert len(instance_role(plan.config, "x" * 60, nodes["LoginNode"]).role_name) == 64


def test_subnets_of_each_section():
    plan, nodes = plan_of()
    assert [subnet_id(plan.config, nodes[kind]) for kind in ("HeadNode", "ComputeNode", "LoginNode")] == \
        ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0123456789abcdef0"]


def spec_of(dns: str, kind: str, extra_files=()):
    plan, nodes = plan_of(dns)
    user = Account("ec2-user", 1000, 1000)
    facts = ClusterFacts(name="demo", region="eu-west-1", stack_arn="arn", head_name="ip-10-0-0-2",
                         head_address="10.0.0.2", default_user=user, rest_user=Account("slurmrestd", 999, 999),
                         slurmrestd=False, node_python="/usr/bin/python3", node_pythonpath="/opt/x",
                         extra_files=tuple(extra_files))
    return node_spec(plan.config, plan.catalog, facts, nodes[kind], "10.0.0.3", NodeKeys("key", b"jwt"))


def test_the_spec_carries_the_hostname_the_providers_files_and_slurmds_node_name():
    aws = {"path": "/etc/paracluster/aws.env", "content": "AWS_REGION=eu-west-1\n", "mode": 0o644}
    spec = spec_of("{UseEc2Hostnames: true}", "ComputeNode", [aws])
    assert spec["hostname"] == "ip-10-0-0-3"
    assert {"path": "/etc/hostname", "content": "ip-10-0-0-3\n"} in spec["files"] and aws in spec["files"]
    slurmd = next(service for service in spec["services"] if service["name"] == "slurmd")
    assert slurmd["argv"][-2:] == ["-N", "work-st-c5-1"]  # Slurm finds the node by name, not by hostname
    assert spec_of("{}", "ComputeNode")["hostname"] == "work-st-c5-1"
    assert spec_of("{}", "LoginNode")["hostname"] == "ip-10-0-0-3"

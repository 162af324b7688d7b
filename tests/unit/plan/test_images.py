"""Which image each node boots: its section's CustomAmi, else the cluster's, else the official image."""

from __future__ import annotations

from support import MINIMAL_CLUSTER
from test_inventory import plan_of

from paracluster.plan.images import custom_ami_sites, custom_amis, node_custom_ami

CLUSTER_AMI, HEAD_AMI, QUEUE_AMI = "ami-0000000000000000a", "ami-0000000000000000b", "ami-0000000000000000c"
POOL_AMI = "ami-0000000000000000d"
LOGIN_POOL = """\
LoginNodes:
  Pools:
    - Name: login
      Count: 1
      InstanceType: c5.large
      Image:
        CustomAmi: ami-0000000000000000d
      Networking:
        SubnetIds:
          - subnet-12345678
"""
SECOND_QUEUE = """\
    - Name: second
      Image:
        CustomAmi: ami-0000000000000000c
      ComputeResources:
        - Name: cr2
          InstanceType: c5.large
      Networking:
        SubnetIds:
          - subnet-12345678
"""


def test_a_section_ami_wins_over_the_clusters_and_no_ami_is_the_official_image():
    text = MINIMAL_CLUSTER.replace("  Os: alinux2023", f"  Os: alinux2023\n  CustomAmi: {CLUSTER_AMI}").replace(
        "  Networking:\n    SubnetId", f"  Image:\n    CustomAmi: {HEAD_AMI}\n  Networking:\n    SubnetId") + SECOND_QUEUE
    plan = plan_of(text + LOGIN_POOL)
    config = plan.config
    nodes = {node.name: node for node in plan.nodes}
    assert node_custom_ami(config, nodes["head"]) == HEAD_AMI
    assert node_custom_ami(config, nodes["queue1-dy-cr1-1"]) == CLUSTER_AMI
    assert node_custom_ami(config, nodes["second-dy-cr2-1"]) == QUEUE_AMI
    assert node_custom_ami(config, nodes["login-login-1"]) == POOL_AMI
    assert [where.split(" ")[0] for _, where in custom_ami_sites(config)] == [
        "Image/CustomAmi", "HeadNode/Image/CustomAmi", "Scheduling/SlurmQueues[1]/Image/CustomAmi",
        "LoginNodes/Pools[0]/Image/CustomAmi"]
    assert custom_amis(config) == {CLUSTER_AMI, HEAD_AMI, QUEUE_AMI, POOL_AMI}
    plain = plan_of(MINIMAL_CLUSTER)
    assert node_custom_ami(plain.config, plain.nodes[0]) is None and custom_amis(plain.config) == set()

"""What IMDS tells a local cluster's node about itself, from the cluster's state and configuration; stand-ins stop."""

from __future__ import annotations

import json

from support import MINIMAL_CLUSTER

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan import build_plan
from paracluster.providers.local.host.state import ClusterState, Instance, Network, NodeRecord
from paracluster.providers.local.standins.awsapi import cluster, process
from paracluster.providers.local.standins.awsapi.imds import NodeRecord as ImdsRecord

CONFIG = "Region: eu-west-1\nImds:\n  ImdsSupport: v1.0\nTags:\n  - Key: team\n    Value: hpc\n" + (
    MINIMAL_CLUSTER.replace("Os: alinux2023", "Os: alinux2023\n  CustomAmi: ami-0123456789abcdef0")
    .replace("InstanceType: c5.xlarge\n  Networking", "InstanceType: m6g.large\n  Networking"))


def cluster_state():
    config = load_config_text(CLUSTER, CONFIG).config
    plan = build_plan("demo", config)
    record = ClusterState(name="demo", region="eu-west-1", version="0", creation_time="2026-01-01T00:00:00.000Z",
                          network=Network("10.9.0.0/24", 3))
    for slot, node in enumerate(plan.nodes):
        record.nodes[node.name] = NodeRecord(node, slot, f"10.9.0.{slot + 2}",
                                             Instance(f"i-0{slot:016d}", "pending", "2026-01-01T00:00:10.000Z"))
    return plan, record


def test_a_nodes_record_holds_its_instance_network_role_and_the_configs_imds_support():
    plan, record = cluster_state()
    head = cluster.imds_record(plan.config, plan.catalog, record, record.nodes["head"], "/run/netns/x", False)
    assert (head.instance_id, head.instance_type, head.architecture) == ("i-00000000000000000", "m6g.large", "arm64")
    assert (head.local_ipv4, head.local_hostname) == ("10.9.0.2", "ip-10-9-0-2.eu-west-1.compute.internal")
    assert (head.availability_zone, head.region, head.subnet_cidr) == ("eu-west-1a", "eu-west-1", "10.9.0.0/24")
    assert (head.subnet_id, head.ami_id, head.http_tokens) == ("subnet-12345678", "ami-0123456789abcdef0", "optional")
    assert head.role_name.startswith("demo-RoleHeadNode-") and head.tags is None
    assert head.launch_time == 1767225610.0
    compute = cluster.imds_record(plan.config, plan.catalog, record, record.nodes["queue1-dy-cr1-1"], "/run/netns/y",
                                  True)
    assert compute.tags["parallelcluster:queue-name"] == "queue1" and compute.tags["team"] == "hpc"
    assert ImdsRecord.from_dict(json.loads(json.dumps(compute.to_dict()))) == compute  # what the server stores


def test_stopping_stops_every_stand_in_of_the_state_directory(tmp_path):
    started = [process.start("s3", f"s3-127.0.0.{n}", tmp_path, "127.0.0.1", 0) for n in (1, 2)]
    cluster.stop_all(tmp_path)
    assert all(process.running(tmp_path, f"s3-127.0.0.{n}") is None for n in (1, 2))
    assert started[0]["pid"] != started[1]["pid"]

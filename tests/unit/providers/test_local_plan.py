"""The local provider's plan of a cluster's nodes: fixed addresses, and types added by DevSettings/InstanceTypesData."""

from __future__ import annotations

import ipaddress
import json

from support import MINIMAL_CLUSTER
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.providers.local.cluster import plan_instances

CUSTOM = {"x9.huge": {"InstanceType": "x9.huge", "VCpuInfo": {"DefaultVCpus": 64}, "MemoryInfo": {"SizeInMiB": 4096}}}


def test_custom_instance_type_sizes_local_nodes():
    text = MINIMAL_CLUSTER.replace("          InstanceType: c5.xlarge\n",
                                   "          InstanceType: x9.huge\n          MinCount: 1\n          MaxCount: 2\n")
    text += f"DevSettings:\n  InstanceTypesData: '{json.dumps(CUSTOM)}'\n"
    config = load_config_text(CLUSTER, text).config
    nodes = plan_instances({"name": "c"}, config, ipaddress.ip_network("10.0.0.0/24"))
    assert list(nodes) == ["head", "queue1-st-cr1-1", "queue1-dy-cr1-1"]
    assert [n["privateIpAddress"] for n in nodes.values()] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert nodes["queue1-st-cr1-1"]["instanceType"] == "x9.huge" and nodes["queue1-st-cr1-1"]["static"]
    assert nodes["queue1-dy-cr1-1"]["static"] is False

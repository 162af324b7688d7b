"""Queue networking validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings

# In BASE_CLUSTER the queue starts on line 10, cr1 on line 12 and the queue's Networking/SubnetIds on line 15.

FLEXIBLE = BASE_CLUSTER.replace(
    "          InstanceType: c5.xlarge\n", "          Instances:\n            - InstanceType: c5.xlarge\n"
)


def _subnets(*subnets: str, base: str = BASE_CLUSTER) -> str:
    listed = "".join(f"          - {subnet}\n" for subnet in subnets)
    return base.replace("          - subnet-12345678\n", listed)


def test_queue_subnets():
    assert findings(_subnets("subnet-12345678", "subnet-87654321", base=FLEXIBLE), "QueueSubnetsValidator") == []
    text = _subnets("subnet-12345678", "subnet-87654321", "subnet-12345678", "subnet-87654321", base=FLEXIBLE)
    found = findings(text, "QueueSubnetsValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/Networking/SubnetIds (line 16): queue 'queue1' lists "
                      "subnet-12345678, subnet-87654321 more than once; list each subnet once")]


def test_single_instance_type_subnet():
    assert findings(BASE_CLUSTER, "SingleInstanceTypeSubnetValidator") == []
    assert findings(_subnets("subnet-12345678", "subnet-87654321", base=FLEXIBLE),
                    "SingleInstanceTypeSubnetValidator") == []
    found = findings(_subnets("subnet-12345678", "subnet-87654321"), "SingleInstanceTypeSubnetValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/Networking/SubnetIds (line 15): queue 'queue1' lists "
                                  "2 subnets but compute resource 'cr1' uses InstanceType")


def test_single_instance_type_subnet_counts_repeats():
    # The raw list length counts, as in ParallelCluster: a repeated subnet is still two entries.
    found = findings(_subnets("subnet-12345678", "subnet-12345678"), "SingleInstanceTypeSubnetValidator")
    assert len(found) == 1


def _queue_group(body: str) -> str:
    group = "        PlacementGroup:\n" + "".join(f"          {line}\n" for line in body.splitlines())
    return BASE_CLUSTER + group  # the queue's Networking section is the last one of BASE_CLUSTER


def _resource_group(body: str) -> str:
    group = "          Networking:\n            PlacementGroup:\n"
    group += "".join(f"              {line}\n" for line in body.splitlines())
    return BASE_CLUSTER.replace("          InstanceType: c5.xlarge\n", "          InstanceType: c5.xlarge\n" + group)


@pytest.mark.parametrize("body", ["Enabled: true", "Name: my-group", "Enabled: true\nId: pg-0123456789abcdef0",
                                  "Enabled: false"])
def test_placement_group_naming_passes(body):
    assert findings(_queue_group(body), "PlacementGroupNamingValidator") == []
    assert findings(_resource_group(body), "PlacementGroupNamingValidator") == []


def test_placement_group_naming():
    found = findings(_queue_group("Name: my-group\nId: pg-0123456789abcdef0"), "PlacementGroupNamingValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/Networking/PlacementGroup/Id (line 19): cannot be used "
                      "together with Name; keep only one of Id and Name")]
    found = findings(_resource_group("Enabled: false\nName: my-group"), "PlacementGroupNamingValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/Networking/PlacementGroup/Enabled "
                                  "(line 16): is false while Name names a placement group")

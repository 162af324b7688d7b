"""The plan's node inventory: ParallelCluster's node names per role, and address slots that never move."""

from __future__ import annotations

import json

import pytest
from support import MINIMAL_CLUSTER

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan import build_plan
from paracluster.plan.inventory import assign_slots

CUSTOM = {"x9.huge": {"InstanceType": "x9.huge", "VCpuInfo": {"DefaultVCpus": 64}, "MemoryInfo": {"SizeInMiB": 4096}}}
SECOND_QUEUE = """\
    - Name: early
      ComputeResources:
        - Name: cr2
          InstanceType: c5.large
          MinCount: 1
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-12345678
"""


def plan_of(text: str):
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None, loaded.problems
    return build_plan("c", loaded.config)


def test_nodes_in_order_with_custom_instance_type():
    text = MINIMAL_CLUSTER.replace("          InstanceType: c5.xlarge\n",
                                   "          InstanceType: x9.huge\n          MinCount: 1\n          MaxCount: 2\n")
    text += f"DevSettings:\n  InstanceTypesData: '{json.dumps(CUSTOM)}'\n"
    plan = plan_of(text)
    assert [node.name for node in plan.nodes] == ["head", "queue1-st-cr1-1", "queue1-dy-cr1-1"]
    static = plan.node("queue1-st-cr1-1")
    assert (static.node_type, static.instance_type, static.queue, static.compute_resource, static.static) == \
        ("ComputeNode", "x9.huge", "queue1", "cr1", True)
    assert plan.node("queue1-dy-cr1-1").static is False
    assert plan.head.node_type == "HeadNode"


def test_login_pool_nodes():
    text = MINIMAL_CLUSTER + """\
LoginNodes:
  Pools:
    - Name: gate
      Count: 2
      InstanceType: t3.small
      Networking:
        SubnetIds:
          - subnet-12345678
"""
    login = [node for node in plan_of(text).nodes if node.node_type == "LoginNode"]
    assert [(n.name, n.pool, n.instance_type) for n in login] == [("login-gate-1", "gate", "t3.small"),
                                                                  ("login-gate-2", "gate", "t3.small")]


def test_a_queue_added_first_never_renumbers_existing_nodes():
    before = plan_of(MINIMAL_CLUSTER)
    slots = assign_slots([n.name for n in before.nodes], {}, 100)
    text = MINIMAL_CLUSTER.replace("  SlurmQueues:\n", "  SlurmQueues:\n" + SECOND_QUEUE)
    after = plan_of(text)
    assert [n.name for n in after.nodes][:3] == ["head", "early-st-cr2-1", "early-dy-cr2-1"]  # new queue listed first
    moved = assign_slots([n.name for n in after.nodes], slots, 100)
    assert all(moved[name] == slot for name, slot in slots.items())
    assert sorted(moved.values()) == list(range(len(moved)))


def test_removed_nodes_free_their_slots_for_new_ones():
    slots = assign_slots(["head", "a-dy-x-1", "a-dy-x-2"], {}, 10)
    again = assign_slots(["head", "a-dy-x-2", "b-dy-y-1"], slots, 10)
    assert again == {"head": 0, "a-dy-x-2": 2, "b-dy-y-1": 1}


def test_too_many_nodes_for_the_slots():
    with pytest.raises(ValueError, match="3 nodes do not fit in 2 addresses"):
        assign_slots(["a", "b", "c"], {}, 2)

"""The node plan: names, counts, CPUs, memory, features, weights, GPUs and custom settings per compute resource."""

from __future__ import annotations

import dataclasses

import pytest

from paracluster.catalog import default_catalog
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.slurm.nodes import NVIDIA_GPU_NAMES, NodeGroup, gpu_type_name, node_names, plan_node_groups

HEAD = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
Scheduling:
  Scheduler: slurm
  SlurmQueues:
"""


def cluster(*queues: str) -> str:
    """A config with the given queues; each is the YAML of one SlurmQueues item's ComputeResources list."""
    text = HEAD
    for index, resources in enumerate(queues, start=1):
        text += f"    - Name: q{index}\n      Networking:\n        SubnetIds: [subnet-12345678]\n"
        text += "      ComputeResources:\n" + "".join(f"        {line}\n" for line in resources.splitlines())
    return text


def plan(*queues: str) -> list[NodeGroup]:
    loaded = load_config_text(CLUSTER, cluster(*queues))
    assert loaded.config is not None, [str(problem) for problem in loaded.problems]
    return plan_node_groups(loaded.config, default_catalog())


def one(resource: str) -> NodeGroup:
    (group,) = plan(resource)
    return group


def test_names_and_counts():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  MinCount: 2\n  MaxCount: 5")
    assert group.static_nodes == ("q1-st-cr1-1", "q1-st-cr1-2")
    assert group.dynamic_nodes == ("q1-dy-cr1-1", "q1-dy-cr1-2", "q1-dy-cr1-3")
    assert group.static_range == "q1-st-cr1-[1-2]"
    assert group.dynamic_range == "q1-dy-cr1-[1-3]"
    assert group.nodes == group.static_nodes + group.dynamic_nodes


def test_defaults_give_ten_dynamic_nodes():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge")
    assert group.static_nodes == ()
    assert len(group.dynamic_nodes) == 10
    assert (group.static_weight, group.dynamic_weight) == (1, 1000)


def test_only_static_nodes():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  MinCount: 3\n  MaxCount: 3")
    assert len(group.static_nodes) == 3 and group.dynamic_nodes == () and group.dynamic_range == ""


def test_cpus_and_memory_of_one_type():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge")
    # c5.xlarge: 4 vCPUs, 8192 MiB -> floor(8192 * 0.95)
    assert (group.cpus, group.real_memory) == (4, 7782)


def test_several_types_take_the_minimum_and_drop_the_type_feature():
    group = one("- Name: flex\n  Instances:\n    - InstanceType: c5.2xlarge\n    - InstanceType: m5.xlarge")
    assert group.instance_types == ("c5.2xlarge", "m5.xlarge")
    assert group.instance_type is None
    assert (group.cpus, group.real_memory) == (4, 15564)  # min(8, 4) vCPUs, min(16384, 16384) MiB * 0.95
    assert group.features(static=False) == ("dynamic", "flex")


def test_disable_smt_divides_by_threads_per_core():
    group = one("- Name: cr1\n  InstanceType: c5n.18xlarge\n  DisableSimultaneousMultithreading: true")
    assert group.cpus == 36
    # hpc6a has one thread per core: nothing to divide.
    group = one("- Name: cr1\n  InstanceType: hpc6a.48xlarge\n  DisableSimultaneousMultithreading: true")
    assert group.cpus == 96


def test_schedulable_memory_wins():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  SchedulableMemory: 6000")
    assert group.real_memory == 6000


def test_features_in_parallelclusters_order():
    group = one("- Name: efa-c5n\n  InstanceType: c5n.18xlarge\n  MinCount: 1\n  Efa:\n    Enabled: true")
    assert group.features(static=True) == ("static", "c5n.18xlarge", "efa-c5n", "efa")
    assert group.features(static=False) == ("dynamic", "c5n.18xlarge", "efa-c5n", "efa")


def test_priorities_become_weights():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  StaticNodePriority: 7\n  DynamicNodePriority: 70")
    assert (group.static_weight, group.dynamic_weight) == (7, 70)


def test_nvidia_gpus():
    group = one("- Name: p4d\n  InstanceType: p4d.24xlarge")
    assert (group.gpu_count, group.gpu_type) == (8, "a100")
    assert group.features(static=False)[-1] == "gpu"


def test_several_gpu_types_take_the_smallest_count():
    group = one("- Name: g\n  Instances:\n    - InstanceType: g4dn.12xlarge\n    - InstanceType: g4dn.xlarge")
    assert (group.gpu_count, group.gpu_type) == (1, "t4")


def test_gpus_of_other_makers_are_not_scheduled():
    group = one("- Name: amd\n  InstanceType: g4ad.xlarge")
    assert (group.gpu_count, group.gpu_type) == (0, None)
    assert "gpu" not in group.features(static=False)
    # A CPU type next to a GPU type leaves no GPU to schedule on every node.
    group = one("- Name: mix\n  Instances:\n    - InstanceType: g5.xlarge\n    - InstanceType: m5.xlarge")
    assert group.gpu_count == 0


def test_every_nvidia_type_of_the_catalog_has_a_gres_type():
    catalog = default_catalog()
    for name in catalog.names():
        instance_type = catalog.get(name)
        if instance_type.gpus and instance_type.gpu_manufacturer == "NVIDIA":
            assert gpu_type_name(instance_type), name
    assert all(value == value.lower() and " " not in value for value in NVIDIA_GPU_NAMES.values())


def test_a_catalog_gpu_name_is_preferred():
    catalog_type = default_catalog().get("g5.xlarge")

    @dataclasses.dataclass
    class Named:
        name: str
        gpu_name: str

    assert gpu_type_name(Named(catalog_type.name, "A10G Tensor")) == "a10gtensor"


def test_custom_settings_keep_their_order():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  CustomSlurmSettings:\n    TmpDisk: 10\n    MemSpecLimit: 5")
    assert group.custom_settings == (("TmpDisk", 10), ("MemSpecLimit", 5))


def test_groups_follow_config_order_and_node_names_match():
    queues = (
        "- Name: a\n  InstanceType: c5.xlarge\n  MinCount: 1\n  MaxCount: 2\n- Name: b\n  InstanceType: t3.micro",
        "- Name: c\n  InstanceType: c5.xlarge\n  MaxCount: 1",
    )
    groups = plan(*queues)
    assert [(g.queue, g.compute_resource) for g in groups] == [("q1", "a"), ("q1", "b"), ("q2", "c")]
    config = load_config_text(CLUSTER, cluster(*queues)).config
    assert node_names(config) == [name for group in groups for name in group.nodes]
    assert node_names(config)[:3] == ["q1-st-a-1", "q1-dy-a-1", "q1-dy-b-1"]


def test_groups_are_frozen_and_hashable():
    group = one("- Name: cr1\n  InstanceType: c5.xlarge\n  CustomSlurmSettings:\n    TmpDisk: 10")
    with pytest.raises(dataclasses.FrozenInstanceError):
        group.cpus = 1  # type: ignore[misc]
    assert hash(group) == hash(dataclasses.replace(group))


def test_unknown_type_is_a_clear_error():
    loaded = load_config_text(CLUSTER, cluster("- Name: cr1\n  InstanceType: c5.xlarge"))
    from paracluster.catalog import InstanceTypeCatalog

    with pytest.raises(ValueError, match="unknown instance type c5.xlarge"):
        plan_node_groups(loaded.config, InstanceTypeCatalog())


def test_capacity_reservation_without_type_must_be_resolved_first():
    text = cluster("- Name: cr1\n  CapacityReservationTarget:\n    CapacityReservationId: cr-0123456789abcdef0")
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None
    with pytest.raises(ValueError, match="resolve the capacity reservation"):
        plan_node_groups(loaded.config, default_catalog())

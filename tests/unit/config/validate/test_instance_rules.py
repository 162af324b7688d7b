"""Instance type fact validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings

CR = "Scheduling/SlurmQueues[0]/ComputeResources[0]"
LOGIN_NODES = """\
LoginNodes:
  Pools:
    - Name: login
      InstanceType: {type}
      Count: 1
      Networking:
        SubnetIds: [subnet-12345678]
"""
FSX = """\
SharedStorage:
  - Name: fsx
    MountDir: /fsx
    StorageType: FsxLustre
    FsxLustreSettings:
      StorageCapacity: 1200
"""
BATCH = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: {head}
  Networking:
    SubnetId: subnet-12345678
  Imds:
    Secured: false
Scheduling:
  Scheduler: awsbatch
  AwsBatchQueues:
    - Name: queue1
      ComputeResources:
        - Name: cr1
          InstanceTypes:
            - {type}
          MaxvCpus: {max_vcpus}
      Networking:
        SubnetIds:
          - subnet-12345678
"""


def cluster(head: str = "c5.xlarge", compute: str = "c5.xlarge", os: str = "alinux2023") -> str:
    text = BASE_CLUSTER.replace("Os: alinux2023", f"Os: {os}")
    text = text.replace("  InstanceType: c5.xlarge\n  Networking", f"  InstanceType: {head}\n  Networking")
    return text.replace("          InstanceType: c5.xlarge\n", f"          InstanceType: {compute}\n")


def with_compute_resource(block: str, text: str = BASE_CLUSTER) -> str:
    """The compute resource gets keys (indented by 10) from line 14 on."""
    return text.replace("          InstanceType: c5.xlarge\n", "          InstanceType: c5.xlarge\n" + block)


def with_queue(block: str, text: str = BASE_CLUSTER) -> str:
    """The queue gets keys (indented by 6) starting on line 11."""
    return text.replace("    - Name: queue1\n", "    - Name: queue1\n" + block)


def flexible(*types: str, text: str = BASE_CLUSTER) -> str:
    """The compute resource lists Instances (line 13) instead of InstanceType; its further keys start on line 14+n."""
    listed = "".join(f"            - InstanceType: {name}\n" for name in types)
    return text.replace("          InstanceType: c5.xlarge\n", "          Instances:\n" + listed)


def two_subnets(text: str) -> str:
    return text.replace("          - subnet-12345678\n", "          - subnet-12345678\n          - subnet-87654321\n")


def single(found: list, level: str, prefix: str) -> str:
    assert len(found) == 1, found
    assert found[0][0] == level and found[0][1].startswith(prefix), found
    return found[0][1]


def test_instance_type_known():
    assert findings(BASE_CLUSTER, "InstanceTypeValidator") == []
    found = findings(cluster(head="c5.huge"), "InstanceTypeValidator")
    message = single(found, "ERROR", "HeadNode/InstanceType (line 4): ")
    assert "'c5.huge'" in message and "DevSettings/InstanceTypesData" in message


def test_instance_type_known_in_instances_and_login_pools():
    found = findings(flexible("c5.xlarge", "c5.nope") + LOGIN_NODES.format(type="t3.nope"), "InstanceTypeValidator")
    assert [message.split(":")[0] for _, message in found] == [
        f"{CR}/Instances[1]/InstanceType (line 15)",
        "LoginNodes/Pools[0]/InstanceType (line 22)",
    ]


def test_instance_type_added_with_instance_types_data():
    data = '{"x9.large": {"VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 4096}}}'
    text = cluster(compute="x9.large")
    assert len(findings(text, "InstanceTypeValidator")) == 1
    assert findings(text + f"DevSettings:\n  InstanceTypesData: '{data}'\n", "InstanceTypeValidator") == []


def test_architecture_os():
    assert findings(cluster(head="c6g.large", compute="c6g.large"), "ArchitectureOsValidator") == []
    message = single(findings(cluster(head="mac1.metal"), "ArchitectureOsValidator"), "ERROR",
                     "HeadNode/InstanceType (line 4): ")
    assert "supports only x86_64_mac" in message


def test_instance_architecture_compatibility():
    assert findings(cluster(head="c6g.large", compute="c6g.large"), "InstanceArchitectureCompatibilityValidator") == []
    found = findings(cluster(head="c6g.large"), "InstanceArchitectureCompatibilityValidator")
    assert found == [("ERROR", f"{CR}/InstanceType (line 13): instance type c5.xlarge supports x86_64 but the head "
                               "node (c6g.large) is arm64; use compute instance types of the head node's architecture")]


def test_fsx_architecture():
    assert findings(cluster(head="c6g.large", compute="c6g.large") + FSX, "FsxArchitectureOsValidator") == []
    single(findings(cluster(head="mac1.metal") + FSX, "FsxArchitectureOsValidator"), "ERROR",
           "SharedStorage[0]/StorageType (line 20): ")


def test_intel_hpc_architecture():
    intel = "AdditionalPackages:\n  IntelSoftware:\n    IntelHpcPlatform: true\n"
    assert findings(BASE_CLUSTER + intel, "IntelHpcArchitectureValidator") == []
    single(findings(cluster(head="c6g.large", compute="c6g.large") + intel, "IntelHpcArchitectureValidator"), "ERROR",
           "AdditionalPackages/IntelSoftware/IntelHpcPlatform (line 19): ")


def test_small_instance_os():
    assert findings(cluster(head="t3.micro"), "InstanceTypeOSCompatibleValidator") == []
    single(findings(cluster(head="t3.micro", os="ubuntu2204"), "InstanceTypeOSCompatibleValidator"), "WARNING",
           "HeadNode/InstanceType (line 4): ubuntu2204 is not recommended on the small instance type t3.micro")
    single(findings(cluster(compute="t3.nano", os="rhel9"), "InstanceTypeOSCompatibleValidator"), "WARNING",
           f"{CR}/InstanceType (line 13): ")


def test_p6e_gb200_needs_a_supported_os():
    # ParallelCluster 3.14 refuses p6e-gb200 instances on rhel8, rocky8 and rhel9; the catalog gets the type here.
    data = ('DevSettings:\n  InstanceTypesData: \'{"p6e-gb200.36xlarge": {"VCpuInfo": {"DefaultVCpus": 144}, '
            '"MemoryInfo": {"SizeInMiB": 983040}, "ProcessorInfo": {"SupportedArchitectures": ["arm64"]}}}\'\n')
    def text(os: str) -> str:
        return cluster(head="c6g.large", compute="p6e-gb200.36xlarge", os=os) + data

    assert findings(text("alinux2023"), "InstanceTypeOSCompatibleValidator") == []
    found = findings(text("rhel9"), "InstanceTypeOSCompatibleValidator")
    assert found == [("ERROR", f"{CR}/InstanceType (line 13): instance type p6e-gb200.36xlarge is not supported with "
                               "rhel9; use one of alinux2023, ubuntu2204, ubuntu2404, rocky9")]


def test_head_node_memory_for_the_compute_fleet():
    # ParallelCluster 3.13: 0.6 GiB plus 1 GiB per 25 compute nodes (the sum of MaxCounts), 16 GiB at most.
    assert findings(cluster(head="t3.micro"), "HeadNodeMemorySizeValidator") == []  # 10 nodes need 1 GiB
    assert findings(cluster(head="t3.nano"), "HeadNodeMemorySizeValidator") == [
        ("ERROR", "HeadNode/InstanceType (line 4): instance type t3.nano has 0.5 GiB of memory, less than the 1 GiB "
                  "a head node needs to manage 10 compute nodes (the queues' MaxCounts); choose a head node instance "
                  "type with at least 1 GiB")]
    big = with_compute_resource("          MaxCount: 1000\n")
    assert "less than the 16 GiB a head node needs to manage 1000 compute nodes" in single(
        findings(big, "HeadNodeMemorySizeValidator"), "ERROR", "HeadNode/InstanceType (line 4): ")
    assert findings(big.replace("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: c5.4xlarge\n  Networking"),
                    "HeadNodeMemorySizeValidator") == []


def test_small_instance_os_login_pool_only_with_custom_ami():
    pool = cluster(os="rocky9") + LOGIN_NODES.format(type="t3.micro")
    assert findings(pool, "InstanceTypeOSCompatibleValidator") == []
    pool += "      Image:\n        CustomAmi: ami-12345678\n"
    found = findings(pool, "InstanceTypeOSCompatibleValidator")
    single(found, "WARNING", "LoginNodes/Pools[0]/InstanceType (line 20): ")


EFA_ON = "          Efa:\n            Enabled: true\n"
PG_ON = "      Networking:\n        PlacementGroup:\n          Enabled: true\n        SubnetIds:\n"


def efa_cluster() -> str:
    """A compute resource of EFA-capable c5n.18xlarge with EFA enabled (Efa on line 14, Enabled on line 15)."""
    return cluster(compute="c5n.18xlarge").replace("c5n.18xlarge\n", "c5n.18xlarge\n" + EFA_ON)


def test_efa_supported():
    assert findings(efa_cluster(), "EfaValidator") == []
    single(findings(with_compute_resource(EFA_ON), "EfaValidator"), "ERROR",
           f"{CR}/Efa/Enabled (line 15): instance type c5.xlarge does not support EFA")


def test_efa_capable_type_without_efa():
    text = cluster(compute="c5n.18xlarge")
    found = findings(text, "EfaValidator")
    single(found, "WARNING", f"{CR}/InstanceType (line 13): instance type c5n.18xlarge supports")
    assert findings(two_subnets(text), "EfaValidator") == []


def test_efa_gdr_needs_efa():
    found = findings(with_compute_resource("          Efa:\n            GdrSupport: true\n"), "EfaValidator")
    single(found, "ERROR", f"{CR}/Efa/GdrSupport (line 15): ")


def test_efa_placement_group():
    efa = efa_cluster()
    single(findings(efa, "EfaPlacementGroupValidator"), "ERROR", f"{CR}/Efa/Enabled (line 15): ")
    assert findings(efa.replace("      Networking:\n        SubnetIds:\n", PG_ON), "EfaPlacementGroupValidator") == []
    disabled = efa.replace("      Networking:\n        SubnetIds:\n", PG_ON.replace("true", "false"))
    single(findings(disabled, "EfaPlacementGroupValidator"), "WARNING",
           "Scheduling/SlurmQueues[0]/Networking/PlacementGroup/Enabled (line 18): ")
    assert findings(two_subnets(efa), "EfaPlacementGroupValidator") == []


def test_efa_placement_group_at_compute_resource_level():
    efa = efa_cluster()
    cr_group = "          Networking:\n            PlacementGroup:\n              Enabled: true\n"
    text = efa.replace(EFA_ON, EFA_ON + cr_group)
    assert findings(text.replace("      Networking:\n        SubnetIds:\n", PG_ON.replace("true", "false")),
                    "EfaPlacementGroupValidator") == []


CAPACITY_BLOCK = "      CapacityType: CAPACITY_BLOCK\n      CapacityReservationTarget:\n" \
                 "        CapacityReservationId: cr-1234567890abcdef0\n"


def test_placement_group_with_capacity_block():
    blocked = with_queue(CAPACITY_BLOCK, cluster(compute="p5.48xlarge"))
    assert findings(blocked, "PlacementGroupCapacityTypeValidator") == []
    text = blocked.replace("      Networking:\n        SubnetIds:\n", PG_ON)
    single(findings(text, "PlacementGroupCapacityTypeValidator"), "WARNING",
           "Scheduling/SlurmQueues[0]/Networking/PlacementGroup (line 18): ")


def test_capacity_type_usage_class():
    assert findings(BASE_CLUSTER, "CapacityTypeValidator") == []
    text = with_queue("      CapacityType: SPOT\n", cluster(compute="t2.nano"))
    message = single(findings(text, "CapacityTypeValidator"), "ERROR", f"{CR}/InstanceType (line 14): ")
    assert "not offered as spot capacity" in message


def test_capacity_block_needs_reservation():
    assert findings(with_queue(CAPACITY_BLOCK, cluster(compute="p5.48xlarge")), "CapacityTypeValidator") == []
    text = with_queue("      CapacityType: CAPACITY_BLOCK\n", cluster(compute="p5.48xlarge"))
    single(findings(text, "CapacityTypeValidator"), "ERROR", "Scheduling/SlurmQueues[0]/CapacityType (line 11): ")


def test_capacity_type_without_usage_classes():
    data = '{"x9.large": {"VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 4096}}}'
    text = cluster(compute="x9.large") + f"DevSettings:\n  InstanceTypesData: '{data}'\n"
    single(findings(text, "CapacityTypeValidator"), "WARNING", f"{CR}/InstanceType (line 13): ")


@pytest.mark.parametrize(
    ("compute", "maker"),
    [("p4d.24xlarge", None), ("inf1.xlarge", None), ("g4ad.xlarge", "AMD GPUs"), ("dl2q.24xlarge", "Qualcomm accel")],
)
def test_accelerator_manufacturer(compute, maker):
    found = findings(cluster(compute=compute), "InstanceTypeAcceleratorManufacturerValidator")
    if maker is None:
        assert found == []
    else:
        assert maker in single(found, "WARNING", f"{CR}/InstanceType (line 13): ")


def test_instance_type_placement_group():
    assert findings(BASE_CLUSTER.replace("      Networking:\n        SubnetIds:\n", PG_ON),
                    "InstanceTypePlacementGroupValidator") == []
    text = cluster(compute="t3.micro").replace("      Networking:\n        SubnetIds:\n", PG_ON)
    single(findings(text, "InstanceTypePlacementGroupValidator"), "ERROR", f"{CR}/InstanceType (line 13): ")
    assert findings(cluster(compute="t3.micro"), "InstanceTypePlacementGroupValidator") == []


def test_instances_cpus():
    assert findings(flexible("c5.xlarge", "m5.xlarge"), "InstancesCPUValidator") == []
    found = findings(flexible("c5.large", "c5.xlarge"), "InstancesCPUValidator")
    assert found == [("ERROR", f"{CR}/Instances (line 13): the instance types of compute resource 'cr1' must have the "
                               "same number of vCPUs, but they differ (c5.large: 2, c5.xlarge: 4); list only matching "
                               "types")]
    smt_off = with_compute_resource("          DisableSimultaneousMultithreading: true\n").replace(
        "          InstanceType: c5.xlarge\n", "          Instances:\n            - InstanceType: c5.xlarge\n"
        "            - InstanceType: m7a.xlarge\n")
    assert "CPU cores" in single(findings(smt_off, "InstancesCPUValidator"), "ERROR", f"{CR}/Instances (line 13): ")


def test_instances_accelerators():
    assert findings(flexible("c5.xlarge", "m5.xlarge"), "InstancesAcceleratorsValidator") == []
    found = findings(flexible("c5.xlarge", "inf1.xlarge"), "InstancesAcceleratorsValidator")
    differences = [message.split("differ (")[1].split(";")[0] for _, message in found]
    assert differences == ["c5.xlarge: 0, inf1.xlarge: 1)", "c5.xlarge: none, inf1.xlarge: AWS)"]
    found = findings(flexible("c5.xlarge", "g4dn.xlarge"), "InstancesAcceleratorsValidator")
    prefix = f"{CR}/Instances (line 13): the instance types of compute resource 'cr1' must have the same "
    assert [message.split(", but")[0] for _, message in found] == [
        prefix + "number of NVIDIA GPUs",
        prefix + "GPU manufacturer",
    ]


def test_instances_efa():
    assert findings(flexible("c5.xlarge", "m5.xlarge"), "InstancesEFAValidator") == []
    text = flexible("c5n.18xlarge", "c5.xlarge")
    single(findings(text, "InstancesEFAValidator"), "WARNING", f"{CR}/Instances (line 13): instance types c5n.18xlarge")
    assert findings(two_subnets(text), "InstancesEFAValidator") == []
    efa = text.replace("            - InstanceType: c5.xlarge\n", "            - InstanceType: c5.xlarge\n" + EFA_ON)
    message = single(findings(efa, "InstancesEFAValidator"), "ERROR", f"{CR}/Efa/Enabled (line 17): ")
    assert "instance types c5.xlarge of compute resource 'cr1' do not support it" in message


def test_instances_networking():
    assert findings(flexible("c5.xlarge", "m5.xlarge"), "InstancesNetworkingValidator") == []
    found = findings(flexible("p4d.24xlarge", "p5.48xlarge"), "InstancesNetworkingValidator")
    assert "from 4 to 32 network cards" in single(found, "WARNING", f"{CR}/Instances (line 13): ")
    grouped = flexible("c5.xlarge", "m5.xlarge").replace("      Networking:\n        SubnetIds:\n", PG_ON)
    assert "placement group" in single(findings(grouped, "InstancesNetworkingValidator"), "WARNING", f"{CR}/Instances")


@pytest.mark.parametrize(
    ("queue", "level"),
    [("", None), ("      AllocationStrategy: capacity-optimized\n      CapacityType: SPOT\n", None),
     ("      AllocationStrategy: capacity-optimized\n", "ERROR"),
     ("      AllocationStrategy: lowest-price\n" + CAPACITY_BLOCK, "ERROR"),
     # ParallelCluster 3.14's prioritized strategies: on-demand may use prioritized, spot may not.
     ("      AllocationStrategy: prioritized\n", None),
     ("      AllocationStrategy: prioritized\n      CapacityType: SPOT\n", "ERROR"),
     ("      AllocationStrategy: capacity-optimized-prioritized\n      CapacityType: SPOT\n", None),
     ("      AllocationStrategy: capacity-optimized-prioritized\n", "ERROR")],
)
def test_instances_allocation_strategy(queue, level):
    found = findings(with_queue(queue, flexible("p5.48xlarge")), "InstancesAllocationStrategyValidator")
    if level is None:
        assert found == []
    else:
        single(found, level, "Scheduling/SlurmQueues[0]/AllocationStrategy (line 11): ")
    # Compute resources with a single instance type take no allocation strategy, so nothing is checked.
    assert findings(with_queue(queue, cluster(compute="p5.48xlarge")), "InstancesAllocationStrategyValidator") == []


def batch(head: str = "c5.xlarge", type: str = "c5.xlarge", max_vcpus: int = 10) -> str:
    return BATCH.format(head=head, type=type, max_vcpus=max_vcpus)


@pytest.mark.parametrize(("head", "type", "level"), [("c5.xlarge", "c5.xlarge", None), ("c5.xlarge", "optimal", None),
                                                     ("c6g.large", "c5.xlarge", "ERROR"),
                                                     ("c6g.large", "optimal", "ERROR"), ("c5.xlarge", "c5", "INFO")])
def test_batch_architecture(head, type, level):
    found = findings(batch(head, type), "AwsBatchInstancesArchitectureCompatibilityValidator")
    if level is None:
        assert found == []
    else:
        single(found, level, "Scheduling/AwsBatchQueues[0]/ComputeResources[0]/InstanceTypes[0] (line 16): ")


@pytest.mark.parametrize("type", ["c5.xlarge", "c5", "optimal"])
def test_batch_instance_types_known(type):
    assert findings(batch(type=type), "AwsBatchComputeInstanceTypeValidator") == []


@pytest.mark.parametrize("type", ["c5.huge", "zz9"])
def test_batch_instance_types_unknown(type):
    single(findings(batch(type=type), "AwsBatchComputeInstanceTypeValidator"), "ERROR",
           f"Scheduling/AwsBatchQueues[0]/ComputeResources[0]/InstanceTypes[0] (line 16): '{type}' is neither")


def test_batch_max_vcpus():
    assert findings(batch(type="c5.4xlarge", max_vcpus=16), "AwsBatchComputeInstanceTypeValidator") == []
    found = findings(batch(type="c5.4xlarge", max_vcpus=10), "AwsBatchComputeInstanceTypeValidator")
    assert found == [("ERROR", "Scheduling/AwsBatchQueues[0]/ComputeResources[0]/MaxvCpus (line 17): 10 is less than "
                               "the 16 vCPUs of instance type c5.4xlarge; set MaxvCpus to at least 16")]

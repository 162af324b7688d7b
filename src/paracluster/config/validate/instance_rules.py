"""Validators that check the config against EC2 instance type facts: known types, architecture, EFA, GPUs, memory."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
# typing.TYPE_CHECKING without importing typing, which costs a CLI process about 10 ms.
TYPE_CHECKING = False

from paracluster.config.validate.core import Context, Report, validator
from paracluster.config.validate.slurm_rules import item_where
from paracluster.config.versions import CURRENT_OSES

if TYPE_CHECKING:
    from paracluster.catalog import InstanceType
    from paracluster.config.model import ConfigNode

SUPPORTED_ARCHITECTURES = ("x86_64", "arm64")
# Ubuntu and RHEL-family images need more memory than micro and nano types have; Amazon Linux fits.
SMALL_MEMORY_OSES = ("ubuntu2004", "ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9")
# ParallelCluster 3.14: p6e-gb200 (Grace Blackwell) instances run only on the other OSes.
P6E_GB200 = "p6e-gb200"
P6E_GB200_UNSUPPORTED_OSES = ("rhel8", "rocky8", "rhel9")
ON_DEMAND_STRATEGIES = ("lowest-price", "prioritized")
# ParallelCluster 3.13: a head node needs 0.6 GiB plus 1 GiB per 25 compute nodes, 16 GiB at most.
HEAD_NODE_BASE_GIB, COMPUTE_NODES_PER_GIB, HEAD_NODE_MAX_NEEDED_GIB = 0.6, 25, 16
_SMALL_TYPE = re.compile(r"(micro)|(nano)")
_TYPE_WITH_SIZE = re.compile(r"^([a-z0-9\-]+)\.")
USAGE_CLASSES = {"ONDEMAND": "on-demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}
SCHEDULABLE_MEMORY_SHARE = 0.95  # below this share of the instance memory, Slurm leaves memory unused
MEMORY_SPREAD_MIB = 4096  # a flexible compute resource wastes memory when its types differ by more than both
MEMORY_SPREAD_SHARE = 0.20
UNKNOWN_TYPE_HINT = (
    "check its spelling, or describe it in DevSettings/InstanceTypesData "
    "(a JSON object of DescribeInstanceTypes entries keyed by type name)"
)


def slurm_compute_resources(config: ConfigNode) -> Iterator[tuple[ConfigNode, ConfigNode]]:
    """(queue, compute resource) for every Slurm compute resource, in config order."""
    for queue in config.scheduling.slurm_queues:
        for resource in queue.compute_resources:
            yield queue, resource


def compute_instance_types(resource: ConfigNode) -> list[tuple[str, str]]:
    """(name, where) of each type a Slurm compute resource lists; none when it takes its type from a reservation."""
    if resource.is_set("Instances"):
        return [(item.instance_type, item.where("InstanceType")) for item in resource.instances]
    if resource.instance_type:
        return [(resource.instance_type, resource.where("InstanceType"))]
    return []


def known_types(context: Context, resource: ConfigNode) -> list[InstanceType]:
    """The catalog facts of a compute resource's instance types, leaving out the types the catalog does not know."""
    found = (context.instance_type(name) for name, _ in compute_instance_types(resource))
    return [itype for itype in found if itype is not None]


def head_node_architecture(context: Context) -> str | None:
    """The cluster's architecture (the head node's), or None when its type is unknown or supports neither."""
    itype = context.instance_type(context.config.head_node.instance_type)
    return itype.architecture if itype else None


def _multi_az(queue: ConfigNode) -> bool:
    # Availability zones come from AWS; ParallelCluster rejects two subnets of one zone, so count subnets instead.
    return len(set(queue.networking.subnet_ids)) > 1


def _chosen_placement_group(queue: ConfigNode, resource: ConfigNode) -> ConfigNode:
    """The compute resource's PlacementGroup section if it has one, else the queue's."""
    group = resource.networking.placement_group
    return group if group.present else queue.networking.placement_group


def _placement_group_enabled(group: ConfigNode) -> bool:
    """Whether a placement group is used: it is named (Name or Id) or Enabled is true."""
    return bool(group.name or group.id or group.enabled)


@validator("InstanceTypeValidator")
def instance_types_known(context: Context, report: Report) -> None:
    config = context.config
    named = [(config.head_node.instance_type, config.head_node.where("InstanceType"))]
    for _, resource in slurm_compute_resources(config):
        named.extend(compute_instance_types(resource))
    named.extend((pool.instance_type, pool.where("InstanceType")) for pool in config.login_nodes.pools)
    for name, where in named:
        if name and context.instance_type(name) is None:
            report.error(f"{where}: ParaCluster does not know the instance type '{name}'; {UNKNOWN_TYPE_HINT}")


def total_max_compute_nodes(config: ConfigNode) -> int:
    """How many compute nodes the Slurm queues may run at once: the sum of their MaxCounts."""
    return sum(resource.max_count for _, resource in slurm_compute_resources(config))


@validator("HeadNodeMemorySizeValidator")
def head_node_memory(context: Context, report: Report) -> None:
    head = context.config.head_node
    itype = context.instance_type(head.instance_type)
    if itype is None:
        return  # InstanceTypeValidator reports unknown types
    nodes = total_max_compute_nodes(context.config)
    needed = min(nodes / COMPUTE_NODES_PER_GIB + HEAD_NODE_BASE_GIB, HEAD_NODE_MAX_NEEDED_GIB)
    memory = itype.memory_mib / 1024
    if memory < needed:
        report.error(
            f"{head.where('InstanceType')}: instance type {itype.name} has {memory:g} GiB of memory, less than the "
            f"{needed:g} GiB a head node needs to manage {nodes} compute nodes (the queues' MaxCounts); choose a "
            f"head node instance type with at least {needed:g} GiB"
        )


@validator("ArchitectureOsValidator")
def head_node_architecture_supported(context: Context, report: Report) -> None:
    head = context.config.head_node
    itype = context.instance_type(head.instance_type)
    if itype is not None and itype.architecture is None:
        report.error(
            f"{head.where('InstanceType')}: instance type {itype.name} supports only {', '.join(itype.architectures)}, "
            "but cluster nodes need x86_64 or arm64; choose another head node instance type"
        )


@validator("InstanceArchitectureCompatibilityValidator")
def compute_architecture(context: Context, report: Report) -> None:
    head_arch = head_node_architecture(context)
    if head_arch is None:
        return
    head_type = context.config.head_node.instance_type
    for _, resource in slurm_compute_resources(context.config):
        for name, where in compute_instance_types(resource):
            itype = context.instance_type(name)
            if itype is not None and head_arch not in itype.architectures:
                report.error(
                    f"{where}: instance type {name} supports {', '.join(itype.architectures)} but the head node "
                    f"({head_type}) is {head_arch}; use compute instance types of the head node's architecture"
                )


@validator("FsxArchitectureOsValidator")
def fsx_architecture(context: Context, report: Report) -> None:
    itype = context.instance_type(context.config.head_node.instance_type)
    if itype is None or itype.architecture is not None:
        return
    for storage in context.config.shared_storage:
        if storage.storage_type == "FsxLustre":
            report.error(
                f"{storage.where('StorageType')}: FSx for Lustre needs x86_64 or arm64 nodes, but head node instance "
                f"type {itype.name} supports only {', '.join(itype.architectures)}; choose another head node type"
            )


@validator("IntelHpcArchitectureValidator")
def intel_hpc_architecture(context: Context, report: Report) -> None:
    intel = context.config.additional_packages.intel_software
    itype = context.instance_type(context.config.head_node.instance_type)
    if intel.intel_hpc_platform and itype is not None and itype.architecture != "x86_64":
        report.error(
            f"{intel.where('IntelHpcPlatform')}: Intel HPC platform software runs only on x86_64, but head node "
            f"instance type {itype.name} is {itype.architecture or ', '.join(itype.architectures)}; "
            "use x86_64 instance types or disable it"
        )


@validator("InstanceTypeOSCompatibleValidator")
def small_instance_os(context: Context, report: Report) -> None:
    config = context.config
    os = config.image.os
    named = [(config.head_node.instance_type, config.head_node.where("InstanceType"))]
    # Login pools are checked only with their own image, as in ParallelCluster.
    named.extend((p.instance_type, p.where("InstanceType")) for p in config.login_nodes.pools if p.image.custom_ami)
    for _, resource in slurm_compute_resources(config):
        named.extend(compute_instance_types(resource))
    for name, where in named:
        if not name:
            continue
        if os in SMALL_MEMORY_OSES and _SMALL_TYPE.search(name):
            report.warning(
                f"{where}: {os} is not recommended on the small instance type {name}; "
                "use an instance type with at least 1.7 GB of memory"
            )
        if os in P6E_GB200_UNSUPPORTED_OSES and name.startswith(P6E_GB200):
            report.error(
                f"{where}: instance type {name} is not supported with {os}; use one of "
                + ", ".join(o for o in CURRENT_OSES if o not in P6E_GB200_UNSUPPORTED_OSES)
            )


@validator("EfaValidator")
def efa_single_type(context: Context, report: Report) -> None:
    for queue, resource in slurm_compute_resources(context.config):
        if resource.is_set("Instances"):
            continue  # InstancesEFAValidator checks compute resources with several types
        efa = resource.efa
        itype = context.instance_type(resource.instance_type)
        if itype is not None and efa.enabled and not itype.efa_supported:
            report.error(
                f"{efa.where('Enabled')}: instance type {itype.name} does not support EFA; "
                "disable EFA or choose a type that supports it"
            )
        if itype is not None and itype.efa_supported and not efa.enabled and not _multi_az(queue):
            report.warning(
                f"{resource.where('InstanceType')}: instance type {itype.name} supports EFA, which speeds up "
                "communication between nodes at no extra cost; consider setting Efa/Enabled to true"
            )
        if efa.gdr_support and not efa.enabled:
            report.error(f"{efa.where('GdrSupport')}: GPUDirect RDMA needs EFA; set Efa/Enabled to true")


@validator("EfaPlacementGroupValidator")
def efa_placement_group(context: Context, report: Report) -> None:
    for queue, resource in slurm_compute_resources(context.config):
        # Capacity blocks place instances themselves, and placement groups cannot span availability zones.
        if queue.capacity_type == "CAPACITY_BLOCK" or not resource.efa.enabled or _multi_az(queue):
            continue
        group = _chosen_placement_group(queue, resource)
        if group.enabled is False:
            report.warning(
                f"{group.where('Enabled')}: compute resource '{resource.name}' uses EFA without a placement group; "
                "a placement group usually gives EFA traffic better performance"
            )
        elif not _placement_group_enabled(group):
            report.error(
                f"{resource.efa.where('Enabled')}: EFA-enabled compute resource '{resource.name}' needs an explicit "
                "placement group choice; set Networking/PlacementGroup/Enabled to true (recommended) or to false"
            )


@validator("PlacementGroupCapacityTypeValidator")
def placement_group_capacity_block(context: Context, report: Report) -> None:
    for queue, resource in slurm_compute_resources(context.config):
        group = _chosen_placement_group(queue, resource)
        if queue.capacity_type == "CAPACITY_BLOCK" and _placement_group_enabled(group):
            report.warning(
                f"{group.where()}: with a capacity block, a placement group can cause insufficient capacity errors "
                "even when the reservation has room; remove the placement group of compute resource "
                f"'{resource.name}'"
            )


@validator("CapacityTypeValidator")
def capacity_type(context: Context, report: Report) -> None:
    for queue, resource in slurm_compute_resources(context.config):
        names = compute_instance_types(resource)
        target = resource.capacity_reservation_target
        target = target if target.present else queue.capacity_reservation_target
        if names and queue.capacity_type == "CAPACITY_BLOCK" and not target.capacity_reservation_id:
            report.error(
                f"{queue.where('CapacityType')}: compute resource '{resource.name}' uses a capacity block but names "
                "no reservation; set CapacityReservationTarget/CapacityReservationId"
            )
        usage = USAGE_CLASSES[queue.capacity_type]
        for name, where in names:
            itype = context.instance_type(name)
            if itype is None:
                continue
            if not itype.usage_classes:
                report.warning(
                    f"{where}: the facts of instance type {name} list no usage classes, so whether it is offered as "
                    f"{usage} capacity could not be checked"
                )
            elif usage not in itype.usage_classes:
                report.error(
                    f"{where}: instance type {name} is not offered as {usage} capacity "
                    f"(CapacityType {queue.capacity_type}); choose another instance type or capacity type"
                )


@validator("InstanceTypeAcceleratorManufacturerValidator")
def accelerator_manufacturer(context: Context, report: Report) -> None:
    for _, resource in slurm_compute_resources(context.config):
        for name, where in compute_instance_types(resource):
            itype = context.instance_type(name)
            if itype is None:
                continue
            if itype.gpus and (itype.gpu_manufacturer or "").upper() != "NVIDIA":
                report.warning(
                    f"{where}: ParaCluster's images have no drivers for the {itype.gpu_manufacturer or 'unnamed'} "
                    f"GPUs of instance type {name}; use a custom AMI that has them"
                )
            if itype.accelerators and (itype.accelerator_manufacturer or "").upper() != "AWS":
                report.warning(
                    f"{where}: ParaCluster's images have no drivers for the "
                    f"{itype.accelerator_manufacturer or 'unnamed'} accelerators of instance type {name}; "
                    "use a custom AMI that has them"
                )


@validator("InstanceTypePlacementGroupValidator")
def instance_type_placement_group(context: Context, report: Report) -> None:
    for queue, resource in slurm_compute_resources(context.config):
        if not _placement_group_enabled(_chosen_placement_group(queue, resource)):
            continue
        for name, where in compute_instance_types(resource):
            itype = context.instance_type(name)
            if itype is not None and "cluster" not in itype.placement_group_strategies:
                report.error(
                    f"{where}: instance type {name} cannot be launched in a cluster placement group; choose another "
                    f"type or disable the placement group of compute resource '{resource.name}'"
                )


@validator("SchedulableMemoryValidator")
def schedulable_memory(context: Context, report: Report) -> None:
    for _, resource in slurm_compute_resources(context.config):
        memory = resource.schedulable_memory
        if memory is None:
            continue
        where = resource.where("SchedulableMemory")
        if memory < 1:
            report.error(f"{where}: {memory} MiB is too little; set at least 1 MiB")
        types = known_types(context, resource)
        if not types:
            continue  # InstanceTypeValidator reports unknown types
        # A flexible compute resource is sized by its smallest instance type.
        smallest = min(types, key=lambda itype: itype.memory_mib)
        size = smallest.memory_mib
        if memory > size:
            report.error(
                f"{where}: {memory} MiB is more than the {size} MiB of instance type {smallest.name}; "
                f"set at most {size}"
            )
        elif memory < math.floor(SCHEDULABLE_MEMORY_SHARE * size):
            report.info(
                f"{where}: {memory} MiB is less than 95% of the {size} MiB of instance type {smallest.name}, "
                "so Slurm will not schedule the rest"
            )


@validator("InstanceTypeMemoryInfoValidator")
def instance_type_memory_info(context: Context, report: Report) -> None:
    if not context.config.scheduling.slurm_settings.enable_memory_based_scheduling:
        return
    for _, resource in slurm_compute_resources(context.config):
        for name, where in compute_instance_types(resource):
            itype = context.instance_type(name)
            if itype is not None and itype.memory_mib <= 0:
                report.error(
                    f"{where}: the facts of instance type {name} give no memory size, which memory-based scheduling "
                    "needs; add MemoryInfo/SizeInMiB to its DevSettings/InstanceTypesData entry"
                )


@validator("InstancesMemorySchedulingWarningValidator")
def instances_memory_scheduling(context: Context, report: Report) -> None:
    if not context.config.scheduling.slurm_settings.enable_memory_based_scheduling:
        return
    for _, resource in slurm_compute_resources(context.config):
        if not resource.is_set("Instances"):
            continue
        sizes = [itype.memory_mib for itype in known_types(context, resource)]
        if len(sizes) < 2 or min(sizes) <= 0:
            continue
        spread = max(sizes) - min(sizes)
        if spread > MEMORY_SPREAD_MIB and spread / min(sizes) > MEMORY_SPREAD_SHARE:
            report.warning(
                f"{resource.where('Instances')}: with memory-based scheduling, every node of compute resource "
                f"'{resource.name}' offers only the {min(sizes)} MiB of its smallest instance type, leaving up to "
                f"{spread} MiB unused on the others; list instance types with similar memory"
            )


def _flexible_resources(context: Context) -> Iterator[tuple[ConfigNode, ConfigNode, list[InstanceType]]]:
    """Compute resources that list Instances, with the facts of their known types in listed order."""
    for queue, resource in slurm_compute_resources(context.config):
        if resource.is_set("Instances"):
            yield queue, resource, known_types(context, resource)


def _first_difference(types: list[InstanceType], value: Callable[[InstanceType], object]) -> str | None:
    """`a: 4, b: 8` for the first two neighbouring types whose values differ, as ParallelCluster reports them."""
    for previous, current in zip(types, types[1:]):
        if value(previous) != value(current):
            return f"{previous.name}: {value(previous)}, {current.name}: {value(current)}"
    return None


def _nvidia_gpus(itype: InstanceType) -> int:
    # ParallelCluster counts only NVIDIA GPUs and AWS accelerators; other makers' devices count as none.
    return itype.gpus if (itype.gpu_manufacturer or "").upper() == "NVIDIA" else 0


def _aws_accelerators(itype: InstanceType) -> int:
    return itype.accelerators if (itype.accelerator_manufacturer or "").upper() == "AWS" else 0


@validator("InstancesCPUValidator")
def instances_cpus(context: Context, report: Report) -> None:
    for _, resource, types in _flexible_resources(context):
        if resource.disable_simultaneous_multithreading:
            what, difference = "CPU cores (SMT is disabled)", _first_difference(types, lambda t: t.cores)
        else:
            what, difference = "vCPUs", _first_difference(types, lambda t: t.vcpus)
        if difference:
            report.error(
                f"{resource.where('Instances')}: the instance types of compute resource '{resource.name}' must have "
                f"the same number of {what}, but they differ ({difference}); list only matching types"
            )


@validator("InstancesAcceleratorsValidator")
def instances_accelerators(context: Context, report: Report) -> None:
    checks = (
        ("number of NVIDIA GPUs", _nvidia_gpus),
        ("number of AWS inference accelerators", _aws_accelerators),
        ("GPU manufacturer", lambda t: t.gpu_manufacturer or "none"),
        ("accelerator manufacturer", lambda t: t.accelerator_manufacturer or "none"),
    )
    for _, resource, types in _flexible_resources(context):
        for what, value in checks:
            difference = _first_difference(types, value)
            if difference:
                report.error(
                    f"{resource.where('Instances')}: the instance types of compute resource '{resource.name}' must "
                    f"have the same {what}, but they differ ({difference}); list only matching types"
                )


@validator("InstancesEFAValidator")
def instances_efa(context: Context, report: Report) -> None:
    for queue, resource, types in _flexible_resources(context):
        if resource.efa.enabled:
            without = sorted(t.name for t in types if not t.efa_supported)
            if without:
                report.error(
                    f"{resource.efa.where('Enabled')}: EFA is enabled but instance types {', '.join(without)} of "
                    f"compute resource '{resource.name}' do not support it; remove those types or disable EFA"
                )
            continue
        capable = sorted(t.name for t in types if t.efa_supported)
        if capable and not _multi_az(queue):
            report.warning(
                f"{resource.where('Instances')}: instance types {', '.join(capable)} support EFA, which speeds up "
                "communication between nodes at no extra cost; consider enabling Efa for compute resource "
                f"'{resource.name}'"
            )


@validator("InstancesNetworkingValidator")
def instances_networking(context: Context, report: Report) -> None:
    for queue, resource, types in _flexible_resources(context):
        where = resource.where("Instances")
        cards = {t.network_cards for t in types}
        if len(cards) > 1:
            report.warning(
                f"{where}: the instance types of compute resource '{resource.name}' have from {min(cards)} to "
                f"{max(cards)} network cards, so every node will use only {min(cards)}"
            )
        if _placement_group_enabled(_chosen_placement_group(queue, resource)) and len(resource.instances) > 1:
            report.warning(
                f"{where}: a placement group with several instance types in compute resource '{resource.name}' "
                "makes insufficient capacity errors more likely; consider one type per placement group"
            )


@validator("InstancesAllocationStrategyValidator")
def instances_allocation_strategy(context: Context, report: Report) -> None:
    for queue, resource, _ in _flexible_resources(context):
        strategy = queue.allocation_strategy
        if not strategy:
            continue
        where = queue.where("AllocationStrategy")
        # ParallelCluster 3.14: on-demand also takes prioritized; spot takes every strategy but prioritized.
        if queue.capacity_type == "ONDEMAND" and strategy not in ON_DEMAND_STRATEGIES:
            report.error(
                f"{where}: on-demand compute resource '{resource.name}' can only use the lowest-price or prioritized "
                f"allocation strategy, not {strategy}; set one of them or remove the key"
            )
        if queue.capacity_type == "SPOT" and strategy == "prioritized":
            report.error(
                f"{where}: spot compute resource '{resource.name}' cannot use the prioritized allocation strategy; "
                "use lowest-price, capacity-optimized, price-capacity-optimized or capacity-optimized-prioritized"
            )
        if queue.capacity_type == "CAPACITY_BLOCK":
            report.error(
                f"{where}: compute resource '{resource.name}' uses a capacity block, "
                "which takes no allocation strategy; remove the key"
            )


def _batch_resources(config: ConfigNode) -> Iterator[ConfigNode]:
    for queue in config.scheduling.aws_batch_queues:
        yield from queue.compute_resources


@validator("AwsBatchInstancesArchitectureCompatibilityValidator")
def batch_architecture(context: Context, report: Report) -> None:
    head_arch = head_node_architecture(context)
    if head_arch is None:
        return
    for resource in _batch_resources(context.config):
        for index, name in enumerate(resource.instance_types):
            where = item_where(resource, "InstanceTypes", index)
            if name != "optimal" and not _TYPE_WITH_SIZE.match(name):
                report.info(f"{where}: '{name}' is an instance family, so its architecture is not checked")
                continue
            itype = context.instance_type(name)
            # AWS Batch's `optimal` picks x86_64 instance types.
            archs = ("x86_64",) if name == "optimal" else itype.architectures if itype else None
            if archs is not None and head_arch not in archs:
                report.error(
                    f"{where}: instance type {name} supports {', '.join(archs)} but the head node is {head_arch}; "
                    "use compute instance types of the head node's architecture"
                )


@validator("AwsBatchComputeInstanceTypeValidator")
def batch_instance_types(context: Context, report: Report) -> None:
    # AWS Batch is asked which types it supports only when creating; here a type or family must be in the catalog.
    resources = list(_batch_resources(context.config))
    if not resources:
        return
    families = {match.group(1) for match in map(_TYPE_WITH_SIZE.match, context.catalog.names()) if match}
    for resource in resources:
        names = resource.instance_types
        for index, name in enumerate(names):
            if name != "optimal" and name not in families and context.instance_type(name) is None:
                report.error(
                    f"{item_where(resource, 'InstanceTypes', index)}: '{name}' is neither 'optimal' nor an instance "
                    f"type or family ParaCluster knows; {UNKNOWN_TYPE_HINT}"
                )
        itype = context.instance_type(names[0]) if len(names) == 1 and "." in names[0] else None
        if itype is not None and resource.max_vcpus < itype.vcpus:
            report.error(
                f"{resource.where('MaxvCpus')}: {resource.max_vcpus} is less than the {itype.vcpus} vCPUs of instance "
                f"type {itype.name}; set MaxvCpus to at least {itype.vcpus}"
            )

"""The node plan of a Slurm cluster: for each queue and compute resource its node names and Slurm node definition."""

from __future__ import annotations

from dataclasses import dataclass

from paracluster.slurm.hostlist import compress_hostlist

# ParallelCluster's realmemory_to_ec2memory_ratio (0.95), as a percentage so the arithmetic stays exact.
REAL_MEMORY_PERCENT = 95

# GPU names (GpuInfo.Gpus[].Name, lower-cased, spaces removed) by instance family, for Slurm's Gres type. The
# built-in catalog keeps GPU counts and makers but not names; these are the NVIDIA families EC2 lists.
NVIDIA_GPU_NAMES = {
    "g2": "gridk520",
    "g3": "m60",
    "g3s": "m60",
    "g4dn": "t4",
    "g5": "a10g",
    "g5g": "t4g",
    "g6": "l4",
    "g6e": "l40s",
    "g6f": "l4",
    "g7e": "rtxproserver6000",
    "gr6": "l4",
    "gr6f": "l4",
    "p2": "k80",
    "p3": "v100",
    "p3dn": "v100",
    "p4d": "a100",
    "p4de": "a100",
    "p5": "h100",
    "p5e": "h200",
    "p5en": "h200",
    "p6-b200": "b200",
    "p6-b300": "b300",
}


@dataclass(frozen=True)
class NodeGroup:
    """The Slurm nodes of one compute resource of one queue, with the values of their NodeName lines."""

    queue: str
    compute_resource: str
    static_nodes: tuple[str, ...]
    dynamic_nodes: tuple[str, ...]
    instance_types: tuple[str, ...]
    cpus: int
    real_memory: int
    efa: bool
    gpu_count: int
    gpu_type: str | None
    static_weight: int
    dynamic_weight: int
    # The compute resource's CustomSlurmSettings as (key, value) pairs in file order: a tuple keeps the plan hashable.
    custom_settings: tuple[tuple[str, object], ...]

    @property
    def instance_type(self) -> str | None:
        """The instance type when the compute resource has exactly one."""
        return self.instance_types[0] if len(self.instance_types) == 1 else None

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.static_nodes + self.dynamic_nodes

    @property
    def static_range(self) -> str:
        return compress_hostlist(self.static_nodes)

    @property
    def dynamic_range(self) -> str:
        return compress_hostlist(self.dynamic_nodes)

    def features(self, static: bool) -> tuple[str, ...]:
        """ParallelCluster's Feature list: static|dynamic, the instance type if only one, the CR name, efa, gpu."""
        features = ["static" if static else "dynamic"]
        if self.instance_type:
            features.append(self.instance_type)
        features.append(self.compute_resource)
        if self.efa:
            features.append("efa")
        if self.gpu_count > 0:
            features.append("gpu")
        return tuple(features)


def static_node_names(queue: str, compute_resource: str, count: int) -> tuple[str, ...]:
    return tuple(f"{queue}-st-{compute_resource}-{n}" for n in range(1, count + 1))


def dynamic_node_names(queue: str, compute_resource: str, count: int) -> tuple[str, ...]:
    return tuple(f"{queue}-dy-{compute_resource}-{n}" for n in range(1, count + 1))


def _counts(compute_resource) -> tuple[int, int]:
    """(static, dynamic) node counts: MinCount static nodes, and the rest up to MaxCount dynamic ones."""
    min_count, max_count = compute_resource.min_count, compute_resource.max_count
    return min_count, max(max_count - min_count, 0)


def compute_resource_instance_types(compute_resource) -> tuple[str, ...]:
    """The instance types a compute resource may launch: `Instances` or `InstanceType`."""
    if compute_resource.instances:
        return tuple(item.instance_type for item in compute_resource.instances)
    if compute_resource.instance_type:
        return (compute_resource.instance_type,)
    # A capacity reservation alone names its type only in EC2; the caller has to resolve it before rendering.
    raise ValueError(
        f"{compute_resource.where()}: no InstanceType or Instances; resolve the capacity reservation's type first"
    )


def gpu_type_name(instance_type) -> str | None:
    """The Gres type of an NVIDIA instance type, as ParallelCluster derives it from the GPU name (e.g. `a100`)."""
    name = getattr(instance_type, "gpu_name", None)
    if name:
        return name.lower().replace(" ", "")
    return NVIDIA_GPU_NAMES.get(instance_type.name.split(".")[0])


def _nvidia_gpus(instance_type) -> int:
    # ParallelCluster schedules only NVIDIA GPUs; other makers' GPUs (AMD on g4ad) get no Gres and no gpu feature.
    return instance_type.gpus if instance_type.gpu_manufacturer == "NVIDIA" else 0


def _plan_group(queue, compute_resource, catalog) -> NodeGroup:
    type_names = compute_resource_instance_types(compute_resource)
    types = []
    for name in type_names:
        found = catalog.get(name)
        if found is None:
            raise ValueError(f"{compute_resource.where()}: unknown instance type {name}")
        types.append(found)

    cpus = min(t.vcpus for t in types)
    if compute_resource.disable_simultaneous_multithreading:
        cpus //= min(t.threads_per_core for t in types) or 1
    if compute_resource.schedulable_memory is not None:
        real_memory = compute_resource.schedulable_memory
    else:
        real_memory = min(t.memory_mib for t in types) * REAL_MEMORY_PERCENT // 100
    gpu_count = min(_nvidia_gpus(t) for t in types)
    gpu_type = None
    if gpu_count:
        # With several types the first one with a known name gives the type; validation keeps them alike.
        gpu_type = next((g for g in map(gpu_type_name, types) if g), None)

    static_count, dynamic_count = _counts(compute_resource)
    return NodeGroup(
        queue=queue.name,
        compute_resource=compute_resource.name,
        static_nodes=static_node_names(queue.name, compute_resource.name, static_count),
        dynamic_nodes=dynamic_node_names(queue.name, compute_resource.name, dynamic_count),
        instance_types=type_names,
        cpus=max(cpus, 1),
        real_memory=max(int(real_memory), 1),
        efa=bool(compute_resource.efa.enabled),
        gpu_count=gpu_count,
        gpu_type=gpu_type,
        static_weight=compute_resource.static_node_priority,
        dynamic_weight=compute_resource.dynamic_node_priority,
        custom_settings=tuple(compute_resource.custom_slurm_settings.items()),
    )


def plan_node_groups(config, catalog) -> list[NodeGroup]:
    """One NodeGroup per queue and compute resource, in config order; `catalog` gives the instance type facts."""
    return [
        _plan_group(queue, compute_resource, catalog)
        for queue in config.scheduling.slurm_queues
        for compute_resource in queue.compute_resources
    ]


def node_names(config) -> list[str]:
    """Every Slurm node name of the cluster in config order (static then dynamic per compute resource)."""
    names: list[str] = []
    for queue in config.scheduling.slurm_queues:
        for compute_resource in queue.compute_resources:
            static_count, dynamic_count = _counts(compute_resource)
            names.extend(static_node_names(queue.name, compute_resource.name, static_count))
            names.extend(dynamic_node_names(queue.name, compute_resource.name, dynamic_count))
    return names

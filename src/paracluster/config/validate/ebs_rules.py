"""Validators of EBS volumes (shared EBS and node root volumes): size, IOPS and throughput by volume type; KMS keys.

Provider checks left out here because they need AWS: SharedEbsVolumeIdValidator (the volume exists and is free),
EbsVolumeSizeSnapshotValidator (the snapshot's size and state), MultiAzEbsVolumeValidator and
MultiAzRootVolumeValidator (availability zones), RootVolumeSizeValidator and KmsKeyValidator. A root volume
without Size gets the size of its AMI, which only AWS knows, so the size checks skip it.
"""

from __future__ import annotations

import math

from paracluster.config.validate.core import Context, Report, validator
from paracluster.config.validate.instance_rules import total_max_compute_nodes

# GiB (min, max) by volume type.
SIZE_BOUNDS = {
    "standard": (1, 1024),
    "io1": (4, 16 * 1024),
    "io2": (4, 64 * 1024),
    "gp2": (1, 16 * 1024),
    "gp3": (1, 16 * 1024),
    "st1": (500, 16 * 1024),
    "sc1": (500, 16 * 1024),
}
IOPS_BOUNDS = {"io1": (100, 64000), "io2": (100, 256000), "gp3": (3000, 16000)}
MAX_IOPS_PER_GIB = {"io1": 50, "io2": 1000, "gp3": 500}
GP3_THROUGHPUT = (125, 1000)  # MB/s
GP3_MAX_THROUGHPUT_PER_IOPS = 0.25
# ParallelCluster sizes a shared EBS volume at 40 GiB when Size is not set, even for a VolumeId or SnapshotId.
SHARED_EBS_DEFAULT_SIZE = 40
SHARED_EBS_MAX_COMPUTE_NODES = 100  # beyond this many compute nodes, shared EBS is a bottleneck (a warning)


def _where(node, *keys: str) -> str:
    """Where the first of `keys` that the file sets is, else where the section is (the values are defaults)."""
    for key in keys:
        if node.is_set(key):
            return node.where(key)
    return node.where()


def _volumes(context: Context) -> list[tuple[object, int | None]]:
    """Every EBS volume section with the size ParallelCluster checks it at (None: the AMI's, unknown here)."""
    config = context.config
    volumes = [(config.head_node.local_storage.root_volume, config.head_node.local_storage.root_volume.size)]
    for queue in config.scheduling.slurm_queues:
        root = queue.compute_settings.local_storage.root_volume
        volumes.append((root, root.size))
    for storage in config.shared_storage:
        if storage.storage_type == "Ebs":
            ebs = storage.ebs_settings
            size = ebs.raw.get("Size")
            volumes.append((ebs, size if size is not None else SHARED_EBS_DEFAULT_SIZE))
    return volumes


@validator("EbsVolumeThroughputValidator")
def gp3_throughput(context: Context, report: Report) -> None:
    low, high = GP3_THROUGHPUT
    for volume, _ in _volumes(context):
        throughput = volume.throughput
        if volume.volume_type == "gp3" and throughput is not None and not low <= throughput <= high:
            report.error(
                f"{_where(volume, 'Throughput')}: {throughput} MB/s is outside the {low} to {high} MB/s that gp3 "
                "volumes allow; set Throughput within that range"
            )


@validator("EbsVolumeThroughputIopsValidator")
def gp3_throughput_per_iops(context: Context, report: Report) -> None:
    for volume, _ in _volumes(context):
        throughput, iops = volume.throughput, volume.iops or 0
        if volume.volume_type == "gp3" and throughput and throughput > iops * GP3_MAX_THROUGHPUT_PER_IOPS:
            needed = math.ceil(throughput / GP3_MAX_THROUGHPUT_PER_IOPS)
            report.error(
                f"{_where(volume, 'Throughput', 'Iops')}: a gp3 volume gives at most "
                f"{GP3_MAX_THROUGHPUT_PER_IOPS} MB/s per IOPS, so Throughput {throughput} MB/s needs Iops of at least "
                f"{needed} but Iops is {iops}; raise Iops or lower Throughput"
            )


@validator("EbsVolumeTypeSizeValidator")
def size_by_type(context: Context, report: Report) -> None:
    for volume, size in _volumes(context):
        kind = volume.volume_type
        if size is None or kind not in SIZE_BOUNDS:
            continue
        low, high = SIZE_BOUNDS[kind]
        where = _where(volume, "Size", "VolumeType")
        if size > high:
            report.error(f"{where}: {size} GiB is more than the {high} GiB that {kind} volumes allow; lower Size")
        elif size < low:
            default = "" if volume.is_set("Size") else " (the default)"
            report.error(
                f"{where}: {kind} volumes need at least {low} GiB but Size is {size}{default}; raise Size or choose "
                "another VolumeType"
            )


@validator("EbsVolumeIopsValidator")
def iops_by_type(context: Context, report: Report) -> None:
    for volume, size in _volumes(context):
        kind, iops = volume.volume_type, volume.iops
        if not iops:
            continue
        where = _where(volume, "Iops", "Size", "VolumeType")
        if kind not in IOPS_BOUNDS:
            report.error(f"{where}: {kind} volumes have no provisioned IOPS; remove Iops or use gp3, io1 or io2")
            continue
        low, high = IOPS_BOUNDS[kind]
        limit = MAX_IOPS_PER_GIB[kind]
        if not low <= iops <= high:
            report.error(
                f"{where}: {iops} IOPS is outside the {low} to {high} that {kind} volumes allow; set Iops within "
                "that range"
            )
        elif size is not None and iops > size * limit:
            report.error(
                f"{where}: {kind} volumes allow at most {limit} IOPS per GiB, {size * limit} for {size} GiB, but Iops "
                f"is {iops}; lower Iops or raise Size"
            )


@validator("KmsKeyIdEncryptedValidator")
def kms_key_needs_encryption(context: Context, report: Report) -> None:
    for storage in context.config.shared_storage:
        settings = {"Ebs": storage.ebs_settings, "Efs": storage.efs_settings}.get(storage.storage_type)
        if settings is None or not settings.kms_key_id or settings.encrypted:
            continue
        default = "" if settings.is_set("Encrypted") else f" (the default for {storage.storage_type})"
        report.error(
            f"{_where(settings, 'Encrypted', 'KmsKeyId')}: KmsKeyId {settings.kms_key_id} is set but Encrypted is "
            f"false{default}; set Encrypted: true or remove KmsKeyId"
        )


@validator("SharedEbsPerformanceBottleNeckValidator")
def shared_ebs_bottleneck(context: Context, report: Report) -> None:
    # ParallelCluster 3.13: the head node serves shared EBS to every compute node over its own network link.
    nodes = total_max_compute_nodes(context.config)
    if nodes <= SHARED_EBS_MAX_COMPUTE_NODES:
        return
    for storage in context.config.shared_storage:
        if storage.storage_type == "Ebs":
            report.warning(
                f"{storage.where('StorageType')}: this EBS volume is shared to the compute nodes from the head node, "
                f"whose network link limits the {nodes} compute nodes the queues may run; use EFS or FSx for data "
                "that many nodes read or write"
            )

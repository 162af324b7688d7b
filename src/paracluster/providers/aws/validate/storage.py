"""AWS validators of storage that exists before the cluster: it exists, it is free (EBS), it is where the nodes are
(the head node's zone for EBS, a mount target in every zone for EFS, the cluster's VPC for FSx), and snapshots and
backups to restore from exist."""

from __future__ import annotations

from paracluster.config.validate.core import Report, validator
from paracluster.errors import NotFoundError
from paracluster.providers.aws.template.context import cluster_subnets
from paracluster.providers.aws.validate import KIND, AwsContext
from paracluster.providers.aws.validate.network import cluster_vpc


def _zones(context: AwsContext) -> dict[str, str]:
    """Availability Zone of each of the cluster's subnets that exists."""
    found = context.lookups.subnets(cluster_subnets(context.config))
    return {subnet: details["AvailabilityZone"] for subnet, details in found.items() if details}


def _head_zone(context: AwsContext) -> str | None:
    return _zones(context).get(context.config.head_node.networking.subnet_id)


def _described(context: AwsContext, what: str, service: str, operation: str, key: str, **params) -> list:
    """What a Describe call lists, or nothing when AWS says the id does not exist."""
    try:
        return context.session.call(f"describe {what}", service, operation, **params)[key]
    except NotFoundError:
        return []


# StorageType -> (its settings attribute, the key naming an existing one)
_ID_KEYS = {"Ebs": ("ebs_settings", "VolumeId"), "Efs": ("efs_settings", "FileSystemId"),
            "FsxLustre": ("fsx_lustre_settings", "FileSystemId"), "FsxOntap": ("fsx_ontap_settings", "VolumeId"),
            "FsxOpenZfs": ("fsx_open_zfs_settings", "VolumeId"), "FileCache": ("file_cache_settings", "FileCacheId")}


def _existing(context: AwsContext, storage_type: str) -> list[tuple[str, str]]:
    """(id, where it is set, with its line) of every existing storage of a type that the config names."""
    attribute, key = _ID_KEYS[storage_type]
    found = []
    for item in context.config.shared_storage:
        settings = getattr(item, attribute)
        if item.storage_type == storage_type and settings.get(key):
            found.append((settings.get(key), settings.where(key)))
    return found


@validator("SharedEbsVolumeIdValidator", kind=KIND)
def ebs_volumes(context: AwsContext, report: Report) -> None:
    head_zone = _head_zone(context)
    for volume_id, where in _existing(context, "Ebs"):
        volumes = _described(context, f"volume {volume_id}", "ec2", "describe_volumes", "Volumes",
                             VolumeIds=[volume_id])
        if not volumes:
            report.error(f"{where}: volume {volume_id} does not exist in {context.region}; use a volume of this region")
            continue
        volume = volumes[0]
        if volume["State"] != "available":
            report.error(f"{where}: volume {volume_id} is {volume['State']}; an EBS volume attaches to one instance "
                         "at a time, so detach it first")
        if head_zone and volume["AvailabilityZone"] != head_zone:
            # ParallelCluster reports this as MultiAzEbsVolumeValidator; one finding per volume is enough here.
            report.error(f"{where}: volume {volume_id} is in {volume['AvailabilityZone']} but the head node is in "
                         f"{head_zone}; use a volume of {head_zone}")


@validator("EbsVolumeSizeSnapshotValidator", kind=KIND)
def ebs_snapshots(context: AwsContext, report: Report) -> None:
    for item in context.config.shared_storage:
        settings = item.ebs_settings
        if item.storage_type != "Ebs" or not settings.snapshot_id:
            continue
        snapshot_id, where = settings.snapshot_id, settings.where("SnapshotId")
        snapshots = _described(context, f"snapshot {snapshot_id}", "ec2", "describe_snapshots", "Snapshots",
                               SnapshotIds=[snapshot_id])
        if not snapshots:
            report.error(f"{where}: snapshot {snapshot_id} does not exist in {context.region}; use a snapshot of "
                         "this region")
            continue
        snapshot = snapshots[0]
        if snapshot.get("State") not in (None, "completed"):
            report.error(f"{where}: snapshot {snapshot_id} is {snapshot['State']}; wait until it is completed")
        if settings.size and snapshot.get("VolumeSize") and settings.size < snapshot["VolumeSize"]:
            report.error(f"{where}: snapshot {snapshot_id} holds {snapshot['VolumeSize']} GiB but Size is "
                         f"{settings.size}; make Size at least that")


@validator("EfsIdValidator", kind=KIND)
def efs_file_systems(context: AwsContext, report: Report) -> None:
    zones = sorted(set(_zones(context).values()))
    for file_system, where in _existing(context, "Efs"):
        if not _described(context, f"file system {file_system}", "efs", "describe_file_systems", "FileSystems",
                          FileSystemId=file_system):
            report.error(f"{where}: EFS file system {file_system} does not exist in {context.region}; use a file "
                         "system of this region")
            continue
        targets = context.session.call(f"describe the mount targets of {file_system}", "efs",
                                       "describe_mount_targets", FileSystemId=file_system)["MountTargets"]
        covered = {target.get("AvailabilityZoneName") for target in targets}
        missing = [zone for zone in zones if zone not in covered]
        if missing:
            report.error(f"{where}: EFS file system {file_system} has no mount target in {', '.join(missing)}, "
                         "where the cluster has nodes; add a mount target there")


# StorageType -> (FSx operation, its id list argument, the answer's list key, what it is)
_FSX = {
    "FsxLustre": ("describe_file_systems", "FileSystemIds", "FileSystems", "FSx for Lustre file system"),
    "FsxOntap": ("describe_volumes", "VolumeIds", "Volumes", "FSx for ONTAP volume"),
    "FsxOpenZfs": ("describe_volumes", "VolumeIds", "Volumes", "FSx for OpenZFS volume"),
    "FileCache": ("describe_file_caches", "FileCacheIds", "FileCaches", "File Cache"),
}


@validator("ExistingFsxNetworkingValidator", kind=KIND)
def fsx_storage(context: AwsContext, report: Report) -> None:
    vpc = cluster_vpc(context)
    for storage_type, (operation, argument, key, what) in _FSX.items():
        for storage_id, where in _existing(context, storage_type):
            found = _described(context, f"{what} {storage_id}", "fsx", operation, key, **{argument: [storage_id]})
            if not found:
                report.error(f"{where}: {what} {storage_id} does not exist in {context.region}; use one of this "
                             "region")
                continue
            found_vpc = found[0].get("VpcId") or _vpc_of_subnets(context, found[0].get("SubnetIds", []))
            if vpc and found_vpc and found_vpc != vpc:
                report.error(f"{where}: {what} {storage_id} is in VPC {found_vpc}, not in the cluster's VPC {vpc}; "
                             f"use one in {vpc}")


def _vpc_of_subnets(context: AwsContext, subnets: list[str]) -> str | None:
    found = [details for details in context.lookups.subnets(subnets).values() if details]
    return found[0]["VpcId"] if found else None


@validator("FsxBackupIdValidator", kind=KIND)
def fsx_backups(context: AwsContext, report: Report) -> None:
    for item in context.config.shared_storage:
        settings = item.fsx_lustre_settings
        if item.storage_type != "FsxLustre" or not settings.backup_id:
            continue
        found = _described(context, f"backup {settings.backup_id}", "fsx", "describe_backups", "Backups",
                           BackupIds=[settings.backup_id])
        if not found:
            report.error(f"{settings.where('BackupId')}: FSx backup {settings.backup_id} does not exist in "
                         f"{context.region}; use a backup of this region")

"""The v2 storage sections ([ebs], [raid], [efs], [fsx]) as v3 SharedStorage items, with ParallelCluster's keys."""

from __future__ import annotations

from paracluster.convert.context import Context
from paracluster.convert.ini import split_labels

# (v2 key, v3 key, type) of each settings section, in the order ParallelCluster writes them.
EBS_KEYS = (
    ("volume_type", "VolumeType", "str"),
    ("volume_size", "Size", "int"),
    ("volume_iops", "Iops", "int"),
    ("ebs_snapshot_id", "SnapshotId", "str"),
    ("ebs_kms_key_id", "KmsKeyId", "str"),
    ("ebs_volume_id", "VolumeId", "str"),
    ("volume_throughput", "Throughput", "int"),
)
RAID_KEYS = (
    ("volume_type", "VolumeType", "str"),
    ("volume_size", "Size", "int"),
    ("volume_iops", "Iops", "int"),
    ("ebs_kms_key_id", "KmsKeyId", "str"),
    # ParallelCluster's converter writes this one as "Throughout", a key its own schema rejects.
    ("volume_throughput", "Throughput", "int"),
)
RAID_ARRAY_KEYS = (("num_of_raid_volumes", "NumberOfVolumes", "int"), ("raid_type", "Type", "int"))
EFS_KEYS = (
    ("performance_mode", "PerformanceMode", "str"),
    ("efs_fs_id", "FileSystemId", "str"),
    ("efs_kms_key_id", "KmsKeyId", "str"),
    ("provisioned_throughput", "ProvisionedThroughput", "int"),
    ("throughput_mode", "ThroughputMode", "str"),
    ("access_point_id", "AccessPointId", "str"),
)
FSX_KEYS = (
    ("auto_import_policy", "AutoImportPolicy", "str"),
    ("fsx_fs_id", "FileSystemId", "str"),
    ("fsx_kms_key_id", "KmsKeyId", "str"),
    ("storage_capacity", "StorageCapacity", "int"),
    ("deployment_type", "DeploymentType", "str"),
    ("storage_type", "StorageType", "str"),
    ("imported_file_chunk_size", "ImportedFileChunkSize", "int"),
    ("data_compression_type", "DataCompressionType", "str"),
    ("export_path", "ExportPath", "str"),
    ("import_path", "ImportPath", "str"),
    ("weekly_maintenance_start_time", "WeeklyMaintenanceStartTime", "str"),
    ("automatic_backup_retention_days", "AutomaticBackupRetentionDays", "int"),
    ("copy_tags_to_backups", "CopyTagsToBackups", "bool"),
    ("daily_automatic_backup_start_time", "DailyAutomaticBackupStartTime", "str"),
    ("per_unit_storage_throughput", "PerUnitStorageThroughput", "int"),
    ("fsx_backup_id", "BackupId", "str"),
    ("drive_cache_type", "DriveCacheType", "str"),
)
# v2 section kind -> (v3 StorageType, settings key, its keys)
KINDS = {
    "ebs": ("Ebs", "EbsSettings", EBS_KEYS),
    "raid": ("Ebs", "EbsSettings", RAID_KEYS),
    "efs": ("Efs", "EfsSettings", EFS_KEYS),
    "fsx": ("FsxLustre", "FsxLustreSettings", FSX_KEYS),
}
DEFAULT_EBS = {"MountDir": "/shared", "Name": "default-ebs", "StorageType": "Ebs"}


def copy_keys(ctx: Context, section: str | None, keys, target: dict) -> dict:
    """Copy each (v2 key, v3 key, type) the section sets into `target`, typed; return `target`."""
    for v2_key, v3_key, kind in keys:
        value = ctx.ini.typed(section, v2_key, kind)
        if value is not None:
            target[v3_key] = value
    return target


def _item(ctx: Context, kind: str, label: str) -> tuple[dict, dict, str]:
    storage_type, settings_key, keys = KINDS[kind]
    section = f"{kind} {label}"
    item = {"Name": label, "StorageType": storage_type}
    copy_keys(ctx, section, (("shared_dir", "MountDir", "str"),), item)
    settings = copy_keys(ctx, section, (("encrypted", "Encrypted", "bool"), *keys), {})
    if kind == "raid":
        array = copy_keys(ctx, section, RAID_ARRAY_KEYS, {})
        if array:
            settings["Raid"] = array
    return item, settings, settings_key


def shared_storage(ctx: Context) -> list[dict]:
    """Every storage section the cluster names, in ParallelCluster's order: EBS, RAID, EFS, FSx."""
    items = []
    ebs = ctx.cluster_get("ebs_settings")
    if not ebs:
        # ParallelCluster 2 always shared /shared (or shared_dir) from an EBS volume.
        items.append({**DEFAULT_EBS, "MountDir": ctx.cluster_get("shared_dir") or DEFAULT_EBS["MountDir"]})
    for kind, key in (("ebs", "ebs_settings"), ("raid", "raid_settings"), ("efs", "efs_settings"),
                      ("fsx", "fsx_settings")):
        value = ctx.cluster_get(key)
        labels = split_labels(value) if value else []
        for label in labels:
            item, settings, settings_key = _item(ctx, kind, label)
            # With a single EBS volume, the cluster's shared_dir is where it is mounted.
            if kind == "ebs" and len(labels) == 1 and ctx.cluster_get("shared_dir"):
                item["MountDir"] = ctx.cluster_get("shared_dir")
            if settings:
                item[settings_key] = settings
            items.append(item)
    return items

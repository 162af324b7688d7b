"""Key tree of storage: node root and ephemeral volumes, and every SharedStorage type with its settings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from paracluster.config.schema.types import (
    IGNORED,
    QUEUE_UPDATE_STRATEGY,
    SHARED_STORAGE_UPDATE_POLICY,
    SUPPORTED,
    UNSUPPORTED,
    Bool,
    Int,
    ListOf,
    Section,
    Str,
)
from paracluster.config.schema.common import path_str
from paracluster.config.versions import ROOT_VOLUME_KMS_KEY_REMOVED

VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "st1", "sc1", "gp3")
STORAGE_TYPES = ("Ebs", "FsxLustre", "FsxOpenZfs", "FsxOntap", "Efs", "FileCache")
DEFAULT_EPHEMERAL_DIR = "/scratch"


def default_iops(volume) -> int | None:
    """ParallelCluster's implied IOPS: 3000 for gp3, 100 for io1/io2, none for the rest."""
    return {"gp3": 3000, "io1": 100, "io2": 100}.get(volume.volume_type)


def default_throughput(volume) -> int | None:
    return 125 if volume.volume_type == "gp3" else None


def root_volume(policy: str, *, head: bool) -> Section:
    fields = {
        "Size": Int(policy=policy, doc="GiB; defaults to the image's size"),
        "Encrypted": Bool(default=True, policy=policy),
        "VolumeType": Str(choices=VOLUME_TYPES if head else None, default="gp3", policy=policy),
        "Iops": Int(default=default_iops, policy=policy),
        "Throughput": Int(default=default_throughput, policy=policy),
    }
    if head:
        fields["DeleteOnTermination"] = Bool(default=True, policy=UNSUPPORTED)
        fields["KmsKeyId"] = Str(policy=UNSUPPORTED, deprecated=ROOT_VOLUME_KMS_KEY_REMOVED)
    # ParallelCluster 3.15 made the head node's root volume UNSUPPORTED for updates (it was SUPPORTED).
    return Section("RootVolume", fields, policy=UNSUPPORTED if head else policy)


def local_storage(policy: str, *, head: bool) -> Section:
    return Section(
        "LocalStorage",
        {
            "RootVolume": root_volume(UNSUPPORTED if head else policy, head=head),
            "EphemeralVolume": Section(
                "EphemeralVolume",
                {"MountDir": path_str(default=DEFAULT_EPHEMERAL_DIR, policy=UNSUPPORTED if head else policy)},
                policy=UNSUPPORTED if head else policy,
            ),
        },
        policy=policy,
    )


def _throughput_mode_rule(data: dict) -> Iterable[tuple[str, str]]:
    mode, throughput = data.get("ThroughputMode"), data.get("ProvisionedThroughput")
    if mode != "provisioned" and throughput:
        yield "ThroughputMode", "must be 'provisioned' when ProvisionedThroughput is set"
    if mode == "provisioned" and not throughput:
        yield "ProvisionedThroughput", "is required when ThroughputMode is 'provisioned'"


def _existing_efs_rule(data: dict) -> Iterable[tuple[str, str]]:
    # An existing file system keeps its own settings: only the mount options apply.
    if data.get("FileSystemId") is not None:
        allowed = {"EncryptionInTransit", "IamAuthorization", "FileSystemId", "AccessPointId"}
        for key in data:
            if key not in allowed:
                yield key, "is ignored with an existing FileSystemId; remove it"


def _existing_lustre_rule(data: dict) -> Iterable[tuple[str, str]]:
    if data.get("FileSystemId") is not None:
        for key in data:
            if key != "FileSystemId":
                yield key, "cannot be set with an existing FileSystemId; remove it"


_BACKUP_FORBIDS = (
    "DeploymentType",
    "PerUnitStorageThroughput",
    "StorageCapacity",
    "ImportPath",
    "ExportPath",
    "ImportedFileChunkSize",
    "KmsKeyId",
)


def _backup_rule(data: dict) -> Iterable[tuple[str, str]]:
    if data.get("BackupId") is not None:
        for key in data:
            if key in _BACKUP_FORBIDS:
                yield key, "cannot be set when restoring from a BackupId; remove it"


def _new_ebs_deletion_policy(ebs) -> str | None:
    return None if ebs.volume_id else "Delete"


def _new_fs_deletion_policy(fs) -> str | None:
    return None if fs.file_system_id else "Delete"


def _lustre_deployment_type(fs) -> str | None:
    return None if (fs.file_system_id or fs.backup_id) else "SCRATCH_2"


_DRA_POLICY = ListOf(Str(choices=("NEW", "CHANGED", "DELETED")), max_len=3, policy=SUPPORTED)
_CHUNK_SIZE_HELP = "has a minimum size of 1 MiB and a maximum of 512,000 MiB"

EBS_SETTINGS = Section(
    "EbsSettings",
    {
        "VolumeType": Str(choices=VOLUME_TYPES, default="gp3", policy=UNSUPPORTED),
        "Iops": Int(default=default_iops, policy=SUPPORTED),
        "Size": Int(default=lambda ebs: None if (ebs.volume_id or ebs.snapshot_id) else 40, policy=UNSUPPORTED),
        "KmsKeyId": Str(policy=UNSUPPORTED),
        "Throughput": Int(default=default_throughput, policy=SUPPORTED),
        "Encrypted": Bool(default=True, policy=UNSUPPORTED),
        "SnapshotId": Str(
            pattern=r"^snap-[0-9a-z]{8}$|^snap-[0-9a-z]{17}$",
            pattern_help="use a snapshot id such as snap-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "VolumeId": Str(
            pattern=r"^vol-[0-9a-z]{8}$|^vol-[0-9a-z]{17}$",
            pattern_help="use a volume id such as vol-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "Raid": Section(
            "Raid",
            {
                "Type": Int(required=True, choices=(0, 1), policy=UNSUPPORTED, attr="raid_type"),
                "NumberOfVolumes": Int(minimum=2, maximum=5, default=2, policy=UNSUPPORTED),
            },
            policy=UNSUPPORTED,
        ),
        "DeletionPolicy": Str(
            choices=("Delete", "Retain", "Snapshot"), default=_new_ebs_deletion_policy, policy=SUPPORTED
        ),
    },
    policy=IGNORED,
)

EFS_SETTINGS = Section(
    "EfsSettings",
    {
        "Encrypted": Bool(default=False, policy=UNSUPPORTED),
        "KmsKeyId": Str(policy=UNSUPPORTED),
        "PerformanceMode": Str(choices=("generalPurpose", "maxIO"), default="generalPurpose", policy=UNSUPPORTED),
        "ThroughputMode": Str(choices=("provisioned", "bursting"), default="bursting", policy=SUPPORTED),
        "ProvisionedThroughput": Int(minimum=1, maximum=1024, policy=SUPPORTED),
        "FileSystemId": Str(
            pattern=r"^fs-[0-9a-z]{8}$|^fs-[0-9a-z]{17}$",
            pattern_help="use a file system id such as fs-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "DeletionPolicy": Str(choices=("Delete", "Retain"), default=_new_fs_deletion_policy, policy=SUPPORTED),
        "AccessPointId": Str(
            pattern=r"^fsap-[0-9a-z]{17}$",
            pattern_help="use an access point id such as fsap-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "EncryptionInTransit": Bool(default=False, policy=UNSUPPORTED),
        "IamAuthorization": Bool(default=False, policy=UNSUPPORTED),
    },
    checks=(_existing_efs_rule, _throughput_mode_rule),
    policy=IGNORED,
)

DATA_REPOSITORY_ASSOCIATION = Section(
    "DataRepositoryAssociations item",
    {
        "Name": Str(required=True, policy=UNSUPPORTED),
        "BatchImportMetaDataOnCreate": Bool(default=False, policy=UNSUPPORTED),
        "DataRepositoryPath": Str(required=True, policy=UNSUPPORTED),
        "FileSystemPath": Str(
            required=True,
            pattern="^[^\u0000\u0085\u2028\u2029\r\n]{1,4096}$",
            pattern_help="use a path of 1 to 4096 characters without line breaks",
            policy=UNSUPPORTED,
        ),
        "ImportedFileChunkSize": Int(minimum=1, maximum=512000, default=1024, policy=SUPPORTED),
        "AutoExportPolicy": _DRA_POLICY,
        "AutoImportPolicy": _DRA_POLICY,
    },
)

FSX_LUSTRE_SETTINGS = Section(
    "FsxLustreSettings",
    {
        "StorageCapacity": Int(policy=UNSUPPORTED),
        "DeploymentType": Str(
            choices=("SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"),
            default=_lustre_deployment_type,
            policy=UNSUPPORTED,
        ),
        "ImportedFileChunkSize": Int(minimum=1, maximum=512000, policy=UNSUPPORTED, doc=_CHUNK_SIZE_HELP),
        "ExportPath": Str(policy=UNSUPPORTED),
        "ImportPath": Str(policy=UNSUPPORTED),
        "WeeklyMaintenanceStartTime": Str(
            pattern=r"^[1-7]:([01]\d|2[0-3]):([0-5]\d)$", pattern_help="use d:HH:MM such as 1:00:00", policy=SUPPORTED
        ),
        "AutomaticBackupRetentionDays": Int(minimum=0, maximum=90, policy=SUPPORTED, doc="up to 35 before 3.16"),
        "CopyTagsToBackups": Bool(policy=UNSUPPORTED),
        "DailyAutomaticBackupStartTime": Str(
            pattern=r"^([01]\d|2[0-3]):([0-5]\d)$", pattern_help="use HH:MM such as 01:00", policy=SUPPORTED
        ),
        "PerUnitStorageThroughput": Int(policy=UNSUPPORTED),
        "BackupId": Str(
            pattern=r"^(backup-[0-9a-f]{8,})$",
            pattern_help="use a backup id such as backup-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "KmsKeyId": Str(policy=UNSUPPORTED),
        "FileSystemId": Str(
            pattern=r"^fs-[0-9a-z]{17}$",
            pattern_help="use a file system id such as fs-0123456789abcdef0",
            policy=UNSUPPORTED,
        ),
        "AutoImportPolicy": Str(choices=("NEW", "NEW_CHANGED", "NEW_CHANGED_DELETED"), policy=UNSUPPORTED),
        "DriveCacheType": Str(choices=("READ",), policy=UNSUPPORTED),
        "DataCompressionType": Str(choices=("LZ4",), policy=SUPPORTED),
        "StorageType": Str(choices=("HDD", "SSD"), policy=UNSUPPORTED, attr="fsx_storage_type"),
        "DeletionPolicy": Str(choices=("Delete", "Retain"), default=_new_fs_deletion_policy, policy=SUPPORTED),
        "DataRepositoryAssociations": ListOf(DATA_REPOSITORY_ASSOCIATION, key="Name", policy=SUPPORTED),
    },
    checks=(_existing_lustre_rule, _backup_rule),
    policy=IGNORED,
)

FSX_VOLUME_ID = r"^fsvol-[0-9a-f]{17}$"


def _fsx_volume(title: str) -> Section:
    volume = Str(
        required=True,
        pattern=FSX_VOLUME_ID,
        pattern_help="use an FSx volume id such as fsvol-0123456789abcdef0",
        policy=UNSUPPORTED,
    )
    return Section(title, {"VolumeId": volume}, policy=UNSUPPORTED)


FILE_CACHE_SETTINGS = Section(
    "FileCacheSettings",
    {
        "FileCacheId": Str(
            required=True,
            pattern=r"^(fc-[0-9a-f]{8,18})$",
            pattern_help="use a file cache id such as fc-0123456789abcdef0",
            policy=UNSUPPORTED,
        )
    },
    policy=UNSUPPORTED,
)

_SETTINGS_OF_TYPE = {
    "Ebs": "EbsSettings",
    "Efs": "EfsSettings",
    "FsxLustre": "FsxLustreSettings",
    "FsxOpenZfs": "FsxOpenZfsSettings",
    "FsxOntap": "FsxOntapSettings",
    "FileCache": "FileCacheSettings",
}


def _settings_match_type(data: dict) -> Iterable[str]:
    present = [key for key in _SETTINGS_OF_TYPE.values() if data.get(key)]
    if len(present) > 1:
        yield f"has {' and '.join(present)}; a SharedStorage item takes only the settings of its StorageType"
        return
    storage_type = data.get("StorageType")
    # These types only mount a file system or cache that already exists, so its id is needed.
    needed = _SETTINGS_OF_TYPE.get(storage_type)
    if storage_type in ("FsxOpenZfs", "FsxOntap", "FileCache") and needed not in present:
        what = "FileCacheId" if storage_type == "FileCache" else "VolumeId"
        yield f"StorageType {storage_type} needs {needed} with the {what} of an existing one; add it"
        return
    for key in present:
        if _SETTINGS_OF_TYPE.get(storage_type) != key:
            yield f"{key} does not fit StorageType {storage_type}; use {_SETTINGS_OF_TYPE.get(storage_type)}"


def _not_none_dir(value: str) -> str | None:
    # ParallelCluster's node recipes treat NONE as "no directory", so it cannot be a mount point.
    if re.match("^/?NONE$", value):
        return f"{value} cannot be used as a shared directory"
    return None


SHARED_STORAGE_ITEM = Section(
    "SharedStorage item",
    {
        "MountDir": path_str(required=True, checks=(_not_none_dir,), policy=SHARED_STORAGE_UPDATE_POLICY),
        "Name": Str(required=True, policy=UNSUPPORTED),
        "StorageType": Str(required=True, choices=STORAGE_TYPES, policy=UNSUPPORTED),
        "EbsSettings": EBS_SETTINGS,
        "EfsSettings": EFS_SETTINGS,
        "FsxLustreSettings": FSX_LUSTRE_SETTINGS,
        "FsxOpenZfsSettings": _fsx_volume("FsxOpenZfsSettings"),
        "FsxOntapSettings": _fsx_volume("FsxOntapSettings"),
        "FileCacheSettings": FILE_CACHE_SETTINGS,
    },
    checks=(_settings_match_type,),
)

SHARED_STORAGE = ListOf(SHARED_STORAGE_ITEM, key="Name", policy=SHARED_STORAGE_UPDATE_POLICY)

__all__ = ["SHARED_STORAGE", "local_storage", "root_volume", "QUEUE_UPDATE_STRATEGY"]

"""Validators of EFS and FSx for Lustre settings: mount options, S3 links, deployment types, backups, capacity.

Provider checks left out here because they need AWS: EfsIdValidator, ExistingFsxNetworkingValidator,
UnmanagedFsxMultiAzValidator, FsxBackupIdValidator, FsxAutoImportValidator and KmsKeyValidator; of
S3BucketUriValidator only the s3:// form is checked here, not that the bucket exists.
"""

from __future__ import annotations

from urllib.parse import urlparse

from paracluster.config.validate.core import Context, Report, validator

PERSISTENT = ("PERSISTENT_1", "PERSISTENT_2")
SSD_THROUGHPUT = {"PERSISTENT_1": (50, 100, 200), "PERSISTENT_2": (125, 250, 500, 1000)}  # MB/s/TiB
HDD_THROUGHPUT = (12, 40)
MAX_DATA_REPOSITORY_ASSOCIATIONS = 8
FSX_TYPES = ("FsxLustre", "FsxOpenZfs", "FsxOntap", "FileCache")


def _where(node, *keys: str) -> str:
    """Where the first of `keys` that the file sets is, else where the section is (the values are defaults)."""
    for key in keys:
        if node.is_set(key):
            return node.where(key)
    return node.where()


def _efs(context: Context):
    return [s.efs_settings for s in context.config.shared_storage if s.storage_type == "Efs"]


def _lustre(context: Context):
    return [s.fsx_lustre_settings for s in context.config.shared_storage if s.storage_type == "FsxLustre"]


@validator("EfsMountOptionsValidator")
def efs_mount_options(context: Context, report: Report) -> None:
    for efs in _efs(context):
        if efs.iam_authorization and not efs.encryption_in_transit:
            report.error(
                f"{efs.where('IamAuthorization')}: EFS IAM authorization works only over TLS; set "
                "EncryptionInTransit: true or IamAuthorization: false"
            )


@validator("EfsAccessPointOptionsValidator")
def efs_access_point(context: Context, report: Report) -> None:
    for efs in _efs(context):
        access_point = efs.access_point_id
        if not access_point:
            continue
        if not efs.file_system_id:
            report.error(
                f"{efs.where('AccessPointId')}: access point {access_point} needs the FileSystemId of the existing "
                "file system it belongs to; add FileSystemId or remove AccessPointId"
            )
        if not efs.encryption_in_transit:
            report.error(
                f"{efs.where('AccessPointId')}: access point {access_point} is mounted over TLS only; set "
                "EncryptionInTransit: true or remove AccessPointId"
            )


@validator("FsxDraValidator")
def lustre_data_repository_associations(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        associations = fsx.data_repository_associations
        if not associations:
            continue
        if fsx.import_path or fsx.export_path:
            report.error(
                f"{fsx.where('DataRepositoryAssociations')}: a file system links to S3 either through "
                "DataRepositoryAssociations or through ImportPath/ExportPath; remove one of them"
            )
        if len(associations) > MAX_DATA_REPOSITORY_ASSOCIATIONS:
            report.error(
                f"{fsx.where('DataRepositoryAssociations')}: has {len(associations)} associations; a file system "
                f"can have at most {MAX_DATA_REPOSITORY_ASSOCIATIONS}"
            )


@validator("FsxS3Validator")
def lustre_s3_import(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        if fsx.import_path:
            continue
        for key, value in (
            ("ImportedFileChunkSize", fsx.imported_file_chunk_size),
            ("ExportPath", fsx.export_path),
            ("AutoImportPolicy", fsx.auto_import_policy),
        ):
            if value:
                report.error(f"{fsx.where(key)}: applies only to a file system linked to S3; set ImportPath too")


@validator("S3BucketUriValidator")
def lustre_s3_uris(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        sites = [(dra, "DataRepositoryPath") for dra in fsx.data_repository_associations]
        sites += [(fsx, key) for key in ("ImportPath", "ExportPath") if fsx.get(key)]
        for node, key in sites:
            uri = node.get(key)
            if urlparse(uri).scheme != "s3":
                report.error(f"{node.where(key)}: '{uri}' is not an S3 URI; use the form s3://bucket/prefix")


@validator("FsxPersistentOptionsValidator")
def lustre_persistent_options(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        deployment = fsx.deployment_type
        if deployment in PERSISTENT:
            if not fsx.per_unit_storage_throughput:
                report.error(
                    f"{fsx.where('DeploymentType')}: {deployment} file systems need PerUnitStorageThroughput; add it"
                )
            continue
        for key in ("KmsKeyId", "PerUnitStorageThroughput"):
            if fsx.get(key):
                report.error(
                    f"{fsx.where(key)}: applies only to PERSISTENT_1 or PERSISTENT_2 file systems but DeploymentType "
                    f"is {deployment}; remove it or change DeploymentType"
                )


@validator("FsxBackupOptionsValidator")
def lustre_backup_options(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        retention = fsx.automatic_backup_retention_days
        if not retention:
            if fsx.daily_automatic_backup_start_time:
                report.error(
                    f"{fsx.where('DailyAutomaticBackupStartTime')}: applies only with automatic backups; set "
                    "AutomaticBackupRetentionDays to 1 or more"
                )
            if fsx.copy_tags_to_backups is not None:
                report.error(
                    f"{fsx.where('CopyTagsToBackups')}: applies only with automatic backups; set "
                    "AutomaticBackupRetentionDays to 1 or more"
                )
            continue
        if fsx.deployment_type not in PERSISTENT:
            report.error(
                f"{fsx.where('AutomaticBackupRetentionDays')}: automatic backups need a PERSISTENT_1 or PERSISTENT_2 "
                f"file system but DeploymentType is {fsx.deployment_type or 'not set'}; change DeploymentType or "
                "remove the backup settings"
            )
        if fsx.imported_file_chunk_size or fsx.import_path or fsx.export_path or fsx.auto_import_policy:
            report.error(
                f"{fsx.where('AutomaticBackupRetentionDays')}: a file system linked to S3 cannot have automatic "
                "backups; remove the backup settings or the S3 import and export settings"
            )


@validator("FsxStorageTypeOptionsValidator")
def lustre_storage_type(context: Context, report: Report) -> None:
    for fsx in _lustre(context):
        deployment, throughput = fsx.deployment_type, fsx.per_unit_storage_throughput
        if fsx.fsx_storage_type == "HDD":
            if deployment != "PERSISTENT_1":
                report.error(
                    f"{_where(fsx, 'DeploymentType', 'StorageType')}: HDD file systems need DeploymentType "
                    f"PERSISTENT_1, not {deployment or 'none'}; change DeploymentType or use StorageType SSD"
                )
            if throughput not in HDD_THROUGHPUT:
                report.error(
                    f"{_where(fsx, 'PerUnitStorageThroughput', 'StorageType')}: HDD file systems need a "
                    f"PerUnitStorageThroughput of 12 or 40, not {throughput}"
                )
            continue
        if throughput and deployment not in SSD_THROUGHPUT:
            # ParallelCluster fails here on a lookup and reports only that, dropping its other findings for this
            # file system; we keep the one finding but say what is wrong.
            report.error(
                f"{fsx.where('PerUnitStorageThroughput')}: SSD file systems of type {deployment} have no per-unit "
                "throughput setting; remove PerUnitStorageThroughput or use a PERSISTENT DeploymentType"
            )
            continue
        if fsx.drive_cache_type:
            report.error(
                f"{fsx.where('DriveCacheType')}: a drive cache exists only on HDD file systems; remove DriveCacheType "
                "or set StorageType: HDD"
            )
        if throughput and throughput not in SSD_THROUGHPUT[deployment]:
            allowed = ", ".join(str(value) for value in SSD_THROUGHPUT[deployment])
            report.error(
                f"{fsx.where('PerUnitStorageThroughput')}: {deployment} SSD file systems take a "
                f"PerUnitStorageThroughput of {allowed}, not {throughput}"
            )


def _capacity_problem(capacity: int, deployment: str | None, storage_type: str | None, throughput) -> str | None:
    """Why a new Lustre file system's StorageCapacity (GiB) does not fit its deployment and storage type."""
    if deployment == "SCRATCH_1":
        if not (capacity in (1200, 2400) or capacity % 3600 == 0):
            return "SCRATCH_1 file systems take 1200, 2400 or a multiple of 3600"
    elif deployment == "PERSISTENT_1" and storage_type == "HDD":
        if throughput == 12 and capacity % 6000 != 0:
            return "PERSISTENT_1 HDD file systems with 12 MB/s/TiB take a multiple of 6000"
        if throughput == 40 and capacity % 1800 != 0:
            return "PERSISTENT_1 HDD file systems with 40 MB/s/TiB take a multiple of 1800"
    elif deployment in ("SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"):
        if not (capacity == 1200 or capacity % 2400 == 0):
            return f"{deployment} file systems take 1200 or a multiple of 2400"
    return None


@validator("FsxStorageCapacityValidator")
def lustre_storage_capacity(context: Context, report: Report) -> None:
    for storage in context.config.shared_storage:
        if storage.storage_type != "FsxLustre":
            continue
        fsx = storage.fsx_lustre_settings
        # An existing file system has its size already, and a backup's size is checked against the backup.
        if fsx.file_system_id or fsx.backup_id:
            continue
        capacity = fsx.storage_capacity
        if not capacity:
            where = fsx.where("StorageCapacity") if fsx.is_set("StorageCapacity") else storage.where("StorageType")
            report.error(
                f"{where}: ParallelCluster needs FsxLustreSettings/StorageCapacity (GiB) to create the file system; "
                "add it or mount an existing one with FileSystemId"
            )
            continue
        throughput = fsx.per_unit_storage_throughput
        problem = _capacity_problem(capacity, fsx.deployment_type, fsx.fsx_storage_type, throughput)
        if problem:
            report.error(f"{fsx.where('StorageCapacity')}: {capacity} GiB does not fit; {problem}")


@validator("AwsBatchFsxValidator")
def no_fsx_with_aws_batch(context: Context, report: Report) -> None:
    if context.config.scheduling.scheduler != "awsbatch":
        return
    for storage in context.config.shared_storage:
        if storage.storage_type in FSX_TYPES:
            report.error(
                f"{storage.where('StorageType')}: AWS Batch clusters cannot mount {storage.storage_type} storage; "
                "use EBS or EFS, or the slurm scheduler"
            )

"""Managed storage of the template: EFS with mount targets, FSx for Lustre with its data repository associations,
EBS volumes attached to the head node, and the EFS behind `HeadNode/SharedStorageType: Efs`.

Each item's DeletionPolicy is both the resource's DeletionPolicy and UpdateReplacePolicy, so CloudFormation keeps
(Retain) or snapshots (Snapshot, EBS) what the config asks to keep. Storage that existed before the cluster is not a
stack resource; EBS volumes, new and existing, are attached to the head node (see `head`).
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, ec2, efs, fsx

from paracluster.providers.aws.naming import TAG_STORAGE_NAME
from paracluster.providers.aws.template.context import Builder, cluster_subnets

LUSTRE_VERSION_WITH_DRAS = "2.15"  # data repository associations need Lustre 2.12 or later (PERSISTENT_2)


def add_storage(b: Builder) -> None:
    if b.config.head_node.shared_storage_type == "Efs":
        # /home, /opt/slurm and /opt/parallelcluster/shared live on an EFS of the cluster's own (deleted with it).
        _efs(b, "InternalSharedStorage", "internal-shared-dirs", efs.FileSystem(
            "InternalSharedStorage", Encrypted=True, FileSystemTags=_efs_tags(b, "internal-shared-dirs"),
            DeletionPolicy="Delete", UpdateReplacePolicy="Delete"))
    items = {item.name: item for item in b.config.shared_storage}
    for planned in b.plan.storage:
        item = items[planned.name]
        if planned.storage_type == "Ebs":
            ids = [planned.existing_id] if planned.existing_id else _ebs(b, planned, item.ebs_settings)
            b.volume_ids += [(planned.name, b.ref(volume)) for volume in ids]
            b.storage_outputs.append((planned.name, b.ref(ids[0])))
        elif planned.existing_id:
            b.storage_outputs.append((planned.name, planned.existing_id))
        elif planned.storage_type == "Efs":
            settings = item.efs_settings
            values = {"Encrypted": settings.encrypted, "PerformanceMode": settings.performance_mode,
                      "ThroughputMode": settings.throughput_mode, "FileSystemTags": _efs_tags(b, planned.name)}
            if settings.kms_key_id:
                values["KmsKeyId"] = settings.kms_key_id
            if settings.throughput_mode == "provisioned":
                values["ProvisionedThroughputInMibps"] = settings.provisioned_throughput
            resource_id = b.unique_id("Efs", planned.name)
            system = efs.FileSystem(resource_id, DeletionPolicy=planned.deletion_policy,
                                    UpdateReplacePolicy=planned.deletion_policy, **values)
            b.storage_outputs.append((planned.name, Ref(_efs(b, resource_id, planned.name, system))))
        elif planned.storage_type == "FsxLustre":
            b.storage_outputs.append((planned.name, Ref(_lustre(b, planned, item.fsx_lustre_settings))))


def _efs_tags(b: Builder, name: str):
    return b.tags({TAG_STORAGE_NAME: name}, name=name)


def _efs(b: Builder, resource_id: str, name: str, system: efs.FileSystem):
    """An EFS and one mount target per Availability Zone the cluster's subnets are in."""
    b.add(system)
    zones: dict[str, str] = {}
    for subnet in cluster_subnets(b.config):
        zones.setdefault(b.facts.subnet_zones[subnet], subnet)
    storage_group = b.managed_security_groups["storage"]
    for zone, subnet in sorted(zones.items()):
        target = b.add(efs.MountTarget(b.unique_id(resource_id, "MountTarget", zone), FileSystemId=Ref(system),
                                       SubnetId=subnet, SecurityGroups=[b.group_id(storage_group)]))
        b.head_dependencies.append(target.title)  # the head node mounts it while it boots
    return system


def _ebs(b: Builder, planned, settings) -> list:
    volumes = []
    for index in range(planned.count):
        # In the head node's zone, taken from the instance so that the template names no zone itself.
        values = {"AvailabilityZone": GetAtt("HeadNode", "AvailabilityZone"), "VolumeType": settings.volume_type,
                  "Encrypted": settings.encrypted, "Tags": b.tags({TAG_STORAGE_NAME: planned.name}, name=planned.name)}
        if planned.size:
            values["Size"] = planned.size
        if planned.snapshot_id:
            values["SnapshotId"] = planned.snapshot_id
        if settings.kms_key_id:
            values["KmsKeyId"] = settings.kms_key_id
        if settings.volume_type in ("io1", "io2", "gp3") and settings.iops:
            values["Iops"] = settings.iops
        if settings.volume_type == "gp3" and settings.throughput:
            values["Throughput"] = settings.throughput
        suffix = str(index + 1) if planned.count > 1 else ""
        volumes.append(b.add(ec2.Volume(b.unique_id("Ebs", planned.name, suffix),
                                        DeletionPolicy=planned.deletion_policy,
                                        UpdateReplacePolicy=planned.deletion_policy, **values)))
    return volumes


_LUSTRE_KEYS = {  # LustreConfiguration property -> FsxLustreSettings attribute
    "DeploymentType": "deployment_type", "PerUnitStorageThroughput": "per_unit_storage_throughput",
    "ImportPath": "import_path", "ExportPath": "export_path", "ImportedFileChunkSize": "imported_file_chunk_size",
    "AutoImportPolicy": "auto_import_policy", "WeeklyMaintenanceStartTime": "weekly_maintenance_start_time",
    "AutomaticBackupRetentionDays": "automatic_backup_retention_days", "CopyTagsToBackups": "copy_tags_to_backups",
    "DailyAutomaticBackupStartTime": "daily_automatic_backup_start_time",
    "DataCompressionType": "data_compression_type", "DriveCacheType": "drive_cache_type",
}


def _lustre(b: Builder, planned, settings):
    lustre = {key: getattr(settings, attribute) for key, attribute in _LUSTRE_KEYS.items()
              if getattr(settings, attribute) is not None}
    # Managed FSx is allowed with one compute subnet only (ManagedFsxMultiAzValidator): it lives there.
    queues = b.config.scheduling.slurm_queues
    subnet = queues[0].networking.subnet_ids[0] if queues else b.config.head_node.networking.subnet_id
    values = {"FileSystemType": "LUSTRE", "SubnetIds": [subnet],
              "SecurityGroupIds": [b.group_id(b.managed_security_groups["storage"])],
              "LustreConfiguration": fsx.LustreConfiguration(**lustre),
              "Tags": b.tags({TAG_STORAGE_NAME: planned.name}, name=planned.name)}
    for key, attribute in (("StorageCapacity", "storage_capacity"), ("StorageType", "fsx_storage_type"),
                           ("KmsKeyId", "kms_key_id"), ("BackupId", "backup_id")):
        if getattr(settings, attribute) is not None:
            values[key] = getattr(settings, attribute)
    if settings.deployment_type == "PERSISTENT_2":
        values["FileSystemTypeVersion"] = LUSTRE_VERSION_WITH_DRAS
    resource_id = b.unique_id("Fsx", planned.name)
    system = b.add(fsx.FileSystem(resource_id, DeletionPolicy=planned.deletion_policy,
                                  UpdateReplacePolicy=planned.deletion_policy, **values))
    b.head_dependencies.append(system.title)
    for association in settings.data_repository_associations:
        s3 = {}
        if association.auto_import_policy:
            s3["AutoImportPolicy"] = fsx.AutoImportPolicy(Events=list(association.auto_import_policy))
        if association.auto_export_policy:
            s3["AutoExportPolicy"] = fsx.AutoExportPolicy(Events=list(association.auto_export_policy))
        dra = b.add(fsx.DataRepositoryAssociation(
            b.unique_id(resource_id, "Dra", association.name), FileSystemId=Ref(system),
            FileSystemPath=association.file_system_path, DataRepositoryPath=association.data_repository_path,
            BatchImportMetaDataOnCreate=association.batch_import_meta_data_on_create,
            ImportedFileChunkSize=association.imported_file_chunk_size,
            Tags=b.tags({TAG_STORAGE_NAME: planned.name}), **({"S3": fsx.S3(**s3)} if s3 else {})))
        b.head_dependencies.append(dra.title)
    return system


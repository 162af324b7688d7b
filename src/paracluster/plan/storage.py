"""The storage plan of a cluster: for each SharedStorage item, what to create or which existing one to attach."""

from __future__ import annotations

from dataclasses import dataclass, field

# StorageType -> (its settings attribute, the attribute naming an existing one, the kinds that id may be)
_EXISTING = {
    "Efs": ("efs_settings", "file_system_id", ("Efs",)),
    "FsxLustre": ("fsx_lustre_settings", "file_system_id", ("FsxLustre",)),
    "FsxOntap": ("fsx_ontap_settings", "volume_id", ("FsxOntap",)),
    "FsxOpenZfs": ("fsx_open_zfs_settings", "volume_id", ("FsxOpenZfs",)),
    "FileCache": ("file_cache_settings", "file_cache_id", ("FileCache",)),
    "Ebs": ("ebs_settings", "volume_id", ("Ebs",)),
}
_ID_KEYS = {"file_system_id": "FileSystemId", "volume_id": "VolumeId", "file_cache_id": "FileCacheId"}


@dataclass(frozen=True)
class Transfer:
    """A copy between a bucket prefix and a file system path: an import at create or an export at delete."""

    url: str
    path: str
    where: str  # the YAML path of the setting that asks for it
    events: tuple[str, ...] = ()  # exports: the AutoExportPolicy events (NEW, CHANGED, DELETED)


@dataclass(frozen=True)
class PlannedStorage:
    """One SharedStorage item: an existing id to attach, or what to create, and its DeletionPolicy."""

    name: str
    storage_type: str  # Efs | FsxLustre | FsxOntap | FsxOpenZfs | FileCache | Ebs
    mount_dir: str
    where: str  # the YAML path of the key naming an existing one (for messages)
    kinds: tuple[str, ...]
    existing_id: str | None = None
    deletion_policy: str | None = None  # None for storage that existed before the cluster
    size: int | None = None  # Ebs: GiB
    snapshot_id: str | None = None
    count: int = 1  # Ebs: volumes (more than one with Raid)
    raid_type: int | None = None
    imports: tuple[Transfer, ...] = field(default_factory=tuple)
    exports: tuple[Transfer, ...] = field(default_factory=tuple)

    @property
    def snapshot_where(self) -> str:
        return self.where.rsplit("/", 1)[0] + "/SnapshotId"


def plan_storage(config) -> list[PlannedStorage]:
    """Every SharedStorage item of the config, in order (pure)."""
    planned = []
    for item in config.shared_storage:
        attr, id_attr, kinds = _EXISTING[item.storage_type]
        settings = getattr(item, attr)
        existing = getattr(settings, id_attr)
        values = dict(name=item.name, storage_type=item.storage_type, mount_dir=item.mount_dir,
                      where=f"{settings.path}/{_ID_KEYS[id_attr]}", kinds=kinds, existing_id=existing,
                      deletion_policy=None if existing else _deletion_policy(settings))
        if item.storage_type == "Ebs" and not existing:
            raid = settings.raid
            values.update(size=settings.size, snapshot_id=settings.snapshot_id,
                          count=raid.number_of_volumes if raid.present else 1,
                          raid_type=raid.raid_type if raid.present else None)
        if item.storage_type == "FsxLustre" and not existing:
            values["imports"], values["exports"] = _lustre_transfers(settings, settings.path)
        planned.append(PlannedStorage(**values))
    return planned


def _deletion_policy(settings) -> str:
    try:
        return settings.deletion_policy or "Delete"
    except AttributeError:
        return "Delete"  # types without a DeletionPolicy key are only ever existing ones


def _lustre_transfers(settings, where: str) -> tuple[tuple[Transfer, ...], tuple[Transfer, ...]]:
    """Imports at create and exports at delete between buckets and a new FSx for Lustre file system."""
    imports, exports = [], []
    if settings.import_path:
        imports.append(Transfer(settings.import_path, "/", f"{where}/ImportPath"))
    if settings.export_path:
        exports.append(Transfer(settings.export_path, "/", f"{where}/ExportPath", ("NEW", "CHANGED")))
    for index, dra in enumerate(settings.data_repository_associations):
        dra_where = f"{where}/DataRepositoryAssociations[{index}]/DataRepositoryPath"
        imports.append(Transfer(dra.data_repository_path, dra.file_system_path, dra_where))
        if dra.auto_export_policy:
            exports.append(Transfer(dra.data_repository_path, dra.file_system_path, dra_where,
                                    tuple(dra.auto_export_policy)))
    return tuple(imports), tuple(exports)

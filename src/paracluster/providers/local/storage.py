"""SharedStorage on the local provider: plan it from the config, create or attach it at create, honour DeletionPolicy.

EFS, FSx (Lustre, ONTAP, OpenZFS) and File Cache are host directories; an EBS volume (or a RAID of them) is a set of
sparse disk images, loop-mounted on the host under the cluster directory. Nodes bind-mount each one at its MountDir
(node/mounts.py); this kernel has no NFS, so the head node does not export anything. Both values of
HeadNode/SharedStorageType (Ebs, Efs) map to host directories for the internal shared dirs; the value is recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paracluster.errors import ClusterError, ConflictError, NotFoundError
from paracluster.providers.local import buckets
from paracluster.providers.local.storage_registry import Registry

# StorageType -> (its settings attribute, the attribute naming an existing one, the registry kinds that id may be)
_EXISTING = {
    "Efs": ("efs_settings", "file_system_id", ("Efs",)),
    "FsxLustre": ("fsx_lustre_settings", "file_system_id", ("FsxLustre",)),
    "FsxOntap": ("fsx_ontap_settings", "volume_id", ("FsxOntap",)),
    "FsxOpenZfs": ("fsx_open_zfs_settings", "volume_id", ("FsxOpenZfs",)),
    "FileCache": ("file_cache_settings", "file_cache_id", ("FileCache",)),
    "Ebs": ("ebs_settings", "volume_id", ("Ebs",)),
}


def plan_storage(config) -> list[dict]:
    """What each SharedStorage item needs (pure): an existing id to attach, or what to create, and its policy."""
    planned = []
    for index, item in enumerate(config.shared_storage):
        attr, id_attr, kinds = _EXISTING[item.storage_type]
        settings = getattr(item, attr)
        where = settings.path
        existing = getattr(settings, id_attr)
        entry = {"name": item.name, "type": item.storage_type, "mountDir": item.mount_dir, "existingId": existing,
                 "kinds": list(kinds), "where": f"{where}/{_ID_KEYS[id_attr]}",
                 "deletionPolicy": None if existing else _deletion_policy(settings)}
        if item.storage_type == "Ebs" and not existing:
            raid = settings.raid
            entry.update(size=settings.size, snapshotId=settings.snapshot_id,
                         count=raid.number_of_volumes if raid.present else 1,
                         raidType=raid.raid_type if raid.present else None)
        if item.storage_type == "FsxLustre" and not existing:
            entry["imports"], entry["exports"] = _lustre_transfers(settings, where)
        planned.append(entry)
    return planned


_ID_KEYS = {"file_system_id": "FileSystemId", "volume_id": "VolumeId", "file_cache_id": "FileCacheId"}


def _deletion_policy(settings) -> str:
    try:
        return settings.deletion_policy or "Delete"
    except AttributeError:
        return "Delete"  # types without a DeletionPolicy key are only ever existing ones


def _lustre_transfers(settings, where: str) -> tuple[list[dict], list[dict]]:
    """Imports at create and exports at delete between local buckets and a new FSx for Lustre file system."""
    imports, exports = [], []
    if settings.import_path:
        imports.append({"url": settings.import_path, "path": "/", "where": f"{where}/ImportPath"})
    if settings.export_path:
        exports.append({"url": settings.export_path, "path": "/", "where": f"{where}/ExportPath",
                        "events": ["NEW", "CHANGED"]})
    for index, dra in enumerate(settings.data_repository_associations):
        dra_where = f"{where}/DataRepositoryAssociations[{index}]/DataRepositoryPath"
        imports.append({"url": dra.data_repository_path, "path": dra.file_system_path, "where": dra_where})
        if dra.auto_export_policy:
            exports.append({"url": dra.data_repository_path, "path": dra.file_system_path, "where": dra_where,
                            "events": list(dra.auto_export_policy)})
    return imports, exports


def check_existing(config, state_dir: Path) -> None:
    """Refuse a config that names storage the local provider does not have, before anything is created."""
    registry = Registry(state_dir)
    for entry in plan_storage(config):
        if entry["existingId"]:
            found = registry.require(entry["existingId"], tuple(entry["kinds"]), entry["where"])
            if found["type"] == "Ebs" and found.get("attachments"):
                raise ConflictError(f"{entry['where']}: volume {found['id']} is in use by cluster "
                                    f"{found['attachments'][0]}; an EBS volume attaches to one cluster at a time")
        elif entry.get("snapshotId"):
            registry.require(entry["snapshotId"], ("Snapshot",), entry["where"].rsplit("/", 1)[0] + "/SnapshotId")
        for transfer in entry.get("imports", []):
            _bucket_dir(state_dir, transfer)


def _bucket_dir(state_dir: Path, transfer: dict) -> Path:
    bucket, _ = buckets.parse_url(transfer["url"])
    if not (buckets.buckets_root(state_dir) / bucket).is_dir():
        raise NotFoundError(f"{transfer['where']}: bucket '{bucket}' does not exist; create it with "
                            f"`paracluster s3 cp FILE {transfer['url']}`")
    return buckets.prefix_path(state_dir, transfer["url"])


# --- create ---------------------------------------------------------------------------------------------------


def attach_shared_storage(ctx) -> None:
    """Create-cluster step: create or attach every SharedStorage item and mount EBS volumes on the host."""
    record, state_dir = ctx.record, ctx.store.root
    registry = Registry(state_dir)
    record["sharedStorageType"] = ctx.config.head_node.shared_storage_type
    items = record.setdefault("storage", [])
    done = {item["name"]: item for item in items}
    for plan in plan_storage(ctx.config):
        item = done.get(plan["name"])
        if item is None:
            with registry.locked():
                entry = _create_or_find(registry, plan, record["name"], state_dir)
                registry.attach(entry, record["name"], plan["where"])
            item = {key: plan[key] for key in ("name", "type", "mountDir", "deletionPolicy", "where")}
            item.update(id=entry["id"], managed=not plan["existingId"], exports=plan.get("exports", []))
            items.append(item)
            ctx.save()  # recorded at once, so a failed create still cleans up what it made
        entry = registry.get(item["id"])
        if item["type"] == "Ebs":
            item["source"] = str(_mount_volume(registry, entry, ctx.dir / "storage" / item["name"]))
            item["loops"] = _loops_of(registry.images(entry))
        else:
            if item["managed"] and not item.get("imported"):
                for transfer in plan.get("imports", []):
                    _copy_tree(_bucket_dir(state_dir, transfer), _inside(registry.data_dir(entry), transfer["path"]))
                item["imported"] = True
            item["source"] = str(registry.data_dir(entry))
        ctx.save()
    home = next((item for item in items if item["mountDir"].rstrip("/") == "/home"), None)
    if home:
        # /home as user storage replaces the cluster's shared home; what the cluster put there (the default user's
        # home and keys) is carried over without overwriting what the storage already holds, as ParallelCluster does.
        from paracluster.providers.local.nodespec import shared_dirs

        _merge_tree(shared_dirs(ctx.dir)["/home"], Path(home["source"]))


def _create_or_find(registry: Registry, plan: dict, cluster: str, state_dir: Path) -> dict:
    if plan["existingId"]:
        return registry.require(plan["existingId"], tuple(plan["kinds"]), plan["where"])
    settings = {"mountDir": plan["mountDir"], "deletionPolicy": plan["deletionPolicy"]}
    if plan["type"] != "Ebs":
        return registry.create_file_system(plan["type"], name=plan["name"], cluster=cluster, settings=settings)
    snapshot = None
    if plan.get("snapshotId"):
        snapshot = registry.require(plan["snapshotId"], ("Snapshot",), plan["where"].rsplit("/", 1)[0] + "/SnapshotId")
    return registry.create_volume(plan.get("size"), count=plan["count"], raid_type=plan["raidType"], name=plan["name"],
                                  cluster=cluster, snapshot=snapshot, settings=settings)


def _inside(root: Path, path: str) -> Path:
    target = (root / path.lstrip("/")).resolve()
    if root.resolve() not in (target, *target.parents):
        raise ClusterError(f"file system path {path} leaves the file system")
    return target


def _copy_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)


def export_tree(source: Path, target: Path, events: set[str]) -> list[str]:
    """Export a file system directory to a bucket prefix as an AutoExportPolicy does: NEW files are added, CHANGED
    ones overwritten, and with DELETED the objects whose files are gone are removed. Returns what it did."""
    done = []
    files = {path.relative_to(source) for path in source.rglob("*") if path.is_file()} if source.is_dir() else set()
    for relative in sorted(files):
        src, dst = source / relative, target / relative
        if dst.is_file():
            if "CHANGED" not in events or src.read_bytes() == dst.read_bytes():
                continue
            done.append(f"changed {relative}")
        elif "NEW" in events:
            done.append(f"new {relative}")
        else:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    if "DELETED" in events and target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            if path.is_file() and path.relative_to(target) not in files:
                path.unlink()
                done.append(f"deleted {path.relative_to(target)}")
    return done


def _merge_tree(source: Path, target: Path) -> None:
    """Copy what `target` lacks from `source`, keeping owners and modes (rsync --ignore-existing)."""
    for directory, subdirs, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        for name in [*subdirs, *files]:
            src, dst = Path(directory) / name, target / relative / name
            if dst.exists() or dst.is_symlink():
                continue
            if src.is_dir() and not src.is_symlink():
                dst.mkdir()
                shutil.copystat(src, dst)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
            info = src.lstat()
            os.chown(dst, info.st_uid, info.st_gid, follow_symlinks=False)


# --- EBS volumes on the host ------------------------------------------------------------------------------------


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"failed to {what}: {(result.stderr or result.stdout).strip()[-300:]}")
    return result.stdout


def _loops_of(images: list[Path]) -> list[str]:
    """The loop devices attached to these image files, in order (one per image, or empty)."""
    devices = []
    for image in images:
        out = subprocess.run(["losetup", "-j", str(image), "-O", "NAME", "-n"], capture_output=True, text=True).stdout
        found = out.split()
        if found:
            devices.append(found[0])
    return devices if len(devices) == len(images) else []


def attach_loops(images: list[Path]) -> list[str]:
    """Attach each image to a loop device (reusing one already attached to it)."""
    devices = []
    for image in images:
        existing = _loops_of([image])
        devices.append(existing[0] if existing else
                       _run(["losetup", "--find", "--show", str(image)], f"attach {image.name} to a loop device").strip())
    return devices


def detach_loops(images: list[Path], timeout: float = 5.0) -> None:
    """Detach every loop device backed by these images; forget btrfs's record of them.

    A device still held by a filesystem whose last mount namespace is going away is only marked for release by
    `losetup -d`; wait until it is gone, so that the image is complete before it is copied or removed.
    """
    import time

    for image in images:
        out = subprocess.run(["losetup", "-j", str(image), "-O", "NAME", "-n"], capture_output=True, text=True).stdout
        for device in out.split():
            subprocess.run(["btrfs", "device", "scan", "--forget", device], capture_output=True)
            subprocess.run(["losetup", "-d", device], capture_output=True)
    deadline = time.monotonic() + timeout
    while any(_loops_of([image]) for image in images) and time.monotonic() < deadline:
        time.sleep(0.05)


def _mount_volume(registry: Registry, entry: dict, mount_point: Path) -> Path:
    """Attach a volume's images, format a blank volume (ext4, or btrfs RAID over several), mount it: idempotent."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(mount_point):
        return mount_point
    images = registry.images(entry)
    devices = attach_loops(images)
    volume = entry["id"]
    if not entry.get("formatted"):
        if len(devices) == 1:
            _run(["mkfs.ext4", "-q", "-F", "-L", volume[:16], "-E", "lazy_itable_init=1,lazy_journal_init=1",
                  devices[0]], f"format volume {volume}")
        else:
            # No md or device-mapper in this kernel: btrfs's own RAID plays mdadm's part.
            level = f"raid{entry.get('raidType') or 0}"
            _run(["mkfs.btrfs", "-q", "-f", "-L", volume, "-d", level, "-m", level, *devices],
                 f"format RAID volume {volume}")
        entry["formatted"] = True
        registry.save(entry)
    options = ["-o", ",".join(f"device={device}" for device in devices)] if len(devices) > 1 else []
    _run(["mount", *options, devices[0], str(mount_point)], f"mount volume {volume}")
    mount_point.chmod(0o1777)
    return mount_point


# --- delete ----------------------------------------------------------------------------------------------------


INTERNAL_EFS_NAME = "internal-shared-dirs"


def internal_shared_dirs(record: dict, config, state_dir: Path, cluster_dir: Path) -> None:
    """Where the internal shared dirs (/home, /opt/slurm, /opt/parallelcluster/shared) live.

    HeadNode/SharedStorageType Ebs keeps them on the head node's root volume: a directory of the cluster. Efs (since
    ParallelCluster 3.8) puts them on a managed EFS that the cluster creates and deletes: a registered file system,
    listed by `paracluster storage list` while the cluster lives. Idempotent.
    """
    shared = cluster_dir / "shared"
    if config.head_node.shared_storage_type != "Efs" or record.get("internalEfs"):
        return
    registry = Registry(state_dir)
    with registry.locked():
        entry = registry.create_file_system("Efs", name=INTERNAL_EFS_NAME, cluster=record["name"])
        registry.attach(entry, record["name"], "HeadNode/SharedStorageType")
    record["internalEfs"] = entry["id"]
    if shared.is_dir() and not shared.is_symlink():
        _merge_tree(shared, registry.data_dir(entry))  # a create resumed after the directory was made
        shutil.rmtree(shared)
    shared.symlink_to(registry.data_dir(entry))


def _delete_internal_efs(record: dict, registry: Registry) -> None:
    storage_id = record.get("internalEfs")
    if storage_id and registry.get(storage_id):
        with registry.locked():
            registry.detach(storage_id, record["name"])
            registry.delete(storage_id)


def release_shared_storage(record: dict, state_dir: Path, cluster_dir: Path) -> None:
    """Teardown: unmount and detach volumes, export to buckets, then Delete, Retain or Snapshot each managed item.

    Storage that existed before the cluster is only detached. Safe to run again.
    """
    registry = Registry(state_dir)
    failures = []
    for item in reversed(record.get("storage", [])):
        if item.get("released"):
            continue
        try:
            _release(registry, item, record["name"], state_dir, cluster_dir)
            item["released"] = True
        except (ClusterError, OSError) as err:
            failures.append(f"{item['name']}: {err}")
    try:
        _delete_internal_efs(record, registry)
    except (ClusterError, OSError) as err:
        failures.append(f"{INTERNAL_EFS_NAME}: {err}")
    if failures:
        raise ClusterError(f"failed to release shared storage: {'; '.join(failures)}")


def _release(registry: Registry, item: dict, cluster: str, state_dir: Path, cluster_dir: Path) -> None:
    entry = registry.get(item["id"])
    if item["type"] == "Ebs":
        mount_point = cluster_dir / "storage" / item["name"]
        if os.path.ismount(mount_point):
            _run(["umount", str(mount_point)], f"unmount volume {item['id']}")
        if entry:
            detach_loops(registry.images(entry))
    elif entry and item["managed"]:
        for transfer in item.get("exports", []):
            bucket, key = buckets.parse_url(transfer["url"])
            source = _inside(registry.data_dir(entry), transfer["path"])
            export_tree(source, buckets.buckets_root(state_dir) / bucket / key,
                        set(transfer.get("events", ["NEW", "CHANGED"])))
    with registry.locked():
        registry.detach(item["id"], cluster)
        entry = registry.get(item["id"])
        if entry is None or not item["managed"]:
            return
        policy = item.get("deletionPolicy") or "Delete"
        if policy == "Snapshot":
            item["snapshotId"] = registry.snapshot(entry, cluster=cluster)["id"]
        if policy in ("Delete", "Snapshot"):
            registry.delete(item["id"])


def node_mounts(record: dict) -> list[dict]:
    """spec["storage"] of a node: what to bind-mount where (the same on head, compute and login nodes)."""
    return [{"name": item["name"], "type": item["type"], "source": item["source"], "target": item["mountDir"]}
            for item in record.get("storage", []) if item.get("source")]

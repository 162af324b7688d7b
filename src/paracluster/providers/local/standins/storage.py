"""SharedStorage on the local provider: plan it from the config, create or attach it at create, honour DeletionPolicy.

EFS, FSx (Lustre, ONTAP, OpenZFS) and File Cache are host directories; an EBS volume (or a RAID of them) is a set of
sparse disk images, loop-mounted on the host under the cluster directory. Nodes bind-mount each one at its MountDir
(node/mounts.py); this kernel has no NFS, so the head node does not export anything. Both values of
HeadNode/SharedStorageType (Ebs, Efs) map to host directories for the internal shared dirs; the value is recorded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from paracluster.errors import ClusterError, ConflictError, NotFoundError
from paracluster.plan.storage import PlannedStorage, Transfer, plan_storage
from paracluster.providers.local.standins import buckets
from paracluster.providers.local.standins.storage_registry import Registry
from paracluster.records import to_data
from paracluster.providers.local.host import commands as hostcmd

def check_existing(config, state_dir: Path, updating: str | None = None) -> None:
    """Refuse a config that names storage the local provider does not have, before anything is created (or, for
    the cluster `updating`, changed: what it has attached already is its own)."""
    registry = Registry(state_dir)
    for planned in plan_storage(config):
        if planned.existing_id:
            found = registry.require(planned.existing_id, planned.kinds, planned.where)
            others = [cluster for cluster in found.get("attachments", []) if cluster != updating]
            if found["type"] == "Ebs" and others:
                raise ConflictError(f"{planned.where}: volume {found['id']} is in use by cluster "
                                    f"{others[0]}; an EBS volume attaches to one cluster at a time")
        elif planned.snapshot_id:
            registry.require(planned.snapshot_id, ("Snapshot",), planned.snapshot_where)
        for transfer in planned.imports:
            _bucket_dir(state_dir, transfer)


def _bucket_dir(state_dir: Path, transfer: Transfer) -> Path:
    bucket, _ = buckets.parse_url(transfer.url)
    if not (buckets.buckets_root(state_dir) / bucket).is_dir():
        raise NotFoundError(f"{transfer.where}: bucket '{bucket}' does not exist; create it with "
                            f"`paracluster s3 cp FILE {transfer.url}`")
    return buckets.prefix_path(state_dir, transfer.url)


# --- create ---------------------------------------------------------------------------------------------------


def attach_shared_storage(ctx) -> None:
    """Create-cluster step: create or attach every SharedStorage item and mount EBS volumes on the host."""
    record, state_dir = ctx.record, ctx.store.root
    registry = Registry(state_dir)
    record.shared_storage_type = ctx.config.head_node.shared_storage_type
    items = record.storage
    done = {item["name"]: item for item in items}
    for planned in ctx.plan.storage:
        item = done.get(planned.name)
        if item is None:
            with registry.locked():
                entry = _create_or_find(registry, planned, record.name, state_dir)
                registry.attach(entry, record.name, planned.where)
            item = {"name": planned.name, "type": planned.storage_type, "mountDir": planned.mount_dir,
                    "deletionPolicy": planned.deletion_policy, "where": planned.where, "id": entry["id"],
                    "managed": not planned.existing_id, "exports": to_data(planned.exports)}
            items.append(item)
            ctx.save()  # recorded at once, so a failed create still cleans up what it made
        entry = registry.get(item["id"])
        if item["type"] == "Ebs":
            item["source"] = str(_mount_volume(registry, entry, ctx.dir / "storage" / item["name"]))
            item["loops"] = _loops_of(registry.images(entry))
        else:
            if item["managed"] and not item.get("imported"):
                for transfer in planned.imports:
                    _copy_tree(_bucket_dir(state_dir, transfer), _inside(registry.data_dir(entry), transfer.path))
                item["imported"] = True
            item["source"] = str(registry.data_dir(entry))
        ctx.save()
    home = next((item for item in items if item["mountDir"].rstrip("/") == "/home"), None)
    if home:
        # /home as user storage replaces the cluster's shared home; what the cluster put there (the default user's
        # home and keys) is carried over without overwriting what the storage already holds, as ParallelCluster does.
        from paracluster.providers.local.nodes.spec import shared_dirs

        _merge_tree(shared_dirs(ctx.dir)["/home"], Path(home["source"]))


def _create_or_find(registry: Registry, planned: PlannedStorage, cluster: str, state_dir: Path) -> dict:
    if planned.existing_id:
        return registry.require(planned.existing_id, planned.kinds, planned.where)
    settings = {"mountDir": planned.mount_dir, "deletionPolicy": planned.deletion_policy}
    if planned.storage_type != "Ebs":
        return registry.create_file_system(planned.storage_type, name=planned.name, cluster=cluster, settings=settings)
    snapshot = None
    if planned.snapshot_id:
        snapshot = registry.require(planned.snapshot_id, ("Snapshot",), planned.snapshot_where)
    return registry.create_volume(planned.size, count=planned.count, raid_type=planned.raid_type, name=planned.name,
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
    result = hostcmd.run(argv, timeout=600)
    if result.returncode != 0:
        raise ClusterError(f"failed to {what}: {(result.stderr or result.stdout).strip()[-300:]}")
    return result.stdout


def _loops_of(images: list[Path]) -> list[str]:
    """The loop devices attached to these image files, in order (one per image, or empty)."""
    devices = []
    for image in images:
        out = hostcmd.run(["losetup", "-j", str(image), "-O", "NAME", "-n"]).stdout
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
        out = hostcmd.run(["losetup", "-j", str(image), "-O", "NAME", "-n"]).stdout
        for device in out.split():
            # btrfs remembers the devices of a RAID it saw; a missing btrfs-progs must not keep the device attached.
            if shutil.which("btrfs"):
                hostcmd.run(["btrfs", "device", "scan", "--forget", device])
            hostcmd.run(["losetup", "-d", device])
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


def internal_shared_dirs(record, config, state_dir: Path, cluster_dir: Path) -> None:
    """Where the internal shared dirs (/home, /opt/slurm, /opt/parallelcluster/shared) live.

    HeadNode/SharedStorageType Ebs keeps them on the head node's root volume: a directory of the cluster. Efs (since
    ParallelCluster 3.8) puts them on a managed EFS that the cluster creates and deletes: a registered file system,
    listed by `paracluster storage list` while the cluster lives. Idempotent.
    """
    shared = cluster_dir / "shared"
    if config.head_node.shared_storage_type != "Efs" or record.internal_efs:
        return
    registry = Registry(state_dir)
    with registry.locked():
        entry = registry.create_file_system("Efs", name=INTERNAL_EFS_NAME, cluster=record.name)
        registry.attach(entry, record.name, "HeadNode/SharedStorageType")
    record.internal_efs = entry["id"]
    if shared.is_dir() and not shared.is_symlink():
        _merge_tree(shared, registry.data_dir(entry))  # a create resumed after the directory was made
        shutil.rmtree(shared)
    shared.symlink_to(registry.data_dir(entry))


def _delete_internal_efs(record, registry: Registry) -> None:
    storage_id = record.internal_efs
    if storage_id and registry.get(storage_id):
        with registry.locked():
            registry.detach(storage_id, record.name)
            registry.delete(storage_id)


def release_shared_storage(record, state_dir: Path, cluster_dir: Path) -> None:
    """Teardown: unmount and detach volumes, export to buckets, then Delete, Retain or Snapshot each managed item.

    Storage that existed before the cluster is only detached. Safe to run again.
    """
    registry = Registry(state_dir)
    failures = []
    for item in reversed(record.storage):
        if item.get("released"):
            continue
        try:
            _release(registry, item, record.name, state_dir, cluster_dir)
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


def node_mounts(record) -> list[dict]:
    """spec["storage"] of a node: what to bind-mount where (the same on head, compute and login nodes); storage an
    update removed (`detached`, released once the update is over) is left out."""
    return [{"name": item["name"], "type": item["type"], "source": item["source"], "target": item["mountDir"]}
            for item in record.storage if item.get("source") and not item.get("detached")]


# --- update ----------------------------------------------------------------------------------------------------


def mark_detached(record, planned_names: set[str]) -> list[dict]:
    """Update: mark the storage the configuration no longer has as detached (and what it has again as attached);
    return the detached items. They stay recorded until `release_detached`, so a rollback finds them intact."""
    for item in record.storage:
        item["detached"] = item["name"] not in planned_names
    return [item for item in record.storage if item["detached"]]


def release_detached(record, state_dir: Path, cluster_dir: Path) -> None:
    """Update, once it succeeded: release what it detached (exports, then its DeletionPolicy), and forget it."""
    registry = Registry(state_dir)
    for item in [item for item in record.storage if item.get("detached")]:
        if not item.get("released"):
            _release(registry, item, record.name, state_dir, cluster_dir)
        record.storage.remove(item)

"""Registered storage of the local provider: file systems, volumes, file caches and snapshots under <state>/storage/.

What AWS keeps as EFS/FSx file systems, FSx volumes, File Caches, EBS volumes and EBS snapshots, the local provider
keeps as one directory per id: `meta.json` plus either `data/` (a host directory that nodes bind-mount) or disk images
`disk<i>.img` (sparse files that a cluster loop-mounts). Clusters create and attach them; users create "existing"
storage with `paracluster storage ...` and name it by id in a config, as they would in AWS.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.providers.local.host import commands as hostcmd

# Kind of storage -> the prefix of its ids (the patterns of ParallelCluster's schema accept these lengths).
ID_PREFIXES = {
    "Efs": "fs-", "FsxLustre": "fs-", "FsxOntap": "fsvol-", "FsxOpenZfs": "fsvol-", "FileCache": "fc-",
    "Ebs": "vol-", "Snapshot": "snap-",
}
FILE_SYSTEM_TYPES = ("Efs", "FsxLustre")
VOLUME_TYPES = ("Ebs", "FsxOntap", "FsxOpenZfs")
# Kinds that several clusters may mount at once; an EBS volume attaches to one cluster at a time.
SHAREABLE = ("Efs", "FsxLustre", "FsxOntap", "FsxOpenZfs", "FileCache")
GIB = 1 << 30

EBS_MAX_GIB = 16384  # EBS volumes are at most 16 TiB



def new_id(kind: str) -> str:
    return ID_PREFIXES[kind] + secrets.token_hex(9)[:17]


def _id_pattern(kind: str) -> tuple[str, str]:
    """The pattern (and its help) that the config's key for this kind of storage checks ids against."""
    from paracluster.config.schema import storage as schema

    field = {"Efs": schema.EFS_SETTINGS.fields["FileSystemId"],
             "FsxLustre": schema.FSX_LUSTRE_SETTINGS.fields["FileSystemId"],
             "Ebs": schema.EBS_SETTINGS.fields["VolumeId"],
             "FileCache": schema.FILE_CACHE_SETTINGS.fields["FileCacheId"]}.get(kind)
    if field is None:  # FSx ONTAP and OpenZFS volumes
        return schema.FSX_VOLUME_ID, "use an FSx volume id such as fsvol-0123456789abcdef0"
    return field.pattern, field.pattern_help


def chosen_id(kind: str, storage_id: str | None) -> str:
    """The id a new entry gets: `storage_id` (one from a real account, so configs that name it run unchanged) if it
    has the form the config key for this kind accepts, else a new one."""
    if storage_id is None:
        return new_id(kind)
    pattern, help_text = _id_pattern(kind)
    if not re.match(pattern, storage_id):
        raise BadRequestError(f"--id {storage_id} is not a valid {kind} id; {help_text}")
    return storage_id


class Registry:
    """The storage entries of one state directory; changes happen under a file lock (CLI and service share it)."""

    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "storage"

    @contextlib.contextmanager
    def locked(self):
        self.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the state directory: root's alone
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self

    def path(self, storage_id: str) -> Path:
        return self.root / storage_id

    def get(self, storage_id: str) -> dict | None:
        try:
            return json.loads((self.path(storage_id) / "meta.json").read_text())
        except (OSError, ValueError):
            return None

    def require(self, storage_id: str, kinds: tuple[str, ...], where: str) -> dict:
        """The entry of an id a config names; NotFoundError naming the YAML path and the command that makes one."""
        entry = self.get(storage_id)
        if entry is None or entry["type"] not in kinds:
            kind = kinds[0]
            what = "snapshot" if kind == "Snapshot" else f"{kind} storage"
            verb = _create_hint(kind)
            found = f" (it is a {entry['type']})" if entry else ""
            raise NotFoundError(f"{where}: {what} {storage_id} does not exist on the local provider{found}; create "
                                f"one with `{verb}` or see `paracluster storage list`")
        return entry

    def save(self, entry: dict) -> None:
        directory = self.path(entry["id"])
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / "meta.json.tmp"
        temporary.write_text(json.dumps(entry, indent=1, sort_keys=True))
        os.replace(temporary, directory / "meta.json")

    def entries(self) -> list[dict]:
        if not self.root.is_dir():
            return []
        found = (self.get(path.name) for path in sorted(self.root.iterdir()) if path.is_dir())
        return [entry for entry in found if entry]

    def data_dir(self, entry: dict) -> Path:
        return self.path(entry["id"]) / "data"

    def images(self, entry: dict) -> list[Path]:
        return [self.path(entry["id"]) / name for name in entry.get("images", [])]

    # --- creating -------------------------------------------------------------------------------------------

    def create_file_system(self, kind: str, *, name: str | None = None, cluster: str | None = None,
                           settings: dict | None = None, storage_id: str | None = None) -> dict:
        """A new EFS/FSx file system, FSx volume or File Cache: a host directory."""
        if kind not in ID_PREFIXES or kind in ("Ebs", "Snapshot"):
            raise BadRequestError(f"--type {kind} is not a file system type; use Efs, FsxLustre, FsxOntap, "
                                  "FsxOpenZfs or FileCache")
        entry = _entry(kind, name, cluster, settings, self._unused(kind, storage_id))
        self.data_dir(entry).mkdir(parents=True)
        self.data_dir(entry).chmod(0o755)
        self.save(entry)
        return entry

    def create_volume(self, size_gib: int, *, count: int = 1, raid_type: int | None = None, name: str | None = None,
                      cluster: str | None = None, snapshot: dict | None = None, settings: dict | None = None,
                      storage_id: str | None = None) -> dict:
        """A new EBS volume: `count` sparse disk images of `size_gib` each (a RAID when count > 1), or a snapshot's
        copy. It is formatted when a cluster first attaches it, as ParallelCluster formats a blank volume."""
        if size_gib is not None and size_gib < 1:
            raise BadRequestError(f"--size {size_gib} is too small; an EBS volume has at least 1 GiB")
        if size_gib is not None and size_gib > EBS_MAX_GIB:
            raise BadRequestError(f"--size {size_gib} is too large; an EBS volume has at most {EBS_MAX_GIB} GiB")
        entry = _entry("Ebs", name, cluster, settings, self._unused("Ebs", storage_id))
        directory = self.path(entry["id"])
        directory.mkdir(parents=True)
        if snapshot is not None:
            entry.update(images=list(snapshot["images"]), raidType=snapshot.get("raidType"), formatted=True,
                         size=snapshot["size"], snapshotId=snapshot["id"])
            for image in snapshot["images"]:
                _sparse_copy(self.path(snapshot["id"]) / image, directory / image)
            if size_gib and size_gib > snapshot["size"] and len(snapshot["images"]) == 1:
                _grow_ext4(directory / snapshot["images"][0], size_gib)
                entry["size"] = size_gib
        else:
            entry.update(images=[f"disk{index}.img" for index in range(count)], raidType=raid_type,
                         formatted=False, size=size_gib)
            for image in entry["images"]:
                with open(directory / image, "wb") as out:
                    out.truncate(size_gib * GIB)
        self.save(entry)
        return entry

    def _unused(self, kind: str, storage_id: str | None) -> str:
        chosen = chosen_id(kind, storage_id)
        existing = self.get(chosen)
        if existing is not None:
            raise ConflictError(f"--id {chosen}: {existing['type']} storage {chosen} exists already; choose another id "
                                f"or delete it with `paracluster storage delete {chosen}`")
        return chosen

    def snapshot(self, volume: dict, *, cluster: str | None = None) -> dict:
        """A snapshot of an (unmounted) EBS volume: a sparse copy of its disk images."""
        entry = _entry("Snapshot", volume.get("name"), cluster, None)
        entry.update(images=list(volume["images"]), raidType=volume.get("raidType"), size=volume["size"],
                     volumeId=volume["id"])
        self.path(entry["id"]).mkdir(parents=True)
        for image in volume["images"]:
            _sparse_copy(self.path(volume["id"]) / image, self.path(entry["id"]) / image)
        self.save(entry)
        return entry

    def delete(self, storage_id: str) -> dict:
        entry = self.get(storage_id)
        if entry is None:
            raise NotFoundError(f"storage {storage_id} does not exist; see `paracluster storage list`")
        if entry.get("attachments"):
            raise ConflictError(f"failed to delete {storage_id}: cluster(s) {', '.join(entry['attachments'])} use it; "
                                "delete them first")
        shutil.rmtree(self.path(storage_id))
        return entry

    # --- attachments ----------------------------------------------------------------------------------------

    def attach(self, entry: dict, cluster: str, where: str) -> None:
        attachments = entry.setdefault("attachments", [])
        if cluster in attachments:
            return
        if attachments and entry["type"] not in SHAREABLE:
            raise ConflictError(f"{where}: volume {entry['id']} is in use by cluster {attachments[0]}; an EBS volume "
                                "attaches to one cluster at a time")
        attachments.append(cluster)
        self.save(entry)

    def detach(self, storage_id: str, cluster: str) -> None:
        entry = self.get(storage_id)
        if entry and cluster in entry.get("attachments", []):
            entry["attachments"].remove(cluster)
            self.save(entry)


def _entry(kind: str, name: str | None, cluster: str | None, settings: dict | None,
           storage_id: str | None = None) -> dict:
    from paracluster.providers.local.host.state import now

    return {"id": storage_id or new_id(kind), "type": kind, "name": name, "createdBy": cluster, "creationTime": now(),
            "attachments": [], "settings": settings or {}}


def _create_hint(kind: str) -> str:
    if kind == "Snapshot":
        return "DeletionPolicy: Snapshot on an Ebs volume of a deleted cluster"
    if kind in VOLUME_TYPES:
        return f"paracluster storage create-volume --type {kind}"
    if kind == "FileCache":
        return "paracluster storage create-file-cache"
    return f"paracluster storage create-file-system --type {kind}"


def _sparse_copy(source: Path, target: Path) -> None:
    # cp keeps holes (and reflinks where the host filesystem can), so a 40 GiB image copies in a moment.
    result = hostcmd.run(["cp", "--sparse=always", "--reflink=auto", str(source), str(target)], timeout=600)
    if result.returncode != 0:
        raise OSError(f"failed to copy {source}: {result.stderr.strip()}")


def _grow_ext4(image: Path, size_gib: int) -> None:
    with open(image, "r+b") as out:
        out.truncate(size_gib * GIB)
    result = hostcmd.run(["resize2fs", "-f", str(image)], timeout=600)
    if result.returncode != 0:
        raise OSError(f"failed to grow {image.name} to {size_gib} GiB: {result.stderr.strip()}")


def public(entry: dict) -> dict:
    """A registry entry as `paracluster storage` shows it."""
    body = {"id": entry["id"], "type": entry["type"], "creationTime": entry["creationTime"],
            "attachments": entry.get("attachments", [])}
    for key in ("name", "size", "createdBy", "volumeId", "snapshotId"):
        if entry.get(key) is not None:
            body[key] = entry[key]
    if entry.get("raidType") is not None:
        body["raid"] = {"type": entry["raidType"], "numberOfVolumes": len(entry["images"])}
    return body

"""Instance store inside a node: stripe the node's local disks and mount them at the ephemeral MountDir (stdlib only).

ParallelCluster stripes instance store disks with LVM (`lvcreate -i N -I 64`), formats ext4 and mounts with noatime.
LVM needs device-mapper, which not every kernel has; without it btrfs's own RAID 0 stripes the disks, and without
btrfs one disk gets ext4. Every step is idempotent: a mounted MountDir is left alone, a formatted disk is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from paracluster.node.mounts import mounted

LOG_FILE = "/var/log/parallelcluster/ephemeral.log"
MOUNT_OPTIONS = "noatime,nodiratime"


def _log(message: str) -> None:
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} setup-ephemeral: {message}"
    print(line, flush=True)
    os.makedirs(os.path.dirname(LOG_FILE), exist_ok=True)
    with open(LOG_FILE, "a") as log:
        log.write(line + "\n")


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"failed to set up the instance store: {' '.join(argv)}: "
                           f"{(result.stderr or result.stdout).strip()[-300:]}")
    return result.stdout


def _fs_type(device: str) -> str:
    result = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True)
    return result.stdout.strip()


def choose_method(devices: list[str], *, device_mapper: bool, btrfs: bool) -> str:
    """lvm where device-mapper exists, else btrfs-raid0 over several disks, else ext4 on the first disk."""
    if device_mapper and shutil.which("lvcreate"):
        return "lvm"
    if btrfs and len(devices) > 1:
        return "btrfs-raid0"
    return "ext4"


def _btrfs_available() -> bool:
    with open("/proc/filesystems") as known:
        return any(line.split()[-1] == "btrfs" for line in known if line.strip()) and bool(shutil.which("mkfs.btrfs"))


def setup_ephemeral(spec: dict) -> str | None:
    """Stripe and mount the node's instance store at its MountDir; the method used (None: nothing to do)."""
    ephemeral = spec.get("ephemeral")
    if not ephemeral or not ephemeral.get("devices"):
        return None
    devices, mount_dir = ephemeral["devices"], ephemeral["mount_dir"]
    os.makedirs(mount_dir, exist_ok=True)
    if mounted(mount_dir):
        _log(f"{mount_dir} is already mounted; nothing to do")
        return "mounted"
    method = choose_method(devices, device_mapper=os.path.exists("/dev/mapper/control"), btrfs=_btrfs_available())
    if method == "lvm":
        # Volume groups are visible to the whole host: the group is named after the node, not vg.01.
        group = f"vg.pcl.{spec.get('cluster', 'local')}.{spec['name']}"
        if subprocess.run(["vgs", group], capture_output=True).returncode != 0:
            _run(["pvcreate", "-f", *devices])
            _run(["vgcreate", group, *devices])
        volume = f"/dev/{group}/lv_ephemeral"
        if not os.path.exists(volume):
            _run(["lvcreate", "-y", "-i", str(len(devices)), "-I", "64", "-l", "100%FREE", "-n", "lv_ephemeral",
                  group])
        _run(["lvchange", "-ay", f"{group}/lv_ephemeral"])
        if _fs_type(volume) != "ext4":
            _run(["mkfs.ext4", "-q", "-F", volume])
        _run(["mount", "-o", MOUNT_OPTIONS, volume, mount_dir])
    elif method == "btrfs-raid0":
        if _fs_type(devices[0]) != "btrfs":
            _run(["mkfs.btrfs", "-q", "-f", "-L", "pcl-ephemeral", "-d", "raid0", "-m", "raid1", *devices])
        _run(["btrfs", "device", "scan", *devices])
        device_options = ",".join(f"device={device}" for device in devices)
        _run(["mount", "-t", "btrfs", "-o", f"{MOUNT_OPTIONS},{device_options}", devices[0], mount_dir])
    else:
        if _fs_type(devices[0]) != "ext4":
            _run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", devices[0]])
        _run(["mount", "-o", MOUNT_OPTIONS, devices[0], mount_dir])
    os.chmod(mount_dir, 0o1777)
    _log(f"{mount_dir} mounted with {method} over {len(devices) if method != 'ext4' else 1} of "
         f"{len(devices)} disk(s): {' '.join(devices)}")
    return method

"""Instance store disks of local nodes: sparse files attached to loop devices, sized from the instance type catalog.

A node of a type with instance store (c5d.24xlarge: 4 x 900 GB NVMe) gets one file per disk under
<cluster_dir>/ephemeral/<node>/pcl-disk<i>.img, scaled down so that a node's disks total at most the setting
`local.instance_store_max_gib`. The node stripes and mounts them (node/ephemeral.py); the host detaches and removes
them when the node stops (a local instance is terminated when it stops).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from paracluster.providers.local.standins.storage import attach_loops, detach_loops
from paracluster.providers.local.host import commands as hostcmd

MIB = 1 << 20
MIN_DISK_MIB = 256  # btrfs needs some room per device; a disk is never made smaller than this


def disk_sizes_mib(disks_gb: list[int] | tuple[int, ...], cap_gib: float) -> list[int]:
    """The size of each local disk in MiB: the catalog's sizes (GB), scaled so that they total at most cap_gib."""
    if not disks_gb:
        return []
    total_mib = sum(disks_gb) * 10**9 / MIB
    scale = min(1.0, cap_gib * 1024 / total_mib)
    return [max(MIN_DISK_MIB, int(size * 10**9 / MIB * scale)) for size in disks_gb]


def ephemeral_mount_dir(config, node) -> str:
    """LocalStorage/EphemeralVolume/MountDir of the node's queue (or of the head node); default /scratch."""
    if node.node_type == "HeadNode":
        return config.head_node.local_storage.ephemeral_volume.mount_dir
    queue = next(q for q in config.scheduling.slurm_queues if q.name == node.queue)
    return queue.compute_settings.local_storage.ephemeral_volume.mount_dir


def node_disks_dir(cluster_dir: Path, node_name: str) -> Path:
    return cluster_dir / "ephemeral" / node_name


def attach(ctx, node) -> dict | None:
    """Create and attach the node's instance store disks; spec["ephemeral"] for it, or None when it has none.

    Like ParallelCluster, nothing is mounted when the ephemeral MountDir is also a shared storage MountDir.
    """
    instance_type = ctx.plan.catalog.get(node.node.instance_type)
    if instance_type is None or not instance_type.instance_store_disks:
        return None
    mount_dir = ephemeral_mount_dir(ctx.config, node.node)
    shared = {item.mount_dir.rstrip("/") for item in ctx.config.shared_storage}
    if mount_dir.rstrip("/") in shared:
        return None
    directory = node_disks_dir(ctx.dir, node.name)
    directory.mkdir(parents=True, exist_ok=True)
    images = []
    sizes = disk_sizes_mib(instance_type.instance_store_disks, float(ctx.settings["local.instance_store_max_gib"]))
    for index, size in enumerate(sizes):
        image = directory / f"pcl-disk{index}.img"
        if not image.exists():
            with open(image, "wb") as out:
                out.truncate(size * MIB)
        images.append(image)
    return {"devices": attach_loops(images), "mount_dir": mount_dir, "type": instance_type.instance_store_type}


def release(cluster_dir: Path, node_name: str) -> None:
    """Detach the node's disks and remove their files (the node has stopped: its mounts went with it)."""
    directory = node_disks_dir(cluster_dir, node_name)
    if directory.is_dir():
        # Where device-mapper exists the node striped its disks with LVM: the host-wide volume group goes first,
        # or it keeps the loop devices busy. (vg.pcl.<cluster>.<node>, as node/ephemeral.py names it.)
        group = f"vg.pcl.{cluster_dir.name}.{node_name}"
        if Path("/dev/mapper/control").exists() and shutil.which("vgremove"):
            hostcmd.run(["vgchange", "-an", group], timeout=60)
            hostcmd.run(["vgremove", "-f", group], timeout=60)
        detach_loops(sorted(directory.glob("pcl-disk*.img")))
        shutil.rmtree(directory, ignore_errors=True)


def release_all(cluster_dir: Path) -> None:
    root = cluster_dir / "ephemeral"
    if root.is_dir():
        for directory in sorted(root.iterdir()):
            release(cluster_dir, directory.name)

"""Shared storage inside a node: bind each SharedStorage source at its MountDir (standard library only).

The sources are host paths, invisible once the node has pivoted into its own root, so `stage` binds each one under
/run/paracluster/storage/<name> of the new root before the pivot, and `mount_shared_storage` binds that onto the
MountDir afterwards. There is no NFS in this kernel: every node binds the same host directory or mounted volume.
"""

from __future__ import annotations

import os

from paracluster.node.syscalls import MS_BIND, MS_REC, mount

STAGE_DIR = "/run/paracluster/storage"


def mounted(path: str) -> bool:
    """Whether `path` is a mount point in this mount namespace."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == path for line in table)


def stage(spec: dict, root: str) -> None:
    """Before pivot_root: bind each storage source to <root>/run/paracluster/storage/<name>."""
    for item in spec.get("storage", []):
        staged = f"{root}{STAGE_DIR}/{item['name']}"
        os.makedirs(staged, exist_ok=True)
        if not mounted(staged):
            mount(item["source"], staged, None, MS_BIND | MS_REC)


def mount_shared_storage(spec: dict, *, home: bool = False) -> list[str]:
    """After pivot_root: bind each staged source onto its MountDir (no-op where already mounted); the dirs mounted now.

    With `home`, only a storage whose MountDir is /home (ParallelCluster mounts it in its init phase, before
    OnNodeStart); without, every other one. On the head node each MountDir gets mode 1777, as ParallelCluster sets
    it (except /home, which keeps its mode).
    """
    done = []
    head = spec.get("node_type") == "HeadNode"
    for item in spec.get("storage", []):
        target = item["target"]
        if (target.rstrip("/") == "/home") != home:
            continue
        os.makedirs(target, exist_ok=True)
        if mounted(target):
            continue
        mount(f"{STAGE_DIR}/{item['name']}", target, None, MS_BIND | MS_REC)
        if head and target.rstrip("/") != "/home":
            os.chmod(target, 0o1777)
        done.append(target)
    if done:
        print(f"paracluster: shared storage mounted at {', '.join(done)}", flush=True)
    return done

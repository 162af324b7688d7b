"""Mount a host directory into a running node, or unmount it there: shared storage added or removed by an update.

A node's mount namespace is private and its root pivoted away from the host's, so a host path cannot simply be
bind-mounted there. Linux (5.2+) lets a process clone a mount tree detached from any namespace (open_tree), enter
the node's namespace (setns) and attach the clone there (move_mount). That must happen in a single-threaded process,
so the host service runs this module as a command: python -m paracluster.providers.local.nodes.livemount PID SOURCE
TARGET [MODE]. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

from paracluster.errors import ClusterError

# open_tree and move_mount have no glibc wrappers; their numbers are the same on x86_64 and aarch64.
_SYS_OPEN_TREE = {"x86_64": 428, "aarch64": 428}
_SYS_MOVE_MOUNT = {"x86_64": 429, "aarch64": 429}
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_RECURSIVE = 0x8000
AT_FDCWD = -100
MOVE_MOUNT_F_EMPTY_PATH = 0x4
CLONE_NEWNS = 0x00020000


def _attach(pid: int, source: str, target: str, mode: int | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    machine = platform.machine()
    tree = libc.syscall(_SYS_OPEN_TREE[machine], AT_FDCWD, source.encode(),
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)
    if tree < 0:
        raise OSError(ctypes.get_errno(), f"failed to clone the mount of {source}")
    namespace = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    if libc.setns(namespace, CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), f"failed to enter the mount namespace of process {pid}")
    os.chdir("/")
    os.makedirs(target, exist_ok=True)
    if libc.syscall(_SYS_MOVE_MOUNT[machine], tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH) != 0:
        raise OSError(ctypes.get_errno(), f"failed to attach {source} at {target}")
    if mode is not None:
        os.chmod(target, mode)


def mount_in_node(pid: int, source: str, target: str, mode: int | None = None) -> None:
    """Bind `source` (a host path) at `target` inside the node whose PID 1 is `pid`, unless something is there."""
    from paracluster.providers.local.host import commands as hostcmd
    from paracluster.providers.local.nodes.instances import node_exec
    from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath

    if node_exec(pid, ["mountpoint", "-q", target], timeout=10).returncode == 0:
        return
    argv = ["/usr/bin/env", f"PYTHONPATH={node_pythonpath()}", node_python(), "-m", __name__, str(pid), source, target]
    if mode is not None:
        argv.append(oct(mode))
    result = hostcmd.run(argv, timeout=30)
    if result.returncode != 0:
        raise ClusterError(f"failed to mount {source} at {target} in a running node: "
                           f"{(result.stderr or result.stdout).strip()[-300:]}")


def unmount_in_node(pid: int, target: str) -> None:
    """Detach what is mounted at `target` inside the node (lazily, as ParallelCluster's update does)."""
    from paracluster.providers.local.nodes.instances import node_exec

    if node_exec(pid, ["mountpoint", "-q", target], timeout=10).returncode != 0:
        return
    result = node_exec(pid, ["umount", "-l", target], timeout=30)
    if result.returncode != 0:
        raise ClusterError(f"failed to unmount {target} in a running node: {result.stderr.strip()[-300:]}")


def main() -> None:
    pid, source, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    mode = int(sys.argv[4], 8) if len(sys.argv) > 4 else None
    try:
        _attach(pid, source, target, mode)
    except OSError as err:
        print(err, file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

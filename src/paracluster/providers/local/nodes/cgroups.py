"""A node's control groups on the host: made before it boots (its cgroup namespace's root), removed after it stops.

systemd as a node's PID 1 needs a cgroup tree of its own. The node's cgroups sit under `paracluster/` of each
hierarchy systemd uses on this host: the cgroup2 root on a unified host; `systemd` (name=systemd) and `unified` on a
hybrid one (Debian's systemd 252 runs in either). Standard library only: the booter runs it with the node's Python.
"""

from __future__ import annotations

import hashlib
import os
import time

ROOT = "/sys/fs/cgroup"
GROUP = "paracluster"


def layout() -> str:
    """`unified`, `hybrid` or `legacy`: how this host mounts its cgroups (read from the mount table)."""
    types = {}
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            mount_point = fields[4]
            if mount_point == ROOT or mount_point.startswith(ROOT + "/"):
                fs_type = fields[fields.index("-") + 1]
                types[mount_point] = fs_type
    if types.get(ROOT) == "cgroup2":
        return "unified"
    if types.get(f"{ROOT}/systemd") == "cgroup":
        return "hybrid" if types.get(f"{ROOT}/unified") == "cgroup2" else "legacy"
    raise OSError(f"failed to find the cgroup hierarchies systemd needs under {ROOT} (mounted: {sorted(types)})")


def hierarchies(mode: str) -> list[str]:
    return {"unified": [ROOT], "hybrid": [f"{ROOT}/systemd", f"{ROOT}/unified"],
            "legacy": [f"{ROOT}/systemd"]}[mode]


def node_group(node_dir: str) -> str:
    """The node's cgroup name: its name and a digest of its directory (two state directories may share names)."""
    digest = hashlib.sha1(os.path.realpath(node_dir).encode()).hexdigest()[:10]
    return f"{GROUP}/{os.path.basename(node_dir.rstrip('/'))}-{digest}"


def enter(node_dir: str) -> None:
    """Make the node's cgroups (removing a stale tree of an earlier boot) and move the calling process into them."""
    mode = layout()
    for hierarchy in hierarchies(mode):
        path = f"{hierarchy}/{node_group(node_dir)}"
        _remove_tree(path)
        for attempt in range(3):
            try:
                os.makedirs(path, exist_ok=True)
                with open(f"{path}/cgroup.procs", "w") as procs:
                    procs.write("0")
                break
            except FileNotFoundError:
                # Another node's stop removed the empty group between our mkdir and our write: make it again.
                if attempt == 2:
                    raise


def exists(node_dir: str) -> bool:
    """Whether the node has cgroups (a boot entered them and no stop removed them since); True if unsure."""
    try:
        mode = layout()
    except OSError:
        return True
    return any(os.path.isdir(f"{hierarchy}/{node_group(node_dir)}") for hierarchy in hierarchies(mode))


def remove(node_dir: str, timeout: float = 2.0) -> list[str]:
    """Remove the node's cgroups once its processes are gone; the paths that could not be removed."""
    try:
        mode = layout()
    except OSError:
        return []
    left = []
    for hierarchy in hierarchies(mode):
        path = f"{hierarchy}/{node_group(node_dir)}"
        deadline = time.monotonic() + timeout
        # A cgroup empties a moment after its last process is reaped: retry briefly.
        while not _remove_tree(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        if os.path.isdir(path):
            left.append(path)
        try:
            os.rmdir(f"{hierarchy}/{GROUP}")  # the last node gone takes the group with it
        except OSError:
            pass  # other nodes (of any cluster or state directory) still use it
    return left


def _remove_tree(path: str) -> bool:
    """rmdir the cgroup and every cgroup below it, deepest first; True when none is left."""
    if not os.path.isdir(path):
        return True
    for directory, _, _ in sorted(os.walk(path), key=lambda entry: entry[0].count("/"), reverse=True):
        try:
            os.rmdir(directory)
        except OSError:
            pass
    return not os.path.isdir(path)

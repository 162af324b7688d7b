"""PID 1 of a node until systemd takes over: build the node's root filesystem, then execute systemd in its place.

Usage: python -m paracluster.providers.local.nodes.init SPEC_JSON

The spec (written by the host service) says what the node is: hostname, overlay root layers, bind mounts of shared
directories and storage; its upper layer already holds the node's systemd configuration (`paracluster.node.units`),
so systemd boots the node's units only, and its bootstrap unit runs the node agent's phases, which report to
`status.json` in the node's host directory (mounted at /run/paracluster/node inside). Only the standard library is
used: this runs with the node's Python before the node has a root of its own.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from paracluster.node.mounts import stage as stage_storage
from paracluster.node.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    drop_capability,
    mount,
    pivot_root,
    umount,
)
from paracluster.providers.local.nodes import cgroups

NODE_DIR = "/run/paracluster/node"  # the node's host directory, seen from inside
SYSTEMD = "/lib/systemd/systemd"
# The node may not set the clock (the realtime clock is the host's) nor load kernel modules.
CAP_SYS_MODULE, CAP_SYS_TIME = 16, 25
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def build_root(spec: dict) -> None:
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may leak back to the host
    socket.sethostname(spec["hostname"])
    mode = cgroups.layout()  # read before the pivot: the host's mount table
    layers = spec["overlay"]
    root = layers["root"]
    options = f"lowerdir={layers['lower']},upperdir={layers['upper']},workdir={layers['work']}"
    mount(f"paracluster-{spec['name']}", root, "overlay", 0, options)
    # overlayfs does not carry submounts, so every pseudo filesystem is mounted again inside the new root.
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # /proc/sys is read-only but for the node's own network settings: systemd and site scripts would otherwise
    # change host-wide settings (systemd raises fs.file-max at every boot).
    mount(f"{root}/proc/sys/net", f"{root}/proc/sys/net", None, MS_BIND)
    mount(f"{root}/proc/sys", f"{root}/proc/sys", None, MS_BIND | MS_REC)
    mount("none", f"{root}/proc/sys", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # sysfs read-only, as systemd-nspawn mounts it: systemd then leaves devices to the host.
    mount("sysfs", f"{root}/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    _mount_cgroups(f"{root}/sys/fs/cgroup", mode)
    # The host's devices (loop devices for the instance store appear as they are made), with private ptys, shared
    # memory and message queues: MPI segments and ssh terminals stay inside the node.
    mount("/dev", f"{root}/dev", None, MS_BIND | MS_REC)
    mount("shm", f"{root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.makedirs(f"{root}/dev/pts", exist_ok=True)
    mount("devpts", f"{root}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620,gid=5")
    mount(f"{root}/dev/pts/ptmx", f"{root}/dev/ptmx", None, MS_BIND)
    if os.path.isdir(f"{root}/dev/mqueue"):
        mount("mqueue", f"{root}/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("run", f"{root}/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    os.makedirs(f"{root}/run/lock", mode=0o1777, exist_ok=True)
    # A private /tmp is required: Slurm's PMIx plugin fails when two nodes share one.
    mount("tmp", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    binds = [{"source": spec["node_dir"], "target": NODE_DIR}] + spec.get("binds", [])
    for bind in binds:
        target = root + bind["target"]
        if os.path.isdir(bind["source"]):
            os.makedirs(target, exist_ok=True)
        elif not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()  # a file is bind-mounted onto a file
        mount(bind["source"], target, None, MS_BIND | MS_REC)
        if bind.get("readonly"):
            mount(bind["source"], target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    stage_storage(spec, root)  # storage sources are host paths: staged before the pivot hides them
    os.chdir(root)
    os.makedirs(".oldroot", exist_ok=True)
    pivot_root(".", ".oldroot")
    os.chdir("/")
    umount("/.oldroot", MNT_DETACH)
    os.rmdir("/.oldroot")


def _mount_cgroups(target: str, mode: str) -> None:
    """The node's cgroups as systemd expects them; the cgroup namespace makes the node's own cgroup their root."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if mode == "unified":
        _mount_cgroup2(target)
        return
    mount("cgroup", target, "tmpfs", flags, "mode=755")
    os.mkdir(f"{target}/systemd")
    mount("cgroup", f"{target}/systemd", "cgroup", flags, "none,name=systemd")
    if mode == "hybrid":
        os.mkdir(f"{target}/unified")
        _mount_cgroup2(f"{target}/unified")
    mount("none", target, None, MS_REMOUNT | MS_RDONLY | flags, "mode=755")


def _mount_cgroup2(target: str) -> None:
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        # nsdelegate keeps the node's systemd from moving processes across its namespace's root.
        mount("cgroup2", target, "cgroup2", flags, "nsdelegate")
    except OSError:
        mount("cgroup2", target, "cgroup2", flags)  # a host that mounted cgroup2 without it: options are shared


def _fail(spec: dict, reason: str) -> None:
    """Report a failure before systemd runs (the node directory is its host path until the pivot)."""
    for directory in (NODE_DIR, spec.get("node_dir", "")):
        path = os.path.join(directory, "status.json")
        try:
            with open(path + ".tmp", "w") as out:
                json.dump({"name": spec.get("name"), "state": "failed", "phase": None, "reason": reason,
                           "time": time.time()}, out)
            os.replace(path + ".tmp", path)
            return
        except OSError:
            continue


def main() -> None:
    spec_path = sys.argv[1]
    with open(spec_path) as source:
        spec = json.load(source)
    try:
        build_root(spec)
        for capability in (CAP_SYS_MODULE, CAP_SYS_TIME):
            drop_capability(capability)
        # The spec path stays on PID 1's command line: the host service recognises its node's PID 1 by it.
        os.execve(SYSTEMD, [SYSTEMD, f"paracluster.spec={spec_path}"],
                  {"container": "paracluster", "PATH": NODE_PATH, "LANG": "C.UTF-8"})
    except Exception as err:  # noqa: BLE001 - PID 1 reports every failure instead of dying silently
        import traceback

        traceback.print_exc()  # into the node's boot.log on the host
        sys.stderr.flush()
        _fail(spec, f"the node could not boot: {type(err).__name__}: {err}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

"""PID 1 of a node: build its root filesystem, start its services in order, reap orphans, stop everything on SIGTERM.

Usage: python -m paracluster.providers.local.nodes.init SPEC_JSON

The spec (written by the host service) says what the node is: hostname, overlay root layers, bind mounts of shared
directories, then what the node agent (`paracluster.node.agent`) sets up in its bootstrap phases: accounts, files,
custom actions, mounts and the services PID 1 supervises. Progress and failures go
to `status.json` in the node's host directory (mounted at /run/paracluster/node inside), which the host service
reads. Only the standard library is used: this runs with the system Python inside the node.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time

from paracluster.node.agent import Agent, BootstrapFailed, bootstrap
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
    mount,
    pivot_root,
    umount,
)

NODE_DIR = "/run/paracluster/node"  # the node's host directory, seen from inside
SERVICE_READY_TIMEOUT = 30.0


class Node:
    """The running node: its spec, its services and its status file."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.services: dict[str, subprocess.Popen] = {}
        self.exited: dict[str, int] = {}
        self.state = "booting"
        self.phase: str | None = None
        self.reason = ""

    # --- status -----------------------------------------------------------------------------------------------

    def write_status(self) -> None:
        status = {
            "name": self.spec["name"],
            "state": self.state,
            "phase": self.phase,
            "reason": self.reason,
            "pid1": os.getpid(),
            "services": {name: proc.pid for name, proc in self.services.items()},
            "exited": self.exited,
            "time": time.time(),
        }
        path = os.path.join(NODE_DIR, "status.json")
        try:
            with open(path + ".tmp", "w") as out:
                json.dump(status, out)
            os.replace(path + ".tmp", path)
        except OSError:
            pass  # before the node directory is mounted there is nowhere to report to

    def enter_phase(self, name: str) -> None:
        self.phase = name
        self.write_status()

    # --- root filesystem --------------------------------------------------------------------------------------

    def build_root(self) -> None:
        spec = self.spec
        mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may leak back to the host
        socket.sethostname(spec["hostname"])
        layers = spec["overlay"]
        root = layers["root"]
        options = f"lowerdir={layers['lower']},upperdir={layers['upper']},workdir={layers['work']}"
        mount(f"paracluster-{spec['name']}", root, "overlay", 0, options)
        # overlayfs does not carry submounts, so every pseudo filesystem is mounted again inside the new root.
        mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        mount("sysfs", f"{root}/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
        if os.path.isdir("/sys/fs/cgroup"):
            mount("/sys/fs/cgroup", f"{root}/sys/fs/cgroup", None, MS_BIND | MS_REC)
        mount("/dev", f"{root}/dev", None, MS_BIND | MS_REC)
        # Private /dev/shm and ptys: MPI shared memory segments and ssh terminals stay inside the node.
        mount("shm", f"{root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
        os.makedirs(f"{root}/dev/pts", exist_ok=True)
        mount("devpts", f"{root}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
        mount(f"{root}/dev/pts/ptmx", f"{root}/dev/ptmx", None, MS_BIND)
        mount("run", f"{root}/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
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

    # --- services ---------------------------------------------------------------------------------------------

    def ensure(self, service: dict) -> bool:
        """Start a service unless it runs; wait until it is ready. True when it had to be started."""
        name = service["name"]
        proc = self.services.get(name)
        if proc is not None and proc.poll() is None and name not in self.exited:
            return False
        proc = start_service(service)
        timeout = service.get("timeout", SERVICE_READY_TIMEOUT)
        if service.get("oneshot"):
            # A setup step (e.g. registering the cluster with slurmdbd): the next services wait for it.
            _wait_oneshot(name, proc, timeout)
            return True
        self.services[name] = proc
        self.exited.pop(name, None)
        self.write_status()
        ready = service.get("ready")
        if ready:
            _wait_ready(name, proc, ready, timeout)
        return True

    # --- supervision ------------------------------------------------------------------------------------------

    def reap_forever(self) -> None:
        by_pid = {proc.pid: name for name, proc in self.services.items()}
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                signal.pause()
                continue
            name = by_pid.get(pid)
            if name is not None:
                # A service died: record it so the host service (and later the cluster manager) can see it.
                self.exited[name] = os.waitstatus_to_exitcode(status)
                self.services[name].returncode = self.exited[name]
                self.write_status()

    def shutdown(self, final_state: str = "stopped") -> None:
        self.state = "stopping" if final_state == "stopped" else final_state
        self.write_status()
        _signal_all(signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.02)
        _signal_all(signal.SIGKILL)
        self.state = final_state
        self.write_status()


def start_service(service: dict) -> subprocess.Popen:
    """Start one of the node's daemons with its log in the node's host directory."""
    log_dir = os.path.join(NODE_DIR, "logs")
    os.makedirs(log_dir, exist_ok=True)
    delay = service.get("not_before", 0) - time.time()
    if delay > 0:
        time.sleep(delay)
    user = service.get("user")
    with open(os.path.join(log_dir, f"{service['name']}.log"), "ab") as log:
        return subprocess.Popen(
            service["argv"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
            env={**_base_env(), **service.get("env", {})},
            close_fds=True,
        )


def _wait_oneshot(name: str, proc: subprocess.Popen, timeout: float) -> None:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError(f"{name} did not finish within {timeout:.0f} s; see logs/{name}.log") from None
    if code != 0:
        raise RuntimeError(f"{name} failed with exit code {code}: {_last_line(name)}")


def _wait_ready(name: str, proc: subprocess.Popen, ready: str, timeout: float) -> None:
    """Wait for a path to exist, or with `tcp:HOST:PORT` for the service to accept connections."""
    deadline = time.monotonic() + timeout
    while not _is_ready(ready):
        code = proc.poll()
        if code is not None:
            raise RuntimeError(f"service {name} exited with code {code} before it was ready: {_last_line(name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"service {name} was not ready after {timeout:.0f} s ({ready})")
        time.sleep(0.01 if not ready.startswith("tcp:") else 0.1)


def _signal_all(signum: int) -> None:
    try:
        os.kill(-1, signum)  # as PID 1 this reaches every other process of the node
    except ProcessLookupError:
        pass


def _is_ready(ready: str) -> bool:
    if not ready.startswith("tcp:"):
        return os.path.exists(ready)
    host, port = ready[len("tcp:"):].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _last_line(name: str) -> str:
    """The service log's last error line (or last line), so a failure reads without opening the log."""
    try:
        with open(os.path.join(NODE_DIR, "logs", f"{name}.log"), errors="replace") as log:
            lines = [line.strip() for line in log if line.strip()]
    except OSError:
        return f"see logs/{name}.log"
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or [f"nothing in logs/{name}.log"])[-1][-300:]


def _base_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }


def _terminate(signum, frame):  # noqa: ARG001 - signal handler signature
    raise SystemExit(0)


def main() -> None:
    with open(sys.argv[1]) as source:
        spec = json.load(source)
    node = Node(spec)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        node.build_root()
        node.write_status()
        if spec.get("inject_failure"):
            raise BootstrapFailed(spec["inject_failure"])
        os.makedirs(os.path.join(NODE_DIR, "logs"), exist_ok=True)
        with open(os.path.join(NODE_DIR, "logs", "bootstrap.log"), "a") as log:
            bootstrap(Agent(spec, node, log), on_phase=node.enter_phase)
        node.state = "running"
        node.phase = None
        node.write_status()
        node.reap_forever()
    except SystemExit:
        node.shutdown()
    except Exception as err:  # noqa: BLE001 - PID 1 reports every failure instead of dying silently
        if not isinstance(err, BootstrapFailed):
            import traceback

            traceback.print_exc()  # into the node's boot.log on the host
            sys.stderr.flush()
        node.state = "failed"
        node.reason = str(err) if isinstance(err, BootstrapFailed) else f"{type(err).__name__}: {err}"
        node.write_status()
        if spec.get("keep_failed"):
            try:
                node.reap_forever()
            except SystemExit:
                pass
        node.shutdown("failed")  # the failure stays visible to the host service after PID 1 is gone


if __name__ == "__main__":
    main()

"""Node instances of the local provider: boot a node into its namespaces, read its status, run commands in it, stop it.

A node is a network namespace on the cluster bridge plus mount, UTS, IPC, PID, time and cgroup namespaces whose
PID 1 is systemd (started by `paracluster.providers.local.nodes.init`), with an overlay root over the host's root
filesystem (upper layers on a per-cluster tmpfs) and cgroups of its own (`cgroups`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from paracluster.errors import ClusterError
from paracluster.providers.local.nodes import cgroups, network, processes, rootfs
from paracluster.providers.local.nodes.runtime import node_python, node_pythonpath
from paracluster.providers.local.host import commands as hostcmd

def new_instance_id() -> str:
    """An id shaped like an EC2 instance id (i- and 17 hex digits)."""
    return "i-" + secrets.token_hex(9)[:17]


def boot_node(spec: dict, node_dir: Path, netns_path: str, fresh_root: bool = True) -> int:
    """Write the node's spec, boot it and return its PID 1 (a host PID); raise ClusterError if it cannot start.

    `fresh_root` False keeps the root disk (the overlay's upper layer) of the node's previous boot: a restart, as an
    image build's Reboot step asks for."""
    # The spec holds keys (the head node's JWT key, the sshd host key): root only, on the host and in the node.
    node_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    node_dir.chmod(0o700)
    (node_dir / "logs").mkdir(exist_ok=True)  # the units' output files are appended there from the start
    for stale in ("status.json", "pid"):
        (node_dir / stale).unlink(missing_ok=True)
    overlay = spec["overlay"]
    # Every boot is a new instance with a fresh root disk: what an earlier instance of this node wrote (custom
    # actions' marks, accounts, logs) must not make this one skip its bootstrap.
    for key in ("upper", "work") if fresh_root else ():
        shutil.rmtree(overlay[key], ignore_errors=True)
    for key in ("upper", "work", "root"):
        Path(overlay[key]).mkdir(parents=True, exist_ok=True)
    if fresh_root:  # a restarted node keeps its /etc as it left it
        rootfs.prepare_upper(spec, Path(overlay["upper"]), node_python(), node_pythonpath())
    spec_path = node_dir / "spec.json"
    with os.fdopen(os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(json.dumps(spec, indent=1))
    spec_path.chmod(0o600)
    pidfile = node_dir / "pid"
    env = {"PYTHONPATH": node_pythonpath(), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    # The booter's child builds the root and becomes systemd itself (one Python start per boot).
    argv = ["nsenter", f"--net={netns_path}", node_python(), "-m", "paracluster.providers.local.nodes.boot",
            str(pidfile), "--init", str(spec_path)]
    # PID 1 keeps these descriptors for its life: a file, not a pipe that closes when the booter exits.
    with open(node_dir / "boot.log", "ab") as log:
        result = hostcmd.run(argv, env=env, stdout=log, stderr=log, timeout=30)
    if result.returncode != 0 or not pidfile.exists():
        raise ClusterError(f"failed to boot node {spec['name']}: {_tail(node_dir / 'boot.log') or 'no PID'}")
    return int(pidfile.read_text())


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " / ".join(text[-lines:])


def read_status(node_dir: Path) -> dict:
    try:
        return json.loads((node_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def find_pid(recorded: int | None, node_dir: Path) -> int | None:
    """The node's PID 1: the recorded one, else the booter's pidfile (a service restart may have lost the record)."""
    if is_alive(recorded, node_dir):
        return recorded
    try:
        pid = int((node_dir / "pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid, node_dir) else None


def node_processes(node_dirs: list[Path]) -> dict[Path, list[int]]:
    """The processes started for each node (booter or PID 1) that still run, found by spec path in one /proc scan."""
    if not node_dirs:
        return {}
    needles = {str(node_dir / "spec.json").encode(): node_dir for node_dir in node_dirs}
    found: dict[Path, list[int]] = {node_dir: [] for node_dir in node_dirs}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            for needle, node_dir in needles.items():
                if needle in cmdline:
                    found[node_dir].append(int(entry.name))
    return found


def is_alive(pid: int | None, node_dir: Path) -> bool:
    """Whether the node's PID 1 still runs (and is ours: its spec file is on its command line)."""
    return processes.runs_with(pid, str(node_dir / "spec.json"))


def wait_running(name: str, pid: int, node_dir: Path, timeout: float) -> None:
    """Wait until the node's PID 1 reports `running`; raise ClusterError with its reason if it fails or hangs."""
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(node_dir)
        state = status.get("state")
        if state == "running":
            return
        if state == "failed":
            # A failure in a bootstrap phase explains itself; anything else is explained by the logs.
            detail = "" if status.get("phase") else f"; {_log_tail(node_dir)}"
            raise ClusterError(f"node {name} failed to start: {status.get('reason')}{detail}")
        if not is_alive(pid, node_dir):
            status = read_status(node_dir)
            raise ClusterError(f"node {name} stopped while starting: {status.get('reason') or _log_tail(node_dir)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"node {name} did not start within {timeout:.0f} s; {_log_tail(node_dir)}")
        time.sleep(0.02)


def _log_tail(node_dir: Path) -> str:
    logs = sorted((node_dir / "logs").glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
    for log in [*logs, node_dir / "boot.log"]:
        tail = _tail(log)
        if tail:
            return f"last lines of {log.name}: {tail}"
    return "no service logged anything"


def stop_node(pid: int | None, node_dir: Path, timeout: float = 5.0) -> None:
    """Stop a node: systemd's poweroff signal to its PID 1, SIGKILL if it lingers; wait for it to go."""
    stop_nodes([(pid, node_dir)], timeout)


POWEROFF = signal.SIGRTMIN + 4
PARALLEL_NODE_OPERATIONS = 8  # nodes boot in parallel; more threads only contend for two cores
# Called with the directories of nodes that stopped, once their processes are gone: the host service's log
# collector reads their last lines there, before a next boot of the node wipes its root layer.
STOPPED_OBSERVERS: list = []


def stop_nodes(nodes: list[tuple[int | None, Path]], timeout: float = 5.0) -> None:
    """Stop nodes, given as (PID 1, node directory) pairs, all at once.

    Processes of a node that no record knows (a boot cut short by a service restart) are stopped too. SIGRTMIN+4 is
    systemd's poweroff (SIGTERM would make it re-execute itself); once they are gone the nodes' cgroups go too.
    """
    # A node without cgroups has no process (its booter enters them before it starts anything): only the others
    # need the /proc scan, which a burst would otherwise pay once per node boot for every process on the host.
    strays = {node_dir: [] for _, node_dir in nodes}
    strays.update(node_processes([node_dir for _, node_dir in nodes if cgroups.exists(str(node_dir))]))
    targets = []
    for pid, node_dir in nodes:
        pid = find_pid(pid, node_dir)
        targets += [(target, node_dir) for target in {*([pid] if pid else []), *strays[node_dir]}]
    for target, _ in targets:
        _signal(target, POWEROFF)
    deadline = time.monotonic() + timeout
    while any(is_alive(target, node_dir) for target, node_dir in targets):
        if time.monotonic() > deadline:
            for target, _ in targets:
                _signal(target, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.02)
    for _, node_dir in nodes:
        cgroups.remove(str(node_dir))
    for observer in STOPPED_OBSERVERS:
        observer([node_dir for _, node_dir in nodes])


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def node_exec(
    pid: int, argv: list[str], *, user: str | None = None, timeout: float = 60, input_text: str | None = None
) -> subprocess.CompletedProcess:
    """Run a command inside a running node (all its namespaces), as root or as `user`."""
    command = ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-T", "-C", "--"]
    if user:
        command += ["runuser", "-u", user, "--"]
    return hostcmd.run(
        command + argv, timeout=timeout, input=input_text,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"},
    )


def start_network(record, node) -> str:
    """Create the node's namespace and veth on the cluster bridge; return the namespace path."""
    subnet_prefix = int(record.network.subnet.split("/")[1])
    return network.create_node_network(record.name, node.name, record.network.index, node.slot, node.address,
                                       subnet_prefix)


def remove_network(record, node) -> None:
    network.delete_node_network(record.name, node.name, record.network.index, node.slot)

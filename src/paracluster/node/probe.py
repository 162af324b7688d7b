"""What `paracluster diagnose` asks a node: facts gathered inside it, printed as JSON; it judges nothing.

Usage inside a node: python3 -m paracluster.node.probe < REQUEST_JSON. The request names the daemons to look for
(name -> argv), munge credentials to decode and whether to make one, and on the head node the cluster-wide
questions (Slurm's nodes and stuck jobs, the cluster manager's heartbeat, slurmdbd, slurmrestd). Every answer is
the command's own output or error, so the checks (paracluster.diagnose.checks) can be tested on captured ones.
Standard library only: this runs inside nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HEARTBEAT = "/opt/slurm/etc/pcluster/.slurm_plugin/clustermgtd_heartbeat"  # ParallelCluster's path
BOOTSTRAP_ERROR = "/var/log/parallelcluster/bootstrap_error_msg"
DISK_PATHS = ("/", "/var/log", "/tmp", "/var/spool", "/home", "/opt/slurm")
TIMEOUT = 15


def _run(argv: list[str], stdin: str | None = None) -> dict:
    """A command's outcome: ok (exit 0), and its output or its error."""
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as err:
        return {"ok": False, "detail": str(err)}
    text = (result.stdout if result.returncode == 0 else result.stderr or result.stdout).strip()
    return {"ok": result.returncode == 0, "detail": text[-2000:]}


def _processes() -> list[tuple[str, list[str]]]:
    """(executable, command line) of every process of the node."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as source:
                    argv = [part.decode(errors="replace") for part in source.read().split(b"\0") if part]
                exe = os.readlink(f"/proc/{entry}/exe")
            except OSError:
                continue
            found.append((exe, argv))
    return found


def _is(process: tuple[str, list[str]], argv: list[str]) -> bool:
    """Whether a process is the daemon run by `argv`: `python -m MODULE` by its module, others by their executable
    (daemons such as sshd rewrite their command line)."""
    exe, cmdline = process
    if argv[1:2] == ["-m"]:
        return any(cmdline[i:i + 2] == argv[1:3] for i in range(len(cmdline) - 1))
    return exe == os.path.realpath(argv[0]) or cmdline[:1] == argv[:1]


def daemons(wanted: dict[str, list[str]]) -> dict[str, int]:
    """How many processes of each daemon run."""
    running = _processes()
    return {name: sum(1 for process in running if _is(process, argv)) for name, argv in wanted.items()}


def init_system() -> dict:
    """PID 1 of the node, and with systemd its state and failed units."""
    try:
        with open("/proc/1/comm") as source:
            comm = source.read().strip()
    except OSError:
        comm = "unknown"
    found = {"pid1": comm}
    if comm == "systemd":
        found["state"] = _run(["systemctl", "is-system-running"])["detail"]
        failed = _run(["systemctl", "list-units", "--failed", "--plain", "--no-legend"])
        found["failed_units"] = [line.split()[0] for line in failed["detail"].splitlines() if line.strip()]
    return found


def disks() -> list[dict]:
    """Space on the node's file systems (each once)."""
    seen, found = set(), []
    for path in DISK_PATHS:
        try:
            device = os.stat(path).st_dev
            stats = os.statvfs(path)
        except OSError:
            continue
        if device in seen or stats.f_blocks == 0:
            continue
        seen.add(device)
        found.append({"path": path, "used": (stats.f_blocks - stats.f_bfree) * stats.f_frsize,
                      "available": stats.f_bavail * stats.f_frsize})
    return found


def memory() -> dict:
    found = {}
    try:
        with open("/proc/meminfo") as source:
            for line in source:
                key, value = line.split(":", 1)
                if key in ("MemTotal", "MemAvailable"):
                    found[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    try:
        with open("/proc/pressure/memory") as source:
            for line in source:
                if line.startswith("full"):
                    found["psi_full_avg10"] = float(line.split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass
    return found


def _read(path: str) -> str | None:
    try:
        with open(path, errors="replace") as source:
            return source.read()[-4000:]
    except OSError:
        return None


def reachable(url: str) -> dict:
    """Whether an HTTP server answers at `url` (any status: slurmrestd answers 401 without a token)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - the cluster's own URL
            return {"ok": True, "detail": f"HTTP {answer.status}"}
    except urllib.error.HTTPError as err:
        return {"ok": True, "detail": f"HTTP {err.code}"}
    except (OSError, ValueError) as err:
        return {"ok": False, "detail": str(getattr(err, "reason", err))}


def probe(request: dict) -> dict:
    found: dict = {"time": time.time(), "init": init_system()}
    if request.get("decode_only") is not None:
        found["decodes"] = [_run(["unmunge"], credential) for credential in request["decode_only"]]
        return found
    found["daemons"] = daemons(request.get("daemons", {}))
    local = _run(["munge", "-n"])
    found["munge_local"] = _run(["unmunge"], local["detail"]) if local["ok"] else local
    if request.get("create_credential"):
        found["credential"] = local["detail"] if local["ok"] else None
    found["decodes"] = [_run(["unmunge"], credential) for credential in request.get("decode", [])]
    found["scontrol_ping"] = _run(["scontrol", "ping"])
    found["disks"] = disks()
    found["memory"] = memory()
    found["bootstrap_error"] = _read(BOOTSTRAP_ERROR)
    if request.get("head"):
        found["sinfo"] = _run(["sinfo", "-h", "-N", "-o", "%N|%T|%E"])
        found["squeue"] = _run(["squeue", "-h", "-t", "CF,CG", "-o", "%i|%T|%S|%e|%N"])
        found["heartbeat"] = _read(HEARTBEAT)
        if request.get("accounting"):
            found["accounting"] = _run(["sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"])
        if request.get("slurmrestd_url"):
            found["slurmrestd"] = reachable(request["slurmrestd_url"].rstrip("/") + "/openapi/v3")
    found["time_end"] = time.time()
    return found


def main() -> None:
    request = json.loads(sys.stdin.read() or "{}")
    sys.stdout.write(json.dumps(probe(request)) + "\n")


if __name__ == "__main__":
    main()

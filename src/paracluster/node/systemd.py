"""The node's services through systemd (its PID 1): start a unit and wait until the daemon is ready (stdlib only).

`systemctl start` of a Type=exec unit returns once the daemon's program runs; a daemon is ready for the next one only
when it listens, so each service also names what to wait for (a socket path, or `tcp:HOST:PORT`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

from paracluster.node.units import LOG_DIR, unit_name

SERVICE_READY_TIMEOUT = 30.0


class ServiceFailed(RuntimeError):
    """A service could not be started or did not become ready; str() is the reason with the log's last line."""


def systemctl(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=timeout)


def unit_state(unit: str) -> dict[str, str]:
    result = systemctl("show", "--property=ActiveState,SubState,Result,MainPID", unit)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


class SystemdServices:
    """Services of the spec as systemd units: ensure() starts one unless it is active, then waits for it."""

    def ensure(self, service: dict) -> bool:
        unit = unit_name(service["name"])
        if not service.get("oneshot") and unit_state(unit).get("ActiveState") == "active":
            return False
        self.start(service)
        return True

    def start(self, service: dict) -> None:
        name, unit = service["name"], unit_name(service["name"])
        timeout = service.get("timeout", SERVICE_READY_TIMEOUT)
        try:
            result = systemctl("start", unit, timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            raise ServiceFailed(f"{name} did not start within {timeout:.0f} s; see logs/{name}.log") from None
        if result.returncode != 0:
            what = "failed" if service.get("oneshot") else "could not be started"
            raise ServiceFailed(f"{name} {what}: {last_line(name) or result.stderr.strip()}")
        ready = service.get("ready")
        if ready:
            _wait_ready(name, unit, ready, timeout)

    def restart(self, service: dict) -> None:
        name, unit = service["name"], unit_name(service["name"])
        result = systemctl("restart", unit, timeout=service.get("timeout", SERVICE_READY_TIMEOUT) + 10)
        if result.returncode != 0:
            raise ServiceFailed(f"{name} could not be restarted: {last_line(name) or result.stderr.strip()}")
        if service.get("ready"):
            _wait_ready(name, unit, service["ready"], service.get("timeout", SERVICE_READY_TIMEOUT))


def _wait_ready(name: str, unit: str, ready: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    checks = 0
    while not is_ready(ready):
        checks += 1
        if checks % 10 == 0 and unit_state(unit).get("ActiveState") in ("failed", "inactive"):
            raise ServiceFailed(f"service {name} exited before it was ready: {last_line(name)}")
        if time.monotonic() > deadline:
            raise ServiceFailed(f"service {name} was not ready after {timeout:.0f} s ({ready})")
        time.sleep(0.01 if not ready.startswith("tcp:") else 0.05)


def is_ready(ready: str) -> bool:
    if not ready.startswith("tcp:"):
        return os.path.exists(ready)
    host, port = ready[len("tcp:"):].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def last_line(name: str) -> str:
    """The service log's last error line (or last line), so a failure reads without opening the log."""
    try:
        with open(os.path.join(LOG_DIR, f"{name}.log"), errors="replace") as log:
            lines = [line.strip() for line in log if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or [""])[-1][-300:]

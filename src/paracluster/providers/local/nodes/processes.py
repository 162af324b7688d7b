"""The local provider's own processes (node PID 1s, HAProxy, MariaDB, slurmdbd): recognised and stopped by PID.

A PID alone may have been reused by the time we look again, so a process counts as ours only while a string that
identifies it (its spec or config path, its data directory) is on its command line.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def runs_with(pid: int | None, needle: str) -> bool:
    """Whether process `pid` runs with `needle` on its command line."""
    if not pid:
        return False
    for _ in range(10):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        # While a process executes a new program (a node's PID 1 becoming systemd) its command line reads empty
        # for a moment: look again rather than call it gone. A zombie's stays empty: that one is gone.
        if cmdline or _state(pid) in ("Z", "X", ""):
            return needle.encode() in cmdline
        time.sleep(0.01)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def from_pid_file(pid_file: Path, needle: str) -> int | None:
    """The PID in `pid_file` if that process runs and `needle` is on its command line (it is ours)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if not cmdline:  # between fork and exec (or a zombie): judge by the process state
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            return pid if state != "Z" else None
    except (OSError, ValueError, IndexError):
        return None
    return pid if needle.encode() in cmdline else None


def stop(pid: int | None, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; reaps the process if it is our child."""
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass

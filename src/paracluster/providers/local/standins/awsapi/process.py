"""Each AWS stand-in runs as its own process of the host service: started, found again after a restart, stopped.

`start()` runs `python -m paracluster.providers.local.standins.awsapi.<module> --state-dir D --address A --port P --record R`.
The server binds first and then writes its record R (`{"pid", "address", "port"}`; port 0 lets the kernel choose),
so a record that names a live process of ours means the server accepts connections. The process has its own session
and outlives the host service, like the login pools' HAProxy; the record lets a restarted service find it again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import paracluster
from paracluster.errors import ClusterError
from paracluster.providers.local.host import commands as hostcmd
from paracluster.providers.local.nodes import processes

START_TIMEOUT = 15.0
_LOCKS: dict[str, threading.Lock] = {}  # per server name: the host service's threads must not start one twice
_LOCKS_GUARD = threading.Lock()


def run_dir(state_dir: Path) -> Path:
    """Where the stand-ins keep their records, logs and private data: `<state_dir>/awsapi` (root only)."""
    path = Path(state_dir) / "awsapi"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def record_path(state_dir: Path, name: str) -> Path:
    return run_dir(state_dir) / f"{name}.json"


def running(state_dir: Path, name: str) -> dict | None:
    """The record of server `name` if its process is alive and ours, else None."""
    path = record_path(state_dir, name)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if processes.runs_with(record.get("pid"), str(path)) else None


def start(module: str, name: str, state_dir: Path, address: str, port: int) -> dict:
    """Start server `name` (module `module`) on address:port unless it already runs there; return its record.

    A server that runs on another address or port is replaced. Port 0 reuses the port of the last record of this
    name if there is one (clients keep the URL they were given), else lets the kernel choose.
    """
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(f"{state_dir}/{name}", threading.Lock())
    with lock:
        return _start(module, name, Path(state_dir), address, port)


def _start(module: str, name: str, state_dir: Path, address: str, port: int) -> dict:
    path = record_path(state_dir, name)
    current = running(state_dir, name)
    if current and current["address"] == address and (port in (0, current["port"])):
        return current
    stop(state_dir, name)
    if port == 0:
        try:
            port = int(json.loads(path.read_text()).get("port", 0))
        except (OSError, ValueError):
            port = 0
    path.unlink(missing_ok=True)
    log_path = run_dir(state_dir) / f"{name}.log"
    argv = [sys.executable, "-m", f"paracluster.providers.local.standins.awsapi.{module}", "--state-dir", str(state_dir),
            "--address", address, "--port", str(port), "--record", str(path)]
    # The same code as the caller's, wherever that comes from (an installed package or a checkout).
    env = {"PATH": hostcmd.PATH, "LANG": "C.UTF-8", "PYTHONPATH": str(Path(paracluster.__file__).parents[1])}
    with open(log_path, "ab") as log:
        proc = hostcmd.spawn(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             close_fds=True, cwd="/", env=env)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            record = running(state_dir, name)
            if record and record.get("pid") == proc.pid:
                return record
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                tail = log_path.read_text(errors="replace").strip().splitlines()[-2:]
                raise ClusterError(f"failed to start the {module} server on {address}:{port}: "
                                   f"{' / '.join(tail) or 'no output'} (log: {log_path})")
            time.sleep(0.01)
    finally:
        hostcmd.release(proc)  # from now on the host service's reaper reaps it when it ends


def stop(state_dir: Path, name: str) -> None:
    """Stop server `name` if it runs (its record stays, so a later start reuses the port)."""
    record = running(state_dir, name)
    if record:
        processes.stop(record["pid"], timeout=5)


def server_arguments(description: str) -> argparse.Namespace:
    """The command line every stand-in takes (see `start`); sets up logging to standard error (the log file)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, required=True)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return parser.parse_args()


def announce(record_file: Path, address: str, port: int) -> None:
    """Called by a server once it listens: write its record atomically (what `start` waits for)."""
    temporary = record_file.with_name(record_file.name + ".tmp")
    temporary.write_text(json.dumps({"pid": os.getpid(), "address": address, "port": port}))
    os.replace(temporary, record_file)


def run_http_server(description: str, make_server) -> None:
    """The main program of an HTTP stand-in: `make_server(state_dir, address, port)` builds it; serve until killed."""
    args = server_arguments(description)
    server = make_server(args.state_dir, args.address, args.port)
    announce(args.record, args.address, server.server_address[1])
    server.serve_forever()

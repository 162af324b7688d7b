"""The login nodes' load balancer on the local provider: one HAProxy per cluster, a TCP frontend per login pool.

ParallelCluster puts a Network Load Balancer (TCP 22, health-checked) in front of each login pool; locally HAProxy
listens on the host's address of the cluster bridge, one port per pool, and checks each login node's sshd. The
extra ports of the setting `login_extra_ports` get a frontend each, forwarded to and health-checked on the same port
of the pool's nodes; the balancer listens on that port too unless the host's address has it taken. The process
belongs to the host service (found again by PID and config path after a restart) and goes with the cluster.
"""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import time
from pathlib import Path

from paracluster.errors import ClusterError
from paracluster.providers.local.nodes import processes
from paracluster.providers.local.host import commands as hostcmd

FIRST_PORT = 2222  # port 22 of the host address is tried first; sshd on 0.0.0.0 usually has it
CHECK_INTERVAL_MS = 1000


def render_config(pools: dict[str, list[tuple[str, str]]], listen: dict[str, tuple[str, int]], run_dir: Path,
                  extra: dict[str, list[tuple[int, int]]] | None = None) -> str:
    """HAProxy's configuration: {pool: [(node name, address)]}, {pool: (address, port)} and the extra ports
    {pool: [(node port, listening port)]} -> text. Pure."""
    lines = [
        "# Written by ParaCluster: the login pools' load balancer (ParallelCluster's Network Load Balancer).",
        "global",
        "    maxconn 1024",
        f"    stats socket {run_dir}/haproxy.sock mode 600 level admin",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 12h",
        "    timeout server 12h",
    ]
    for pool, nodes in pools.items():
        address, port = listen[pool]
        lines += ["", f"frontend login-{pool}", f"    bind {address}:{port}", f"    default_backend login-{pool}",
                  "", f"backend login-{pool}", "    balance roundrobin"]
        lines += [f"    server {name} {ip}:22 check inter {CHECK_INTERVAL_MS} fall 2 rise 1" for name, ip in nodes]
        # Extra ports: proxies named extra-*, which the pool's health counts (its sshd) leave out.
        for target, port in (extra or {}).get(pool, []):
            proxy = f"extra-{pool}-{target}"
            lines += ["", f"frontend {proxy}", f"    bind {address}:{port}", f"    default_backend {proxy}",
                      "", f"backend {proxy}", "    balance roundrobin"]
            lines += [f"    server {name} {ip}:{target} check inter {CHECK_INTERVAL_MS} fall 2 rise 1"
                      for name, ip in nodes]
    return "\n".join(lines) + "\n"


def _free_port(address: str, taken: set[int], wanted: int = 22) -> int:
    for port in [wanted, *range(FIRST_PORT, FIRST_PORT + 200)]:
        if port in taken:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                continue
            return port
    raise ClusterError(f"failed to find a free port on {address} for a login pool's load balancer")


def assign_ports(listen: dict, pools: list[str], extra_ports: dict[str, list[int]], address: str, free_port) -> None:
    """Give each pool a port for ssh and one per extra port ({"target", "port"} in the setting's order), in `listen`.

    Ports already given are kept (clients keep their addresses across restarts and updates); extra ports no longer
    asked for are dropped. `free_port(taken, wanted)` picks a port the host's address has free, `wanted` first.
    """
    taken = {entry["port"] for entry in listen.values()}
    taken |= {item["port"] for entry in listen.values() for item in entry.get("extra", [])}
    for pool in pools:
        if pool not in listen:
            port = free_port(taken, 22)
            taken.add(port)
            listen[pool] = {"address": address, "port": port}
        entry = listen[pool]
        kept = {item["target"]: item["port"] for item in entry.get("extra", [])}
        wanted = extra_ports.get(pool, [])
        taken -= {port for target, port in kept.items() if target not in wanted}
        for target in wanted:
            if target not in kept:
                kept[target] = free_port(taken, target)
                taken.add(kept[target])
        entry["extra"] = [{"target": target, "port": kept[target]} for target in wanted]


def ensure(record, cluster_dir: Path, gateway: str, extra_ports: dict[str, list[int]] | None = None) -> dict | None:
    """Start (or keep) the cluster's HAProxy for its login pools and their `extra_ports` ({pool: [port]}); record
    and return {pool: {address, port, extra: [{"target", "port"}]}}."""
    pools: dict[str, list[tuple[str, str]]] = {}
    for node in record.nodes.values():
        if node.node.node_type == "LoginNode":
            pools.setdefault(node.node.pool, []).append((node.name, node.address))
    if not pools:
        return None
    if record.load_balancer is None:
        record.load_balancer = {"pid": None, "listen": {}}
    balancer = record.load_balancer
    run_dir = cluster_dir / "loadbalancer"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    config_path = run_dir / "haproxy.cfg"
    assign_ports(balancer["listen"], list(pools), extra_ports or {}, gateway,
                 lambda taken, wanted: _free_port(gateway, taken, wanted))
    listen = {pool: (entry["address"], entry["port"]) for pool, entry in balancer["listen"].items()}
    extra = {pool: [(item["target"], item["port"]) for item in entry.get("extra", [])]
             for pool, entry in balancer["listen"].items()}
    text = render_config(pools, listen, run_dir, extra)
    if processes.runs_with(balancer["pid"], str(config_path)) and config_path.exists() and config_path.read_text() == text:
        return balancer["listen"]
    stop(record, cluster_dir)
    config_path.write_text(text)
    check = hostcmd.run(["haproxy", "-c", "-q", "-f", str(config_path)])
    if check.returncode != 0:
        raise ClusterError(f"failed to configure the login load balancer: {check.stderr.strip()[-300:]}")
    with open(run_dir / "haproxy.log", "ab") as log:
        proc = hostcmd.spawn(["haproxy", "-db", "-f", str(config_path)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 5
    try:
        while not (run_dir / "haproxy.sock").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                tail = (run_dir / "haproxy.log").read_text(errors="replace").strip().splitlines()[-2:]
                raise ClusterError(f"failed to start the login load balancer: {' / '.join(tail) or 'no output'}")
            time.sleep(0.02)
    finally:
        hostcmd.release(proc)  # from now on the service's reaper reaps it when it ends
    balancer["pid"] = proc.pid
    return balancer["listen"]


def stop(record, cluster_dir: Path) -> None:
    """Stop the cluster's HAProxy (by its recorded PID, if it is still ours)."""
    balancer = record.load_balancer or {}
    config_path = cluster_dir / "loadbalancer" / "haproxy.cfg"
    pid = balancer.get("pid")
    if processes.runs_with(pid, str(config_path)):
        processes.stop(pid, timeout=3)
    (cluster_dir / "loadbalancer" / "haproxy.sock").unlink(missing_ok=True)
    if balancer:
        balancer["pid"] = None


def health(cluster_dir: Path) -> dict[str, dict[str, int]]:
    """{pool: {"healthy": n, "unhealthy": m}} from HAProxy's own checks (its stats socket); {} if it is not up."""
    path = cluster_dir / "loadbalancer" / "haproxy.sock"
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(2)
            conn.connect(str(path))
            conn.sendall(b"show stat\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    except OSError:
        return {}
    counts: dict[str, dict[str, int]] = {}
    for row in csv.DictReader(io.StringIO(data.decode().lstrip("# "))):
        proxy, server = row.get("pxname", ""), row.get("svname", "")
        if proxy.startswith("login-") and server not in ("FRONTEND", "BACKEND"):
            entry = counts.setdefault(proxy[len("login-"):], {"healthy": 0, "unhealthy": 0})
            entry["healthy" if row.get("status", "").startswith("UP") else "unhealthy"] += 1
    return counts

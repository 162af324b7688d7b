"""Accounting databases of the local provider: one real MariaDB server per Database Uri, owned by the host service.

Each server runs in its own network namespace `paracluster-db-<hash>` (nodes have no route out, and the host does
not forward packets); a cluster that uses it gets a veth pair from that namespace to its bridge, holding the
subnet's last usable address, and its nodes' /etc/hosts map the Uri's host name to that address. The data
directory, `<state_dir>/databases/<id>/data`, outlives clusters and host service restarts until `databases delete`.
mariadbd runs as root: the state directory is root-only (mode 0700), so the mysql user could not reach its data.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from paracluster.errors import BadRequestError, ClusterError, ConflictError, NotFoundError
from paracluster.providers.local.nodes import network, processes
from paracluster.providers.local.host import commands as hostcmd

DEFAULT_PORT = 3306
MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "/usr/bin/mariadb-install-db"
CLIENT = "/usr/bin/mariadb"
START_TIMEOUT = 60.0
# The smallest values slurmdbd accepts without a warning (several servers may share one machine).
SERVER_OPTIONS = ["--innodb-buffer-pool-size=128M", "--innodb-log-file-size=64M", "--skip-name-resolve",
                  "--max-connections=200", "--innodb-lock-wait-timeout=900"]
_USER = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def parse_uri(uri: str) -> tuple[str, int]:
    """(host, port) of a Database Uri, read as ParallelCluster reads it: no scheme, port 3306 when absent."""
    text = (uri or "").strip()
    parsed = urlparse(text)
    if not parsed.netloc:
        parsed = urlparse("//" + text)
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if not host or parsed.scheme or parsed.path not in ("", "/"):
        raise BadRequestError(f"'{uri}' is not a database address; give it as HOST or HOST:PORT")
    return host, port or DEFAULT_PORT


def database_id(uri: str) -> str:
    host, port = parse_uri(uri)
    return f"{host}-{port}"


def _lock(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def sql_string(value: str) -> str:
    """A SQL string literal (the client reads statements from standard input, never from the command line)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def attachment_address(subnet: str, slot: int = 0) -> str:
    """The address a database (or slurmdbd) namespace takes on a cluster subnet: the last usable ones."""
    network_ = ipaddress.ip_network(subnet)
    return str(network_.broadcast_address - 1 - slot)


class Namespace:
    """A network namespace of the local provider that joins cluster bridges through veths (database, slurmdbd)."""

    def __init__(self, name: str):
        self.name = name

    @property
    def path(self) -> str:
        return str(network.NETNS_DIR / self.name)

    def create(self) -> None:
        if not os.path.exists(self.path):
            network.run(["ip", "netns", "add", self.name])
        network.run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        # An address besides loopback: getaddrinfo(AI_ADDRCONFIG) finds no IPv4 without one, and slurmdbd then
        # cannot listen while no cluster is attached yet.
        inside = ["ip", "-n", self.name]
        # (A veth pair inside the namespace: not every kernel has dummy links.)
        if "pclself0" not in network.run(inside + ["-o", "link", "show"]).stdout:
            network.run(inside + ["link", "add", "pclself0", "type", "veth", "peer", "name", "pclself1"])
        if "169.254.187.1/32" not in network.run(inside + ["-4", "-o", "addr", "show", "dev", "pclself0"]).stdout:
            network.run(inside + ["addr", "add", "169.254.187.1/32", "dev", "pclself0"])
        for link in ("pclself0", "pclself1"):
            network.run(inside + ["link", "set", link, "up"])

    def delete(self) -> None:
        if os.path.exists(self.path):
            network.run(["ip", "netns", "del", self.name], check=False)

    def listening(self, port: int) -> bool:
        """Whether something listens on TCP `port` in the namespace (read from ss's output, not its exit code)."""
        result = network.run(["ip", "netns", "exec", self.name, "ss", "-H", "-l", "-t", "-n"], check=False)
        return any(line.split()[3].endswith(f":{port}") for line in result.stdout.splitlines() if len(line.split()) > 3)

    def attach(self, record, slot: int = 0) -> str:
        """Join the cluster's bridge (idempotent); return the namespace's address on the cluster network."""
        index, subnet = record.network.index, record.network.subnet
        host_end, inner_end = attachment_veth(index), f"pcl{index}"
        address = attachment_address(subnet, slot)
        if address in {node.address for node in record.nodes.values()}:
            raise ClusterError(f"the cluster network {subnet} has no spare address for the database; "
                               "lower MaxCount or the setting local.cluster_prefix_length")
        prefix = subnet.split("/")[1]
        if not network.link_exists(host_end):
            network.run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", inner_end,
                         "netns", self.name])
        network.run(["ip", "link", "set", host_end, "master", network.bridge_name(index), "up"])
        inside = ["ip", "-n", self.name]
        if f"{address}/" not in network.run(inside + ["-4", "-o", "addr", "show", "dev", inner_end]).stdout:
            network.run(inside + ["addr", "add", f"{address}/{prefix}", "dev", inner_end])
        network.run(inside + ["link", "set", inner_end, "up"])
        return address


def attachment_veth(net_index: int) -> str:
    """Host end of the veth joining a cluster (bridge pclbr<N>) to its database or slurmdbd namespace."""
    return f"pcld{net_index}"


def detach(record) -> None:
    """Remove the cluster's veth to a database or slurmdbd namespace (its peer goes with it)."""
    if record.network is not None and network.link_exists(attachment_veth(record.network.index)):
        network.run(["ip", "link", "del", attachment_veth(record.network.index)], check=False)


class DatabaseServer:
    """The MariaDB server of one Uri under one state directory."""

    def __init__(self, state_dir: Path, uri: str):
        self.uri = uri
        self.host, self.port = parse_uri(uri)
        self.id = f"{self.host}-{self.port}"
        self.dir = Path(state_dir) / "databases" / self.id
        digest = hashlib.sha256(f"{Path(state_dir).resolve()}/{self.id}".encode()).hexdigest()[:10]
        self.namespace = Namespace(f"paracluster-db-{digest}")

    @classmethod
    def by_id(cls, state_dir: Path, db_id: str) -> DatabaseServer:
        info = json.loads((Path(state_dir) / "databases" / db_id / "server.json").read_text())
        return cls(state_dir, info["uri"])

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def socket(self) -> Path:
        return self.dir / "mysqld.sock"

    @property
    def pid_file(self) -> Path:
        # Ours, not mariadbd's --pid-file (which it rewrites while starting).
        return self.dir / "server.pid"

    def pid(self) -> int | None:
        return processes.from_pid_file(self.pid_file, str(self.data))

    def lock(self) -> threading.Lock:
        return _lock(str(self.dir))

    def ensure_running(self) -> None:
        """Initialise the server on first use and start it unless it runs (idempotent)."""
        for program in (MARIADBD, INSTALL_DB, CLIENT):
            if not os.path.exists(program):
                raise ClusterError(f"failed to start the database {self.uri}: {program} is missing; install "
                                   "mariadb-server (scripts/install-deps.sh does)")
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.dir / "server.json").write_text(json.dumps({"uri": self.uri, "host": self.host, "port": self.port}))
        self.namespace.create()
        if not (self.data / ".paracluster-initialised").exists():
            self._initialise()
        if self.pid() is None:
            self._start()
        self._wait_ready()

    def _initialise(self) -> None:
        staging = self.dir / "data.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(self.data, ignore_errors=True)
        with open(self.dir / "install.log", "ab") as log:
            result = hostcmd.run(
                [INSTALL_DB, "--no-defaults", f"--datadir={staging}", "--user=root",
                 "--auth-root-authentication-method=socket", "--skip-test-db", *SERVER_OPTIONS],
                stdout=log, stderr=log, timeout=120)
        if result.returncode != 0 or not (staging / "mysql").is_dir():
            raise ClusterError(f"failed to initialise the database {self.uri}: mariadb-install-db failed; see "
                               f"{self.dir / 'install.log'}")
        (staging / ".paracluster-initialised").touch()
        staging.rename(self.data)

    def _start(self) -> None:
        self.socket.unlink(missing_ok=True)
        argv = ["nsenter", f"--net={self.namespace.path}", MARIADBD, "--no-defaults", f"--datadir={self.data}",
                "--user=root", f"--socket={self.socket}", f"--pid-file={self.dir / 'mysqld.pid'}",
                f"--port={self.port}",
                "--bind-address=0.0.0.0", f"--log-error={self.dir / 'mariadb.log'}", *SERVER_OPTIONS]
        with open(self.dir / "mariadb.out", "ab") as log:
            process = hostcmd.spawn(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, close_fds=True)
        hostcmd.release(process)  # a long-lived server: the reaper reaps it when it ends
        # nsenter execs mariadbd, so this is the server's PID; the pid file is written once it is up.
        self.pid_file.write_text(f"{process.pid}\n")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.socket.exists() and self.query("SELECT 42").strip() == "42":
                return
            if self.pid() is None:
                raise ClusterError(f"failed to start the database {self.uri}: mariadbd stopped; see "
                                   f"{self.dir / 'mariadb.log'}")
            if time.monotonic() > deadline:
                raise ClusterError(f"failed to start the database {self.uri}: not ready after {START_TIMEOUT:.0f} "
                                   f"s; see {self.dir / 'mariadb.log'}")
            time.sleep(0.2)

    def query(self, sql: str) -> str:
        """Run SQL as the server's root (over its unix socket); the statements go on standard input."""
        result = hostcmd.run([CLIENT, "--no-defaults", f"--socket={self.socket}", "-u", "root", "-N", "-B"],
                             input=sql, timeout=60)
        if result.returncode != 0 and result.stderr.strip():
            raise ClusterError(f"failed to query the database {self.uri}: {result.stderr.strip().splitlines()[-1]}")
        return result.stdout

    def ensure_user(self, user: str, password: str) -> None:
        """Create the user with the password on first use; later users of the server must present the same one."""
        if not _USER.match(user):
            raise BadRequestError(f"Scheduling/SlurmSettings/Database/UserName '{user}' is not supported by the "
                                  "local provider; use letters, digits, '_', '.' or '-'")
        name = sql_string(user)
        found = self.query(f"SELECT authentication_string = PASSWORD({sql_string(password)}) FROM mysql.user "
                           f"WHERE User = {name} AND Host = '%';").strip()
        if found == "1":
            return
        if found == "0":
            raise ClusterError(
                f"failed to connect to the database {self.uri}: the password in PasswordSecretArn is not the one "
                f"of database user '{user}'; store the right one with `paracluster secrets put ARN`"
            )
        self.query(f"CREATE USER {name}@'%' IDENTIFIED BY {sql_string(password)};\n"
                   f"GRANT ALL PRIVILEGES ON *.* TO {name}@'%';\nFLUSH PRIVILEGES;\n")

    def stop(self) -> None:
        processes.stop(self.pid())

    def delete(self, users: list[str]) -> None:
        if users:
            raise ConflictError(f"the database {self.uri} is used by cluster(s) {', '.join(users)}; delete them "
                                "first")
        with self.lock():
            self.stop()
            self.namespace.delete()
            shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self, users: list[str]) -> dict:
        return {"uri": f"{self.host}:{self.port}", "state": "running" if self.pid() else "stopped",
                "clusters": users, "dataDir": str(self.data), "namespace": self.namespace.name}


def list_ids(state_dir: Path) -> list[str]:
    root = Path(state_dir) / "databases"
    return sorted(p.parent.name for p in root.glob("*/server.json")) if root.is_dir() else []


def find(state_dir: Path, uri: str) -> DatabaseServer:
    server = DatabaseServer(state_dir, uri)
    if not (server.dir / "server.json").exists():
        raise NotFoundError(f"no local database serves {uri}; see `paracluster databases list`")
    return server

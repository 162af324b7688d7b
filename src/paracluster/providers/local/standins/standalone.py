"""Standalone slurmdbd servers of the local provider, for clusters with Scheduling/SlurmSettings/ExternalSlurmdbd.

A standalone slurmdbd (with a munged of its own, sharing the clusters' MungeKeySecretArn key) runs in the network
namespace of its database and stores into it over 127.0.0.1; clusters that name its Host reach it there like the
database. Its files live under `<state_dir>/slurmdbds/<host>-<port>/`; it runs in a private mount namespace where
that directory is /etc/slurm (slurmdbd drops to the slurm user, who cannot enter the root-only state directory).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

from paracluster.errors import BadRequestError, ClusterError, NotFoundError
from paracluster.providers.local.standins import database, secrets
from paracluster.providers.local.nodes import processes
from paracluster.providers.local.standins.accounting import munge_key
from paracluster.slurm import slurmdbd
from paracluster.providers.local.host import commands as hostcmd

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
START_TIMEOUT = 60.0
RUN_SCRIPT = """#!/bin/sh
# A standalone slurmdbd of ParaCluster: private mounts, its own munged, then slurmdbd in the foreground.
set -e
mount --make-rprivate /
mount --bind "{dir}/etc" /etc/slurm
mount --bind "{dir}/munge" /etc/munge
mount --bind "{dir}/passwd" /etc/passwd
mount --bind "{dir}/group" /etc/group
mount -t tmpfs -o mode=0755 paracluster-slurmdbd /run
mkdir -p /run/munge && chown munge:munge /run/munge
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F --key-file=/etc/munge/munge.key \\
    --log-file=/etc/munge/munged.log --seed-file=/etc/munge/munged.seed &
echo $! > "{dir}/munged.pid"
i=0
until [ -S /run/munge/munge.socket.2 ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done
exec /usr/sbin/slurmdbd -D
"""


class Slurmdbd:
    """One standalone slurmdbd, named by the Host and Port clusters give in ExternalSlurmdbd."""

    def __init__(self, state_dir: Path, host: str, port: int):
        if not _HOST.match(host or ""):
            raise BadRequestError(f"--host '{host}' is not a host name")
        if not 1 <= int(port) <= 65535:
            raise BadRequestError(f"--port {port} is out of range; use 1 to 65535")
        self.state_dir = Path(state_dir)
        self.host, self.port = host, int(port)
        self.id = f"{host}-{self.port}"
        self.dir = self.state_dir / "slurmdbds" / self.id

    @property
    def info(self) -> dict:
        return json.loads((self.dir / "slurmdbd.json").read_text())

    @property
    def database_id(self) -> str:
        return database.database_id(self.info["databaseUri"])

    def lock(self):
        return database._lock(str(self.dir))

    def namespace(self) -> database.Namespace:
        return database.DatabaseServer(self.state_dir, self.info["databaseUri"]).namespace

    def pid(self) -> int | None:
        return processes.from_pid_file(self.dir / "slurmdbd.pid", "slurmdbd")

    def create(self, uri: str, user: str, password_arn: str, munge_arn: str, database_name: str | None) -> None:
        if (self.dir / "slurmdbd.json").exists():
            raise BadRequestError(f"slurmdbd {self.host}:{self.port} exists already; delete it first")
        database.parse_uri(uri)
        secrets.get(self.state_dir, password_arn, "--password-secret-arn")
        munge_key(self.state_dir, munge_arn)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.dir / "slurmdbd.json").write_text(json.dumps({
            "host": self.host, "port": self.port, "databaseUri": uri, "databaseUser": user,
            "passwordSecretArn": password_arn, "mungeKeySecretArn": munge_arn,
            "databaseName": database_name or "slurm_acct_db"}))
        try:
            self.ensure_running()
        except ClusterError:
            self.delete()
            raise

    def ensure_running(self) -> None:
        info = self.info
        server = database.DatabaseServer(self.state_dir, info["databaseUri"])
        password = secrets.get(self.state_dir, info["passwordSecretArn"], "the slurmdbd's password secret")
        with server.lock():
            server.ensure_running()
            server.ensure_user(info["databaseUser"], password)
        self._write_files(server, password, munge_key(self.state_dir, info["mungeKeySecretArn"]))
        if self.pid() is None:
            self._start(server)
        self._wait_ready(server)

    def _write_files(self, server: database.DatabaseServer, password: str, key: bytes) -> None:
        slurm, munge = pwd.getpwnam("slurm"), pwd.getpwnam("munge")
        etc, munge_dir = self.dir / "etc", self.dir / "munge"
        for path, owner in ((etc, slurm), (munge_dir, munge)):
            path.mkdir(exist_ok=True)
            os.chown(path, owner.pw_uid, owner.pw_gid)
            path.chmod(0o700)
        inp = slurmdbd.SlurmdbdInput(
            dbd_host="localhost", storage_host="127.0.0.1", storage_port=server.port,
            storage_loc=self.info["databaseName"], storage_user=self.info["databaseUser"], storage_pass=password,
            conf_dir="/etc/slurm", log_file="/etc/slurm/slurmdbd.log", pid_file="/etc/slurm/slurmdbd.pid",
            dbd_port=self.port, external=True)
        for name, text in (("slurmdbd.conf", slurmdbd.slurmdbd_conf(inp)),
                           (slurmdbd.EXTERNAL_SETTINGS_FILE, slurmdbd.settings_conf(inp))):
            _private(etc / name, text.encode(), slurm, 0o600)
        # slurmdbd reads slurm.conf for the communication settings (which address family to listen on).
        _private(etc / "slurm.conf", b"# for slurmdbd's communication settings only\nClusterName=paracluster-slurmdbd\n"
                 b"SlurmctldHost=localhost\nSlurmUser=slurm\n", slurm, 0o644)
        _private(munge_dir / "munge.key", key, munge, 0o400)
        # Its own user database: the host's, plus the default users of the clusters that report to it (slurmdbd
        # names a job's user from its uid, and a cluster's default user may exist only in that cluster's nodes).
        for name in ("passwd", "group"):
            if not (self.dir / name).exists():
                shutil.copyfile(f"/etc/{name}", self.dir / name)
        (self.dir / "run.sh").write_text(RUN_SCRIPT.format(dir=self.dir))

    def know_user(self, user) -> bool:
        """Add a cluster's default user to this slurmdbd's user database (in place: the file is bind-mounted);
        whether it was new."""
        added = False
        for name, line in (("passwd", f"{user.name}:x:{user.uid}:{user.gid}::/nonexistent:/usr/sbin/nologin"),
                           ("group", f"{user.name}:x:{user.gid}:")):
            path = self.dir / name
            if path.exists() and not any(entry.split(":", 1)[0] == user.name
                                         for entry in path.read_text().splitlines()):
                with open(path, "a") as out:
                    out.write(line + "\n")
                added = True
        return added

    def _start(self, server: database.DatabaseServer) -> None:
        argv = ["nsenter", f"--net={server.namespace.path}", "unshare", "--mount", "--", "sh", str(self.dir / "run.sh")]
        with open(self.dir / "slurmdbd.out", "ab") as log:
            process = hostcmd.spawn(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, close_fds=True)
        hostcmd.release(process)  # a long-lived server: the reaper reaps it when it ends
        (self.dir / "slurmdbd.pid").write_text(f"{process.pid}\n")

    def _wait_ready(self, server: database.DatabaseServer) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.namespace.listening(self.port) and self.pid():
                return
            if self.pid() is None or time.monotonic() > deadline:
                log = self.dir / "etc" / "slurmdbd.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                raise ClusterError(f"failed to start slurmdbd {self.host}:{self.port}: "
                                   f"{tail[0] if tail else 'see ' + str(self.dir / 'slurmdbd.out')}")
            time.sleep(0.2)

    def stop(self) -> None:
        processes.stop(self.pid())
        processes.stop(processes.from_pid_file(self.dir / "munged.pid", "munged"))

    def delete(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def describe(self, users: list[str]) -> dict:
        info = self.info
        return {"host": self.host, "port": self.port, "state": "running" if self.pid() else "stopped",
                "databaseUri": info["databaseUri"], "clusters": users}


def _private(path: Path, content: bytes, owner, mode: int) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)
    os.chown(path, owner.pw_uid, owner.pw_gid)
    path.chmod(mode)


def list_all(state_dir: Path) -> list[Slurmdbd]:
    root = Path(state_dir) / "slurmdbds"
    found = []
    for info in sorted(root.glob("*/slurmdbd.json")) if root.is_dir() else []:
        data = json.loads(info.read_text())
        found.append(Slurmdbd(state_dir, data["host"], data["port"]))
    return found


def find(state_dir: Path, host: str, port: int) -> Slurmdbd:
    dbd = Slurmdbd(state_dir, host, port)
    if not (dbd.dir / "slurmdbd.json").exists():
        raise NotFoundError(f"no local slurmdbd serves {host}:{port} (Scheduling/SlurmSettings/ExternalSlurmdbd); "
                            f"start one with `paracluster slurmdbd create --host {host} --port {port} ...`")
    return dbd

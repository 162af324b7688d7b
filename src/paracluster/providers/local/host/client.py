"""Talk to the local provider's host service, starting it on demand; its errors come back as ParaCluster errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from paracluster import errors, rpc
from paracluster.errors import ClusterError
from paracluster.providers.local.nodes.runtime import code_digest
from paracluster.settings import Settings

SOCKET_NAME = "service.sock"
START_TIMEOUT = 15.0


class ServiceClient:
    """A connection to the host service of one state directory."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.state = settings.state_path
        self.socket_path = self.state / SOCKET_NAME
        self._checked = False

    def call(self, op: str, **args) -> object:
        """Send one request and return its result; raise the error the service reported."""
        with self._connect() as connection:
            answer = rpc.exchange(connection, op, args)
        if answer is None:
            raise ClusterError(f"failed to {op.replace('_', ' ')}: the host service closed the connection; "
                               f"see {self.state / 'service.log'}")
        if answer["ok"]:
            return answer["result"]
        raise errors.rebuild(answer["error"]["type"], answer["error"]["message"])

    def _connect(self) -> socket.socket:
        try:
            connection = self._open()
        except OSError:
            self.start_service()
            return self._open()
        if not self._checked:
            self._checked = True
            if self._ping(connection).get("codeDigest") != code_digest():
                # The service runs older (or newer) code than this CLI: replace it. Nodes outlive the service and
                # work under way resumes, so this loses nothing.
                self.stop_service()
                self.start_service()
            return self._open()
        return connection

    @staticmethod
    def _ping(connection: socket.socket) -> dict:
        """The running service's ping answer (pid, code digest); the connection is used up."""
        with connection:
            answer = rpc.exchange(connection, "ping") or {}
        return answer.get("result") or {}

    def _open(self) -> socket.socket:
        return rpc.connect(str(self.socket_path))

    def start_service(self) -> None:
        """Start the host service in its own session (it outlives this process) and wait for its socket."""
        if os.geteuid() != 0:
            raise ClusterError("the local provider needs root (it creates namespaces, bridges and mounts); "
                               "run paracluster as root")
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.state / "service.out", "ab")
        from paracluster.providers.local.nodes.runtime import node_pythonpath

        # The node runtime copy the service will use is in its environment from its first instant: that is how a
        # prune by another host service (of any version) sees that this copy is in use.
        env = dict(os.environ, PARACLUSTER_STATE_DIR=str(self.state), PARACLUSTER_NODE_RUNTIME=node_pythonpath())
        subprocess.Popen([sys.executable, "-m", "paracluster.providers.local.host.service"], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True, env=env, close_fds=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                self._open().close()
                return
            except OSError:
                time.sleep(0.05)
        raise ClusterError(f"failed to start the host service within {START_TIMEOUT:.0f} s; "
                           f"see {self.state / 'service.log'} and {self.state / 'service.out'}")

    def stop_service(self, timeout: float = 10.0) -> None:
        """Stop the running host service (its nodes keep running); used by tests and `paracluster service stop`."""
        try:
            connection = self._open()
        except OSError:
            return  # not running
        pid = self._ping(connection).get("pid")
        if pid is None:
            return
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

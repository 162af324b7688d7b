"""The protocol between ParaCluster's processes: one JSON request per line on a unix socket, one JSON answer per line.

Requests are `{"op": name, "args": {...}}`; answers `{"ok": true, "result": ...}` or
`{"ok": false, "error": {"type": ClusterError subclass name, "message": sentence}}`. The CLI talks to the host
service this way, and the head node's programs to their cluster's fleet. Standard library only (it runs on nodes).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver

from paracluster.errors import ClusterError


def exchange(connection: socket.socket, op: str, args: dict | None = None) -> dict | None:
    """Send one request on a connected socket and return the answer, or None if the peer closed the connection."""
    with connection.makefile("rwb") as stream:
        stream.write((json.dumps({"op": op, "args": args or {}}) + "\n").encode())
        stream.flush()
        line = stream.readline()
    return json.loads(line) if line else None


def connect(path: str, timeout: float | None = None) -> socket.socket:
    """A connection to the unix socket at `path` (OSError if nobody listens)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


class _Handler(socketserver.StreamRequestHandler):
    """Answers each request line by calling the allowed method of the server's target."""

    def handle(self) -> None:
        server: Server = self.server  # type: ignore[assignment]
        for line in self.rfile:
            try:
                request = json.loads(line)
                op = request.get("op")
                if op not in server.allowed:
                    raise ClusterError(f"unknown {server.label} request '{op}'")
                answer = {"ok": True, "result": getattr(server.target, op)(**request.get("args", {}))}
            except ClusterError as err:
                answer = {"ok": False, "error": {"type": type(err).__name__, "message": str(err)}}
            except Exception as err:  # noqa: BLE001 - the caller gets a sentence; the log keeps the traceback
                server.log.exception("%s request failed", server.label)
                answer = {"ok": False, "error": {"type": "ClusterError", "message": f"{server.label} error: {err}"}}
            self.wfile.write((json.dumps(answer) + "\n").encode())
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves `target`'s methods named in `allowed` on the unix socket at `path`, one thread per connection."""

    daemon_threads = True

    def __init__(self, path: str, target: object, allowed: frozenset[str], label: str, log: logging.Logger):
        super().__init__(str(path), _Handler)
        self.target, self.allowed, self.label, self.log = target, allowed, label, log

"""The IMDS server: one process for every node, answering at 169.254.169.254:80 inside each node's network namespace.

Per node it holds one listening socket created inside the node's namespace (nsnet.listen_in), next to a local route
for the address there; the socket a connection arrives on says which node asks, so no source address is trusted and
nothing is added to the host's network: on the host, 169.254.169.254 stays the machine's. A node costs one socket and
its record. Callers register and unregister nodes over a unix socket (`<state_dir>/awsapi/imds/control.sock`);
records are kept under `<state_dir>/awsapi/imds/nodes/` so a restarted server serves the running nodes again. A node's
socket holds its namespace alive, so callers unregister a node before deleting its namespace; as a safety net the
server also drops nodes whose namespace is gone.

Run: python -m paracluster.providers.local.standins.awsapi.imds_server --state-dir D --address A --port P --record R
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import resource
import selectors
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

from paracluster import rpc
from paracluster.errors import ClusterError, NotFoundError
from paracluster.providers.local.standins.awsapi import nsnet, process
from paracluster.providers.local.standins.awsapi.imds import NodeRecord, Tokens, answer

LOG = logging.getLogger("paracluster.imds")
ADDRESS = "169.254.169.254"
PORT = 80
NAME = "imds"
CHECK_INTERVAL = 2.0  # how often vanished namespaces are looked for
WORKERS = 16
REQUEST_TIMEOUT = 5.0
CONTROL_OPS = frozenset({"register", "unregister", "nodes"})


def imds_dir(state_dir: Path) -> Path:
    path = process.run_dir(state_dir) / "imds"
    (path / "nodes").mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def control_path(state_dir: Path) -> Path:
    return imds_dir(state_dir) / "control.sock"


def _token_key(state_dir: Path) -> bytes:
    """The host key that signs tokens and derives credentials; kept so tokens outlive a server restart."""
    path = imds_dir(state_dir) / "token.key"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(os.urandom(32))
    return path.read_bytes()


class _Node:
    def __init__(self, record: NodeRecord, sock: socket.socket, namespace: int):
        self.record, self.sock, self.namespace = record, sock, namespace


class _Handler(BaseHTTPRequestHandler):
    """One request on a connection accepted from a node's socket; the server passed in is the node's context."""

    protocol_version = "HTTP/1.0"  # one request per connection: no worker waits on an idle keep-alive
    server_version = "EC2ws"
    timeout = REQUEST_TIMEOUT

    def _serve(self) -> None:
        record, tokens = self.server.record, self.server.tokens
        status, headers, body = answer(record, tokens, self.command, self.path, dict(self.headers.items()))
        data = body.encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        LOG.debug("%s %s", self.server.record.instance_id, format % args)


class _Context:
    """What a request handler sees as its `server`: the node's record and the token signer."""

    def __init__(self, record: NodeRecord, tokens: Tokens):
        self.record, self.tokens = record, tokens


class ImdsServer:
    """The nodes, their sockets and the loop that accepts on all of them."""

    def __init__(self, state_dir: Path, address: str, port: int):
        self.state_dir, self.address, self.port = Path(state_dir), address, port
        self.tokens = Tokens(_token_key(self.state_dir))
        self._nodes: dict[str, _Node] = {}  # by namespace path
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._calls: queue.Queue = queue.Queue()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="imds")

    # --- records on disk --------------------------------------------------------------------------------------

    def _record_file(self, netns: str) -> Path:
        return imds_dir(self.state_dir) / "nodes" / (quote(netns, safe="") + ".json")

    def restore(self) -> None:
        """Serve again the nodes registered before a restart whose namespaces still exist."""
        for path in sorted((imds_dir(self.state_dir) / "nodes").glob("*.json")):
            try:
                saved = json.loads(path.read_text())
                record = NodeRecord.from_dict(saved["record"])
                if nsnet.namespace_id(record.netns) != saved["namespace"]:
                    raise FileNotFoundError(f"namespace {record.netns} is gone")
                self.register(record.to_dict())
            except (OSError, ValueError, KeyError, ClusterError) as error:
                LOG.warning("dropped node record %s: %s", path.name, error)
                path.unlink(missing_ok=True)

    # --- control requests (threads of the control socket) -------------------------------------------------------

    def register(self, record: dict) -> dict:
        """Serve a node from `record` (NodeRecord fields); replaces an earlier registration of its namespace."""
        try:
            node = NodeRecord.from_dict(record)
        except (TypeError, ValueError) as error:
            raise ClusterError(f"failed to register a node with IMDS: {error}") from None
        with self._lock:
            self._call(self._drop, node.netns)
            try:
                sock, namespace, mac = nsnet.listen_in(node.netns, self.address, self.port)
            except OSError as error:
                raise ClusterError(f"failed to serve IMDS in {node.netns}: {error}") from None
            if not node.mac:
                node = NodeRecord.from_dict({**node.to_dict(), "mac": mac or _stable_mac(node.instance_id)})
            entry = _Node(node, sock, namespace)
            self._call(self._add, entry)
            path = self._record_file(node.netns)
            path.write_text(json.dumps({"record": node.to_dict(), "namespace": namespace}))
        return {"instance_id": node.instance_id, "mac": node.mac}

    def unregister(self, netns: str) -> dict:
        """Stop serving the node of namespace `netns` (call before deleting the namespace)."""
        with self._lock:
            found = self._call(self._drop, netns)
            self._record_file(netns).unlink(missing_ok=True)
        if not found:
            raise NotFoundError(f"no node with namespace {netns} is registered with IMDS")
        return {"netns": netns}

    def nodes(self) -> list[dict]:
        return [node.record.to_dict() for node in list(self._nodes.values())]

    # --- the loop ---------------------------------------------------------------------------------------------

    def _call(self, function, *args):
        """Run `function(*args)` on the loop thread (the only one that touches the selector); return its result."""
        if threading.current_thread() is threading.main_thread():
            return function(*args)
        future: Future = Future()
        self._calls.put((future, function, args))
        os.write(self._wake_write, b"x")
        return future.result(timeout=30)

    def _add(self, node: _Node) -> None:
        self._nodes[node.record.netns] = node
        self._selector.register(node.sock, selectors.EVENT_READ, node)

    def _drop(self, netns: str) -> bool:
        node = self._nodes.pop(netns, None)
        if node is None:
            return False
        self._selector.unregister(node.sock)
        node.sock.close()
        return True

    def _reap(self) -> None:
        for netns, node in list(self._nodes.items()):
            if nsnet.namespace_id(netns) != node.namespace:
                LOG.warning("namespace %s of %s is gone; no longer serving it", netns, node.record.instance_id)
                self._drop(netns)
                self._record_file(netns).unlink(missing_ok=True)

    def serve_forever(self) -> None:
        checked = time.monotonic()
        while True:
            for key, _ in self._selector.select(timeout=CHECK_INTERVAL):
                if key.data is None:
                    self._run_calls()
                    continue
                try:
                    connection, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                connection.setblocking(True)
                self._workers.submit(self._handle, connection, peer, key.data.record)
            if time.monotonic() - checked >= CHECK_INTERVAL:
                self._reap()
                checked = time.monotonic()

    def _run_calls(self) -> None:
        try:
            os.read(self._wake_read, 4096)
        except BlockingIOError:
            pass
        while not self._calls.empty():
            future, function, args = self._calls.get()
            try:
                future.set_result(function(*args))
            except Exception as error:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(error)

    def _handle(self, connection: socket.socket, peer, record: NodeRecord) -> None:
        try:
            _Handler(connection, peer, _Context(record, self.tokens))
        except Exception:  # noqa: BLE001 - one bad request must not stop the server
            LOG.exception("IMDS request from %s failed", record.instance_id)
        finally:
            connection.close()


def _stable_mac(instance_id: str) -> str:
    """A locally administered unicast MAC for a node without an eth0 (EC2 MACs look alike)."""
    digest = hashlib.sha256(instance_id.encode()).digest()
    return ":".join(f"{byte:02x}" for byte in (0x0e, *digest[:5]))


# --- the caller's side ----------------------------------------------------------------------------------------


def start(state_dir: Path, address: str = ADDRESS, port: int = PORT) -> dict:
    """Start (or keep) the IMDS server of this state directory; {"pid", "address", "port"}."""
    return process.start("imds_server", NAME, state_dir, address, port)


def stop(state_dir: Path) -> None:
    process.stop(state_dir, NAME)


def _request(state_dir: Path, op: str, args: dict) -> object:
    try:
        with rpc.connect(str(control_path(state_dir)), timeout=30) as connection:
            reply = rpc.exchange(connection, op, args)
    except OSError as error:
        raise ClusterError(f"failed to reach the IMDS server of {state_dir}: {error}; start it with "
                           "paracluster.providers.local.standins.awsapi.imds_server.start") from None
    if not reply:
        raise ClusterError(f"failed to {op} with the IMDS server: it closed the connection")
    if not reply["ok"]:
        kind = NotFoundError if reply["error"]["type"] == "NotFoundError" else ClusterError
        raise kind(reply["error"]["message"])
    return reply["result"]


def register(state_dir: Path, record: NodeRecord) -> dict:
    """Serve IMDS to a node (its namespace must exist); returns {"instance_id", "mac"}."""
    return _request(state_dir, "register", {"record": record.to_dict()})


def unregister(state_dir: Path, netns: str) -> None:
    """Stop serving a node; call it before the node's namespace is deleted. A node not registered is no error."""
    try:
        _request(state_dir, "unregister", {"netns": netns})
    except NotFoundError:
        pass


def registered(state_dir: Path) -> list[NodeRecord]:
    return [NodeRecord.from_dict(item) for item in _request(state_dir, "nodes", {})]


def main() -> None:
    args = process.server_arguments("ParaCluster's instance metadata service for local nodes")
    # One socket per node: allow as many descriptors as the hard limit does.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = ImdsServer(args.state_dir, args.address, args.port)
    server.restore()
    path = control_path(args.state_dir)
    path.unlink(missing_ok=True)
    control = rpc.Server(str(path), server, CONTROL_OPS, "IMDS", LOG)
    os.chmod(path, 0o600)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    process.announce(args.record, args.address, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()

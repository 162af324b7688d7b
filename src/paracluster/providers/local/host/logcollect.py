"""The host service's log collection: what each node's CloudWatch agent would ship, read from the host side.

Every COLLECT_INTERVAL seconds, and once more when a node stops (its last lines), the collector reads each running
node's agent state (`paracluster.node.cwagent`: the configs `amazon-cloudwatch-agent-ctl` left), and tails the files
they list into the cluster's log group (`standins/cwlogs.py`), stream `<hostname>.<instance id>.<log name>`, with
the time the agent would read off each line (its timestamp_format) or the time it was read. Node files are read
where the node wrote them: its overlay's upper layer, the host directories bound into it, its host log directory;
never the host's own files, and symlinks are followed inside the node's view. Where each file was read up to is
kept per node (`logcursors/`), so a host service restart neither loses nor repeats lines; a new instance of a node
starts its files anew, except its host log directory, which instances of a node share.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import threading
import time
from pathlib import Path

from paracluster.cwlogs.agent_config import NODE_LOG_DIR
from paracluster.cwlogs.query import line_time
from paracluster.node.cwagent import AGENT_DIR, CONFIG as AGENT_CONFIG, DNA, STATE as AGENT_STATE, active_entries
from paracluster.providers.local.standins.cwlogs import LogStore, cluster_log_group
from paracluster.records import LogGroupRecord, now

LOG = logging.getLogger("paracluster.local")
COLLECT_INTERVAL = 1.0
PRUNE_INTERVAL = 3600.0
READ_LIMIT = 8 * 1024 * 1024  # bytes of one file per pass: a flood is caught up over a few passes


class NodeView:
    """A node's files as the node sees them, found on the host: bind mounts, the node's host log directory, then its
    overlay's upper layer (what the node wrote; the lower layer is the host's own root, never read)."""

    MAX_LINKS = 20

    def __init__(self, spec: dict):
        mounts = {bind["target"].rstrip("/") or "/": bind["source"] for bind in spec.get("binds", [])}
        mounts[NODE_LOG_DIR.rsplit("/", 1)[0]] = spec["node_dir"]
        self.mounts = sorted(mounts.items(), key=lambda item: -len(item[0]))
        self.upper = spec["overlay"]["upper"]
        self.node_dir = spec["node_dir"]

    def _host(self, path: str) -> str:
        for target, source in self.mounts:
            if path == target or path.startswith(target + "/"):
                return source + path[len(target):]
        return self.upper + path

    def resolve(self, path: str) -> str | None:
        """The host path of a node path (symlinks followed in the node's view), or None if the node has no such
        file of its own."""
        parts = [part for part in path.split("/") if part not in ("", ".")]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                done = done[:-1]
                continue
            candidate = "/" + "/".join(done + [part])
            host = self._host(candidate)
            if os.path.islink(host):
                hops += 1
                if hops > self.MAX_LINKS:
                    return None
                target = os.readlink(host)
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                if target.startswith("/"):
                    done = []
                continue
            done.append(part)
        host = self._host("/" + "/".join(done))
        return host if os.path.isfile(host) else None

    def glob(self, pattern: str) -> str | None:
        """A file_path with wildcards in its last part: the most recently written match (as the agent follows)."""
        directory, name = pattern.rsplit("/", 1)
        if not any(mark in name for mark in "*?["):
            return self.resolve(pattern)
        found = []
        host_dir = self.resolve_dir(directory)
        if host_dir is None:
            return None
        for entry in os.listdir(host_dir):
            if fnmatch.fnmatch(entry, name):
                host = self.resolve(f"{directory}/{entry}")
                if host:
                    found.append((os.stat(host).st_mtime, host))
        return max(found)[1] if found else None

    def resolve_dir(self, path: str) -> str | None:
        host = self._host(path.rstrip("/") or "/")
        return host if os.path.isdir(host) and not os.path.islink(host) else None

    def read(self, path: str) -> str | None:
        host = self.resolve(path)
        try:
            return Path(host).read_text(errors="replace") if host else None
        except OSError:
            return None

    def listdir(self, path: str) -> list[str] | None:
        host = self.resolve_dir(path)
        try:
            return os.listdir(host) if host else None
        except OSError:
            return None


def _expand(template: str, instance_id: str, hostname: str, address: str) -> str:
    """A stream name with the agent's placeholders filled in."""
    return (template.replace("{instance_id}", instance_id).replace("{hostname}", hostname)
            .replace("{local_hostname}", hostname).replace("{ip_address}", address))


class LogCollector:
    """Collects the nodes' logs of every cluster of a host service into their log groups."""

    def __init__(self, service):
        self.service = service
        self.store = service.store
        self.logs = LogStore(service.store.root, str(service.settings["account_id"]))
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._cursors: dict[str, dict] = {}
        self._specs: dict[str, tuple[float, dict]] = {}
        self._records: dict[str, tuple[int, object]] = {}
        self._entries: dict[str, tuple[list, list[dict]]] = {}
        self._last_prune = 0.0
        self._stop = threading.Event()

    def _lock(self, cluster: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(cluster, threading.Lock())

    def start(self) -> LogCollector:
        threading.Thread(target=self._loop, daemon=True, name="log-collector").start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(COLLECT_INTERVAL):
            try:
                self.collect_all()
                if time.monotonic() - self._last_prune > PRUNE_INTERVAL:
                    self._last_prune = time.monotonic()
                    for group in self.logs.groups():
                        self.logs.prune(group)
            except Exception:  # noqa: BLE001 - the collector keeps going; the next pass retries
                LOG.exception("log collection failed")

    def group_of(self, record) -> LogGroupRecord | None:
        """The cluster's log group, created (or its settings updated) as its configuration says."""
        try:
            config = self.service.plan(record.name).config
        except Exception:  # noqa: BLE001 - a cluster whose configuration does not load has no logs to keep
            return None
        group = cluster_log_group(record, config)
        if group is not None:
            self.logs.save_group(group)
        return group

    def collect_all(self) -> None:
        for name in self.store.names():
            record = self._record(name)
            running = [node.name for node in (record.nodes.values() if record else ())
                       if node.instance is not None and node.instance.state in ("pending", "running")]
            if running:
                self._collect(record, running, final=False)

    def _record(self, name: str):
        """The cluster's record, read again only when its file changed (a pass must stay cheap with many nodes)."""
        try:
            stamp = (self.store.cluster_dir(name) / "cluster.json").stat().st_mtime_ns
        except OSError:
            return None
        cached = self._records.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, self.store.load(name))
            self._records[name] = cached
        return cached[1]

    def _active_entries(self, view: NodeView) -> list[dict]:
        """The agent's collect list on the node, read again only when one of the agent's files changed."""
        paths = [view.upper + path for path in (AGENT_STATE, AGENT_DIR, AGENT_CONFIG, DNA)]
        try:
            paths += [f"{paths[1]}/{name}" for name in os.listdir(paths[1])]
        except OSError:
            pass
        signature = []
        for path in paths:
            try:
                status = os.lstat(path)
                signature.append((path, status.st_mtime_ns, status.st_size))
            except OSError:
                signature.append((path, None, None))
        cached = self._entries.get(view.node_dir)
        if cached is None or cached[0] != signature:
            cached = (signature, active_entries(view.read, view.listdir))
            self._entries[view.node_dir] = cached
        return cached[1]

    def nodes_stopped(self, node_dirs: list[Path]) -> None:
        """Collect the last lines of nodes that just stopped (instances.stop_nodes calls this)."""
        by_cluster: dict[Path, list[str]] = {}
        for node_dir in node_dirs:
            by_cluster.setdefault(node_dir.parent.parent, []).append(node_dir.name)
        for cluster_dir, names in by_cluster.items():
            record = self.store.load(cluster_dir.name) if cluster_dir.parent == self.store.clusters_dir else None
            if record is not None:
                self._collect(record, names, final=True)

    def _collect(self, record, names: list[str], final: bool) -> None:
        group = self.group_of(record)
        if group is None:
            return
        with self._lock(record.name):
            for name in names:
                node = record.nodes.get(name)
                if node is None or node.instance is None:
                    continue
                try:
                    self._collect_node(record, group, node, final)
                except Exception:  # noqa: BLE001 - one node's files must not keep the others' from being read
                    LOG.exception("collecting the logs of %s/%s failed", record.name, name)

    def cluster_deleted(self, record) -> None:
        """The cluster is gone: its log group goes too with DeletionPolicy Delete, else it stays (retained)."""
        group = self.group_of(record)
        if group is None:
            return
        with self._lock(record.name):
            if group.deletion_policy == "Delete":
                self.logs.delete_group(group.name)
            else:
                group.cluster_deleted_time = now()
                self.logs.save_group(group)
        self._cursors = {key: value for key, value in self._cursors.items() if not key.startswith(f"{record.name}/")}

    # --- one node ---------------------------------------------------------------------------------------------

    def node_spec(self, node_dir: Path | str) -> dict | None:
        """The spec the node booted with (cached while its file is unchanged)."""
        found = self._node(str(node_dir))
        return found[0] if found else None

    def _node(self, node_dir: str) -> tuple[dict, NodeView] | None:
        path = f"{node_dir}/spec.json"
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return None
        cached = self._specs.get(path)
        if cached is None or cached[0] != mtime:
            try:
                with open(path) as source:
                    spec = json.load(source)
            except (OSError, ValueError):
                return None
            cached = (mtime, (spec, NodeView(spec)))
            self._specs[path] = cached
        return cached[1]

    def _cursor_path(self, record, node) -> Path:
        return self.store.cluster_dir(record.name) / "logcursors" / f"{node.name}.json"

    def _cursor(self, record, node) -> dict:
        key = f"{record.name}/{node.name}"
        if key not in self._cursors:
            try:
                self._cursors[key] = json.loads(self._cursor_path(record, node).read_text())
            except (OSError, ValueError):
                self._cursors[key] = {"instance": None, "files": {}}
        return self._cursors[key]

    def _save_cursor(self, record, node, cursor: dict) -> None:
        path = self._cursor_path(record, node)
        path.parent.mkdir(parents=True, exist_ok=True)
        cursor["saved"] = True
        path.with_suffix(".tmp").write_text(json.dumps(cursor))
        os.replace(path.with_suffix(".tmp"), path)

    def _collect_node(self, record, group: LogGroupRecord, node, final: bool) -> None:
        node_dir = f"{self.store.clusters_dir}/{record.name}/nodes/{node.name}"  # StateStore.node_dir, as text
        found = self._node(node_dir)
        if found is None:
            return
        spec, view = found
        instance_id = node.instance.instance_id
        cursor = self._cursor(record, node)
        if cursor["instance"] != instance_id:
            # A new instance has a new root disk; only the node's host log directory carries over.
            shared = node_dir + "/"
            cursor["files"] = {key: value for key, value in cursor["files"].items()
                               if key.split("|", 1)[1].startswith(shared)}
            cursor["instance"] = instance_id
            cursor["saved"] = False
        hostname = spec.get("hostname") or node.name
        changed = False
        for entry in self._active_entries(view):
            if entry.get("log_group_name", group.name) != group.name:
                continue  # another log group: not this cluster's (the local provider keeps only the cluster's)
            template = entry.get("log_stream_name") or f"{hostname}.{{instance_id}}.default-log-stream"
            stream = _expand(template, instance_id, hostname, node.address)
            host = view.glob(entry["file_path"])
            if host is None:
                continue
            key = f"{template}|{host}"  # the template, not the stream: instances of a node share its host logs
            changed |= self._tail(group.name, stream, host, entry.get("timestamp_format"), cursor["files"], key,
                                  final)
        if changed or not cursor.get("saved"):
            self._save_cursor(record, node, cursor)

    def _tail(self, group: str, stream: str, host: str, fmt: str | None, files: dict, key: str,
              final: bool) -> bool:
        """Append the file's new complete lines (all of them when the node stopped) to the stream; True when the
        cursor moved."""
        try:
            status = os.stat(host)
        except OSError:
            return False
        inode, offset = files.get(key, (status.st_ino, 0))
        if inode != status.st_ino or status.st_size < offset:
            inode, offset = status.st_ino, 0  # a new or truncated file (rotated, or written anew)
        if status.st_size == offset:
            return False
        with open(host, "rb") as source:
            source.seek(offset)
            data = source.read(status.st_size - offset if final else min(status.st_size - offset, READ_LIMIT))
        # A line still being written waits for the next pass, unless the node stopped or the line fills a read.
        end = len(data) if final or len(data) == READ_LIMIT and b"\n" not in data else data.rfind(b"\n") + 1
        if end <= 0:
            return False
        ingested = int(time.time() * 1000)
        events = []
        for raw in data[:end].split(b"\n"):
            line = raw.decode(errors="replace").rstrip("\r")
            if line.strip():
                events.append((line_time(line, fmt) or ingested, ingested, line))
        self.logs.append(group, stream, events)
        files[key] = (inode, offset + end)
        return True

"""CloudWatch Logs on the local provider: log groups as plain directories of the state directory.

Layout: `<state>/logs/<cluster>-<stamp>/group.json` (the group: its cluster, retention, deletion policy, and when
its cluster went) and `streams/<stream>.jsonl`, one event a line: `[seq, timestamp ms, ingestion ms, message]`,
in arrival order. Only the host service's collector appends; readers skip a last line still being written. A
retained group has no process, mount or link: it is files only, and `paracluster log-groups delete` removes it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.parse
from pathlib import Path

from paracluster.cwlogs.agent_config import LOG_GROUP_PREFIX, log_group_name
from paracluster.cwlogs.query import StoredEvent
from paracluster.errors import BadRequestError, NotFoundError
from paracluster.records import LogGroupRecord, LogStreamRecord, format_time, from_data, parse_time, to_data

MAX_MESSAGE = 262_144 - 26  # CloudWatch's largest event, less its per-event overhead


def cluster_log_group(record, config) -> LogGroupRecord | None:
    """The cluster's log group per Monitoring/Logs/CloudWatch (None when disabled); named after its create time."""
    settings = config.monitoring.logs.cloud_watch
    if not settings.enabled:
        return None
    created = parse_time(record.creation_time) or time.time()
    stamp = time.strftime("%Y%m%d%H%M", time.gmtime(created))
    return LogGroupRecord(
        name=log_group_name(record.name, stamp), cluster=record.name, region=record.region,
        creation_time=record.creation_time, retention_days=settings.retention_in_days or None,
        deletion_policy=settings.deletion_policy,
    )


def _file_name(stream: str) -> str:
    # Stream names may hold '/' (CloudWatch allows it); file names may not.
    return urllib.parse.quote(stream, safe="-_.@+=,") + ".jsonl"


def _stream_name(file_name: str) -> str:
    return urllib.parse.unquote(file_name[: -len(".jsonl")])


class LogStore:
    """The log groups of one state directory."""

    def __init__(self, state: Path, account_id: str = "123456789012"):
        self.root = Path(state) / "logs"
        self.account_id = account_id
        self._lock = threading.Lock()
        self._next_seq: dict[Path, int] = {}

    # --- groups -----------------------------------------------------------------------------------------------

    def group_dir(self, name: str) -> Path:
        if not name.startswith(LOG_GROUP_PREFIX) or "/" in name[len(LOG_GROUP_PREFIX):] or name.endswith("-"):
            raise NotFoundError(f"log group '{name}' does not exist; see `paracluster log-groups list`")
        return self.root / name[len(LOG_GROUP_PREFIX):]

    def save_group(self, group: LogGroupRecord) -> None:
        """Create the group, or record its new settings (an update-cluster may change retention and policy)."""
        directory = self.group_dir(group.name)
        (directory / "streams").mkdir(parents=True, exist_ok=True)
        data = to_data(group)
        data.pop("stored_bytes", None)
        data.pop("head_node_hostname", None)
        path = directory / "group.json"
        if not path.exists() or json.loads(path.read_text()) != data:
            path.with_suffix(".tmp").write_text(json.dumps(data, indent=1))
            os.replace(path.with_suffix(".tmp"), path)

    def group(self, name: str) -> LogGroupRecord | None:
        try:
            data = json.loads((self.group_dir(name) / "group.json").read_text())
        except (OSError, ValueError):
            return None
        group = from_data(LogGroupRecord, data)
        group.stored_bytes = sum(path.stat().st_size for path in (self.group_dir(name) / "streams").glob("*.jsonl"))
        return group

    def groups(self) -> list[LogGroupRecord]:
        if not self.root.is_dir():
            return []
        found = [self.group(LOG_GROUP_PREFIX + path.name) for path in sorted(self.root.iterdir()) if path.is_dir()]
        return [group for group in found if group is not None]

    def delete_group(self, name: str) -> None:
        directory = self.group_dir(name)
        if not (directory / "group.json").exists():
            raise NotFoundError(f"log group '{name}' does not exist; see `paracluster log-groups list`")
        with self._lock:
            self._next_seq = {path: seq for path, seq in self._next_seq.items() if directory not in path.parents}
            shutil.rmtree(directory)

    # --- streams ----------------------------------------------------------------------------------------------

    def append(self, group: str, stream: str, events: list[tuple[int, int, str]]) -> None:
        """Add events (timestamp ms, ingestion ms, message) to a stream, creating it on its first event."""
        if not events:
            return
        if not stream or len(stream) > 512 or ":" in stream or "*" in stream:
            raise BadRequestError(f"log stream name '{stream}' is invalid; use up to 512 characters without ':' "
                                  "or '*'")
        path = self.group_dir(group) / "streams" / _file_name(stream)
        with self._lock:
            seq = self._next_seq.get(path)
            if seq is None:
                last = _last_event(path)
                seq = last.seq + 1 if last else 0
            lines = []
            for timestamp, ingestion, message in events:
                lines.append(json.dumps([seq, timestamp, ingestion, message[:MAX_MESSAGE]]) + "\n")
                seq += 1
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as out:
                out.write("".join(lines))
            self._next_seq[path] = seq

    def stream_names(self, group: str) -> list[str]:
        directory = self.group_dir(group) / "streams"
        if not directory.is_dir():
            raise NotFoundError(f"log group '{group}' does not exist; see `paracluster log-groups list`")
        return [_stream_name(path.name) for path in directory.glob("*.jsonl")]

    def stream(self, group: str, region: str, name: str) -> LogStreamRecord | None:
        path = self.group_dir(group) / "streams" / _file_name(name)
        first, last = _first_event(path), _last_event(path)
        if first is None or last is None:
            return None
        return LogStreamRecord(
            name=name,
            arn=f"arn:aws:logs:{region}:{self.account_id}:log-group:{group}:log-stream:{name}",
            creation_time=format_time(first.ingestion / 1000),
            first_event_time=format_time(first.timestamp / 1000),
            last_event_time=format_time(last.timestamp / 1000),
            last_ingestion_time=format_time(last.ingestion / 1000),
            upload_sequence_token=str(last.seq + 1).zfill(20),
            stored_bytes=path.stat().st_size,
        )

    def events(self, group: str, name: str) -> list[StoredEvent]:
        path = self.group_dir(group) / "streams" / _file_name(name)
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            raise NotFoundError(f"The specified log stream {name} does not exist.") from None
        # One parse of the whole file (its lines as one JSON array) is many times faster than a parse per line;
        # a last line still being written is left out.
        complete = text[: text.rfind("\n") + 1].rstrip("\n")
        if not complete:
            return []
        try:
            rows = json.loads("[" + complete.replace("\n", ",") + "]")
        except ValueError:
            return [event for event in (_parse(line) for line in complete.split("\n")) if event is not None]
        return [StoredEvent._make(row) for row in rows]

    def prune(self, group: LogGroupRecord, now: float | None = None) -> int:
        """Drop the group's events older than its retention (streams left empty go too); how many were dropped."""
        if not group.retention_days:
            return 0
        oldest = ((now if now is not None else time.time()) - group.retention_days * 86400) * 1000
        dropped = 0
        with self._lock:
            for path in (self.group_dir(group.name) / "streams").glob("*.jsonl"):
                first = _first_event(path)
                if first is None or first.timestamp >= oldest:
                    continue
                lines = path.read_text(errors="replace").splitlines(keepends=True)
                kept = [line for line in lines if (event := _parse(line)) is None or event.timestamp >= oldest]
                dropped += len(lines) - len(kept)
                if kept:
                    path.with_suffix(".tmp").write_text("".join(kept))
                    os.replace(path.with_suffix(".tmp"), path)
                else:
                    path.unlink()
                    self._next_seq.pop(path, None)
        return dropped


def _parse(line: str) -> StoredEvent | None:
    """An event of a stream file's line; None for a blank line or one still being written."""
    try:
        seq, timestamp, ingestion, message = json.loads(line)
    except ValueError:
        return None
    return StoredEvent(seq, timestamp, ingestion, message)


def _first_event(path: Path) -> StoredEvent | None:
    try:
        with path.open(errors="replace") as source:
            return _parse(source.readline())
    except OSError:
        return None


def _last_event(path: Path) -> StoredEvent | None:
    """The last complete event, read from the file's end (streams grow large; their ends are what is asked)."""
    try:
        with path.open("rb") as source:
            size = source.seek(0, os.SEEK_END)
            chunk = 4096
            while True:
                start = max(0, size - chunk)
                source.seek(start)
                lines = source.read(size - start).split(b"\n")
                complete = lines[1:] if start > 0 else lines
                for line in reversed(complete):
                    event = _parse(line.decode(errors="replace"))
                    if event is not None:
                        return event
                if start == 0:
                    return None
                chunk *= 4
    except OSError:
        return None

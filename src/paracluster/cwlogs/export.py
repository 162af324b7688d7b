"""export-cluster-logs' archive, from any provider's log streams: ParallelCluster's layout, as a tar.gz.

`<cluster>-logs-<YYYYMMDDhhmm>/cloudwatch-logs/<stream>/000000` holds a stream's events in the range, one a line
as CloudWatch's export writes them (`<ISO time> <message>`), and `<cluster>-logs-.../<cluster>-cfn-events` the
stack events (JSON), when the cluster still has a stack.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from paracluster.records import parse_time

EXPORT_DIR = "cloudwatch-logs"


def archive_name(cluster: str, moment: float | None = None) -> str:
    return f"{cluster}-logs-{time.strftime('%Y%m%d%H%M', time.localtime(moment or time.time()))}"


def stream_lines(events) -> bytes:
    return "".join(f"{event.timestamp} {event.message}\n" for event in events).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(output: Path, root: str, streams: dict[str, bytes], extra: dict[str, bytes]) -> None:
    """The archive at `output` (mode 0600: logs may hold what nodes printed): every stream's lines, and extra files
    at the top (the stack events)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.touch(mode=0o600)
    with tarfile.open(output, "w:gz") as tar:
        for name, data in sorted(streams.items()):
            _add(tar, f"{root}/{EXPORT_DIR}/{name}/000000", data)
        for name, data in extra.items():
            _add(tar, f"{root}/{name}", data)


def collect(provider, group, prefix: str | None, start: int, end: int) -> dict[str, bytes]:
    """Every stream of the group (with the prefix) that has events in [start, end): its lines."""
    streams, token, seen = {}, None, set()
    while True:
        page, token = provider.log_streams(group, prefix, token)
        for stream in page:
            first, last = parse_time(stream.first_event_time), parse_time(stream.last_event_time)
            if stream.name in seen or (last is not None and last * 1000 < start) or \
                    (first is not None and first * 1000 >= end):
                continue
            seen.add(stream.name)
            events, event_token = [], None
            while True:
                answer = provider.log_events(group, stream.name, start, end, True, None, event_token)
                events += answer.events
                if not answer.events or answer.next_forward_token == event_token:
                    break
                event_token = answer.next_forward_token
            if events:
                streams[stream.name] = stream_lines(events)
        if not token:
            return streams


def stack_events_file(events: list[dict]) -> bytes:
    return json.dumps(events, indent=2).encode()


def default_range(group, start: int | None, end: int | None) -> tuple[int, int]:
    """ParallelCluster's defaults: from the log group's creation to now."""
    created = parse_time(group.creation_time) or 0
    return (start if start is not None else int(created * 1000),
            end if end is not None else int(time.time() * 1000))


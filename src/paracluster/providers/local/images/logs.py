"""An image build's log, as the log stream EC2 Image Builder writes: `<version>/1` in the image's log group.

Its events are the host's lines of the build (`build.log`) and the console logs of the runners in the build and test
nodes, merged by time; a console line without a time of its own (a command's output) takes the time of the line
before it. Read live, so a build under way shows its progress.
"""

from __future__ import annotations

import re
from pathlib import Path

from paracluster.images.records import LogEventRecord, LogStreamRecord
from paracluster.providers.local.images.store import ImageState, ImageStore

_STAMPED = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\] ?(.*)$")
LOG_GROUP_PREFIX = "/aws/imagebuilder/ParallelClusterImage-"


def log_group_arn(region: str, image_id: str, account_id: str) -> str:
    """The ARN of an image's log group, as Image Builder names it (the account is the account_id setting)."""
    return f"arn:aws:logs:{region}:{account_id}:log-group:{LOG_GROUP_PREFIX}{image_id}"


def stream_name(record: ImageState) -> str:
    return f"{record.version}/1"


def _sources(store: ImageStore, image_id: str) -> list[Path]:
    directory = store.image_dir(image_id)
    return [directory / "build.log", *sorted(directory.glob("nodes/*/toe/*/console.log"))]


def _read(path: Path) -> list[LogEventRecord]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    events, stamp = [], None
    for line in text.splitlines():
        found = _STAMPED.match(line)
        if found:
            stamp, line = found.group(1), found.group(2)
        if stamp is not None and line.strip():
            events.append(LogEventRecord(stamp, line))
    return events


def events(store: ImageStore, record: ImageState) -> list[LogEventRecord]:
    """Every event of the build's stream, oldest first."""
    merged = [event for path in _sources(store, record.image_id) for event in _read(path)]
    return sorted(merged, key=lambda event: event.timestamp)  # stable: a file's lines keep their order


def streams(store: ImageStore, record: ImageState, account_id: str) -> list[LogStreamRecord]:
    """The image's log streams (one per build), or none before its first line."""
    found = events(store, record)
    if not found:
        return []
    name = stream_name(record)
    group = log_group_arn(record.region, record.image_id, account_id)
    return [LogStreamRecord(name=name, arn=f"{group}:log-stream:{name}",
                            creation_time=record.creation_time, first_event_time=found[0].timestamp,
                            last_event_time=found[-1].timestamp, last_ingestion_time=found[-1].timestamp,
                            # CloudWatch's is an opaque number that changes as events arrive (its schema needs one).
                            upload_sequence_token=str(len(found)))]

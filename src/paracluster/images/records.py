"""Typed records of images that providers return (custom images, official images, build logs); views.py renders them.

Standard library only, like the rest of this package.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ImageRecord:
    """A custom image: its build (the build stack, Image Builder's status) and, once built, its AMI."""

    image_id: str
    region: str
    version: str
    build_status: str  # BUILD_IN_PROGRESS | BUILD_COMPLETE | BUILD_FAILED | DELETE_IN_PROGRESS | DELETE_FAILED
    stack_status: str | None = None
    stack_arn: str | None = None
    stack_creation_time: str | None = None
    stack_reason: str | None = None
    stack_tags: dict[str, str] = dataclasses.field(default_factory=dict)
    builder_status: str | None = None  # PENDING | BUILDING | TESTING | AVAILABLE | FAILED ...
    builder_reason: str | None = None
    logs_arn: str | None = None
    config_url: str | None = None
    ami_id: str | None = None
    ami_name: str | None = None
    ami_state: str | None = None  # AVAILABLE, ...
    architecture: str | None = None
    os: str | None = None
    description: str | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    creation_time: str | None = None  # the AMI's
    progress: str | None = None  # the build step under way (ParaCluster's addition, as describe-cluster's)


@dataclasses.dataclass
class OfficialImageRecord:
    """An image list-official-images lists."""

    ami_id: str
    os: str
    architecture: str
    name: str
    version: str


@dataclasses.dataclass
class LogStreamRecord:
    """A log stream as CloudWatch Logs describes it (times in ISO 8601)."""

    name: str
    arn: str
    creation_time: str
    first_event_time: str
    last_event_time: str
    last_ingestion_time: str
    upload_sequence_token: str | None = None


@dataclasses.dataclass
class LogEventRecord:
    timestamp: str
    message: str


@dataclasses.dataclass
class LogEventsPage:
    """Some events of a stream, and the tokens of the pages after and before them (CloudWatch's f/ and b/)."""

    events: list[LogEventRecord]
    next_token: str | None = None
    prev_token: str | None = None

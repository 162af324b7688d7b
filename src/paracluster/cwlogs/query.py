"""Reading log groups as CloudWatch Logs answers, pure: filters, time ranges, pages of streams and of events, and
the time an agent reads off a log line.

Events of a stream are numbered in the order they arrived (`seq`); tokens name positions in that order
(`f/<seq>`: the next page starts there; `b/<seq>`: the previous page ends before it), so a page stays where it was
while new events arrive. Messages follow ParallelCluster's controllers (pcluster's wording), since scripts match them.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from paracluster.errors import BadRequestError

FILTER_NAMES = ("private-dns-name", "node-type")
_FILTER = re.compile(rf"^(Name=({'|'.join(FILTER_NAMES)}),Values=[\w\-_.,]+)$")
_FILTER_PARTS = re.compile(r"Name=([^=,]+),Values=([^= ]+)(?: |$)")
MAX_EVENTS = 10_000  # GetLogEvents' most events per answer
MAX_BYTES = 1_048_576  # ... and its most bytes (CloudWatch counts each event's message plus 26 bytes)
STREAMS_PAGE = 50  # DescribeLogStreams' default page


@dataclass(frozen=True)
class StreamFilter:
    """What list-cluster-log-streams' and export-cluster-logs' --filters ask for: one node's streams, or the head
    node's."""

    private_dns_name: str | None = None
    node_type: str | None = None

    def prefix(self, head_node_hostname: str | None) -> str | None:
        """The stream name prefix the filter means (a node's streams start with its hostname and a dot)."""
        if self.private_dns_name:
            return f"{self.private_dns_name}."
        if self.node_type:
            if not head_node_hostname:
                raise BadRequestError("HeadNode instance not available. Node Type filter cannot be used.")
            return f"{head_node_hostname}."
        return None


def parse_filters(filters: list[str] | None) -> StreamFilter:
    """--filters as ParallelCluster reads them (`Name=private-dns-name,Values=ip-10-0-0-101`, `Name=node-type,
    Values=HeadNode`); several may come in one argument, separated by spaces."""
    items = [part for item in filters or [] for part in item.split()]
    for item in items:
        if not _FILTER.match(item):
            raise BadRequestError(f"provided filters parameter '{item}' must be in the form {_FILTER.pattern}.")
    found: dict[str, str] = {}
    for item in items:
        name, values = _FILTER_PARTS.match(item).groups()
        if "," in values:
            raise BadRequestError(f"Filter {name} doesn't accept comma separated strings as value.")
        found[name] = values
    chosen = StreamFilter(found.get("private-dns-name"), found.get("node-type"))
    if chosen.node_type:
        if chosen.node_type != "HeadNode":
            raise BadRequestError("The only accepted value for Node Type filter is 'HeadNode'.")
        if chosen.private_dns_name:
            raise BadRequestError("Private DNS Name and Node Type filters cannot be set at the same time.")
    return chosen


def parse_time(text: str | None, name: str) -> int | None:
    """An ISO 8601 time (a date alone, or a time without zone, is UTC) as milliseconds since the epoch."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{name} filter must be in the ISO 8601 format: YYYY-MM-DDThh:mm:ssZ. "
                              "(e.g. 1984-09-15T19:20:30Z or 1984-09-15).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def check_range(start: int | None, end: int | None, limit: int | None) -> None:
    if start is not None and end is not None and start >= end:
        raise BadRequestError("start_time filter must be earlier than end_time filter.")
    if limit is not None and limit <= 0:
        raise BadRequestError("'limit' must be a positive integer.")


# --- pages ---------------------------------------------------------------------------------------------------------


class StoredEvent(NamedTuple):
    """An event as a store keeps it: its number in arrival order, its time and ingestion time (ms), its message.
    (A tuple: a page reads up to tens of thousands of them.)"""

    seq: int
    timestamp: int
    ingestion: int
    message: str


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]
    forward_token: str
    backward_token: str


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def iso_millis(millis: int) -> str:
    """An event time (ms since the epoch) as records keep times (ISO 8601, UTC, ms, `Z`); events of one second share
    the formatting of its part before the milliseconds."""
    second, rest = divmod(int(millis), 1000)
    return f"{_iso_second(second)}.{rest:03d}Z"


def _token(token: str | None) -> tuple[str, int] | None:
    if not token:
        return None
    match = re.fullmatch(r"([fb])/(\d{1,20})", token)
    if not match:
        raise BadRequestError(f"--next-token '{token}' is not a token of this log stream; use the nextToken or "
                              "prevToken of an earlier answer")
    return match.group(1), int(match.group(2))


def event_page(events: list[StoredEvent], start: int | None, end: int | None, start_from_head: bool,
               limit: int | None, token: str | None) -> EventPage:
    """GetLogEvents over `events` (in arrival order): those in [start, end) of the page the token names, or without
    a token the earliest (`start_from_head`) or the latest ones; at most `limit`, 10,000 or 1 MB."""
    chosen = [event for event in events
              if (start is None or event.timestamp >= start) and (end is None or event.timestamp < end)]
    most = min(limit or MAX_EVENTS, MAX_EVENTS)
    end_of_stream = events[-1].seq + 1 if events else 0
    position = _token(token)
    if position is None:  # the stream's head or its tail
        direction, anchor = ("f", 0) if start_from_head else ("b", end_of_stream)
    else:
        direction, anchor = position
    if direction == "f":
        page = _fit([event for event in chosen if event.seq >= anchor], most, from_end=False)
    else:
        page = _fit([event for event in chosen if event.seq < anchor], most, from_end=True)
    # An empty page gives back where it stands, as CloudWatch does at either end of a stream.
    forward, backward = (page[-1].seq + 1, page[0].seq) if page else (anchor, anchor)
    return EventPage(page, f"f/{forward:020d}", f"b/{backward:020d}")


def _fit(events: list[StoredEvent], most: int, from_end: bool) -> list[StoredEvent]:
    """The first (or last) events that fit the count and byte limits."""
    taken, size = [], 0
    for event in reversed(events) if from_end else events:
        size += len(event.message.encode()) + 26
        if len(taken) >= most or (taken and size > MAX_BYTES):
            break
        taken.append(event)
    return taken[::-1] if from_end else taken


def page_of(names: list[str], next_token: str | None, size: int = STREAMS_PAGE) -> tuple[list[str], str | None]:
    """A page of sorted names after the token (the last name of the previous page), and the next page's token."""
    ordered = sorted(names)
    if next_token:
        ordered = [name for name in ordered if name > next_token]
    page = ordered[:size]
    return page, (page[-1] if len(ordered) > size else None)


# --- timestamps the agent reads off lines -------------------------------------------------------------------------

_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})", "y": r"(?P<y>\d{2})", "m": r"(?P<m>\d{1,2})", "-m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})", "-d": r"(?P<d>\d{1,2})", "H": r"(?P<H>\d{1,2})", "-H": r"(?P<H>\d{1,2})",
    "M": r"(?P<M>\d{1,2})", "-M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})", "-S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,9})", "b": r"(?P<b>[A-Za-z]{3})", "B": r"(?P<b>[A-Za-z]{3})[A-Za-z]*",
    "a": r"[A-Za-z]{3}", "A": r"[A-Za-z]+", "p": r"(?P<p>AM|PM|am|pm)", "I": r"(?P<I>\d{1,2})",
    "-I": r"(?P<I>\d{1,2})", "l": r"\s?(?P<I>\d{1,2})", "z": r"(?P<z>[+-]\d{2}:?\d{2}|Z)", "Z": r"[A-Z]{2,5}",
    "j": r"\d{3}",
}
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


@functools.lru_cache(maxsize=64)
def _pattern(fmt: str) -> re.Pattern:
    parts, index = [], 0
    while index < len(fmt):
        if fmt[index] == "%" and index + 1 < len(fmt):
            key = fmt[index + 1:index + 3] if fmt[index + 1] == "-" else fmt[index + 1]
            parts.append(_DIRECTIVES.get(key, re.escape(fmt[index:index + 1 + len(key)])))
            index += 1 + len(key)
        elif fmt[index].isspace():
            parts.append(r"\s+")  # syslog pads one-digit days with a second space
            index += 1
        else:
            parts.append(re.escape(fmt[index]))
            index += 1
    return re.compile("".join(parts))


def line_time(line: str, fmt: str | None, now: float | None = None) -> int | None:
    """The time (ms since the epoch) the CloudWatch agent reads off a log line with `timestamp_format` `fmt`, in
    the node's local time unless the format has a zone; None when there is no format or the line has no such time."""
    if not fmt:
        return None
    match = _pattern(fmt).search(line)
    if not match:
        return None
    found = match.groupdict()
    try:
        year = int(found["Y"]) if found.get("Y") else (2000 + int(found["y"]) if found.get("y") else None)
        if year is None:
            year = time.localtime(now if now is not None else time.time()).tm_year
        month = _MONTHS.get((found.get("b") or "").lower()) or int(found.get("m") or 1)
        hour = int(found.get("H") or found.get("I") or 0)
        if (found.get("p") or "").lower() == "pm" and hour < 12:
            hour += 12
        fraction = found.get("f") or "0"
        parts = (year, month, int(found.get("d") or 1), hour, int(found.get("M") or 0), int(found.get("S") or 0))
        millis = int(fraction[:3].ljust(3, "0"))
        if found.get("z"):
            zone = found["z"].replace(":", "")
            offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
            seconds = datetime(*parts, tzinfo=timezone.utc).timestamp() - offset
        else:
            seconds = datetime(*parts).timestamp()  # a naive time is the local one
    except (ValueError, OverflowError):
        return None
    return int(seconds) * 1000 + millis

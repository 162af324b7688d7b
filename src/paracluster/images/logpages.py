"""Pages of a log stream's events as CloudWatch Logs' GetLogEvents serves them: time range, limit, direction, tokens.

Without a token, `start_from_head` gives the earliest events first, else the latest ones; `f/<n>` continues forward
from event n, `b/<n>` backward before it. Every page carries both tokens, as CloudWatch's does (at the end of the
stream the forward token stays the same). Pure; times are ISO 8601.
"""

from __future__ import annotations

from datetime import datetime, timezone

from paracluster.errors import BadRequestError
from paracluster.images.records import LogEventRecord, LogEventsPage

MAX_EVENTS = 10000  # GetLogEvents' most events per page


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 time (a date alone is midnight UTC; no zone is UTC), or BadRequestError naming the parameter."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestError(f"{name} '{value}' is not a time in ISO 8601 format; write it like "
                              "2021-01-01T20:00:00Z or 2021-01-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def check_range(start_time: str | None, end_time: str | None, limit: int | None) -> tuple:
    """The parsed time range of a request; BadRequestError as ParallelCluster words it when it makes no sense."""
    start = parse_time(start_time, "start_time") if start_time else None
    end = parse_time(end_time, "end_time") if end_time else None
    if start and end and start >= end:
        raise BadRequestError("start_time filter must be earlier than end_time filter.")
    if limit is not None and limit <= 0:
        raise BadRequestError("'limit' must be a positive integer.")
    return start, end


def page(events: list[LogEventRecord], *, start_from_head: bool = False, limit: int | None = None,
         next_token: str | None = None, start_time: str | None = None, end_time: str | None = None) -> LogEventsPage:
    start, end = check_range(start_time, end_time, limit)
    chosen = [event for event in events
              if (start is None or parse_time(event.timestamp, "timestamp") >= start)
              and (end is None or parse_time(event.timestamp, "timestamp") < end)]
    size = min(limit or MAX_EVENTS, MAX_EVENTS)
    direction, position = _token(next_token, len(chosen))
    if direction is None:
        direction, position = ("f", 0) if start_from_head else ("b", len(chosen))
    first, last = (position, min(position + size, len(chosen))) if direction == "f" else \
        (max(position - size, 0), position)
    return LogEventsPage(chosen[first:last], next_token=f"f/{last}", prev_token=f"b/{first}")


def _token(token: str | None, count: int) -> tuple[str | None, int]:
    if not token:
        return None, 0
    direction, _, number = token.partition("/")
    if direction not in ("f", "b") or not number.isdigit():
        raise BadRequestError(f"next token '{token}' is not one this server gave; use the nextToken or prevToken "
                              "of an earlier answer")
    return direction, min(int(number), count)

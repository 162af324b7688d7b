"""Pages of a log stream's events, as CloudWatch's GetLogEvents serves them."""

from __future__ import annotations

import pytest

from paracluster.errors import BadRequestError
from paracluster.images.logpages import page, parse_time
from paracluster.images.records import LogEventRecord

EVENTS = [LogEventRecord(f"2026-01-02T03:04:{second:02d}.000Z", f"line {second}") for second in range(10)]


def _messages(result) -> list[str]:
    return [event.message for event in result.events]


def test_without_a_token_the_latest_events_come_unless_from_the_head():
    assert _messages(page(EVENTS, limit=3)) == ["line 7", "line 8", "line 9"]
    assert _messages(page(EVENTS, limit=3, start_from_head=True)) == ["line 0", "line 1", "line 2"]
    assert len(page(EVENTS).events) == 10


def test_tokens_go_forward_and_backward_and_stay_at_the_end():
    first = page(EVENTS, limit=4, start_from_head=True)
    second = page(EVENTS, limit=4, next_token=first.next_token)
    assert _messages(second) == ["line 4", "line 5", "line 6", "line 7"]
    assert _messages(page(EVENTS, limit=4, next_token=second.prev_token)) == _messages(first)
    last = page(EVENTS, limit=4, next_token=page(EVENTS, limit=4, next_token=second.next_token).next_token)
    assert last.events == [] and last.next_token == "f/10"  # at the end the forward token stays the same


def test_the_time_range_includes_its_start_and_excludes_its_end():
    found = page(EVENTS, start_from_head=True, start_time="2026-01-02T03:04:02Z", end_time="2026-01-02T03:04:05Z")
    assert _messages(found) == ["line 2", "line 3", "line 4"]
    assert _messages(page(EVENTS, start_time="2026-01-03")) == []  # a date alone is midnight UTC


@pytest.mark.parametrize("arguments, message", [
    ({"start_time": "2026-01-02T03:04:09Z", "end_time": "2026-01-02T03:04:01Z"},
     "start_time filter must be earlier than end_time filter."),
    ({"limit": 0}, "'limit' must be a positive integer."),
    ({"start_time": "yesterday"}, "start_time 'yesterday' is not a time in ISO 8601 format"),
    ({"next_token": "x/3"}, "next token 'x/3' is not one this server gave"),
])
def test_bad_requests_say_what_is_wrong(arguments, message):
    with pytest.raises(BadRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        page(EVENTS, **arguments)


def test_times_without_a_zone_are_utc():
    assert parse_time("2026-01-02T03:04:05", "t") == parse_time("2026-01-02T03:04:05Z", "t")

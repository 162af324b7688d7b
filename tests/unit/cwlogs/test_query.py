"""Reading log groups as CloudWatch Logs answers: pcluster's filters and their messages, time ranges, pages of events
and of streams with their tokens, and the times the CloudWatch agent reads off log lines."""

from __future__ import annotations

import time

import pytest

from paracluster.cwlogs.query import (
    MAX_EVENTS,
    StoredEvent,
    StreamFilter,
    check_range,
    event_page,
    line_time,
    page_of,
    parse_filters,
    parse_time,
)
from paracluster.errors import BadRequestError


def test_filters_name_a_node_or_the_head_node_by_its_stream_prefix():
    assert parse_filters(None) == StreamFilter()
    assert parse_filters(["Name=private-dns-name,Values=queue1-st-cr1-1"]).prefix(None) == "queue1-st-cr1-1."
    head = parse_filters(["Name=node-type,Values=HeadNode"])
    assert head.prefix("head") == "head."
    with pytest.raises(BadRequestError, match="HeadNode instance not available"):
        head.prefix(None)
    # Several filters may come in one argument, as pcluster's CLI takes them.
    assert parse_filters(["Name=private-dns-name,Values=a Name=private-dns-name,Values=b"]).private_dns_name == "b"


@pytest.mark.parametrize(("filters", "message"), [
    (["Name=instance-id,Values=i-1"], "provided filters parameter 'Name=instance-id,Values=i-1' must be in the form"),
    (["private-dns-name=x"], "must be in the form"),
    (["Name=private-dns-name,Values=a,b"], "Filter private-dns-name doesn't accept comma separated strings as value."),
    (["Name=node-type,Values=ComputeNode"], "The only accepted value for Node Type filter is 'HeadNode'."),
    (["Name=node-type,Values=HeadNode", "Name=private-dns-name,Values=x"],
     "Private DNS Name and Node Type filters cannot be set at the same time."),
])
def test_bad_filters_are_refused_with_parallelclusters_messages(filters, message):
    with pytest.raises(BadRequestError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_filters(filters)


def test_times_are_iso_8601_in_utc_unless_a_zone_is_given():
    assert parse_time("2021-01-01T20:00:00Z", "start_time") == 1609531200000
    assert parse_time("2021-01-01T20:00:00", "start_time") == 1609531200000
    assert parse_time("2021-01-01T21:00:00+01:00", "start_time") == 1609531200000
    assert parse_time("2021-01-01", "start_time") == 1609459200000
    assert parse_time(None, "start_time") is None
    with pytest.raises(BadRequestError, match="end_time filter must be in the ISO 8601 format"):
        parse_time("yesterday", "end_time")
    with pytest.raises(BadRequestError, match="start_time filter must be earlier than end_time filter."):
        check_range(2000, 1000, None)
    with pytest.raises(BadRequestError, match="'limit' must be a positive integer."):
        check_range(None, None, 0)


def events(count: int, size: int = 10) -> list[StoredEvent]:
    return [StoredEvent(seq, 1000 * seq, 1000 * seq, "x" * size) for seq in range(count)]


def test_without_a_token_the_latest_events_come_unless_asked_from_the_head():
    stream = events(10)
    tail = event_page(stream, None, None, False, 3, None)
    assert [e.seq for e in tail.events] == [7, 8, 9]
    head = event_page(stream, None, None, True, 3, None)
    assert [e.seq for e in head.events] == [0, 1, 2]
    assert head.forward_token == "f/00000000000000000003" and head.backward_token == "b/00000000000000000000"


def test_tokens_walk_forward_and_back_and_stay_put_at_either_end():
    stream = events(10)
    first = event_page(stream, None, None, True, 4, None)
    second = event_page(stream, None, None, False, 4, first.forward_token)
    assert [e.seq for e in second.events] == [4, 5, 6, 7]
    back = event_page(stream, None, None, False, 4, second.backward_token)
    assert [e.seq for e in back.events] == [0, 1, 2, 3]
    last = event_page(stream, None, None, False, 4, event_page(stream, None, None, False, 4, second.forward_token)
                      .forward_token)
    assert last.events == [] and last.forward_token == "f/00000000000000000010"
    assert event_page(stream, None, None, False, 4, back.backward_token).events == []
    # A page stays where it was while new events arrive.
    grown = events(15)
    assert [e.seq for e in event_page(grown, None, None, False, 4, first.forward_token).events] == [4, 5, 6, 7]


def test_time_ranges_include_the_start_and_exclude_the_end():
    page = event_page(events(10), 2000, 5000, True, None, None)
    assert [e.seq for e in page.events] == [2, 3, 4]


def test_pages_hold_at_most_ten_thousand_events_or_one_megabyte():
    assert len(event_page(events(MAX_EVENTS + 5), None, None, True, None, None).events) == MAX_EVENTS
    big = event_page(events(20, size=100_000), None, None, True, None, None)
    assert len(big.events) == 10  # 10 x (100,000 + 26) bytes fit in 1 MB, 11 do not
    with pytest.raises(BadRequestError, match="is not a token of this log stream"):
        event_page(events(3), None, None, True, None, "nonsense")


def test_stream_pages_go_by_name():
    names = [f"n{index:03d}" for index in range(120)]
    page, token = page_of(list(reversed(names)), None)
    assert page == names[:50] and token == "n049"
    page, token = page_of(names, token)
    assert page[0] == "n050" and token == "n099"
    assert page_of(names, token) == (names[100:], None)


def local(*parts: int) -> int:
    return int(time.mktime((*parts, 0, 0, -1))) * 1000


def test_line_times_follow_the_agents_timestamp_formats_in_local_time():
    assert line_time("[2026-12-03T00:40:02.126] error: x", "%Y-%m-%dT%H:%M:%S.%f") == \
        local(2026, 12, 3, 0, 40, 2) + 126
    assert line_time("2026-12-03 00:40:02,710 INFO managing", "%Y-%m-%d %H:%M:%S,%f") == \
        local(2026, 12, 3, 0, 40, 2) + 710
    assert line_time("[2026-12-03 00:40:02] dcv", "[%Y-%m-%d %H:%M:%S]") == local(2026, 12, 3, 0, 40, 2)
    # syslog: no year (the current one), a one-digit day padded with a space
    now = time.mktime((2026, 6, 1, 0, 0, 0, 0, 0, -1))
    assert line_time("Dec  3 00:40:02 head sshd[5]: x", "%b %-d %H:%M:%S", now) == local(2026, 12, 3, 0, 40, 2)
    assert line_time("2026-12-03T00:40:02.5+02:00 x", "%Y-%m-%dT%H:%M:%S.%f%z") == 1796251202500


def test_lines_without_such_a_time_or_formats_without_one_give_none():
    assert line_time("no time here", "%b %-d %H:%M:%S") is None
    assert line_time("2026-12-03 anything", None) is None
    assert line_time("2026-13-45 00:00:00,000 bad date", "%Y-%m-%d %H:%M:%S,%f") is None

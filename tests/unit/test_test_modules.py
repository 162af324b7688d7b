"""The suite's test modules have unique names: without packages, pytest refuses to collect two of the same name."""

from __future__ import annotations

from collections import Counter

from support import PROJECT


def test_no_two_test_modules_share_a_name():
    names = Counter(path.name for path in (PROJECT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []

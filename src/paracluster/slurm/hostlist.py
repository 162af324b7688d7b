"""Slurm hostlist expressions: expand `q1-st-cr1-[1-3,5],q2-dy-c-[01-02]` to names and compress names back."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Slurm refuses huge expressions too; the cap keeps a typo like [1-99999999] from eating the machine's memory.
MAX_HOSTS = 1_000_000

_SEPARATORS = ",\t\n "
_RANGE = re.compile(r"(\d+)(?:-(\d+))?\Z")
_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)\Z", re.DOTALL)


def _split_top_level(text: str) -> list[str]:
    """Split at separators that are outside brackets; check that brackets pair up without nesting."""
    items, current, depth = [], [], 0
    for char in text:
        if char == "[":
            if depth:
                raise ValueError(f"invalid hostlist {text!r}: brackets cannot be nested")
            depth = 1
        elif char == "]":
            if not depth:
                raise ValueError(f"invalid hostlist {text!r}: ']' without a matching '['")
            depth = 0
        if char in _SEPARATORS and not depth:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise ValueError(f"invalid hostlist {text!r}: '[' is never closed")
    items.append("".join(current))
    # Slurm skips empty items, so "a,,b" and a trailing comma are accepted.
    return [item for item in items if item]


def _expand_ranges(body: str, text: str) -> list[str]:
    """The numbers of one bracket body such as `1-3,05,7`, as strings with their zero padding."""
    numbers: list[str] = []
    for part in body.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise ValueError(f"invalid hostlist {text!r}: bad range {part!r} (use N or N-M with digits)")
        low, high = match.group(1), match.group(2)
        if high is None:
            numbers.append(low)
            continue
        if int(high) < int(low):
            raise ValueError(f"invalid hostlist {text!r}: range {part!r} goes downwards")
        if int(high) - int(low) + 1 > MAX_HOSTS:
            raise ValueError(f"invalid hostlist {text!r}: range {part!r} has more than {MAX_HOSTS} hosts")
        # As in Slurm, the low bound's digits give the width: [01-10] -> 01..10, [1-10] -> 1..10.
        width = len(low)
        numbers.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
    return numbers


def _expand_item(item: str, text: str) -> list[str]:
    """Expand one hostlist item; several bracket groups (`r[1-2]n[1-2]`) expand as their product."""
    pieces = re.split(r"(\[[^\]]*\])", item)
    names = [""]
    for piece in pieces:
        if piece.startswith("["):
            numbers = _expand_ranges(piece[1:-1], text)
            if len(names) * len(numbers) > MAX_HOSTS:
                raise ValueError(f"invalid hostlist {text!r}: more than {MAX_HOSTS} hosts")
            names = [name + number for name in names for number in numbers]
        else:
            names = [name + piece for name in names]
    return names


def expand_hostlist(text: str) -> list[str]:
    """All host names of a Slurm hostlist expression, in order and with duplicates, like `scontrol show hostnames`."""
    if not isinstance(text, str):
        raise ValueError(f"a hostlist must be a string, not {type(text).__name__}")
    names: list[str] = []
    for item in _split_top_level(text):
        names.extend(_expand_item(item, text))
        if len(names) > MAX_HOSTS:
            raise ValueError(f"invalid hostlist {text!r}: more than {MAX_HOSTS} hosts")
    return names


def _split_name(name: str) -> tuple[str, int | None, str]:
    """(prefix, number, digits) of a host name; names without trailing digits have no number."""
    if not name or any(char in name for char in "[]," + _SEPARATORS):
        raise ValueError(f"invalid host name {name!r}: empty, or has brackets, commas or spaces")
    match = _TRAILING_NUMBER.match(name)
    if not match:
        return name, None, ""
    return match.group(1), int(match.group(2)), match.group(2)


def _runs(numbers: list[tuple[int, str]]) -> list[str]:
    """Range strings for sorted, distinct (number, digits) pairs of one prefix, keeping each name's padding."""
    runs: list[str] = []
    start = previous = None
    width = 0
    for number, digits in numbers:
        # A run continues while the next number follows on and prints the same with the run's width: 09,10 join
        # (width 2) but 10,011 do not, so that expanding the result gives back exactly the same names.
        if previous is not None and number == previous[0] + 1 and str(number).zfill(width) == digits:
            previous = (number, digits)
            continue
        if start is not None:
            runs.append(start[1] if start == previous else f"{start[1]}-{previous[1]}")
        start = previous = (number, digits)
        width = len(digits) if digits.startswith("0") else 0
    if start is not None:
        runs.append(start[1] if start == previous else f"{start[1]}-{previous[1]}")
    return runs


def compress_hostlist(names: Iterable[str]) -> str:
    """The shortest usual hostlist for these names, like `scontrol show hostlist`: sorted, distinct, ranges merged."""
    if isinstance(names, str):
        raise ValueError("compress_hostlist takes a list of names; use expand_hostlist for a hostlist string")
    by_prefix: dict[str, set[tuple[int, str]]] = {}
    plain: set[str] = set()
    for name in names:
        prefix, number, digits = _split_name(name)
        if number is None:
            plain.add(prefix)
        else:
            by_prefix.setdefault(prefix, set()).add((number, digits))
    # Sort by prefix, then numerically, so that q-10 comes after q-9; a name without a number sorts as its prefix.
    entries: list[tuple[str, int, str]] = [(name, 0, name) for name in plain]
    for prefix, numbers in by_prefix.items():
        ordered = sorted(numbers, key=lambda pair: (pair[0], len(pair[1])))
        if len(ordered) == 1:
            entries.append((prefix, 1, prefix + ordered[0][1]))
        else:
            entries.append((prefix, 1, f"{prefix}[{','.join(_runs(ordered))}]"))
    return ",".join(text for _, _, text in sorted(entries))

"""Check YAML data against a key tree: report every problem at once with its YAML path and line, coerce scalars.

The acceptance rules follow ParallelCluster's marshmallow schema so that the same files pass and fail: integers
accept numeric strings and truncate floats, booleans accept yes/no/on/off/1/0 spellings, null is never a value, and
cross-key checks of a section run only when everything inside it is valid.
"""

from __future__ import annotations

import math

from paracluster.config.schema.types import ListOf, Scalar, Section, Spec

_TRUTHY = {"t", "T", "true", "True", "TRUE", "on", "On", "ON", "y", "Y", "yes", "Yes", "YES", "1", 1, True}
_FALSY = {"f", "F", "false", "False", "FALSE", "off", "Off", "OFF", "n", "N", "no", "No", "NO", "0", 0, 0.0, False}

_KIND_NAMES = {
    "str": "a string",
    "text": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "dict": "a mapping of keys to values",
}


class Problem:
    """One schema finding: where it is (YAML path, line) and what is wrong, as one sentence."""

    __slots__ = ("path", "line", "message", "level")

    def __init__(self, path: str, line: int | None, message: str, level: str = "ERROR"):
        self.path, self.line, self.message, self.level = path, line, message, level

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.path, self.line, self.message, self.level) == (
            other.path, other.line, other.message, other.level)

    def __repr__(self) -> str:
        return f"Problem({self.level} {self})"

    def __str__(self) -> str:
        where = self.path or "configuration"
        if self.line:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


def join_path(path: str, key: object) -> str:
    """Append a mapping key to a YAML path written as `A/B[0]/C`."""
    return f"{path}/{key}" if path else str(key)


def key_line(container: object, key: object, fallback: int | None) -> int | None:
    """The line of `key` in a mapping (or of item `key` in a list) read from a file, else `fallback`."""
    lines = getattr(container, "key_lines", None)
    if lines is not None:
        return lines.get(key, fallback)
    lines = getattr(container, "item_lines", None)
    if lines is not None and isinstance(key, int) and key < len(lines):
        return lines[key]
    return fallback


def describe(value: object) -> str:
    """Name the YAML type of a value for an error message."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ('{value}')"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class Walker:
    """Walks data against a spec, collecting problems; `check_section` returns whether the section is valid."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(path, line, message))

    def warn(self, path: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(path, line, message, level="WARNING"))

    def check_section(self, spec: Section, data: object, path: str, line: int | None) -> bool:
        if not isinstance(data, dict):
            self.error(path, line, f"must be a mapping of keys (the {spec.title} section), not {describe(data)}")
            return False
        # Point at the key that opens the section (the parent's line for it); the top level has no such key.
        line = line if line is not None else getattr(data, "line", None)
        ok = True
        for key, value in list(data.items()):
            kpath, kline = join_path(path, key), key_line(data, key, line)
            field = spec.fields.get(key) if isinstance(key, str) else None
            if field is None:
                self.error(kpath, kline, _unknown_key_message(key, spec))
                ok = False
                continue
            if field.deprecated:
                self.warn(kpath, kline, field.deprecated)
            valid, value = self.check_value(field, value, kpath, kline)
            if valid:
                data[key] = value
            ok = ok and valid
        for key, field in spec.fields.items():
            if field.required and key not in data:
                self.error(join_path(path, key), line, f"is required in the {spec.title} section; add it")
                ok = False
        for name, count in getattr(data, "duplicates", ()):
            self.warn(join_path(path, name), count, "appears more than once in the same mapping; the last one is used")
        if ok:
            for check in spec.checks:
                for finding in check(data):
                    if isinstance(finding, tuple):
                        key, message = finding
                        self.error(join_path(path, key), key_line(data, key, line), message)
                    else:
                        self.error(path, line, finding)
                    ok = False
        return ok

    def check_value(self, spec: Spec, value: object, path: str, line: int | None) -> tuple[bool, object]:
        """Check one value; return (valid, coerced value)."""
        if value is None:
            self.error(path, line, "has no value; give it a value or remove the key")
            return False, value
        if isinstance(spec, Section):
            return self.check_section(spec, value, path, line), value
        if isinstance(spec, ListOf):
            return self._check_list(spec, value, path, line)
        assert isinstance(spec, Scalar)
        return self._check_scalar(spec, value, path, line)

    def _check_list(self, spec: ListOf, value: object, path: str, line: int | None) -> tuple[bool, object]:
        if not isinstance(value, list):
            self.error(path, line, f"must be a list, not {describe(value)}")
            return False, value
        line = line if line is not None else getattr(value, "line", None)
        ok = True
        for index, item in enumerate(value):
            valid, item = self.check_value(spec.item, item, f"{path}[{index}]", key_line(value, index, line))
            if valid:
                value[index] = item
            ok = ok and valid
        count = len(value)
        too_few = spec.min_len is not None and count < spec.min_len
        too_many = spec.max_len is not None and count > spec.max_len
        if too_few or too_many:
            self.error(path, line, spec.length_help or _length_message(count, spec.min_len, spec.max_len, "items"))
            ok = False
        if ok:
            for check in spec.checks:
                message = check(value)
                if message:
                    self.error(path, line, message)
                    ok = False
        return ok, value

    def _check_scalar(self, spec: Scalar, value: object, path: str, line: int | None) -> tuple[bool, object]:
        coerced = _coerce(spec.kind, value)
        if coerced is _INVALID:
            self.error(path, line, f"must be {_KIND_NAMES[spec.kind]}, not {describe(value)}")
            return False, value
        value = coerced
        messages = list(_rule_messages(spec, value))
        for check in spec.checks:
            message = check(value)
            if message:
                messages.append(message)
        for message in messages:
            self.error(path, line, message)
        if not messages and _hashable(value) and value in spec.deprecated_values:
            self.warn(path, line, spec.deprecated_values[value])
        return not messages, value


_INVALID = object()


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _coerce(kind: str, value: object) -> object:
    """Coerce a YAML value the way ParallelCluster's marshmallow fields do, or return _INVALID."""
    if kind == "str":
        return value if isinstance(value, str) else _INVALID
    if kind == "raw":
        return value
    if kind == "text":
        return _as_text(value)
    if kind == "dict":
        return value if isinstance(value, dict) else _INVALID
    if kind == "bool":
        if not _hashable(value):
            return _INVALID
        if value in _TRUTHY:
            return True
        if value in _FALSY:
            return False
        return _INVALID
    if value is True or value is False or isinstance(value, (dict, list)):
        return _INVALID
    try:
        number = int(value) if kind == "int" else float(value)
    except (TypeError, ValueError, OverflowError):
        return _INVALID
    if kind == "float" and (math.isnan(number) or math.isinf(number)):
        return _INVALID
    return number


def _as_text(value: object) -> object:
    """A string field of a document read by Go's YAML library (AWSTOE): a number or boolean there keeps its text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        # TextInt/TextFloat (yamlfile.parse_yaml(keep_number_text=True)) remember how the number was written.
        return getattr(value, "text", str(value))
    return _INVALID


def _rule_messages(spec: Scalar, value: object):
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(str(choice) for choice in spec.choices)
        yield f"'{value}' is not allowed; use one of: {allowed}"
        return
    if spec.regex is not None and spec.regex.match(value) is None:
        hint = spec.pattern_help or f"it must match the pattern {spec.pattern}"
        yield f"'{value}' is invalid; {hint}"
    if spec.minimum is not None and (value <= spec.minimum if spec.min_exclusive else value < spec.minimum):
        bound = f"greater than {spec.minimum:g}" if spec.min_exclusive else f"at least {spec.minimum:g}"
        upper = f" and at most {spec.maximum:g}" if spec.maximum is not None else ""
        yield f"{value} is out of range; use a value {bound}{upper}"
    elif spec.maximum is not None and value > spec.maximum:
        lower = f"at least {spec.minimum:g} and " if spec.minimum is not None else ""
        yield f"{value} is out of range; use a value {lower}at most {spec.maximum:g}"
    if spec.min_len is not None or spec.max_len is not None:
        length = len(value)
        if (spec.min_len is not None and length < spec.min_len) or (spec.max_len is not None and length > spec.max_len):
            yield _length_message(length, spec.min_len, spec.max_len, "characters")


def _length_message(count: int, low: int | None, high: int | None, unit: str) -> str:
    if low is not None and low == high:
        return f"has {count} {unit}; it must have exactly {low}"
    if low is not None and count < low:
        return f"has {count} {unit}; it must have at least {low}"
    return f"has {count} {unit}; it must have at most {high}"


def _unknown_key_message(key: object, spec: Section) -> str:
    if not isinstance(key, str):
        return f"is not a valid key of the {spec.title} section; keys are names such as {next(iter(spec.fields))}"
    import difflib  # only a config with an unknown key pays for it

    close = difflib.get_close_matches(key, list(spec.fields), n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else f"; {spec.unknown_hint}"
    return f"is not a known key of the {spec.title} section{hint}"

"""AWSTOE's comparison and logical operators, which the Assert action evaluates.

An expression is a mapping with exactly one operator key. Operators that compare two values take the baseline as the
operator's value and the variable value under `value` (`numberLessThan: 5` with `value: 3` is true: 3 < 5). String
comparisons ignore case; a numeric or version comparison whose value does not convert is false, as AWSTOE does. The
file hash operators take the file under `path`. Standard library only: this runs inside nodes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil

STRING = ("stringEquals", "stringLessThan", "stringLessThanEquals", "stringGreaterThan", "stringGreaterThanEquals")
NUMBER = ("numberEquals", "numberLessThan", "numberLessThanEquals", "numberGreaterThan", "numberGreaterThanEquals")
SEMVER = ("semVerEquals", "semVerLessThan", "semVerLessThanEquals", "semVerGreaterThan", "semVerGreaterThanEquals")
HASHES = {"fileMD5Equals": "md5", "fileSHA1Equals": "sha1", "fileSHA256Equals": "sha256",
          "fileSHA512Equals": "sha512"}
SINGLE = ("stringIsEmpty", "stringIsWhitespace", "binaryExists", "fileExists", "folderExists")
LOGICAL = ("and", "or", "not")

# operator -> the other key it needs beside itself
OPERAND = {
    **{name: "value" for name in (*STRING, *NUMBER, *SEMVER, "patternMatches")},
    **{name: "path" for name in HASHES},
    **{name: None for name in SINGLE},
}
OPERATORS = (*OPERAND, *LOGICAL)

_ORDER = {"Equals": lambda a, b: a == b, "LessThan": lambda a, b: a < b, "LessThanEquals": lambda a, b: a <= b,
          "GreaterThan": lambda a, b: a > b, "GreaterThanEquals": lambda a, b: a >= b}
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class ExpressionError(ValueError):
    """The expression is malformed (the loader rejects these before anything runs)."""


def operator_of(expression: dict) -> str:
    names = [key for key in expression if key in OPERATORS]
    if len(names) != 1:
        raise ExpressionError(f"an expression needs exactly one operator, found {len(names)}")
    return names[0]


def evaluate(expression: dict, path=lambda value: value) -> bool:
    """Evaluate a (resolved) expression; `path` makes the file operators' relative paths absolute."""
    name = operator_of(expression)
    operand = expression[name]
    if name == "and":
        return all(evaluate(item, path) for item in operand)
    if name == "or":
        return any(evaluate(item, path) for item in operand)
    if name == "not":
        return not evaluate(operand, path)
    baseline = str(operand)
    if name == "stringIsEmpty":
        return baseline == ""
    if name == "stringIsWhitespace":
        return baseline != "" and baseline.isspace()
    if name == "binaryExists":
        return shutil.which(baseline) is not None
    if name == "fileExists":
        return os.path.isfile(path(baseline))
    if name == "folderExists":
        return os.path.isdir(path(baseline))
    if name in HASHES:
        return _file_hash(path(str(expression["path"])), HASHES[name]) == baseline.lower()
    value = str(expression["value"])
    if name == "patternMatches":
        return re.search(baseline, value) is not None
    if name in STRING:
        return _ORDER[name[len("string"):]](value.lower(), baseline.lower())
    if name in NUMBER:
        left, right = _number(value), _number(baseline)
        return left is not None and right is not None and _ORDER[name[len("number"):]](left, right)
    left, right = _semver(value), _semver(baseline)
    return left is not None and right is not None and _ORDER[name[len("semVer"):]](left, right)


def describe(expression: dict) -> str:
    """The expression in one line, for a failed assertion's message."""
    name = operator_of(expression)
    operand = expression[name]
    if name in ("and", "or"):
        return f"{name}(" + ", ".join(describe(item) for item in operand) + ")"
    if name == "not":
        return f"not({describe(operand)})"
    other = OPERAND[name]
    return f"{name} {operand!r}" + (f" with {other} {expression[other]!r}" if other else "")


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _semver(text: str) -> tuple | None:
    match = _SEMVER.match(text.strip())
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    # A pre-release sorts before its release (1.0.0-rc1 < 1.0.0); its parts compare numerically where numeric.
    pre_key = (1,) if pre is None else (0, *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return int(major), int(minor), int(patch), pre_key


def _file_hash(path: str, algorithm: str) -> str | None:
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()

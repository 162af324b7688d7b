"""AWSTOE's `{{ ... }}` expressions: parameters, constants, chained step inputs/outputs and loop variables.

Standard library only: the loader (host) uses it to check references, the runner (inside a node) to resolve them.
An expression that names nothing known is left in the text unchanged, as AWSTOE leaves it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

EXPRESSION = re.compile(r"\{\{\s*(.*?)\s*\}\}")
NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# {{ phase.step.inputs.var }}, {{ phase.step.outputs[0].var }}
CHAIN = re.compile(
    r"^(?P<phase>[A-Za-z0-9_-]+)\.(?P<step>[A-Za-z0-9_-]+)\.(?P<kind>inputs|outputs)"
    r"(?:\[(?P<index>\d+)\])?\.(?P<var>[A-Za-z0-9_-]+)$"
)
# {{ loop.index }}, {{ MyLoop.value }}
LOOP = re.compile(r"^(?P<loop>[A-Za-z0-9_-]+)\.(?P<member>index|value)$")


def expressions(text: str) -> list[str]:
    """The trimmed insides of every `{{ ... }}` in `text`."""
    return [match.group(1) for match in EXPRESSION.finditer(text)]


def strings(value: object):
    """Every string inside a value made of dicts, lists and scalars (keys excluded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def as_text(value: object) -> str:
    """How a chained value reads inside a string: strings as they are, other values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class Context:
    """What expressions of one step can see: variables, the chaining record, and the step's loop iteration."""

    def __init__(self, variables: dict[str, str], chaining: dict[str, dict], loop: dict | None = None):
        self.variables = variables
        self.chaining = chaining  # "phase.step" -> {"inputs": [...], "outputs": [...]}
        self.loop = loop  # {"name": str | None, "index": int, "value": str} while a loop iterates

    def with_loop(self, name: str | None, index: int, value: str) -> Context:
        return Context(self.variables, self.chaining, {"name": name, "index": index, "value": value})

    def lookup(self, expression: str) -> str | None:
        """The text an expression stands for, or None when it names nothing known (it then stays as written)."""
        loop = LOOP.match(expression)
        if loop and self.loop is not None and loop["loop"] in ("loop", self.loop["name"]):
            return str(self.loop[loop["member"]])
        chain = CHAIN.match(expression)
        if chain:
            record = self.chaining.get(f"{chain['phase']}.{chain['step']}")
            items = (record or {}).get(chain["kind"]) or []
            index = int(chain["index"] or 0)
            if index < len(items) and isinstance(items[index], dict) and chain["var"] in items[index]:
                return as_text(items[index][chain["var"]])
            return None
        if expression in self.variables:
            return self.variables[expression]
        return None


def resolve(value: object, context: Context) -> object:
    """A copy of `value` with every known `{{ ... }}` in its strings replaced."""
    return substitute(value, context.lookup)


def substitute(value: object, lookup: Callable[[str], str | None]) -> object:
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            found = lookup(match.group(1))
            return match.group(0) if found is None else found

        return EXPRESSION.sub(replace, value)
    if isinstance(value, dict):
        return {key: substitute(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, lookup) for item in value]
    return value

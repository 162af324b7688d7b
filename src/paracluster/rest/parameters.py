"""A REST request's parameters as ParallelCluster's spec defines them: path, query and JSON body, checked.

Every problem is a BadRequestError naming the parameter and what to send instead (the server answers 400, as
ParallelCluster's does for a request its spec rejects).
"""

from __future__ import annotations

import json
import re
import types

from pydantic import BaseModel, ValidationError

from paracluster.errors import BadRequestError
from paracluster.rest.operations import NAME_PATTERN, Operation

CLUSTER_STATUSES = ("CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED",
                    "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED")
# Allowed values of the enumerated parameters (ParallelCluster's schemas of the same names).
ENUMS = {
    "clusterStatus": CLUSTER_STATUSES,
    "validationFailureLevel": ("INFO", "WARNING", "ERROR"),
    "nodeType": ("HeadNode", "ComputeNode", "LoginNode"),
    "imageStatus": ("AVAILABLE", "PENDING", "FAILED"),
}
BOOLEANS = frozenset({"dryrun", "rollbackOnFailure", "forceUpdate", "force", "startFromHead"})
INTEGERS = frozenset({"limit"})
LISTS = frozenset({"clusterStatus", "suppressValidators", "filters"})
SPACE_DELIMITED = frozenset({"filters"})
PATTERNS = {
    "clusterName": re.compile(NAME_PATTERN),
    "imageId": re.compile(NAME_PATTERN),
    "suppressValidators": re.compile(r"^(ALL|type:[A-Za-z0-9]+)$"),
}
REQUIRED_QUERY = frozenset({"imageStatus"})


def _scalar(name: str, value: str):
    if name in PATTERNS and not PATTERNS[name].match(value):
        raise BadRequestError(f"parameter '{name}' is '{value}', which does not match {PATTERNS[name].pattern}")
    if name in ENUMS and value not in ENUMS[name]:
        raise BadRequestError(f"parameter '{name}' is '{value}'; use one of {', '.join(ENUMS[name])}")
    if name in BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise BadRequestError(f"parameter '{name}' is '{value}'; use true or false")
        return value.lower() == "true"
    if name in INTEGERS:
        try:
            return int(value)
        except ValueError:
            raise BadRequestError(f"parameter '{name}' is '{value}'; use an integer") from None
    return value


def parse(operation: Operation, path_params: dict[str, str], query: list[tuple[str, str]]) -> types.SimpleNamespace:
    """The request's path and query parameters as attributes (camelCase, None when absent); `body` is added later."""
    values: dict[str, object] = {name: _scalar(name, value) for name, value in path_params.items()}
    given: dict[str, list[str]] = {}
    for name, value in query:
        if name in operation.query:
            given.setdefault(name, []).append(value)
    for name in operation.query:
        raw = given.get(name)
        if raw is None:
            if name in REQUIRED_QUERY:
                raise BadRequestError(f"parameter '{name}' is required")
            values[name] = None
        elif name in LISTS:
            items = [part for value in raw for part in (value.split(" ") if name in SPACE_DELIMITED else [value])]
            repeated = sorted({item for item in items if items.count(item) > 1})
            if repeated:
                raise BadRequestError(f"parameter '{name}' repeats {', '.join(repeated)}; give each value once")
            values[name] = [_scalar(name, item) for item in items]
        elif len(raw) > 1:
            raise BadRequestError(f"parameter '{name}' is given {len(raw)} times; give it once")
        else:
            values[name] = _scalar(name, raw[0])
    return types.SimpleNamespace(body=None, **values)


def parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    """The JSON request body checked against ParallelCluster's request schema of the operation."""
    if not raw.strip():
        raise BadRequestError(f"the request body is required: a JSON object ({model.__name__})")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequestError(f"the request body is not valid JSON ({err}); send a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequestError(f"the request body is a JSON {type(data).__name__}; send a JSON object "
                              f"({model.__name__})")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        raise BadRequestError(f"request body field '{where}': {problem['msg']} ({model.__name__})") from None

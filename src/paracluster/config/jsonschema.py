"""Render the key trees as JSON Schema (draft-07), for editors that complete and check YAML configs."""

from __future__ import annotations

from typing import Any

from paracluster.config.schema.types import ListOf, Scalar, Section, Spec

DRAFT = "http://json-schema.org/draft-07/schema#"

_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object"}


def _describe(spec: Spec, schema: dict) -> dict:
    notes = [spec.doc] if spec.doc else []
    if spec.policy:
        notes.append(f"Update policy: {spec.policy}.")
    if spec.deprecated:
        schema["deprecated"] = True
        notes.append(f"Deprecated: {spec.deprecated}.")
    if notes:
        schema["description"] = " ".join(notes)
    if spec.default is not None and not callable(spec.default):
        schema["default"] = spec.default
    return schema


def spec_schema(spec: Spec) -> dict[str, Any]:
    """The JSON Schema of one key's value."""
    if isinstance(spec, Section):
        schema: dict[str, Any] = {
            "type": "object",
            "title": spec.title,
            "properties": {key: spec_schema(child) for key, child in spec.fields.items()},
            "additionalProperties": False,
        }
        required = [key for key, child in spec.fields.items() if child.required]
        if required:
            schema["required"] = required
        return _describe(spec, schema)
    if isinstance(spec, ListOf):
        schema = {"type": "array", "items": spec_schema(spec.item)}
        if spec.min_len is not None:
            schema["minItems"] = spec.min_len
        if spec.max_len is not None:
            schema["maxItems"] = spec.max_len
        return _describe(spec, schema)
    assert isinstance(spec, Scalar)
    schema = {}
    if spec.kind in _TYPES:
        schema["type"] = _TYPES[spec.kind]
    if spec.choices is not None:
        schema["enum"] = list(spec.choices)
    if spec.pattern:
        schema["pattern"] = spec.pattern
    if spec.minimum is not None:
        schema["exclusiveMinimum" if spec.min_exclusive else "minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if spec.min_len is not None:
        schema["minLength"] = spec.min_len
    if spec.max_len is not None:
        schema["maxLength"] = spec.max_len
    return _describe(spec, schema)


def _document(spec: Section, title: str) -> dict:
    schema = spec_schema(spec)
    schema.pop("title", None)
    return {"$schema": DRAFT, "title": title, **schema}


def cluster_json_schema() -> dict:
    from paracluster.config.schema import CLUSTER

    return _document(CLUSTER, "ParallelCluster 3 cluster configuration (ParaCluster)")


def image_json_schema() -> dict:
    from paracluster.config.schema import IMAGE_CONFIG

    return _document(IMAGE_CONFIG, "ParallelCluster 3 image configuration (ParaCluster)")


def combined_json_schema() -> dict:
    """Both formats in one document: editors can point at `#/definitions/cluster` or `#/definitions/image`."""
    return {
        "$schema": DRAFT,
        "title": "ParaCluster configuration formats",
        "definitions": {"cluster": cluster_json_schema(), "image": image_json_schema()},
        "oneOf": [{"$ref": "#/definitions/cluster"}, {"$ref": "#/definitions/image"}],
    }

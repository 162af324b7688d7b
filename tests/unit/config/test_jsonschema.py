"""The published JSON Schema accepts the configs our loader accepts, and rejects unknown keys."""

from __future__ import annotations

import json

import pytest
import yaml

from support import CORPUS, MINIMAL_CLUSTER
from paracluster.config.jsonschema import cluster_json_schema, image_json_schema

jsonschema = pytest.importorskip("jsonschema")


def test_schemas_are_valid_draft7():
    jsonschema.Draft7Validator.check_schema(cluster_json_schema())
    jsonschema.Draft7Validator.check_schema(image_json_schema())


def test_minimal_config_validates_and_unknown_key_does_not():
    validator = jsonschema.Draft7Validator(cluster_json_schema())
    assert not list(validator.iter_errors(yaml.safe_load(MINIMAL_CLUSTER)))
    broken = yaml.safe_load(MINIMAL_CLUSTER + "Bogus: 1\n")
    assert any("Bogus" in error.message for error in validator.iter_errors(broken))


def test_full_example_validates():
    path = CORPUS / "pcluster/cli/tests/pcluster/example_configs/slurm.full.yaml"
    if not path.exists():
        pytest.skip("the shared corpus is absent")
    validator = jsonschema.Draft7Validator(cluster_json_schema())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_schema_is_serializable():
    json.dumps(cluster_json_schema())

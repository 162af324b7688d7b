"""Helpers for validator tests: run the whole validation of a YAML text and pick one validator's findings."""

from __future__ import annotations

import textwrap

from paracluster.config.validate import validate_config

# The smallest valid Slurm config (shared with the loader tests) and the AWS Batch one.
from support import BATCH_CLUSTER  # noqa: E402,F401 - re-exported for the validator tests
from support import MINIMAL_CLUSTER as BASE_CLUSTER  # noqa: E402,F401 - re-exported for the validator tests



def run(text: str, *, kind: str = "cluster", cluster_name: str | None = "mycluster", suppress=()):
    """Validate `text` (dedented); return the Outcome. The schema must pass, so tests see validator findings."""
    outcome = validate_config(
        None, kind=kind, cluster_name=cluster_name, suppress=tuple(suppress), text=textwrap.dedent(text)
    )
    assert outcome.schema_ok, [finding.message for finding in outcome.findings]
    return outcome


def findings(text: str, validator_type: str, **kwargs) -> list[tuple[str, str]]:
    """(level name, message) of every finding of `validator_type` when validating `text`."""
    return [(f.level.name, f.message) for f in run(text, **kwargs).findings if f.type == validator_type]

"""Helpers for validator tests: run the whole validation of a YAML text and pick one validator's findings."""

from __future__ import annotations

import textwrap

from paracluster.config.validate import validate_config

# The smallest valid Slurm config (shared with the loader tests) and the AWS Batch one.
from support import MINIMAL_CLUSTER as BASE_CLUSTER  # noqa: E402

BATCH_CLUSTER = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
  Imds:
    Secured: false
Scheduling:
  Scheduler: awsbatch
  AwsBatchQueues:
    - Name: queue1
      ComputeResources:
        - Name: cr1
          InstanceTypes:
            - optimal
      Networking:
        SubnetIds:
          - subnet-12345678
"""


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

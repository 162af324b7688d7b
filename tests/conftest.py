"""Shared test fixtures: paths to the project, its examples and the shared ParallelCluster corpus."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus"

MINIMAL_CLUSTER = """\
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.xlarge
  Networking:
    SubnetId: subnet-12345678
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: queue1
      ComputeResources:
        - Name: cr1
          InstanceType: c5.xlarge
      Networking:
        SubnetIds:
          - subnet-12345678
"""


@pytest.fixture
def write_config(tmp_path):
    """Write YAML text (dedented) to a file and return its path."""

    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write

"""Shared test data: paths to the project and the shared corpus, and the smallest valid cluster config."""

from __future__ import annotations

from pathlib import Path

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

# One login pool of one node, for configs that have Scheduling already.
LOGIN_POOL = """\
LoginNodes:
  Pools:
    - Name: users
      InstanceType: c5.large
      Count: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""

# The smallest valid AWS Batch config.
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

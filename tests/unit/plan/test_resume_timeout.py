"""ResumeTimeout: ParallelCluster's ComputeNodeBootstrapTimeout, or a provider's timer with an allowance per node."""

from __future__ import annotations

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan.slurm import Timers, resume_timeout

CONFIG = """\
Region: us-east-1
Image:
  Os: alinux2023
HeadNode:
  InstanceType: c5.24xlarge
  Networking:
    SubnetId: subnet-0123456789abcdef0
  Ssh:
    KeyName: k
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
      ComputeResources:
        - Name: a
          InstanceType: c5.xlarge
          MinCount: 2
          MaxCount: 602
        - Name: b
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 400
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
{dev}"""


def config(dev: str = ""):
    loaded = load_config_text(CLUSTER, CONFIG.format(dev=dev))
    assert loaded.config is not None, loaded.problems
    return loaded.config


def test_parallelcluster_uses_the_bootstrap_timeout():
    assert resume_timeout(config(), Timers()) == 2100


def test_a_burst_of_every_dynamic_node_gets_time_for_each():
    # 1,000 dynamic nodes (static ones never resume): 60 s + 0.3 s each.
    assert resume_timeout(config(), Timers(resume_timeout=60, resume_timeout_per_node=0.3)) == 360
    assert resume_timeout(config(), Timers(resume_timeout=60)) == 60


def test_the_bootstrap_timeout_still_caps_it():
    capped = config("DevSettings:\n  Timeouts:\n    ComputeNodeBootstrapTimeout: 200\n")
    assert resume_timeout(capped, Timers(resume_timeout=60, resume_timeout_per_node=0.3)) == 200

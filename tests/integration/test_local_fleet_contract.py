"""The fleet contract against the local provider's fleet: a real cluster, its fleet socket, a host service restart."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cluster_support import HEADER, private_cli, stop_service

sys.path.insert(0, str(Path(__file__).parents[1] / "contract"))
from fleet_contract import CHECKS, FleetUnderTest  # noqa: E402

from paracluster.fleet import FleetClient  # noqa: E402

CONFIG = HEADER + """\
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q
      ComputeResources:
        - Name: c
          InstanceType: c5.xlarge
          MinCount: 0
          MaxCount: 4
        - Name: s
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 2
      Networking:
        SubnetIds:
          - subnet-0123456789abcdef0
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # The cluster manager loops once an hour here: it would take the fleet's test instances for orphans.
    with private_cli(tmp_path_factory.mktemp("contract"), PARACLUSTER_LOCAL_CAPACITY='{"c5.large": 1}',
                     PARACLUSTER_LOCAL_CLUSTERMGTD_INTERVAL="3600") as runner:
        assert runner.create("contract", CONFIG)["clusterStatus"] == "CREATE_COMPLETE"
        yield runner


@pytest.fixture
def under(cluster):
    socket = str(cluster.state_dir / "clusters" / "contract" / "fleet" / "fleet.sock")

    def restart():
        stop_service(cluster.state_dir)
        cluster.json("describe-cluster", "-n", "contract")  # the next request starts the service again
        return FleetClient(socket)

    nodes = {f"q-dy-c-{n}": ("q", "c") for n in range(1, 5)} | {f"q-dy-s-{n}": ("q", "s") for n in (1, 2)}
    return FleetUnderTest(FleetClient(socket), nodes, ["q-dy-s-1", "q-dy-s-2"], restart)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_local_fleet_keeps_the_contract(under, check):
    check(under)

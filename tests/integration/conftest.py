"""Fixtures for tests on real local clusters: skip without root or Slurm, and one CLI runner per session."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
from cluster_support import (
    Cli,
    delete_images,
    pytest_collection_modifyitems,  # noqa: F401 - the hook that marks and skips
    stop_service,
)

# Every host service the tests start records the programs it runs here (read by test_zz_host_commands.py).
os.environ.setdefault("PARACLUSTER_COMMAND_LOG", f"/tmp/paracluster-test-commands-{uuid.uuid4().hex[:8]}.log")


@pytest.fixture(scope="session")
def cli(tmp_path_factory):
    state_dir = Path(f"/tmp/paracluster-test-{uuid.uuid4().hex[:8]}")
    runner = Cli(state_dir, tmp_path_factory.mktemp("configs"))
    yield runner
    for name in json.loads(runner.run("list-clusters").stdout or '{"clusters": []}').get("clusters", []):
        runner.run("delete-cluster", "-n", name["clusterName"], "--wait")
    delete_images(runner)
    stop_service(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)

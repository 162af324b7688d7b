"""Last of the real-cluster tests: every program the host services ran comes from a package install-deps installs."""

from __future__ import annotations

import os
from pathlib import Path

from packages import check


def test_every_program_the_host_service_ran_is_installed_by_install_deps(cli):
    log = Path(os.environ["PARACLUSTER_COMMAND_LOG"])
    if not log.exists():  # run alone: make the host service do the work of a cluster's life once
        cli.create("commands")
        cli.json("delete-cluster", "-n", "commands", "--wait")
    programs = set(log.read_text().split())
    assert {"ip", "nsenter"} <= {Path(program).name for program in programs}  # the log is written
    assert check(programs) == []

"""The fleet contract against the in-memory fleet (kept in a file, so a 'restart' is a new process's view)."""

from __future__ import annotations

import pytest
from fleet_contract import CHECKS, FleetUnderTest

from paracluster.fleet_memory import MemoryFleet

NODES = {f"q-dy-c-{n}": ("q", "c") for n in range(1, 5)}
SCARCE = {f"q-dy-s-{n}": ("q", "s") for n in (1, 2)}


@pytest.fixture
def under(tmp_path):
    path = str(tmp_path / "fleet.json")
    nodes = {name: {"queue": q, "compute_resource": c, "instance_type": "c5.large" if c == "s" else "c5.xlarge"}
             for name, (q, c) in {**NODES, **SCARCE}.items()}
    fleet = MemoryFleet(nodes, capacity={"c5.large": 1}, path=path)
    fleet.save()
    return FleetUnderTest(fleet, dict(NODES) | dict(SCARCE), list(SCARCE), lambda: MemoryFleet.open(path))


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_memory_fleet_keeps_the_contract(under, check):
    check(under)

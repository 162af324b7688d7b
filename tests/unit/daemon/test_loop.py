"""The cluster manager's actions: one that fails, whatever the error, never stops the others."""

from __future__ import annotations

from paracluster.daemon.loop import act
from paracluster.daemon.plan import SetFleetStatus, Terminate
from paracluster.fleet_memory import MemoryFleet


class BrokenTerminate(MemoryFleet):
    def terminate(self, request_id, instance_ids):
        raise ValueError("an error the manager did not expect")


def test_a_failed_action_of_any_kind_does_not_stop_the_next_ones():
    fleet = BrokenTerminate({})
    act([Terminate(("i-1",), "orphaned instance"), SetFleetStatus("PROTECTED")], fleet, {"nodes": {}})
    assert fleet.status().status == "PROTECTED"

"""The fleet contract as tests: one body run against every Fleet implementation (see paracluster.fleet).

A `FleetUnderTest` gives the fleet, the Slurm nodes it may back ({name: (queue, compute resource)}), a node whose
compute resource has room for one instance only, and a way to make the serving side restart.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Callable

from paracluster import fleet as contract
from paracluster.fleet import LaunchNode


@dataclasses.dataclass
class FleetUnderTest:
    fleet: object
    nodes: dict[str, tuple[str, str]]  # four nodes of one compute resource without a capacity limit
    scarce: list[str]  # two nodes of a compute resource with room for one instance
    restart: Callable[[], object]  # restarts the serving side; returns the fleet to use afterwards


def rid() -> str:
    return uuid.uuid4().hex


def launch(fleet, names, nodes, all_or_nothing=False, request_id=None):
    request = [LaunchNode(name, *nodes[name]) for name in names]
    return fleet.launch(request_id or rid(), request, all_or_nothing)


def check_launch_bind_terminate(under: FleetUnderTest) -> None:
    fleet, names = under.fleet, sorted(under.nodes)[:2]
    answer = launch(fleet, names, under.nodes)
    assert sorted(i.node_name for i in answer.launched) == names and answer.failed == []
    assert len({i.instance_id for i in answer.launched}) == 2
    bound = fleet.bind(rid(), {i.instance_id: i.node_name for i in answer.launched})
    assert sorted(bound.bound) == names and bound.failed == []
    listed = {i.instance_id: i for i in fleet.instances()}
    assert {i.instance_id for i in answer.launched} <= set(listed)
    assert all(listed[i.instance_id].node_name == i.node_name for i in answer.launched)
    ended = fleet.terminate(rid(), [i.instance_id for i in answer.launched])
    assert sorted(ended.terminated) == sorted(i.instance_id for i in answer.launched)
    assert not {i.instance_id for i in answer.launched} & {i.instance_id for i in fleet.instances()}


def check_errors_are_data(under: FleetUnderTest) -> None:
    fleet = under.fleet
    answer = fleet.launch(rid(), [LaunchNode("nope-dy-x-1", "nope", "x")], False)
    assert answer.launched == [] and [(f.name, f.code) for f in answer.failed] == [("nope-dy-x-1",
                                                                                     contract.INVALID_NODE)]
    ended = fleet.terminate(rid(), ["i-00000000000000000"])
    assert ended.terminated == [] and [f.code for f in ended.failed] == [contract.NOT_FOUND]
    name = sorted(under.nodes)[0]
    bound = fleet.bind(rid(), {"i-00000000000000000": name})
    assert bound.bound == [] and [(f.name, f.code) for f in bound.failed] == [(name, contract.INVALID_BINDING)]


def check_all_or_nothing_per_compute_resource(under: FleetUnderTest) -> None:
    fleet, scarce = under.fleet, under.scarce
    nodes = {name: under.nodes.get(name) for name in scarce}
    none = launch(fleet, scarce, nodes, all_or_nothing=True)
    assert none.launched == [] and {f.code for f in none.failed} == {"InsufficientInstanceCapacity"}
    some = launch(fleet, scarce, nodes, all_or_nothing=False)
    assert len(some.launched) == 1 and len(some.failed) == 1
    fleet.terminate(rid(), [i.instance_id for i in some.launched])


def check_a_retry_gets_the_first_answer_also_after_a_restart(under: FleetUnderTest) -> None:
    names = sorted(under.nodes)[2:4]
    request_id = rid()
    first = launch(under.fleet, names, under.nodes, request_id=request_id)
    again = launch(under.fleet, names, under.nodes, request_id=request_id)
    assert [i.instance_id for i in again.launched] == [i.instance_id for i in first.launched]
    fleet = under.restart()
    after = launch(fleet, names, under.nodes, request_id=request_id)
    assert [i.instance_id for i in after.launched] == [i.instance_id for i in first.launched]
    bind_id = rid()
    bindings = {i.instance_id: i.node_name for i in first.launched}
    assert sorted(fleet.bind(bind_id, bindings).bound) == names
    assert sorted(fleet.bind(bind_id, bindings).bound) == names  # the same answer, not a second boot
    fleet.terminate(rid(), list(bindings))
    under.fleet = fleet


def check_a_later_power_up_never_gets_a_terminated_instance(under: FleetUnderTest) -> None:
    names = sorted(under.nodes)[:1]
    request_id = rid()  # a resume's id derived from the Slurm call: the same jobs and nodes come back
    first = launch(under.fleet, names, under.nodes, request_id=request_id)
    under.fleet.bind(rid(), {i.instance_id: i.node_name for i in first.launched})
    under.fleet.terminate(rid(), [i.instance_id for i in first.launched])
    later = launch(under.fleet, names, under.nodes, request_id=request_id)
    assert len(later.launched) == 1
    assert later.launched[0].instance_id != first.launched[0].instance_id
    under.fleet.terminate(rid(), [i.instance_id for i in later.launched])


def check_status(under: FleetUnderTest) -> None:
    state = under.fleet.status()
    assert state.managed and state.status in contract.FLEET_STATUSES
    assert under.fleet.set_status("STOP_REQUESTED").status == "STOP_REQUESTED"
    assert under.fleet.set_status("RUNNING").status == "RUNNING"


CHECKS = [
    check_launch_bind_terminate,
    check_errors_are_data,
    check_all_or_nothing_per_compute_resource,
    check_a_retry_gets_the_first_answer_also_after_a_restart,
    check_a_later_power_up_never_gets_a_terminated_instance,
    check_status,
]

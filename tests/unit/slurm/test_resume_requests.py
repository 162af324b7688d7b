"""ResumeProgram's requests: ids from the Slurm call, so a second run of the same power-up reuses its instances."""

from __future__ import annotations

from paracluster.fleet_memory import MemoryFleet
from paracluster.slurm.resume import resume

NODES = {f"q-dy-c-{n}": {"queue": "q", "computeResource": "c", "static": False} for n in (1, 2, 3)}
KNOBS = {"nodes": NODES, "scaling_strategy": "all-or-nothing"}
RESUME_FILE = {"jobs": [{"job_id": 7, "nodes_resume": "q-dy-c-[1-2]", "nodes_alloc": "q-dy-c-[1-2]"}],
               "all_nodes_resume": "q-dy-c-[1-2]"}


def fleet() -> MemoryFleet:
    return MemoryFleet({name: {"queue": "q", "compute_resource": "c", "instance_type": "c5.xlarge"}
                        for name in NODES})


def test_a_second_run_for_the_same_power_up_gets_the_same_instances():
    memory = fleet()
    generations = {"q-dy-c-1": "2026-12-02T10:00:00", "q-dy-c-2": "2026-12-02T10:00:00"}
    assert resume("q-dy-c-[1-2]", RESUME_FILE, KNOBS, memory, generations, 0.0) == {}
    first = sorted(i.instance_id for i in memory.instances())
    assert resume("q-dy-c-[1-2]", RESUME_FILE, KNOBS, memory, generations, 0.0) == {}
    assert sorted(i.instance_id for i in memory.instances()) == first  # nothing launched twice


def test_a_later_power_up_of_the_same_nodes_and_job_gets_new_instances():
    memory = fleet()
    resume("q-dy-c-[1-2]", RESUME_FILE, KNOBS, memory, {"q-dy-c-1": "10:00", "q-dy-c-2": "10:00"}, 0.0)
    first = {i.instance_id for i in memory.instances()}
    # The job was requeued: Slurm allocated its nodes again (a new LastBusyTime) while the old instances live on.
    resume("q-dy-c-[1-2]", RESUME_FILE, KNOBS, memory, {"q-dy-c-1": "10:05", "q-dy-c-2": "10:05"}, 0.0)
    assert len({i.instance_id for i in memory.instances()} - first) == 2


def test_nodes_without_instances_come_back_with_their_code():
    memory = fleet()
    memory.set_capacity("c5.xlarge", 1)
    failed = resume("q-dy-c-[1-2]", RESUME_FILE, KNOBS, memory, {}, 0.0)
    assert failed == {"q-dy-c-1": "InsufficientInstanceCapacity", "q-dy-c-2": "InsufficientInstanceCapacity"}
    assert memory.instances() == []  # all or nothing

"""The early launch (PrologSlurmctld) and ResumeProgram together: one instance per node and allocation, whoever is first."""

from __future__ import annotations

import threading
import time

from paracluster.fleet_memory import MemoryFleet
from paracluster.slurm import launching
from paracluster.slurm.prolog import awaits_launch
from paracluster.slurm.resume import normalize_resume_file, resume

NODES = {f"q-dy-c-{n}": {"queue": "q", "computeResource": "c", "static": False} for n in (1, 2, 3, 4)}
KNOBS = {"nodes": NODES, "scaling_strategy": "all-or-nothing"}


def fleet() -> MemoryFleet:
    return MemoryFleet({name: {"queue": "q", "compute_resource": "c", "instance_type": "c5.xlarge"}
                        for name in NODES})


def resume_file(*jobs: tuple[int, str]) -> dict:
    return normalize_resume_file({"jobs": [{"job_id": job, "nodes": nodes} for job, nodes in jobs],
                                  "all_nodes": ",".join(nodes for _, nodes in jobs)})


def by_node(memory: MemoryFleet) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instance in memory.instances():
        found.setdefault(instance.node_name, []).append(instance.instance_id)
    return found


def test_resume_program_skips_what_the_early_launch_started():
    memory = fleet()
    allocated = {"q-dy-c-1": time.time() - 1, "q-dy-c-2": time.time() - 1}
    # The prolog of job 7 launches its two nodes at the allocation...
    assert resume("q-dy-c-[1-2]", resume_file((7, "q-dy-c-[1-2]")), KNOBS, memory, {}, 0.0, allocated) == {}
    early = by_node(memory)
    assert sorted(early) == ["q-dy-c-1", "q-dy-c-2"]
    # ...then the power-save thread asks for them with another job's node in the same call.
    allocated["q-dy-c-3"] = time.time() - 1
    later = resume_file((7, "q-dy-c-[1-2]"), (8, "q-dy-c-3"))
    assert resume("q-dy-c-[1-3]", later, KNOBS, memory, {}, 0.0, allocated) == {}
    now = by_node(memory)
    assert {node: now[node] for node in early} == early  # nothing launched twice
    assert len(now["q-dy-c-3"]) == 1


def test_a_second_early_launch_for_the_same_allocation_changes_nothing():
    memory = fleet()
    allocated = {"q-dy-c-1": time.time() - 1}
    file = resume_file((9, "q-dy-c-1"))
    resume("q-dy-c-1", file, KNOBS, memory, {}, 0.0, allocated)
    first = by_node(memory)
    assert resume("q-dy-c-1", file, KNOBS, memory, {}, 0.0, allocated) == {}
    assert by_node(memory) == first


def test_an_instance_older_than_the_allocation_is_replaced():
    memory = fleet()
    resume("q-dy-c-1", resume_file((5, "q-dy-c-1")), KNOBS, memory, {}, 0.0)
    old = by_node(memory)["q-dy-c-1"]
    # Its termination at power-down failed; Slurm allocated the node again to another job since.
    assert resume("q-dy-c-1", resume_file((6, "q-dy-c-1")), KNOBS, memory, {}, 0.0,
                  {"q-dy-c-1": time.time() + 5}) == {}
    new = by_node(memory)["q-dy-c-1"]
    assert len(new) == 1 and new != old


def test_nodes_without_allocation_times_are_launched_as_before():
    memory = fleet()
    resume("q-dy-c-1", None, KNOBS, memory, {}, 0.0, {"q-dy-c-2": time.time() - 1})
    assert list(by_node(memory)) == ["q-dy-c-1"]


def test_failed_instances_neither_count_nor_are_terminated_here():
    from paracluster.records import InstanceRecord, format_time

    since = time.time() - 10
    instances = [
        InstanceRecord("i-1", "ComputeNode", "c5.xlarge", "running", None, format_time(since + 1), "q-dy-c-1"),
        InstanceRecord("i-2", "ComputeNode", "c5.xlarge", "pending", None, format_time(since + 2), "q-dy-c-2"),
        InstanceRecord("i-3", "ComputeNode", "c5.xlarge", "failed", None, format_time(since + 1), "q-dy-c-3"),
        InstanceRecord("i-4", "ComputeNode", "c5.xlarge", "running", None, format_time(since - 60), "q-dy-c-4"),
        InstanceRecord("i-5", "ComputeNode", "c5.xlarge", "running", None, format_time(since - 60), "q-dy-c-9"),
    ]
    allocated = {f"q-dy-c-{n}": since for n in (1, 2, 3, 4)}
    assert launching.already_launched(instances, allocated) == ({"q-dy-c-1", "q-dy-c-2"}, ["i-4"])


def test_resume_file_without_nodes_drops_emptied_jobs():
    file = resume_file((1, "q-dy-c-1"), (2, "q-dy-c-[2-3]"))
    assert launching.without_nodes(file, {"q-dy-c-1", "q-dy-c-2"}) == dict(
        file, jobs=[dict(file["jobs"][1], nodes_resume="q-dy-c-3")], all_nodes_resume="q-dy-c-3")


def test_configuring_jobs_and_allocation_times(monkeypatch):
    import subprocess

    output = "12|2026-12-03T10:00:05|q-dy-c-[1-2]\n13|N/A|q-dy-c-3\n14|2026-12-03T10:00:07|q-dy-c-2\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, output, ""))
    jobs = launching.configuring_jobs()
    start = launching.parse_slurm_time("2026-12-03T10:00:05")
    assert jobs == {"12": (start, ["q-dy-c-1", "q-dy-c-2"]), "14": (start + 2, ["q-dy-c-2"])}
    # A node shared by two jobs (oversubscription) counts from the later allocation.
    assert launching.allocation_times(jobs) == {"q-dy-c-1": start, "q-dy-c-2": start + 2}
    assert launching.allocation_times(jobs, ["12"]) == {"q-dy-c-1": start, "q-dy-c-2": start}


def test_the_launch_lock_serializes_holders(tmp_path):
    path = str(tmp_path / "launch.lock")
    order = []
    with launching.launch_lock(path):
        other = threading.Thread(target=lambda: _hold(path, order))
        other.start()
        time.sleep(0.2)
        order.append("first done")
    other.join(5)
    assert order == ["first done", "second"]


def _hold(path, order):
    with launching.launch_lock(path):
        order.append("second")


def test_only_powered_down_nodes_that_are_usable_are_launched_early():
    assert awaits_launch({"State": "ALLOCATED+CLOUD+POWERED_DOWN"})
    assert awaits_launch({"State": "MIXED+CLOUD+POWERED_DOWN"})
    assert not awaits_launch({"State": "ALLOCATED+CLOUD+NOT_RESPONDING+POWERING_UP"})  # ResumeProgram's
    assert not awaits_launch({"State": "DOWN+CLOUD+POWERED_DOWN"})
    assert not awaits_launch({"State": "IDLE+CLOUD+POWERED_DOWN+POWERING_DOWN"})
    assert not awaits_launch({"State": "ALLOCATED+CLOUD"})


def test_a_large_resume_binds_in_batches_the_fleet_answers_in_time():
    from paracluster.slurm.resume import BIND_BATCH_SIZE

    names = {f"q-dy-c-{n}": {"queue": "q", "computeResource": "c", "static": False} for n in range(1, 121)}
    memory = MemoryFleet({name: {"queue": "q", "compute_resource": "c", "instance_type": "c5.xlarge"}
                          for name in names})
    calls = []
    bind = memory.bind
    memory.bind = lambda request_id, bindings: calls.append(len(bindings)) or bind(request_id, bindings)
    assert resume("q-dy-c-[1-120]", None, {"nodes": names, "scaling_strategy": "best-effort"}, memory, {}, 0.0) == {}
    assert sum(calls) == 120 and max(calls) <= BIND_BATCH_SIZE
    assert len(by_node(memory)) == 120

"""Defects a review found in the host service, each pinned by a test: reaping, capacity, failed creates, threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from paracluster.errors import ClusterError, ConfigValidationError, ConflictError, NotFoundError, rebuild
from paracluster.fleet import LaunchNode
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.local.host import pipeline as pipeline
from paracluster.providers.local.nodes import runtime
from paracluster.providers.local.fleet import LocalFleet
from paracluster.providers.local.host.service import Service
from paracluster.providers.local.host.state import ClusterState, NodeRecord, Observed
from paracluster.settings import load_settings

REAPER_PROBE = textwrap.dedent("""
    import os, subprocess, sys, threading
    from paracluster.providers.local.host import commands as hostcmd
    hostcmd.ChildReaper.install()
    wrong = []

    def commands():
        for _ in range(150):
            if hostcmd.run(["sh", "-c", "exit 3"]).returncode != 3:
                wrong.append("exit status lost")

    def orphans():
        # Each shell leaves a child behind that the service, as subreaper, adopts and must reap.
        for _ in range(150):
            subprocess.run(["sh", "-c", "sleep 0.001 & exit 0"])

    threads = [threading.Thread(target=commands) for _ in range(3)] + [threading.Thread(target=orphans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and hostcmd.children():
        hostcmd.ChildReaper.wake()
        time.sleep(0.1)
    print(len(wrong), len(hostcmd.children()))
""")


def test_reaper_never_takes_a_commands_exit_status_and_reaps_adopted_orphans():
    result = subprocess.run([sys.executable, "-c", REAPER_PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    wrong, left = map(int, result.stdout.split())
    assert wrong == 0  # a reaper taking any child (waitpid(-1)) makes run() see 0 for a failed command
    assert left == 0  # and adopted orphans do not stay zombies


@pytest.fixture
def service(tmp_path, monkeypatch):
    monkeypatch.setenv("PARACLUSTER_LOCAL_CAPACITY", '{"c5.xlarge": 3}')
    return Service(load_settings())


def compute_cluster(service: Service, name: str, count: int = 4) -> None:
    nodes = {}
    for number in range(1, count + 1):
        node = PlannedNode(f"q-dy-c-{number}", "ComputeNode", "c5.xlarge", queue="q", compute_resource="c")
        nodes[node.name] = NodeRecord(node, number, f"10.0.0.{number + 2}")
    record = ClusterState(name, "us-east-1", "0", "t", observed=Observed(status="CREATE_COMPLETE"), nodes=nodes)
    assert service.store.create(record)


def test_capacity_is_counted_across_clusters_launching_at_once(service):
    for name in ("one", "two"):
        compute_cluster(service, name)
    start = threading.Barrier(2)
    results = {}

    def launch(name: str) -> None:
        start.wait()
        nodes = [LaunchNode(f"q-dy-c-{n}", "q", "c") for n in (1, 2, 3)]
        results[name] = LocalFleet(service, name).launch(f"rid-{name}", nodes, all_or_nothing=False)

    threads = [threading.Thread(target=launch, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    launched = sum(len(result.launched) for result in results.values())
    assert launched == 3  # local.capacity is the host's: three c5.xlarge in all, not three per cluster
    assert service.instances_in_use("c5.xlarge") == 3


def test_a_delete_asked_during_a_create_is_kept_and_stops_the_create(service, tmp_path):
    compute_cluster(service, "busy")
    service.store.update("busy", lambda record: setattr(record.observed, "status", "CREATE_IN_PROGRESS"))
    seen = []

    def slow_step(ctx):
        seen.append("step 1")
        service.delete_cluster("busy")  # meanwhile, from another request

    def never(ctx):
        seen.append("step 2")

    plan = type("Plan", (), {"config": None})()
    ctx = pipeline.Creation(service.store.load("busy"), plan, service.settings, service.store)
    original = pipeline.CREATE_STEPS
    pipeline.CREATE_STEPS = [("Slow", "slow", slow_step), ("Never", "never", never)]
    service._background = lambda *args: None  # the delete's worker is not the point here
    try:
        pipeline.create(ctx)
    finally:
        pipeline.CREATE_STEPS = original
    assert seen == ["step 1"]
    record = service.store.load("busy")
    assert record.status == "DELETE_IN_PROGRESS" and not record.desired.present  # not overwritten by the create


def test_an_unexpected_failure_preparing_a_create_ends_in_create_failed(service, monkeypatch):
    monkeypatch.setattr(Service, "ensure_fleet", lambda self, name: (_ for _ in ()).throw(KeyError("slurm")))
    service.create_cluster("odd", "Image: {Os: alinux2023}\n")
    deadline = time.monotonic() + 20
    while service.store.load("odd").status == "CREATE_IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
    record = service.store.load("odd")
    assert record.status == "CREATE_FAILED"
    assert record.observed.failures[0].reason == "failed to prepare the create: KeyError: 'slurm'"


def test_an_unexpected_exception_in_a_step_ends_in_create_failed(service):
    compute_cluster(service, "oops")
    service.store.update("oops", lambda record: setattr(record.observed, "status", "CREATE_IN_PROGRESS"))

    def broken(ctx):
        raise ZeroDivisionError("division by zero")

    plan = type("Plan", (), {"config": None})()
    original = pipeline.CREATE_STEPS
    pipeline.CREATE_STEPS = [("Divide", "divide", broken)]
    try:
        pipeline.create(pipeline.Creation(service.store.load("oops"), plan, service.settings, service.store))
    finally:
        pipeline.CREATE_STEPS = original
    record = service.store.load("oops")
    assert record.status == "CREATE_FAILED" and record.observed.rolled_back
    assert record.observed.failures[0].reason == "failed to divide: ZeroDivisionError: division by zero"


def test_region_selects_the_clusters_of_that_region(service):
    compute_cluster(service, "east")
    assert service.record("east", "us-east-1").name == "east"
    assert service.record("east").name == "east"
    with pytest.raises(NotFoundError, match="cluster 'east' does not exist in region eu-west-1"):
        service.record("east", "eu-west-1")
    assert [c["name"] for c in service.list_clusters("us-east-1")] == ["east"]
    assert service.list_clusters("eu-west-1") == []


def test_finished_background_threads_are_forgotten(service):
    for number in range(40):
        service._background(f"job-{number}", lambda: None)
        time.sleep(0.005)
    assert len(service._workers) < 10


def test_errors_from_another_process_keep_their_class_when_they_can():
    assert type(rebuild("NotFoundError", "gone")) is NotFoundError
    assert type(rebuild("ConflictError", "busy")) is ConflictError
    # Classes that carry more than a sentence come back as their sentence, not as a TypeError.
    assert type(rebuild("ConfigValidationError", "bad")) is ClusterError
    assert str(rebuild("DryRunSucceeded", "ok")) == "ok"
    assert type(rebuild("NoSuchError", "x")) is ClusterError
    assert not issubclass(ClusterError, ConfigValidationError)


def test_old_runtime_copies_go_once_no_process_uses_them(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "RUNTIME_ROOT", tmp_path)
    current, used, unused, sdk = (tmp_path / name for name in ("paracluster-new", "paracluster-used",
                                                               "paracluster-old", "aws-sdk-0123456789ab"))
    for path in (current, used, unused, sdk):
        path.mkdir()
    held = tmp_path / "paracluster-held"  # another host service's copy: in its environment from its start
    held.mkdir()
    holder = subprocess.Popen(["sleep", "30"], env={"PYTHONPATH": str(used)})
    service = subprocess.Popen(["sleep", "30"], env={"PARACLUSTER_NODE_RUNTIME": str(held)})
    try:
        assert runtime.prune_runtimes(keep=current) == [unused]
        # The nodes' AWS SDK is no copy of the package: it stays, used or not.
        assert current.is_dir() and used.is_dir() and held.is_dir() and sdk.is_dir() and not unused.exists()
    finally:
        for process in (holder, service):
            process.kill()
            process.wait()
    assert set(runtime.prune_runtimes(keep=current)) == {held, used}  # their service and process ended


def test_a_create_of_a_name_in_use_leaves_that_clusters_configuration_alone(service):
    service.create_cluster("same", "Region: us-east-1\n# the first\n")
    with pytest.raises(ConflictError):
        service.create_cluster("same", "Region: us-east-1\n# the second\n")
    assert "the first" in (service.store.cluster_dir("same") / "cluster-config.yaml").read_text()


def test_a_create_right_after_a_delete_of_the_same_name_starts_afresh(service, monkeypatch):
    from paracluster.providers.local.host import state

    store = service.store
    store.create(ClusterState("again", "local", "0", "t"), {"cluster-config.yaml": "old\n"})
    (store.cluster_dir("again") / "nodes" / "n1").mkdir(parents=True)
    real_rmtree = state.shutil.rmtree

    def slow_rmtree(path, *args, **kwargs):
        # The old files are still being removed when the same name is created again.
        assert store.create(ClusterState("again", "local", "0", "t2"), {"cluster-config.yaml": "new\n"})
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(state.shutil, "rmtree", slow_rmtree)
    store.remove("again")
    assert (store.cluster_dir("again") / "cluster-config.yaml").read_text() == "new\n"
    assert store.load("again").creation_time == "t2"
    assert not (store.cluster_dir("again") / "nodes").exists()

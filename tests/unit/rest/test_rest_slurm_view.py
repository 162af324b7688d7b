"""The dashboard's Slurm view and node counts: parsing sinfo/squeue/sacct, node categories, the bounded sampler."""

from __future__ import annotations

import time

import pytest

from paracluster import views
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.local.host import slurm_watch
from paracluster.providers.local.host.slurm_watch import SECTION, SEP, NodeCountSampler
from paracluster.providers.local.host.state import ClusterState, Instance, NodeRecord, StateStore


def line(*fields: str) -> str:
    return SEP.join(fields)


# What the head node answered (fields as SINFO_FORMAT, SQUEUE_FORMAT and SACCT_FIELDS order them).
OUTPUT = "\n".join([
    line("q1-dy-c5-1", "q1*", "idle~", "none"),
    line("q1-dy-c5-2", "q1*", "down~", "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"),
    line("q1-st-c5-1", "q1*", "mixed", "none"),
    line("gpu-st-g4-1", "gpu", "allocated", "none"),
    SECTION,
    line("12", "q1", "ec2-user", "RUNNING", "0:42", "1", "2026-01-01T10:00:00", "2026-01-01T10:00:01", "NONE",
         "q1-st-c5-1", "train | step 2"),
    line("13", "q1", "ec2-user", "PENDING", "0:00", "2", "2026-01-01T10:00:05", "N/A", "N/A", "(Resources)", "big"),
    SECTION,
    line("9", "gpu", "alice", "COMPLETED", "00:01:02", "1", "2026-01-01T09:00:00", "2026-01-01T09:00:01",
         "2026-01-01T09:01:03", "gpu-st-g4-1", "render"),
]) + "\n"


def test_the_head_nodes_answer_parses_into_nodes_jobs_and_finished_jobs():
    status = slurm_watch.parse_status(OUTPUT, accounting=True)
    assert [(n.name, n.partition, n.state, n.reason) for n in status.nodes] == [
        ("q1-dy-c5-1", "q1", "idle~", None),
        ("q1-dy-c5-2", "q1", "down~", "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"),
        ("q1-st-c5-1", "q1", "mixed", None),
        ("gpu-st-g4-1", "gpu", "allocated", None),
    ]
    running, pending = status.jobs
    assert (running.job_id, running.name, running.nodes, running.node_list_or_reason) == \
        ("12", "train | step 2", 1, "q1-st-c5-1")
    assert (pending.start_time, pending.end_time, pending.node_list_or_reason) == (None, None, "(Resources)")
    assert [(j.job_id, j.state, j.end_time) for j in status.accounting] == [("9", "COMPLETED", "2026-01-01T09:01:03")]


def test_without_accounting_there_is_no_sacct_and_no_accounting_list():
    assert "sacct" not in slurm_watch.query_script(accounting=False)
    assert "sacct" in slurm_watch.query_script(accounting=True)
    status = slurm_watch.parse_status(OUTPUT.split(SECTION + "\n" + line("9"))[0], accounting=False)
    assert status.accounting is None and len(status.jobs) == 2
    assert "accounting" not in views.slurm_status(status)


@pytest.mark.parametrize("state, category", [
    ("idle", "idle"), ("idle~", "powered down"), ("idle#", "powering up"), ("mixed#", "powering up"),
    ("idle%", "powering down"), ("allocated", "allocated"), ("mixed", "allocated"), ("completing", "allocated"),
    ("down", "down"), ("down~", "down"), ("down*", "down"), ("drained", "drained"), ("draining", "drained"),
    ("idle*", "not responding"), ("fail", "down"),
])
def test_slurm_states_fall_into_the_dashboards_categories(state, category):
    assert views.slurm_node_category(state) == category


def test_the_rendered_view_keeps_reasons_and_job_fields():
    body = views.slurm_status(slurm_watch.parse_status(OUTPUT, accounting=True))
    down = body["nodes"][1]
    assert down == {"nodeName": "q1-dy-c5-2", "queueName": "q1", "state": "down~", "category": "down",
                    "reason": "(Code:InsufficientInstanceCapacity)Failure when resuming nodes"}
    assert "reason" not in body["nodes"][0]
    assert body["jobs"][1]["nodeListOrReason"] == "(Resources)" and body["accounting"][0]["user"] == "alice"


def record_with(name: str, states: dict[str, str | None]) -> ClusterState:
    """A cluster whose compute nodes (queue q1) have instances in the given states (None: no instance)."""
    record = ClusterState(name=name, region="local", version="0", creation_time="2026-01-01T00:00:00.000Z")
    for slot, (node, state) in enumerate(states.items()):
        planned = PlannedNode(name=node, node_type="ComputeNode", instance_type="c5.xlarge", queue="q1",
                              compute_resource="c5", static=False)
        instance = Instance(f"i-{slot}", state, "2026-01-01T00:00:00.000Z") if state else None
        record.nodes[node] = NodeRecord(node=planned, slot=slot, address=f"10.0.0.{slot + 3}", instance=instance)
    return record


def test_instances_are_counted_per_queue_by_state():
    record = record_with("c", {"q1-dy-c5-1": "running", "q1-dy-c5-2": "pending", "q1-dy-c5-3": "terminated",
                               "q1-dy-c5-4": None})
    assert slurm_watch.count_instances(record) == {"q1": {"pending": 1, "running": 1}}


def test_the_sampler_notes_changes_only_keeps_a_bounded_window_and_forgets_deleted_clusters(tmp_path):
    store = StateStore(tmp_path)
    sampler = NodeCountSampler(store, keep=3)
    store.create(record_with("c", {"q1-dy-c5-1": None}))
    sampler.sample_once()
    sampler.sample_once()  # nothing changed: no second sample
    assert [s.queues for s in sampler.history("c")] == [{}]
    for running in range(1, 5):
        time.sleep(0.01)  # a new modification time for each save
        store.update("c", lambda r, n=running: r.nodes.update(record_with("c", {
            f"q1-dy-c5-{i}": "running" for i in range(1, n + 1)}).nodes))
        sampler.sample_once()
    counts = [s.queues["q1"]["running"] for s in sampler.history("c")]
    assert counts == [2, 3, 4]  # the oldest samples left the window
    store.remove("c")
    sampler.sample_once()
    assert sampler.history("c") == []


def test_the_host_service_serves_both_requests_and_asks_slurm_only_of_created_clusters(tmp_path, monkeypatch):
    from paracluster.errors import ConflictError, NotFoundError
    from paracluster.providers.local.host.service import REQUESTS, Service
    from paracluster.settings import load_settings

    assert {"slurm_status", "node_count_history"} <= REQUESTS
    monkeypatch.setenv("PARACLUSTER_STATE_DIR", str(tmp_path))
    service = Service(load_settings())
    service.store.create(record_with("c", {"q1-dy-c5-1": "running"}))
    with pytest.raises(ConflictError, match="CREATE_IN_PROGRESS; Slurm can be asked once it is created"):
        service.slurm_status("c")
    with pytest.raises(NotFoundError):
        service.node_count_history("nosuch")
    assert service.node_count_history("c") == []  # no sampler yet
    service.start_sampler()
    try:
        deadline = time.monotonic() + 10
        while not service.node_count_history("c") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.node_count_history("c")[0]["queues"] == {"q1": {"pending": 0, "running": 1}}
    finally:
        service._sampler.stop()

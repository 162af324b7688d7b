"""The checks of `paracluster diagnose` on captured facts: a healthy local cluster's (healthy_cluster.json, what its
nodes answered), which pass, and that capture changed the way a broken cluster's would be, which fail each check."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from paracluster.diagnose import checks
from paracluster.diagnose.facts import ClusterFacts
from paracluster.diagnose.report import in_words, report
from paracluster.records import NodeFailure, from_data

HEALTHY = json.loads((Path(__file__).parent / "healthy_cluster.json").read_text())


@pytest.fixture
def facts() -> ClusterFacts:
    return from_data(ClusterFacts, copy.deepcopy(HEALTHY))


def node(facts: ClusterFacts, name: str):
    return next(item for item in facts.nodes if item.name == name)


def failed(facts: ClusterFacts) -> list[tuple[str, str | None, str]]:
    return [(c.name, c.node, c.message) for c in checks.run_checks(facts) if c.status == checks.FAILED]


def test_a_healthy_cluster_passes_every_check(facts):
    results = checks.run_checks(facts)
    assert failed(facts) == []
    assert {c.name for c in results} == {"node", "daemons", "munge", "slurmctld", "clock", "disk", "memory",
                                         "slurm-nodes", "stuck-jobs", "clustermgtd", "accounting", "slurmrestd"}
    body = report("pclx", facts.time, results)
    assert body["result"] == "PASSED" and body["message"] == f"All {len(results) - 1} checks passed."
    assert "SKIPPED accounting" in in_words(body)  # the capture has no accounting database


def test_a_node_that_cannot_be_asked_fails_and_its_other_checks_are_not_run(facts):
    node(facts, "compute-st-c5-2").probe = None
    node(facts, "compute-st-c5-2").error = "nsenter: cannot open /proc/42/ns/mnt"
    assert failed(facts) == [("node", "compute-st-c5-2", "could not run the checks on compute-st-c5-2: nsenter: "
                                                         "cannot open /proc/42/ns/mnt")]


def test_a_killed_daemon_fails(facts):
    node(facts, "compute-st-c5-1").probe["daemons"]["slurmd"] = 0
    assert failed(facts) == [("daemons", "compute-st-c5-1", "slurmd is not running on compute-st-c5-1")]


def test_failed_systemd_units_fail_the_daemons_check(facts):
    node(facts, "head").probe["init"] = {"pid1": "systemd", "state": "degraded", "failed_units": ["slurmdbd.service"]}
    assert failed(facts) == [("daemons", "head", "unit slurmdbd.service failed on head; systemd on head is degraded")]


def test_munge_credentials_that_do_not_decode_across_nodes_fail(facts):
    compute = node(facts, "compute-st-c5-1")
    compute.probe["decodes"] = [{"ok": False, "detail": "unmunge: Error: Invalid credential"}]
    compute.head_decode = {"ok": False, "detail": "unmunge: Error: Invalid credential"}
    [(name, where, message)] = failed(facts)
    assert (name, where) == ("munge", "compute-st-c5-1")
    assert message == ("a credential of head does not decode on compute-st-c5-1: unmunge: Error: Invalid credential; "
                       "a credential of compute-st-c5-1 does not decode on head: unmunge: Error: Invalid credential")


def test_slurmctld_out_of_reach_fails(facts):
    node(facts, "compute-st-c5-2").probe["scontrol_ping"] = {"ok": False, "detail": "Slurmctld(primary) at head is "
                                                                                   "DOWN"}
    assert failed(facts) == [("slurmctld", "compute-st-c5-2", "slurmctld is not reachable from compute-st-c5-2: "
                                                              "Slurmctld(primary) at head is DOWN")]


def test_a_skewed_clock_fails(facts):
    node(facts, "compute-st-c5-1").probe["time"] += 5.0
    [(name, where, message)] = failed(facts)
    assert (name, where) == ("clock", "compute-st-c5-1") and "s off the host's" in message


def test_a_full_disk_and_memory_pressure_fail(facts):
    head = node(facts, "head").probe
    head["disks"][0] = {"path": "/", "used": 95 * 2**20, "available": 5 * 2**20}
    head["memory"].update(MemAvailable=head["memory"]["MemTotal"] // 50, psi_full_avg10=35.0)
    assert [(n, w) for n, w, _ in failed(facts)] == [("disk", "head"), ("memory", "head")]
    messages = [m for _, _, m in failed(facts)]
    assert messages[0] == "/ on head is 95% full (5 MiB available)"
    assert messages[1].startswith("only 2% of memory is available on head") and "stalled on memory 35%" in messages[1]


def test_down_and_drained_nodes_fail_with_their_reasons_and_last_bootstrap_error(facts):
    head = node(facts, "head").probe
    head["sinfo"]["detail"] = head["sinfo"]["detail"].replace(
        "compute-st-c5-2|idle|none", "compute-st-c5-2|drained|Kill task failed").replace(
        "compute-dy-c5-1|idle~|none", "compute-dy-c5-1|down~|(Code:BootstrapFailure)Failure when resuming nodes")
    facts.node_failures = [NodeFailure("compute-dy-c5-1", "BootstrapFailure", "OnNodeConfigured failed: script "
                                       "exited with code 3", "2026-12-03T00:59:00.000Z")]
    [(name, where, message)] = failed(facts)
    assert (name, where) == ("slurm-nodes", None)
    assert message == ("compute-dy-c5-1 is down~ ((Code:BootstrapFailure)Failure when resuming nodes); last bootstrap "
                       "error: BootstrapFailure: OnNodeConfigured failed: script exited with code 3; compute-st-c5-2 is "
                       "drained (Kill task failed)")


def test_jobs_stuck_completing_or_configuring_fail(facts):
    import time

    head = node(facts, "head").probe
    head["time"] = int(head["time"])
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(head["time"] - 600))
    head["squeue"]["detail"] = (f"12|COMPLETING|{moment}|{moment}|compute-st-c5-1\n"
                                f"13|CONFIGURING|{moment}|Unknown|compute-dy-c5-1\n"
                                f"14|COMPLETING|{moment}|{time.strftime('%Y-%m-%dT%H:%M:%S')}|compute-st-c5-2")
    facts.resume_timeout = 60
    [(name, _, message)] = failed(facts)
    assert name == "stuck-jobs"
    assert message.startswith("job 12 is COMPLETING for 600 s on compute-st-c5-1; job 13 is CONFIGURING for 600 s")
    assert "job 14" not in message


def test_a_late_or_missing_cluster_manager_heartbeat_fails(facts):
    head = node(facts, "head").probe
    head["heartbeat"] = "2026-12-03 00:50:00.000000+00:00\n"
    [(name, _, message)] = failed(facts)
    assert name == "clustermgtd" and message.startswith("the cluster manager's last heartbeat is")
    head["heartbeat"] = None
    assert failed(facts) == [("clustermgtd", None, "the cluster manager has written no heartbeat")]


def test_unreachable_accounting_and_slurmrestd_fail(facts):
    head = node(facts, "head").probe
    facts.accounting = True
    head["accounting"] = {"ok": False, "detail": "sacctmgr: error: Problem talking to the database: Connection "
                                                 "refused"}
    head["slurmrestd"] = {"ok": False, "detail": "[Errno 111] Connection refused"}
    assert [n for n, _, _ in failed(facts)] == ["accounting", "slurmrestd"]
    body = report("pclx", facts.time, checks.run_checks(facts))
    assert body["result"] == "FAILED" and body["message"].startswith("2 of ")
    assert "FAILED  slurmrestd" in in_words(body)

"""Bad input and faults on the local provider: nothing is created or leaked, and failures say why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from cluster_support import (
    BASIC,
    PROJECT,
    Cli,
    cluster_record,
    links_of,
    private_cli,
    residue,
    stop_service,
)

FAILING_TYPE = "c5.2xlarge"  # the settings make the first boots of this type fail
RECOVERING_TYPE = "c5.4xlarge"  # and the first boot of this one only


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """A host service of its own whose settings inject bootstrap failures for FAILING_TYPE."""
    state_dir = Path(f"/tmp/paracluster-test-{uuid.uuid4().hex[:8]}")
    runner = Cli(state_dir, tmp_path_factory.mktemp("faulty"))
    runner.env["PARACLUSTER_LOCAL_INJECT_BOOTSTRAP_FAILURES"] = json.dumps({FAILING_TYPE: 100, RECOVERING_TYPE: 1})
    runner.env["PARACLUSTER_LOCAL_PROTECTED_FAILURE_COUNT"] = "3"
    yield runner
    for cluster in json.loads(runner.run("list-clusters").stdout or '{"clusters": []}').get("clusters", []):
        runner.run("delete-cluster", "-n", cluster["clusterName"], "--wait")
    stop_service(state_dir)
    subprocess.run(["rm", "-rf", str(state_dir)])


def _with_compute_type(instance_type: str) -> str:
    return BASIC.replace("          InstanceType: c5.xlarge\n", f"          InstanceType: {instance_type}\n")


def test_invalid_config_creates_nothing(faulty):
    bad = faulty.config(BASIC.replace("Name: compute", "Name: Bad_Name"))
    body = faulty.json("create-cluster", "-n", "invalid", "-c", str(bad), expect=1)
    assert body["message"] == "Invalid cluster configuration."
    assert not (faulty.state_dir / "clusters" / "invalid").exists()


def test_failed_create_is_create_failed_with_reason_and_rolled_back(faulty):
    body = faulty.json("create-cluster", "-n", "broken", "-c", str(faulty.config(_with_compute_type(FAILING_TYPE))),
                       "--wait", expect=1)
    assert body["clusterStatus"] == "CREATE_FAILED"
    assert body["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"
    reason = body["failures"][0]["failureReason"]
    assert "compute-st-c5-1" in reason and "injected bootstrap failure" in reason, reason
    # Failing static nodes were relaunched until their queue reached protected mode, as in ParallelCluster.
    assert "PROTECTED mode due to failures detected in static node provisioning" in reason, reason
    assert body["message"].startswith("failed to create cluster 'broken': failed to start the static compute nodes")
    record = cluster_record(faulty, "broken")
    left = residue(faulty.state_dir, "broken")
    assert not left["namespaces"] and not left["mounts"] and not left["processes"], left
    assert links_of(record.network.index) == []
    described = faulty.json("describe-cluster", "-n", "broken")
    assert described["clusterStatus"] == "CREATE_FAILED" and described["failures"]
    assert faulty.json("delete-cluster", "-n", "broken", "--wait")["message"].startswith("Successfully deleted")
    assert not (faulty.state_dir / "clusters" / "broken").exists()


def test_static_node_whose_first_boot_fails_is_relaunched(faulty):
    body = faulty.create("recovers", _with_compute_type(RECOVERING_TYPE))
    assert body["clusterStatus"] == "CREATE_COMPLETE", body
    failures = faulty.json("describe-cluster-instances", "-n", "recovers")["nodeFailures"]
    assert [item["failureCode"] for item in failures] == ["BootstrapFailure"], failures
    assert failures[0]["nodeName"].startswith("compute-st-") and "injected bootstrap failure" in \
        failures[0]["failureReason"]
    hosts = faulty.ssh("recovers", "srun -N2 -t 1 hostname")
    assert sorted(hosts.stdout.split()) == ["compute-st-c5-1", "compute-st-c5-2"], hosts.stdout + hosts.stderr
    faulty.json("delete-cluster", "-n", "recovers", "--wait")


def test_failed_create_without_rollback_keeps_resources_until_delete(faulty):
    body = faulty.json("create-cluster", "-n", "kept", "-c", str(faulty.config(_with_compute_type(FAILING_TYPE))),
                       "--wait", "--rollback-on-failure", "false", expect=1)
    assert body["clusterStatus"] == "CREATE_FAILED" and body["cloudFormationStackStatus"] == "CREATE_FAILED"
    record = cluster_record(faulty, "kept")
    assert links_of(record.network.index)  # the network and the head node are kept for debugging
    assert residue(faulty.state_dir, "kept")["processes"]
    faulty.json("delete-cluster", "-n", "kept", "--wait")
    left = residue(faulty.state_dir, "kept")
    assert all(not items for items in left.values()), left
    assert links_of(record.network.index) == []


def test_racing_creates_of_one_name(faulty):
    path = faulty.config()
    argv = [sys.executable, "-m", "paracluster", "create-cluster", "-n", "race", "-c", str(path)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, env=faulty.env, cwd=PROJECT, text=True)
    second = subprocess.Popen(argv, stdout=subprocess.PIPE, env=faulty.env, cwd=PROJECT, text=True)
    answers = [json.loads(proc.communicate(timeout=60)[0]) for proc in (first, second)]
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 1], answers
    loser = next(answer for answer in answers if "message" in answer)
    assert loser["message"].startswith("cluster 'race' already exists")
    _wait_status(faulty, "race", "CREATE_COMPLETE")
    faulty.json("delete-cluster", "-n", "race", "--wait")


def test_host_service_restart_during_create_resumes_it(faulty):
    faulty.json("create-cluster", "-n", "resumed", "-c", str(faulty.config()))
    stop_service(faulty.state_dir)  # in the middle of the create: the steps are idempotent and resume
    described = _wait_status(faulty, "resumed", "CREATE_COMPLETE")
    assert described["headNode"]["state"] == "running"
    assert faulty.ssh("resumed", "srun -N2 -t 1 hostname | sort").stdout.split() == ["compute-st-c5-1", "compute-st-c5-2"]
    faulty.json("delete-cluster", "-n", "resumed", "--wait")
    assert all(not items for items in residue(faulty.state_dir, "resumed").values())


def test_delete_during_a_create_wins_also_across_a_host_service_restart(faulty, tmp_path):
    """delete-cluster while the head node runs its bootstrap: the create stops, the delete follows, even when the
    host service restarts in between; the cluster never shows CREATE_COMPLETE."""
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/bash\nsleep 3\n")
    config = BASIC.replace("HeadNode:\n", f"HeadNode:\n  CustomActions:\n    OnNodeStart:\n      Script: {script}\n", 1)
    faulty.json("create-cluster", "-n", "doomed", "-c", str(faulty.config(config)))
    deadline = time.monotonic() + 60
    while "head node" not in (faulty.json("describe-cluster", "-n", "doomed").get("progress") or ""):
        assert time.monotonic() < deadline, "the create did not reach the head node"
        time.sleep(0.1)
    assert faulty.json("delete-cluster", "-n", "doomed")["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    stop_service(faulty.state_dir)  # a crash while both are under way
    seen = set()
    while True:
        result = faulty.run("describe-cluster", "-n", "doomed")
        if result.returncode != 0:
            assert "does not exist" in json.loads(result.stdout)["message"]
            break
        seen.add(json.loads(result.stdout)["clusterStatus"])
        assert time.monotonic() < deadline + 60, seen
        time.sleep(0.2)
    assert seen == {"DELETE_IN_PROGRESS"}
    assert all(not items for items in residue(faulty.state_dir, "doomed").values())


def test_two_clusters_run_side_by_side_isolated(faulty):
    faulty.create("alpha")
    faulty.create("beta")
    alpha = faulty.json("describe-cluster", "-n", "alpha")["headNode"]["privateIpAddress"]
    beta = faulty.json("describe-cluster", "-n", "beta")["headNode"]["privateIpAddress"]
    assert alpha.rsplit(".", 2)[0] != beta.rsplit(".", 2)[0] or alpha != beta
    for name in ("alpha", "beta"):
        nodes = faulty.ssh(name, "srun -N2 -t 1 hostname | sort").stdout.split()
        assert nodes == ["compute-st-c5-1", "compute-st-c5-2"]
    # No route from one cluster's network to the other's, nor out of the machine.
    probe = ("python3 -c \"import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 22), 2)\n print('open')\n"
             "except OSError as e:\n print(e.errno)\" ")
    assert faulty.ssh("alpha", probe + beta).stdout.strip() in ("101", "113", "110")
    assert faulty.ssh("alpha", probe + "192.0.2.1").stdout.strip() in ("101", "113", "110")
    faulty.json("delete-cluster", "-n", "alpha", "--wait")
    # Deleting one leaves the other working.
    assert faulty.ssh("beta", "srun -N1 -t 1 hostname").returncode == 0
    faulty.json("delete-cluster", "-n", "beta", "--wait")


def test_host_services_of_two_state_directories_share_the_host(faulty, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with private_cli(tmp_path) as other, ThreadPoolExecutor(2) as pool:
        # Both pick a network from the same pool at the same time: each must end up with its own bridge.
        created = [pool.submit(runner.create, name) for runner, name in ((faulty, "mine"), (other, "theirs"))]
        assert [future.result()["clusterStatus"] for future in created] == ["CREATE_COMPLETE"] * 2
        indexes = {cluster_record(faulty, "mine").network.index, cluster_record(other, "theirs").network.index}
        assert len(indexes) == 2, indexes
        # Node namespaces are named by cluster, so a name the other state directory uses is refused at once.
        clash = faulty.json("create-cluster", "-n", "theirs", "-c", str(faulty.config()), "--wait", expect=1)
        assert "another cluster named 'theirs'" in clash["failures"][0]["failureReason"], clash
        assert other.ssh("theirs", "srun -N2 -t 1 hostname").returncode == 0  # untouched by the refused create
        faulty.json("delete-cluster", "-n", "theirs", "--wait")
        faulty.json("delete-cluster", "-n", "mine", "--wait")
        assert other.ssh("theirs", "srun -N1 -t 1 hostname").returncode == 0


def _wait_status(cli, name, status, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = cli.json("describe-cluster", "-n", name)
        if described["clusterStatus"] == status:
            return described
        assert not described["clusterStatus"].endswith("FAILED"), described.get("failures")
        time.sleep(0.2)
    raise AssertionError(f"{name} did not reach {status}")


def test_unknown_setting_is_one_sentence(tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text("[local]\nsuspend_timout = 3\n")
    env = dict(os.environ, PARACLUSTER_SETTINGS=str(settings))
    result = subprocess.run([sys.executable, "-m", "paracluster", "list-clusters"], capture_output=True, text=True,
                            env=env, cwd=PROJECT)
    assert result.returncode == 1
    assert json.loads(result.stdout)["message"] == (
        f"{settings}: unknown setting 'local.suspend_timout'; see the settings table in the README")


def test_resume_adopts_a_node_booted_but_not_recorded(faulty):
    """A service that stops between booting a node and saving its record: the resumed create adopts the node."""
    from paracluster.providers.local.host.state import StateStore

    faulty.json("create-cluster", "-n", "adopt", "-c", str(faulty.config()), "--wait")
    stop_service(faulty.state_dir)
    store = StateStore(faulty.state_dir)
    head_pid = store.load("adopt").head.instance.pid

    def rewind(record):
        # Back to "booted, never recorded" and to the create under way.
        for node in record.nodes.values():
            node.instance = None
        record.observed.status = "CREATE_IN_PROGRESS"

    store.update("adopt", rewind)
    described = _wait_status(faulty, "adopt", "CREATE_COMPLETE")
    assert described["headNode"]["instanceId"].startswith("i-")
    assert store.load("adopt").head.instance.pid == head_pid  # adopted, not rebooted
    faulty.json("delete-cluster", "-n", "adopt", "--wait")
    assert all(not items for items in residue(faulty.state_dir, "adopt").values())

"""The CloudWatch agent config each node gets: ParallelCluster's entries for its role, OS family and features.

Golden files in tests/golden/cwlogs/ (UPDATE_GOLDEN=1 rewrites them) hold the whole config of a head, a compute and
a login node; the other tests pin the selection rules the goldens rest on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.cwlogs.agent_config import (
    AGENT_CONFIG,
    AGENT_CTL,
    BOOTSTRAP_LOG,
    agent_config,
    cluster_features,
    log_group_name,
    node_files,
    os_family,
)
from support import MINIMAL_CLUSTER

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "cwlogs"
GROUP = log_group_name("demo", "202601020304")


def streams(config: dict) -> dict[str, str]:
    return {entry["log_stream_name"].split(".", 2)[2]: entry["file_path"]
            for entry in config["logs"]["logs_collected"]["files"]["collect_list"]}


@pytest.mark.parametrize(("role", "family", "hostname"), [
    ("HeadNode", "amazon", "head"), ("ComputeFleet", "amazon", "queue1-st-cr1-1"),
    ("LoginNode", "ubuntu", "login-pool-1"),
])
def test_each_role_gets_the_config_of_its_golden(role, family, hostname):
    text = json.dumps(agent_config(role, family, frozenset(), GROUP, hostname), indent=4) + "\n"
    golden = GOLDEN / f"{role}-{family}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden.name} differs (UPDATE_GOLDEN=1 rewrites)"


def test_stream_names_are_hostname_instance_placeholder_and_log_name_in_the_clusters_group():
    config = agent_config("HeadNode", "amazon", frozenset(), GROUP, "head")
    for entry in config["logs"]["logs_collected"]["files"]["collect_list"]:
        assert entry["log_stream_name"].startswith("head.{instance_id}.")
        assert entry["log_group_name"] == "/aws/parallelcluster/demo-202601020304"
    assert config["logs"]["log_stream_name"] == "head.{instance_id}.default-log-stream"


def test_roles_get_their_daemons_logs_where_paraclusters_programs_write_them():
    head = streams(agent_config("HeadNode", "amazon", frozenset(), GROUP, "head"))
    compute = streams(agent_config("ComputeFleet", "amazon", frozenset(), GROUP, "c-1"))
    assert head["slurmctld"] == "/var/log/slurm/slurmctld.log" and "slurmd" not in head
    assert head["clustermgtd"] == "/var/log/parallelcluster/clustermgtd.log"
    assert head["cfn-init"] == BOOTSTRAP_LOG and "cloud-init-output" not in head
    assert compute["slurmd"] == "/var/log/slurm/slurmd.log" and "slurmctld" not in compute
    assert compute["cloud-init-output"] == BOOTSTRAP_LOG
    assert compute["bootstrap_error_msg"] == "/var/log/parallelcluster/bootstrap_error_msg"
    assert {"munge", "slurmrestd", "sshd"} <= set(head) and "sshd" not in compute


def test_the_os_family_picks_syslog_or_messages_and_features_add_their_logs():
    assert "syslog" in streams(agent_config("HeadNode", "ubuntu", frozenset(), GROUP, "h"))
    assert "system-messages" in streams(agent_config("HeadNode", "rocky", frozenset(), GROUP, "h"))
    plain = streams(agent_config("HeadNode", "amazon", frozenset(), GROUP, "h"))
    assert not {"dcv-server", "sssd"} & set(plain)
    featured = streams(agent_config("HeadNode", "amazon", frozenset({"dcv", "directory_service"}), GROUP, "h"))
    assert {"dcv-server", "dcv-agent", "sssd", "sssd_domain_default"} <= set(featured)
    assert [os_family(name) for name in ("alinux2023", "ubuntu2204", "rhel8", "rocky9")] == \
        ["amazon", "ubuntu", "redhat", "rocky"]


def test_only_the_head_node_reports_metrics():
    assert set(agent_config("HeadNode", "amazon", frozenset(), GROUP, "h")["metrics"]["metrics_collected"]) == \
        {"mem", "disk"}
    assert "metrics" not in agent_config("ComputeFleet", "amazon", frozenset(), GROUP, "c")


def test_node_files_put_the_config_at_parallelclusters_path_and_the_ctl_on_path():
    config = load_config_text(CLUSTER, MINIMAL_CLUSTER.replace(
        "HeadNode:\n", "HeadNode:\n  Dcv:\n    Enabled: true\n")).config
    assert cluster_features(config) == frozenset({"dcv"})
    files = {item["path"]: item for item in node_files(config, "HeadNode", GROUP, "head", "/usr/bin/python3",
                                                          "/opt/lib")}
    assert set(files) == {AGENT_CONFIG, AGENT_CTL, "/usr/bin/amazon-cloudwatch-agent-ctl"}
    assert "dcv-server" in streams(json.loads(files[AGENT_CONFIG]["content"]))
    assert files[AGENT_CTL]["mode"] == 0o755
    assert "PYTHONPATH=/opt/lib exec /usr/bin/python3 -m paracluster.node.cwagent" in files[AGENT_CTL]["content"]

"""`amazon-cloudwatch-agent-ctl` on a node: how its commands change what the agent collects, and its status."""

from __future__ import annotations

import json

import pytest

from paracluster.node import cwagent


@pytest.fixture
def node(tmp_path, monkeypatch):
    """The agent's files under a temporary root, with ParallelCluster's config and a dna.json enabling logging."""
    home = tmp_path / "opt/aws/amazon-cloudwatch-agent"
    paths = {"HOME": home, "CONFIG": home / "etc/amazon-cloudwatch-agent.json",
             "AGENT_DIR": home / "etc/amazon-cloudwatch-agent.d", "STATE": home / "var/agent-state.json",
             "DNA": tmp_path / "etc/chef/dna.json"}
    for name, path in paths.items():
        monkeypatch.setattr(cwagent, name, str(path))
    paths["CONFIG"].parent.mkdir(parents=True)
    paths["CONFIG"].write_text(config("/var/log/slurmd.log", "slurmd"))
    paths["DNA"].parent.mkdir(parents=True)
    paths["DNA"].write_text(json.dumps({"cluster": {"cw_logging_enabled": "true"}}))
    return paths


def config(path: str, stream: str) -> str:
    return json.dumps({"logs": {"logs_collected": {"files": {"collect_list": [
        {"file_path": path, "log_stream_name": f"h.{{instance_id}}.{stream}", "log_group_name": "g"}]}}}})


def collected() -> list[str]:
    return [entry["file_path"] for entry in cwagent.active_entries(cwagent._read, cwagent._listdir)]


def status(capsys) -> dict:
    assert cwagent.run(["-a", "status"]) == 0
    return json.loads(capsys.readouterr().out)


def test_before_any_command_the_agent_runs_with_parallelclusters_config(node, capsys):
    assert collected() == ["/var/log/slurmd.log"]
    assert status(capsys)["status"] == "running"


def test_append_config_adds_a_site_scripts_log_file(node, tmp_path):
    site = tmp_path / "site.json"
    site.write_text(config("/var/log/site/app.log", "app"))
    assert cwagent.run(["-a", "append-config", "-m", "ec2", "-c", f"file:{site}", "-s"]) == 0
    assert collected() == ["/var/log/slurmd.log", "/var/log/site/app.log"]
    assert cwagent.run(["-a", "remove-config", "-c", f"file:{site}"]) == 0
    assert collected() == ["/var/log/slurmd.log"]


def test_fetch_config_replaces_every_config(node, tmp_path):
    site = tmp_path / "only.json"
    site.write_text(config("/var/log/only.log", "only"))
    assert cwagent.run(["-a", "fetch-config", "-m", "ec2", "-c", f"file:{site}", "-s"]) == 0
    assert collected() == ["/var/log/only.log"]


def test_stop_collects_nothing_and_start_resumes(node, capsys):
    assert cwagent.run(["-a", "stop"]) == 0
    assert collected() == [] and status(capsys)["status"] == "stopped"
    assert cwagent.run(["-a", "start"]) == 0
    assert collected() == ["/var/log/slurmd.log"] and status(capsys)["configstatus"] == "configured"


def test_bad_configs_and_other_locations_are_refused_with_exit_code_1(node, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"logs": {"logs_collected": {"files": {"collect_list": [{"log_stream_name": "x"}]}}}}')
    assert cwagent.run(["-a", "append-config", "-c", f"file:{bad}"]) == 1
    assert "collect_list[0] needs a file_path" in capsys.readouterr().err
    assert cwagent.run(["-a", "fetch-config", "-c", "ssm:AmazonCloudWatch-linux"]) == 1
    assert "only file:PATH configs" in capsys.readouterr().err
    assert cwagent.run(["-a", "append-config", "-c", f"file:{tmp_path}/missing.json"]) == 1
    assert collected() == ["/var/log/slurmd.log"]


def test_with_logging_disabled_the_agent_is_stopped_until_started(node, capsys):
    node["DNA"].write_text(json.dumps({"cluster": {"cw_logging_enabled": "false"}}))
    assert collected() == [] and status(capsys)["status"] == "stopped"

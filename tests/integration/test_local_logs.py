"""Cluster logs and diagnose on one real local cluster: log streams named as ParallelCluster names them, their
events, a site script shipping its own log file through amazon-cloudwatch-agent-ctl, a failed custom action's logs
after its node is gone, diagnose on the healthy cluster and with a killed slurmd, and the logs kept after the cluster
(export of the deleted cluster, then the log group deleted). The tests run in order on the module's cluster; every
job has a time limit."""

from __future__ import annotations

import json
import tarfile

import pytest
from cluster_support import HEADER, node_exec, residue, wait_for

NAME = "itlogs"
SITE = """\
#!/bin/bash
# A site script as published ones do it: its own log file, added to the CloudWatch agent's collection.
set -e
mkdir -p /var/log/site
echo "$(date '+%Y-%m-%d %H:%M:%S') site setup done on $(hostname)" >> /var/log/site/setup.log
group=$(python3 -c "import json; c = json.load(open('/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json'))
print(c['logs']['logs_collected']['files']['collect_list'][0]['log_group_name'])")
cat > /opt/site-cloudwatch.json <<EOF
{"logs": {"logs_collected": {"files": {"collect_list": [{"file_path": "/var/log/site/setup.log",
  "log_group_name": "$group", "log_stream_name": "{hostname}.{instance_id}.site-setup",
  "timestamp_format": "%Y-%m-%d %H:%M:%S"}]}}}}
EOF
amazon-cloudwatch-agent-ctl -a append-config -m ec2 -c file:/opt/site-cloudwatch.json -s
"""
FLAKY = """\
#!/bin/bash
echo "flaky setup on $(hostname): cannot reach the license server"
exit 3
"""


def config(site, flaky) -> str:
    return HEADER.replace("  Ssh:\n", f"  CustomActions:\n    OnNodeConfigured:\n      Script: {site}\n  Ssh:\n") + f"""\
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: compute
      ComputeResources:
        - Name: c5
          InstanceType: c5.large
          MinCount: 1
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
    - Name: flaky
      CustomActions:
        OnNodeConfigured:
          Script: {flaky}
      ComputeResources:
        - Name: c5
          InstanceType: c5.large
          MinCount: 0
          MaxCount: 1
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
Monitoring:
  Logs:
    CloudWatch:
      RetentionInDays: 7
"""


@pytest.fixture(scope="module")
def cluster(cli):
    scripts = {}
    for name, text in (("site.sh", SITE), ("flaky.sh", FLAKY)):
        scripts[name] = cli.tmp / name
        scripts[name].write_text(text)
        scripts[name].chmod(0o755)
    cli.create(NAME, config(scripts["site.sh"], scripts["flaky.sh"]))
    yield NAME
    cli.run("delete-cluster", "-n", NAME, "--wait")


def streams(cli, *extra: str) -> list[str]:
    return [s["logStreamName"] for s in cli.json("list-cluster-log-streams", "-n", NAME, *extra)["logStreams"]]


def instance_ids(cli) -> dict[str, str]:
    return {i["nodeName"]: i["instanceId"] for i in cli.json("describe-cluster-instances", "-n", NAME)["instances"]}


def head_stream(cli, log: str) -> str:
    """The head node's stream of a log: it keeps EC2's hostname (ip-a-b-c-d), as in ParallelCluster."""
    head = cli.json("describe-cluster", "-n", NAME)["headNode"]
    return f"ip-{head['privateIpAddress'].replace('.', '-')}.{head['instanceId']}.{log}"


def events(cli, stream: str, *extra: str) -> dict:
    return cli.json("get-cluster-log-events", "-n", NAME, "--log-stream-name", stream, *extra)


def test_streams_are_named_by_hostname_instance_and_log_name(cli, cluster):
    compute = instance_ids(cli)["compute-st-c5-1"]
    wanted = {head_stream(cli, log) for log in ("slurmctld", "cfn-init", "clustermgtd", "munge")}
    wanted |= {f"compute-st-c5-1.{compute}.slurmd", f"compute-st-c5-1.{compute}.cloud-init-output"}
    found = wait_for(lambda: (names := set(streams(cli))) >= wanted and names, what="the nodes' log streams")
    head = head_stream(cli, "")
    assert {name for name in found if name.startswith(head)} == set(streams(cli, "--filters",
                                                                             "Name=node-type,Values=HeadNode"))
    assert set(streams(cli, "--filters", "Name=private-dns-name,Values=compute-st-c5-1")) == \
        {name for name in found if name.startswith("compute-st-c5-1.")}
    bad = cli.run("list-cluster-log-streams", "-n", NAME, "--filters", "Name=node-type,Values=ComputeNode")
    assert bad.returncode == 1 and "The only accepted value for Node Type filter is 'HeadNode'." in bad.stdout


def test_events_come_newest_first_or_from_the_head_with_tokens_and_time_ranges(cli, cluster):
    stream = head_stream(cli, "slurmctld")
    first = events(cli, stream, "--start-from-head", "true", "--limit", "2")
    assert len(first["events"]) == 2 and first["events"][0]["message"].startswith("[")
    following = events(cli, stream, "--next-token", first["nextToken"], "--limit", "2")
    assert following["events"][0] != first["events"][1]
    assert events(cli, stream, "--next-token", following["prevToken"], "--limit", "2")["events"] == first["events"]
    latest = events(cli, stream, "--limit", "3")["events"]
    assert len(latest) == 3 and latest[-1]["timestamp"] >= first["events"][0]["timestamp"]
    assert events(cli, stream, "--start-time", "2100-01-01T00:00:00Z")["events"] == []
    missing = cli.run("get-cluster-log-events", "-n", NAME, "--log-stream-name", "ip-1.i-0.nothing")
    assert missing.returncode == 1 and "The specified log stream ip-1.i-0.nothing does not exist." in missing.stdout


def test_a_site_script_ships_its_own_log_file_through_the_agent(cli, cluster):
    stream = head_stream(cli, "site-setup")
    wait_for(lambda: stream in streams(cli), what="the site script's stream")
    assert f"site setup done on {stream.split('.')[0]}" in events(cli, stream)["events"][0]["message"]
    status = json.loads(node_exec(cli, NAME, "head", "amazon-cloudwatch-agent-ctl -a status").stdout)
    assert status["status"] == "running" and status["configstatus"] == "configured"
    agent = json.loads(node_exec(cli, NAME, "head", "cat /opt/aws/amazon-cloudwatch-agent/etc/"
                                                    "amazon-cloudwatch-agent.json").stdout)
    group = agent["logs"]["logs_collected"]["files"]["collect_list"][0]["log_group_name"]
    arn = cli.json("list-cluster-log-streams", "-n", NAME)["logStreams"][0]["logStreamArn"]
    assert group.startswith(f"/aws/parallelcluster/{NAME}-") and f":log-group:{group}:" in arn
    # Stopping the agent stops the collection; starting it again catches up.
    node_exec(cli, NAME, "head", "amazon-cloudwatch-agent-ctl -a stop && echo '2026-01-01 00:00:00 later' >> "
                                 "/var/log/site/setup.log && sleep 2.5")
    assert "later" not in events(cli, stream)["events"][-1]["message"]
    node_exec(cli, NAME, "head", "amazon-cloudwatch-agent-ctl -a start")
    assert wait_for(lambda: "later" in events(cli, stream)["events"][-1]["message"], what="the later line")


def diagnose(cli, tmp_path, expect: int) -> dict:
    result = cli.run("diagnose", "-n", NAME, "--output-file", str(tmp_path / "bundle.tar.gz"), timeout=180)
    assert result.returncode == expect, result.stdout + result.stderr
    assert f"Diagnosis of cluster {NAME}" in result.stderr  # the words, beside the JSON
    return json.loads(result.stdout)


def test_diagnose_passes_on_the_healthy_cluster_then_finds_a_killed_slurmd(cli, cluster, tmp_path):
    healthy = diagnose(cli, tmp_path, 0)
    assert healthy["result"] == "PASSED", [c for c in healthy["checks"] if c["status"] == "FAILED"]
    assert {c["node"] for c in healthy["checks"] if c.get("node")} == {"head", "compute-st-c5-1"}
    with tarfile.open(tmp_path / "bundle.tar.gz") as bundle:
        names = bundle.getnames()
    assert any(name.endswith(".slurmctld/000000") for name in names) and any("diagnosis.txt" in n for n in names)

    node_exec(cli, NAME, "compute-st-c5-1", "pkill -x slurmd")
    broken = diagnose(cli, tmp_path, 1)
    failed = [(c["check"], c.get("node"), c["message"]) for c in broken["checks"] if c["status"] == "FAILED"]
    assert ("daemons", "compute-st-c5-1", "slurmd is not running on compute-st-c5-1") in failed
    node_exec(cli, NAME, "compute-st-c5-1", "systemctl start slurmd")  # back, for the tests that follow


def test_a_failed_custom_actions_logs_are_readable_after_its_node_is_gone(cli, cluster):
    job = cli.ssh(NAME, "sbatch -t 1 -p flaky --parsable --wrap hostname").stdout.strip()
    assert job.isdigit()

    def failed_node_stream():
        found = [name for name in streams(cli, "--filters", "Name=private-dns-name,Values=flaky-dy-c5-1")
                 if name.endswith(".cloud-init-output")]
        return found[0] if found and "flaky-dy-c5-1" not in instance_ids(cli) else None

    stream = wait_for(failed_node_stream, 120, what="the failed node's stream, its instance gone")
    messages = [e["message"] for e in events(cli, stream, "--start-from-head", "true")["events"]]
    assert any("cannot reach the license server" in m for m in messages)
    assert any("exited with code 3" in m for m in messages)
    error = stream.replace(".cloud-init-output", ".bootstrap_error_msg")
    assert "exit" in events(cli, error)["events"][0]["message"]
    cli.ssh(NAME, f"scancel {job}")


def test_logs_are_kept_after_delete_cluster_exported_then_deleted(cli, cluster, tmp_path):
    live = cli.json("export-cluster-logs", "-n", NAME, "--output-file", str(tmp_path / "live.tar.gz"))
    with tarfile.open(live["path"]) as archive:
        assert any(name.endswith(f"/{NAME}-cfn-events") for name in archive.getnames())
    assert cli.run("delete-cluster", "-n", NAME, "--wait", timeout=180).returncode == 0
    assert not any(residue(cli.state_dir, NAME).values())
    [group] = [g for g in cli.json("log-groups", "list")["logGroups"] if g["clusterName"] == NAME]
    assert group["clusterDeletedTime"] and group["retentionInDays"] == 7 and group["deletionPolicy"] == "Retain"

    gone = cli.json("export-cluster-logs", "-n", NAME, "--output-file", str(tmp_path / "gone.tar.gz"),
                    "--filters", "Name=private-dns-name,Values=flaky-dy-c5-1")
    with tarfile.open(gone["path"]) as archive:
        names = archive.getnames()
        [member] = [name for name in names if name.endswith(".cloud-init-output/000000")]
        text = archive.extractfile(member).read().decode()
    assert "cannot reach the license server" in text and not any(n.endswith("-cfn-events") for n in names)
    assert cli.run("get-cluster-log-events", "-n", NAME, "--log-stream-name", "x").returncode == 1

    cli.json("log-groups", "delete", group["logGroupName"])
    assert all(g["clusterName"] != NAME for g in cli.json("log-groups", "list")["logGroups"])

"""Node bootstrap on real local clusters: custom actions on every role, their failures, and login pools.

Scripts come from a local bucket (`paracluster s3 cp`), from a host path and from an https:// server the test runs
(the host service fetches it: nodes have no route out). Every job has a time limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from cluster_support import HEADER, Cli, cluster_record, https_site, private_cli, wait_for

# Appends one line per run to the shared /home: event, what cfnconfig says of the node, its host name, its args and
# whether slurmd already runs (it must not before OnNodeConfigured is over).
MARK = """\
#!/bin/bash
event=$cfn_postinstall  # the running script's URL (sourcing cfnconfig replaces it with fetch_and_run's command)
. /etc/parallelcluster/cfnconfig
slurmd=$(pgrep -x slurmd >/dev/null && echo slurmd-up || echo slurmd-down)
munge=$(test -S /run/munge/munge.socket.2 && echo munge-up || echo munge-down)
echo "$(date +%s.%N) $1 $cfn_node_type $(hostname) $slurmd $munge nargs=$# args=${*:2} event=$event" >> /home/marks.log
"""
FAIL = """\
#!/bin/bash
echo "checking the license server from $(hostname)"
echo "license server unreachable" >&2
exit 3
"""


def one_queue(name: str, actions: str = "", min_count: int = 0, max_count: int = 1) -> str:
    """HEADER and a Scheduling section of one c5.large queue; `actions` is the YAML of its CustomActions."""
    custom = "      CustomActions:\n" + textwrap.indent(textwrap.dedent(actions), " " * 8) if actions else ""
    return HEADER + f"""Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: {name}
{custom}      ComputeResources:
        - Name: c5
          InstanceType: c5.large
          MinCount: {min_count}
          MaxCount: {max_count}
      Networking:
        SubnetIds: [subnet-0123456789abcdef0]
"""


def _marks(cli: Cli, cluster: str) -> list[list[str]]:
    path = cli.state_dir / "clusters" / cluster / "shared" / "home" / "marks.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def _head_pid(cli: Cli, cluster: str) -> int:
    record = cluster_record(cli, cluster)
    return record.nodes["head"].instance.pid


def _node_pid(cli: Cli, cluster: str, node: str) -> int:
    record = cluster_record(cli, cluster)
    return record.nodes[node].instance.pid


def _exec(pid: int, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    from paracluster.providers.local.nodes.instances import node_exec

    return node_exec(pid, argv, timeout=timeout)



@pytest.fixture(scope="module")
def scripts(cli, tmp_path_factory):
    """Upload the scripts to a local bucket; also keep a copy on a host path."""
    folder = tmp_path_factory.mktemp("scripts")
    for name, body in (("mark.sh", MARK), ("fail.sh", FAIL)):
        (folder / name).write_text(body)
        result = cli.run("s3", "cp", str(folder / name), f"s3://boot-scripts/{name}")
        assert result.returncode == 0, result.stdout + result.stderr
    # Windows line endings must not matter (ParallelCluster runs dos2unix on every script).
    (folder / "mark-crlf.sh").write_text(MARK.replace("\n", "\r\n"))
    return folder


def test_custom_actions_run_on_each_role_in_order_with_args(cli, scripts):
    config = HEADER + textwrap.dedent(f"""\
      CustomActions:
        OnNodeStart:
          Script: s3://boot-scripts/mark.sh
          Args: [head-start, "two words"]
        OnNodeConfigured:
          Sequence:
            - Script: s3://boot-scripts/mark.sh
              Args: [head-configured-1]
            - Script: {scripts / 'mark-crlf.sh'}
              Args: [head-configured-2]
    LoginNodes:
      Pools:
        - Name: users
          InstanceType: c5.large
          Count: 1
          Networking:
            SubnetIds: [subnet-0123456789abcdef0]
          CustomActions:
            OnNodeStart:
              Script: s3://boot-scripts/mark.sh
              Args: [login-start]
            OnNodeConfigured:
              Script: s3://boot-scripts/mark.sh
              Args: [login-configured]
    Scheduling:
      Scheduler: slurm
      SlurmQueues:
        - Name: work
          CustomActions:
            OnNodeStart:
              Script: s3://boot-scripts/mark.sh
              Args: [compute-start]
            OnNodeConfigured:
              Script: file://{scripts / 'mark.sh'}
              Args: [compute-configured, x]
          ComputeResources:
            - Name: c5
              InstanceType: c5.large
              MinCount: 1
              MaxCount: 2
          Networking:
            SubnetIds: [subnet-0123456789abcdef0]
    """)
    described = cli.create("boot-order", config)
    assert described["clusterStatus"] == "CREATE_COMPLETE", described
    by_node: dict[str, list[list[str]]] = {}
    # Marks name nodes by hostname: head and login nodes keep EC2's (ip-a-b-c-d), compute nodes take their Slurm name.
    nodes = cluster_record(cli, "boot-order").nodes
    names = {"ip-" + node.address.replace(".", "-"): name for name, node in nodes.items()}
    for mark in _marks(cli, "boot-order"):
        by_node.setdefault(names.get(mark[3], mark[3]), []).append(mark)
    assert [m[1] for m in by_node["head"]] == ["head-start", "head-configured-1", "head-configured-2"]
    assert {m[2] for m in by_node["head"]} == {"HeadNode"}
    assert by_node["head"][0][6:9] == ["nargs=2", "args=two", "words"]
    assert [m[1] for m in by_node["work-st-c5-1"]] == ["compute-start", "compute-configured"]
    assert {m[2] for m in by_node["work-st-c5-1"]} == {"ComputeFleet"}
    # OnNodeStart runs before munge; OnNodeConfigured after munge and before slurmd, as in ParallelCluster.
    assert by_node["work-st-c5-1"][0][4:6] == ["slurmd-down", "munge-down"]
    assert by_node["work-st-c5-1"][1][4:6] == ["slurmd-down", "munge-up"]
    assert by_node["work-st-c5-1"][1][6] == "nargs=2"
    assert by_node["work-st-c5-1"][1][8] == f"event=file://{scripts / 'mark.sh'}"
    assert [m[1] for m in by_node["login-users-1"]] == ["login-start", "login-configured"]
    assert {m[2] for m in by_node["login-users-1"]} == {"LoginNode"}
    # What ParallelCluster's scripts read: dna.json, the Slurm node name, the cluster config copy.
    pid = _node_pid(cli, "boot-order", "work-st-c5-1")
    dna = json.loads(_exec(pid, ["cat", "/etc/chef/dna.json"]).stdout)["cluster"]
    assert dna["node_type"] == "ComputeFleet" and dna["scheduler_queue_name"] == "work"
    assert _exec(pid, ["cat", "/etc/parallelcluster/slurm_plugin/slurm_nodename"]).stdout.strip() == "work-st-c5-1"
    cfnconfig = _exec(pid, ["cat", "/etc/parallelcluster/cfnconfig"]).stdout
    assert 'cfn_postinstall="/opt/parallelcluster/scripts/fetch_and_run --execute-via-cfnconfig -postinstall"' \
        in cfnconfig and 'cfn_scheduler_queue_name="work"' in cfnconfig and 'cfn_node_type="ComputeFleet"' in cfnconfig
    # The node's spec holds keys: only root may read it, on the host and in the node.
    assert _exec(pid, ["runuser", "-u", "ec2-user", "--", "cat", "/run/paracluster/node/spec.json"]).returncode != 0
    assert "work" in _exec(pid, ["cat", "/opt/parallelcluster/shared/cluster-config.yaml"]).stdout
    # The node works: a job runs on it.
    job = cli.ssh("boot-order", "srun -t 1 -p work -N 1 hostname")
    assert job.stdout.strip() == "work-st-c5-1", job.stderr


def test_running_the_agent_again_changes_nothing(cli):
    before = _marks(cli, "boot-order")
    from paracluster.providers.local.nodes.runtime import node_pythonpath

    for node in ("head", "work-st-c5-1", "login-users-1"):
        pid = _node_pid(cli, "boot-order", node)
        result = _exec(pid, ["env", f"PYTHONPATH={node_pythonpath()}", "python3", "-m", "paracluster.node.agent"])
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 5 and all(line.endswith(": nothing to do") for line in lines), result.stdout
    assert _marks(cli, "boot-order") == before


def test_login_pool_behind_load_balancer_can_submit(cli):
    described = cli.json("describe-cluster", "-n", "boot-order")
    (pool,) = described["loginNodes"]
    assert pool["poolName"] == "users" and pool["status"] == "active"
    assert wait_for(lambda: cli.json("describe-cluster", "-n", "boot-order")["loginNodes"][0]["healthyNodes"] == 1,
                    what="a healthy login node")
    # Plain ssh to the balancer's address and port (what describe-cluster reports) reaches the login node.
    command = json.loads(cli.run("ssh", "-n", "boot-order", "--dryrun", "true").stdout)["command"].split()
    ssh = command[:-1] + ["-p", str(pool["port"]), f"{command[-1].split('@')[0]}@{pool['address']}"]
    result = subprocess.run(ssh + ["hostname; sbatch -t 1 -p work --parsable --wrap 'sleep 0.2; hostname'"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    host, job = result.stdout.split()
    login_host = "ip-" + cluster_record(cli, "boot-order").nodes["login-users-1"].address.replace(".", "-")
    assert host == login_host  # login nodes keep EC2's hostname, as in ParallelCluster
    state = wait_for(lambda: "COMPLETED" in cli.ssh("boot-order", f"scontrol show job {job}").stdout and "done",
                     what=f"job {job} to complete")
    assert state
    # The login node has no slurmd and its own copy of the cluster config.
    login = _node_pid(cli, "boot-order", "login-users-1")
    assert _exec(login, ["pgrep", "-x", "slurmd"]).returncode == 1
    assert _exec(login, ["test", "-f", "/opt/parallelcluster/shared_login_nodes/cluster-config.yaml"]).returncode == 0
    # The paracluster ssh shortcut goes the same way.
    via = cli.run("ssh", "-n", "boot-order", "--login-pool", "users", "--", "hostname")
    assert via.stdout.strip() == login_host, via.stderr


def test_delete_stops_the_load_balancer(cli):
    record = cluster_record(cli, "boot-order")
    pid = record.load_balancer["pid"]
    assert Path(f"/proc/{pid}").exists()
    cli.run("delete-cluster", "-n", "boot-order", "--wait")
    assert not Path(f"/proc/{pid}").exists() or b"haproxy" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_failing_compute_script_keeps_jobs_off_the_node_and_says_why(cli, scripts):
    config = one_queue("bad", """\
        OnNodeConfigured:
          Sequence:
            - Script: s3://boot-scripts/mark.sh
              Args: [bad-configured]
            - Script: s3://boot-scripts/fail.sh
    """)
    assert cli.create("boot-fail", config)["clusterStatus"] == "CREATE_COMPLETE"
    job = cli.ssh("boot-fail", "sbatch -t 1 -p bad --parsable --wrap hostname").stdout.strip()
    assert job.isdigit()

    def reason():
        out = cli.ssh("boot-fail", "sinfo -h -N -p bad -o '%E'").stdout
        return out if "fail.sh" in out else None

    text = wait_for(reason, what="the bootstrap failure as the Slurm reason")
    assert "OnNodeConfigured" in text and "exited with code 3" in text and "license server unreachable" in text
    # The job never ran: it was requeued, and the node was powered down (its instance terminated).
    show = wait_for(lambda: (out := cli.ssh("boot-fail", f"scontrol show job {job}").stdout)
                    and "Restarts=0" not in out and out, what=f"job {job} to be requeued")
    assert "JobState=PENDING" in show or "JobState=CONFIGURING" in show, show
    assert "StartTime=Unknown" in show or "RunTime=00:00:00" in show, show
    wait_for(lambda: cli.ssh("boot-fail", "sinfo -h -N -p bad -o %T").stdout.strip().endswith("~"),
             what="the failed node powered down")
    failures = cli.json("describe-cluster-instances", "-n", "boot-fail")["nodeFailures"]
    assert any(item["failureCode"] == "BootstrapFailure" and "fail.sh" in item["failureReason"]
               and "exited with code 3" in item["failureReason"] for item in failures), failures
    marks = [m for m in _marks(cli, "boot-fail") if m[1] == "bad-configured"]
    assert marks and all(m[4] == "slurmd-down" for m in marks)
    cli.run("delete-cluster", "-n", "boot-fail", "--wait")


def test_failing_head_script_fails_the_create_with_the_reason(cli, scripts):
    config = one_queue("q").replace("  Ssh:", "  CustomActions:\n    OnNodeConfigured:\n"
                                             "      Script: s3://boot-scripts/fail.sh\n      Args: [x]\n  Ssh:")
    described = cli.json("create-cluster", "-n", "boot-headfail", "-c", str(cli.config(config)), "--wait",
                         expect=1)
    assert described.get("clusterStatus", "CREATE_FAILED") == "CREATE_FAILED"
    described = cli.json("describe-cluster", "-n", "boot-headfail")
    assert described["clusterStatus"] == "CREATE_FAILED"
    (failure,) = described["failures"]
    reason = failure["failureReason"]
    assert "head" in reason and "s3://boot-scripts/fail.sh" in reason and "exited with code 3" in reason, reason
    cli.run("delete-cluster", "-n", "boot-headfail", "--wait")


@pytest.fixture()
def https_server(tmp_path):
    """An https:// server on the host with a self-signed certificate the host service is told to trust."""
    with https_site(tmp_path, {"mark.sh": MARK}) as site:
        yield site


def test_https_script_is_fetched_by_the_host(https_server, tmp_path):
    url, cert = https_server
    # The host service inherits SSL_CERT_FILE when the CLI starts it.
    with private_cli(tmp_path, SSL_CERT_FILE=str(cert)) as runner:
        config = one_queue("q", f"OnNodeStart:\n  Script: {url}/missing.sh\n").replace(
            "  Ssh:", f"  CustomActions:\n    OnNodeStart:\n      Script: {url}/mark.sh\n      Args: [from-https]\n  Ssh:")
        assert runner.create("boot-https", config)["clusterStatus"] == "CREATE_COMPLETE"
        assert [m[1] for m in _marks(runner, "boot-https")] == ["from-https"]
        # A script the server does not have fails the node in the downloading stage with the HTTP status.
        runner.ssh("boot-https", "sbatch -t 1 -p q --wrap hostname")

        def reason():
            out = runner.ssh("boot-https", "sinfo -h -N -p q -o '%E'").stdout
            return out if "missing.sh" in out else None

        assert "404" in wait_for(reason, what="the download failure as the Slurm reason")


def test_keep_failed_nodes_keeps_a_failed_node_for_debugging(scripts, tmp_path):
    with private_cli(tmp_path, PARACLUSTER_KEEP_FAILED_NODES="true") as runner:
        for name in ("mark.sh", "fail.sh"):
            runner.run("s3", "cp", str(scripts / name), f"s3://boot-scripts/{name}")
        config = one_queue("bad", "OnNodeConfigured:\n  Script: s3://boot-scripts/fail.sh\n")
        assert runner.create("boot-keep", config)["clusterStatus"] == "CREATE_COMPLETE"
        runner.ssh("boot-keep", "sbatch -t 1 -p bad --wrap hostname")

        def down_with_reason():
            out = runner.ssh("boot-keep", "sinfo -h -N -p bad -o '%T|%E'").stdout.strip()
            return out if out.startswith("down") and "fail.sh" in out else None

        wait_for(down_with_reason, what="the failed node DOWN with its reason")
        time.sleep(3)  # a few cluster manager loops: the node must stay
        assert down_with_reason()
        pid = _node_pid(runner, "boot-keep", "bad-dy-c5-1")
        assert pid and Path(f"/proc/{pid}").exists()
        event = json.loads(_exec(pid, ["cat", "/var/log/parallelcluster/bootstrap_error_msg"]).stdout)
        assert event["event-type"] == "custom-action-error" and event["detail"]["error"]["exit_code"] == 3


# Succeeds on a node's first boot only (it leaves a mark on the shared /home): replacements of the node fail.
FIRST_BOOT_ONLY = """\
#!/bin/bash
mark=/home/booted-$(hostname)
if [ -e "$mark" ]; then echo "refusing a second boot of $(hostname)"; exit 4; fi
touch "$mark"
"""


def test_failing_replacements_of_a_static_node_lead_to_protected_mode(tmp_path):
    script = tmp_path / "first-boot-only.sh"
    script.write_text(FIRST_BOOT_ONLY)
    with private_cli(tmp_path, PARACLUSTER_LOCAL_PROTECTED_FAILURE_COUNT="2") as runner:
        assert runner.run("s3", "cp", str(script), "s3://boot-scripts/first-boot-only.sh").returncode == 0
        config = one_queue("st", "OnNodeConfigured:\n  Script: s3://boot-scripts/first-boot-only.sh\n", 1, 1)
        assert runner.create("boot-prot", config)["clusterStatus"] == "CREATE_COMPLETE"
        record = cluster_record(runner, "boot-prot")
        os.kill(record.nodes["st-st-c5-1"].instance.pid, signal.SIGKILL)  # the instance dies: it is replaced
        # Each replacement fails its OnNodeConfigured script; after two failures the queue is protected.
        wait_for(lambda: runner.json("describe-compute-fleet", "-n", "boot-prot")["status"] == "PROTECTED", 120,
                 what="protected mode")
        assert "inact" in runner.ssh("boot-prot", "sinfo -h -p st -o %a").stdout
        failures = runner.json("describe-cluster-instances", "-n", "boot-prot")["nodeFailures"]
        assert len([f for f in failures if "refusing a second boot" in f["failureReason"]]) >= 2, failures

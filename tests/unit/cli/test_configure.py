"""`paracluster configure`: ParallelCluster's questions in order, answered on standard input, a config that validates."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import yaml

from support import PROJECT
from paracluster.cli import main
from paracluster.config.validate import validate_config

# The questions of `pcluster configure` (3.16, without --region) for one queue with one EFA-capable type.
QUESTIONS = [
    "AWS Region ID", "EC2 Key Pair Name", "Scheduler", "Operating System", "Head node instance type",
    "Number of queues", "Name of queue 1", "Number of compute resources for queue1",
    "Compute instance type for compute resource 1 in queue1", "Enable EFA on c5n.18xlarge (y/n)",
    "Maximum instance count", "Placement Group name", "head node subnet ID", "compute subnet ID",
]


def configure(capsys, monkeypatch, answers: list[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{answer}\n" for answer in answers)))
    with pytest.raises(SystemExit) as exit_info:
        main(["configure", *args])
    return exit_info.value.code, capsys.readouterr().out


def asked(out: str) -> list[str]:
    """The questions in the order they were asked: the text before ' [default]: '."""
    return [line.split(" [")[0] for line in out.splitlines() if "]: " in line]


def test_answers_piped_on_standard_input_make_a_config_that_validates(tmp_path):
    # A real process whose standard input is a pipe, not a terminal.
    out_file = tmp_path / "cluster.yaml"
    answers = ["us-east-1", "", "", "", "c5.xlarge", "", "compute", "", "c5n.18xlarge", "y", "4", "", "", ""]
    env = {**os.environ, "PARACLUSTER_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(PROJECT / "src")}
    result = subprocess.run([sys.executable, "-m", "paracluster", "configure", "-c", str(out_file)],
                            input="\n".join(answers) + "\n", capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert asked(result.stdout) == [q.replace("queue1", "compute") for q in QUESTIONS]
    config = yaml.safe_load(out_file.read_text())
    assert config == {
        "Region": "us-east-1",
        "Image": {"Os": "alinux2023"},
        "HeadNode": {"InstanceType": "c5.xlarge", "Networking": {"SubnetId": "subnet-0123456789abcdef0"},
                     "Ssh": {"KeyName": "paracluster"}},
        "Scheduling": {"Scheduler": "slurm", "SlurmQueues": [{
            "Name": "compute",
            "ComputeResources": [{"Name": "c5n18xlarge", "Instances": [{"InstanceType": "c5n.18xlarge"}],
                                  "MinCount": 0, "MaxCount": 4, "Efa": {"Enabled": True}}],
            "Networking": {"PlacementGroup": {"Enabled": True}, "SubnetIds": ["subnet-0123456789abcdef0"]},
        }]},
    }
    assert oct(out_file.stat().st_mode & 0o777) == "0o600"
    outcome = validate_config(str(out_file), cluster_name="mycluster")
    assert outcome.schema_ok and not outcome.blocking, [f.message for f in outcome.findings]
    assert "paracluster create-cluster --cluster-configuration" in result.stdout


def test_local_key_pairs_and_catalog_types_are_the_choices(tmp_path, capsys, monkeypatch):
    from paracluster.providers.local.standins import keypairs

    state = tmp_path / "state"
    for name in ("alice", "bob"):
        keypairs.create(state, name)
    answers = ["2", "", "3", "x9.huge", "m5.large", "2", "bad_name", "cpu", "", "m5.large", "", "mem", "", "r5.large",
               "20", "subnet-1234567890abcdef0", ""]
    code, out = configure(capsys, monkeypatch, answers, "-c", str(tmp_path / "c.yaml"), "--region", "eu-west-1")
    assert code == 0, out
    assert "Allowed values for EC2 Key Pair Name:\n1. alice\n2. bob\n" in out
    assert "ERROR: x9.huge is not an acceptable value for Head node instance type" in out
    assert "ERROR: bad_name is not an acceptable value for Name of queue 1" in out
    config = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert config["Region"] == "eu-west-1" and config["HeadNode"]["Ssh"] == {"KeyName": "bob"}
    assert config["Image"] == {"Os": "ubuntu2404"}
    queues = config["Scheduling"]["SlurmQueues"]
    assert [(q["Name"], q["ComputeResources"][0]["Instances"][0]["InstanceType"]) for q in queues] == [
        ("cpu", "m5.large"), ("mem", "r5.large")]
    assert queues[1]["ComputeResources"][0]["MaxCount"] == 20
    assert config["HeadNode"]["Networking"] == {"SubnetId": "subnet-1234567890abcdef0"}
    assert queues[0]["Networking"] == {"SubnetIds": ["subnet-1234567890abcdef0"]}  # compute subnet defaults to head's


def test_a_private_os_asks_for_a_custom_ami(tmp_path, capsys, monkeypatch):
    answers = ["k", "", "rocky9", "ami-12", "ami-0123456789abcdef0", "c5.xlarge", "", "", "", "c5.large", "", "", ""]
    code, out = configure(capsys, monkeypatch, answers, "-c", str(tmp_path / "c.yaml"), "-r", "us-east-1")
    assert code == 0, out
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["Image"] == {
        "Os": "rocky9", "CustomAmi": "ami-0123456789abcdef0"}


def test_a_config_that_does_not_validate_is_written_and_reported(tmp_path, capsys, monkeypatch):
    # A t3.nano head node cannot manage 100 compute nodes (ParallelCluster 3.13's HeadNodeMemorySizeValidator).
    answers = ["k", "", "", "t3.nano", "", "", "", "c5.large", "100", "", ""]
    code, out = configure(capsys, monkeypatch, answers, "-c", str(tmp_path / "c.yaml"), "-r", "us-east-1")
    assert code == 1
    assert "ERROR: HeadNode/InstanceType (line 5): instance type t3.nano has 0.5 GiB of memory" in out
    assert json.loads(out[out.index("{"):])["message"] == (
        f"{tmp_path / 'c.yaml'} does not validate (the errors are above); edit it before creating a cluster")
    assert (tmp_path / "c.yaml").exists()


def test_refusals(tmp_path, capsys, monkeypatch):
    existing = tmp_path / "c.yaml"
    existing.write_text("x")
    code, out = configure(capsys, monkeypatch, [], "-c", str(existing), "-r", "us-east-1")
    assert (code, json.loads(out)) == (1, {"message": f"-c {existing} already exists; give the path of a new file"})
    code, out = configure(capsys, monkeypatch, ["k", ""], "-c", str(tmp_path / "new.yaml"), "-r", "us-east-1")
    assert code == 1 and not (tmp_path / "new.yaml").exists()
    assert json.loads(out[out.index("{"):])["message"] == (
        "standard input ended before the question 'Operating System' was answered; give one answer per line (an "
        "empty line takes the default)")

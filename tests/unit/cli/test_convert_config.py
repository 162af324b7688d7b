"""`paracluster convert-config` and `paracluster3-config-converter`, and create-cluster given a v2 INI file."""

from __future__ import annotations

import json
import stat
import tomllib

import pytest
import yaml

from support import PROJECT
from paracluster.cli import main
from paracluster.cli.convert_config import main as converter_main

V2 = """\
[global]
cluster_template = default

[cluster default]
key_name = mykey
vpc_settings = public
base_os = alinux2023
scheduler = slurm
{extra}

[vpc public]
master_subnet_id = subnet-0123456789abcdef0
"""


@pytest.fixture
def ini(tmp_path):
    def write(extra: str = "") -> str:
        path = tmp_path / "config"
        path.write_text(V2.format(extra=extra))
        return str(path)

    return write


def run(argv, capsys, entry=main):
    with pytest.raises(SystemExit) as exit_info:
        entry(argv)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_convert_config_writes_yaml_to_stdout_and_messages_to_stderr(ini, capsys):
    code, out, err = run(["convert-config", "-c", ini()], capsys)
    assert code == 0
    config = yaml.safe_load(out)
    assert config["HeadNode"]["Networking"] == {"SubnetId": "subnet-0123456789abcdef0"}
    assert config["Scheduling"]["SlurmQueues"][0]["Name"] == "default-queue"
    assert err.startswith("Note: ParallelCluster 3 encrypts volumes")
    assert all(line.startswith(("Note: ", "Warning: ")) for line in err.splitlines())


def test_output_file_is_private_and_never_overwritten(ini, tmp_path, capsys):
    target = tmp_path / "out" / "cluster.yaml"
    code, out, _ = run(["convert-config", "-c", ini(), "-o", str(target)], capsys)
    assert code == 0 and json.loads(out) == {"message": f"Configuration file written to {target}"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert yaml.safe_load(target.read_text())["Image"] == {"Os": "alinux2023"}
    code, out, _ = run(["convert-config", "-c", ini(), "-o", str(target)], capsys)
    assert code == 1
    assert json.loads(out) == {"message": f"--output-file {target} already exists; choose another file or remove it"}


def test_standalone_converter_answers_in_plain_text(ini, tmp_path, capsys):
    target = tmp_path / "cluster.yaml"
    code, out, _ = run(["-c", ini(), "--output-file", str(target)], capsys, converter_main)
    assert (code, out) == (0, f"Configuration file written to {target}\n")
    code, out, err = run(["-c", ini("extra_json = {}")], capsys, converter_main)
    assert code == 1 and out == ""
    assert err.startswith("ERROR: ") and err.rstrip().endswith("rerun with --force-convert to convert them anyway")
    code, out, err = run(["-c", ini("extra_json = {}"), "--force-convert"], capsys, converter_main)
    assert code == 0 and yaml.safe_load(out)["DevSettings"] == {"Cookbook": {"ExtraChefAttributes": "{}"}}
    missing = tmp_path / "missing.ini"
    code, _, err = run(["-c", str(missing)], capsys, converter_main)
    assert code == 1 and err == f"ERROR: failed to read --config-file {missing}: No such file or directory\n"


def test_role_arns_get_a_placeholder_account_with_one_warning(ini, capsys, monkeypatch):
    from paracluster.cli import convert_config

    convert_config._account_id.cache_clear()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code, out, err = run(["convert-config", "-c", ini("ec2_iam_role = NodeRole")], capsys)
    assert code == 0
    config = yaml.safe_load(out)
    assert config["HeadNode"]["Iam"]["InstanceRole"] == "arn:aws:iam::000000000000:role/NodeRole"
    assert config["Scheduling"]["SlurmQueues"][0]["Iam"]["InstanceRole"] == "arn:aws:iam::000000000000:role/NodeRole"
    assert err.count("placeholder account 000000000000") == 1


def test_create_cluster_says_how_to_convert_a_v2_file(ini, capsys):
    path = ini()
    code, out, _ = run(["create-cluster", "-n", "mycluster", "-c", path, "--dryrun", "true"], capsys)
    assert code == 1
    message = json.loads(out)["message"]
    assert message == (f"{path} is a ParallelCluster 2 INI file; convert it with `paracluster3-config-converter -c "
                       f"{path} -o cluster.yaml` (or `paracluster convert-config`) and pass the YAML file it writes.")


def test_console_script_is_declared():
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["paracluster3-config-converter"] == "paracluster.cli.convert_config:main"

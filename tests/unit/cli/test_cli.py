"""The CLI: pcluster's flags, JSON bodies and exit codes for create-cluster --dryrun, build-image, version, --query."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import BATCH_CLUSTER, MINIMAL_CLUSTER, PROJECT
from paracluster import __version__
from paracluster.cli import main


def run_cli(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out = capsys.readouterr().out
    return exit_info.value.code, (json.loads(out) if out.strip() else None)


def test_version(capsys):
    assert run_cli(capsys, "version") == (0, {"version": __version__})


def test_dryrun_success_is_pcluster_412_shape(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("    SubnetId: subnet-12345678\n",
                                                "    SubnetId: subnet-12345678\n  Ssh:\n    KeyName: k\n"))
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true")
    assert code == 1
    assert body == {"message": "Request would have succeeded, but DryRun flag is set."}


def test_dryrun_success_lists_warnings(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("alinux2023", "alinux2"))
    code, body = run_cli(capsys, "create-cluster", "--cluster-name", "mycluster", "--cluster-configuration",
                         str(path), "--dryrun", "true")
    assert code == 1 and body["message"] == "Request would have succeeded, but DryRun flag is set."
    assert body["validationMessages"][0]["level"] == "WARNING"
    assert set(body["validationMessages"][0]) == {"level", "type", "message"}


def test_invalid_config_is_pcluster_400_shape(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("Name: queue1", "Name: Queue_1").replace("Os: alinux2023", "Os: win"))
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true")
    assert code == 1
    assert body["message"] == "Invalid cluster configuration."
    assert body["configurationValidationErrors"] == [
        {"level": "ERROR", "type": "ConfigSchemaValidator",
         "message": "Image/Os (line 2): 'win' is not allowed; use one of: alinux2, alinux2023, ubuntu2004, "
                    "ubuntu2204, ubuntu2404, rhel8, rocky8, rhel9, rocky9, centos7, ubuntu1804"},
    ]


def test_validator_error_names_path_and_line(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("Name: queue1", "Name: Queue_1"))
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true")
    assert code == 1 and body["message"] == "Invalid cluster configuration."
    assert {"level": "ERROR", "type": "NameValidator",
            "message": "Scheduling/SlurmQueues[0]/Name (line 10): 'Queue_1' is invalid; use lowercase letters, "
                       "digits and hyphens, starting with a letter"} in body["configurationValidationErrors"]


def test_suppress_validators_by_type_and_all(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("Name: queue1", "Name: Queue_1"))
    base = ["create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true"]
    code, body = run_cli(capsys, *base, "--suppress-validators", "type:NameValidator", "type:Other")
    assert body["message"] == "Request would have succeeded, but DryRun flag is set."
    code, body = run_cli(capsys, *base, "--suppress-validators", "ALL")
    assert body["message"] == "Request would have succeeded, but DryRun flag is set."


def test_suppression_never_hides_schema_errors(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER + "Bogus: 1\n")
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true",
                         "--suppress-validators", "ALL")
    assert body["configurationValidationErrors"][0]["type"] == "ConfigSchemaValidator"


def test_validation_failure_level_warning_blocks_on_warnings(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("alinux2023", "alinux2"))
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true",
                         "--validation-failure-level", "WARNING")
    assert code == 1 and body["message"] == "Invalid cluster configuration."
    assert body["configurationValidationErrors"][0]["level"] == "WARNING"


def test_query_filters_output(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER.replace("Name: queue1", "Name: Queue_1"))
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true",
                         "--query", "configurationValidationErrors[?type=='NameValidator'].level")
    assert (code, body) == (1, ["ERROR"])
    assert run_cli(capsys, "version") == (0, {"version": __version__})


def test_bad_query_is_one_sentence(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER)
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true",
                         "--query", "[[[")
    assert code == 1 and body["message"].startswith("--query '[[[' is not a valid JMESPath expression")


@pytest.mark.parametrize(
    ("argv_tail", "fragment"),
    [
        (["-n", "x_y"], "--cluster-name 'x_y' is invalid"),
        (["-n", "mycluster", "-c", "/nonexistent.yaml"], "/nonexistent.yaml: file not found"),
        (["-n", "mycluster", "--region", "eu-west-1", "-c", "{region}"], "--region eu-west-1 conflicts with Region"),
    ],
)
def test_bad_arguments_are_one_sentence(capsys, write_config, argv_tail, fragment):
    path = write_config(MINIMAL_CLUSTER + "Region: us-east-1\n")
    argv = [a.replace("{region}", str(path)) for a in argv_tail]
    if "-c" not in argv:
        argv += ["-c", str(path)]
    code, body = run_cli(capsys, "create-cluster", *argv, "--dryrun", "true")
    assert code == 1 and fragment in body["message"] and "Traceback" not in body["message"]


def test_yaml_syntax_error(capsys, write_config):
    path = write_config("Image: [\n")
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true")
    assert code == 1 and "fix the YAML syntax" in body["message"]


def test_awsbatch_on_the_local_provider_is_refused(capsys, write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("PARACLUSTER_STATE_DIR", str(tmp_path / "state"))
    path = write_config(BATCH_CLUSTER)
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--provider", "local")
    assert code == 1
    assert body["message"].startswith("Scheduling/Scheduler: awsbatch clusters run on AWS Batch")
    assert not (tmp_path / "state" / "clusters").exists()


def test_build_image_dryrun(capsys, write_config):
    from paracluster.providers.local.images.official import host_architecture, official_ami_id

    official = official_ami_id("alinux2023", host_architecture())
    path = write_config(f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official}\n", "image.yaml")
    code, body = run_cli(capsys, "build-image", "-i", "my-image", "-c", str(path), "--dryrun", "true")
    assert (code, body["message"]) == (1, "Request would have succeeded, but DryRun flag is set.")
    unknown = write_config("Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\n", "unknown.yaml")
    code, body = run_cli(capsys, "build-image", "-i", "my-image", "-c", str(unknown), "--dryrun", "true")
    assert body["message"] == "Invalid image configuration."
    assert [(e["type"], e["message"].split(":")[0]) for e in body["configurationValidationErrors"]] == [
        ("InstanceTypeBaseAMICompatibleValidator", "Build/ParentImage (line 3)")]
    bad = write_config("Build:\n  InstanceType: c5.xlarge\n  Parent: ami-12345678\n", "bad.yaml")
    code, body = run_cli(capsys, "build-image", "-i", "my-image", "-c", str(bad), "--dryrun", "true")
    assert body["message"] == "Invalid image configuration."
    assert {e["type"] for e in body["configurationValidationErrors"]} == {"ImageSchemaValidator"}
    code, body = run_cli(capsys, "build-image", "-i", "9bad", "-c", str(path), "--dryrun", "true")
    assert code == 1 and body["message"].startswith("--image-id '9bad' is invalid")


def test_missing_required_flag_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["create-cluster", "-n", "x"])
    assert exit_info.value.code == 2
    assert "the following arguments are required: -c/--cluster-configuration" in capsys.readouterr().err


def test_config_schema_is_json_schema(capsys):
    code, body = run_cli(capsys, "config-schema")
    assert code == 0
    cluster = body["definitions"]["cluster"]
    assert cluster["$schema"].startswith("http://json-schema.org/draft-07")
    assert cluster["required"] == ["Image", "HeadNode", "Scheduling"]
    queue = cluster["properties"]["Scheduling"]["properties"]["SlurmQueues"]["items"]
    assert queue["properties"]["CapacityType"]["enum"] == ["ONDEMAND", "SPOT", "CAPACITY_BLOCK"]
    assert queue["additionalProperties"] is False
    code, image = run_cli(capsys, "config-schema", "--format", "image")
    assert image["required"] == ["Build"]


def test_whole_process_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe not utf8")
    result = subprocess.run([sys.executable, "-m", "paracluster", "create-cluster", "-n", "abc", "-c", str(bad),
                             "--dryrun", "true"], capture_output=True, text=True, cwd=PROJECT)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["message"].startswith(f"failed to read {bad}")


def test_debug_logs_to_stderr_and_keeps_stdout_json(capsys, write_config):
    path = write_config(MINIMAL_CLUSTER)
    code, body = run_cli(capsys, "create-cluster", "-n", "mycluster", "-c", str(path), "--dryrun", "true", "--debug")
    assert code == 1 and body["message"].startswith("Request would have succeeded")


def test_debug_logging_reaches_stderr(write_config):
    path = write_config(MINIMAL_CLUSTER)
    result = subprocess.run([sys.executable, "-m", "paracluster", "create-cluster", "-n", "abc", "-c", str(path),
                             "--dryrun", "true", "--debug"], capture_output=True, text=True, cwd=PROJECT)
    assert "DEBUG paracluster.cli: create-cluster abc from" in result.stderr
    assert "create-cluster failed in" in result.stderr
    assert json.loads(result.stdout)["message"].startswith("Request would have succeeded")

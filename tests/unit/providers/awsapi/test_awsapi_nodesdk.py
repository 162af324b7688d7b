"""The nodes' AWS settings: environment, the files of the node spec, and the python start-up hook."""

from __future__ import annotations

import os
import subprocess

import pytest

from paracluster.providers.local.standins.awsapi import nodesdk
from paracluster.providers.local.nodes.runtime import node_python

ENDPOINTS = {"s3": "http://10.0.0.1:41001", "secretsmanager": "http://10.0.0.1:41002"}


def test_environment_names_each_service_as_botocore_does():
    assert nodesdk.node_environment("eu-west-1", ENDPOINTS) == {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": "http://10.0.0.1:41001",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://10.0.0.1:41002",
    }
    with pytest.raises(ValueError, match="sqs"):
        nodesdk.node_environment("eu-west-1", {"sqs": "http://10.0.0.1:1"})


def test_node_files_put_the_sdk_on_path_and_python_path():
    files = {item["path"]: item for item in nodesdk.node_files("eu-west-1", ENDPOINTS)}
    sdk = str(nodesdk.sdk_dir())
    wrapper = files["/usr/local/bin/aws"]
    assert wrapper["mode"] == 0o755 and wrapper["content"].startswith("#!/bin/sh\n")
    assert f"PYTHONPATH={sdk}" in wrapper["content"] and f"exec {node_python()} -m awscli \"$@\"" in wrapper["content"]
    pth = next(item for path, item in files.items() if path.endswith("/paracluster-aws-sdk.pth"))
    assert pth["path"].startswith("/usr/") and pth["content"].splitlines() == [sdk, "import paracluster_aws_env"]
    assert files["/etc/paracluster/aws.env"]["content"].splitlines()[1:] == [
        "AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1", "AWS_ENDPOINT_URL_S3=http://10.0.0.1:41001",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER=http://10.0.0.1:41002"]
    assert "export AWS_ENDPOINT_URL_S3=http://10.0.0.1:41001\n" in files["/etc/profile.d/paracluster-aws.sh"]["content"]
    systemd = files["/etc/systemd/system.conf.d/paracluster-aws.conf"]["content"].splitlines()
    assert systemd[1:] == ["[Manager]", "DefaultEnvironment=AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1 "
                           "AWS_ENDPOINT_URL_S3=http://10.0.0.1:41001 "
                           "AWS_ENDPOINT_URL_SECRETS_MANAGER=http://10.0.0.1:41002"]


def test_the_sdk_directory_follows_the_pins(monkeypatch):
    before = nodesdk.sdk_dir()
    monkeypatch.setattr(nodesdk, "REQUIREMENTS", (*nodesdk.REQUIREMENTS, "extra==1.0"))
    assert nodesdk.sdk_dir() != before and nodesdk.sdk_dir().parent == before.parent


def test_hook_fills_in_missing_aws_variables_only(tmp_path):
    env_file = tmp_path / "aws.env"
    env_file.write_text("# comment\nAWS_ENDPOINT_URL_S3=http://10.0.0.1:41001\nAWS_DEFAULT_REGION=eu-west-1\n"
                        "PATH=/nowhere\n")
    hook = nodesdk.HOOK_SOURCE.replace(nodesdk.ENV_FILE, str(env_file))
    script = hook + "\nprint(os.environ.get('AWS_ENDPOINT_URL_S3'), os.environ['AWS_DEFAULT_REGION'], " \
                    "os.environ['PATH'] != '/nowhere')\n"
    env = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-west-2"}  # set by the process: kept
    result = subprocess.run([node_python(), "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["http://10.0.0.1:41001", "us-west-2", "True"]


def test_hook_is_silent_without_its_file(tmp_path):
    hook = nodesdk.HOOK_SOURCE.replace(nodesdk.ENV_FILE, str(tmp_path / "absent"))
    result = subprocess.run([node_python(), "-c", hook + "\nprint('ok')"], capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"]})
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")

"""The local Image Builder component store, end to end through `paracluster imagebuilder` and a temporary state dir."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paracluster.cli import main
from paracluster.errors import BadRequestError, NotFoundError
from paracluster.images import runner
from paracluster.images.components import ComponentStore, script_document
from paracluster.images.transfer import DirectoryTransfer
from paracluster.settings import load_settings

DOCUMENT = """\
name: InstallTool
description: installs the tool
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Install
        action: ExecuteBash
        inputs:
          commands: [echo installing]
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: [echo checking]
"""
ARN = "arn:aws:imagebuilder:us-east-1:123456789012:component"


def cli(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main(["imagebuilder", *argv])
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def no_region_from_environment(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


@pytest.fixture
def document_file(tmp_path) -> Path:
    path = tmp_path / "install.yaml"
    path.write_text(DOCUMENT)
    return path


def test_create_list_get_delete(capsys, document_file):
    code, created = cli(capsys, "create-component", "--name", "Install Tool", "--semantic-version", "1.0.0",
                        "--data", f"file://{document_file}", "--description", "the tool",
                        "--client-token", "token-1")
    assert code == 0
    assert set(created) == {"requestId", "clientToken", "componentBuildVersionArn"}
    assert created["clientToken"] == "token-1"
    # Image Builder writes the name in ARNs in lower case with hyphens for spaces.
    assert created["componentBuildVersionArn"] == f"{ARN}/install-tool/1.0.0/1"
    code, listed = cli(capsys, "list-components")
    assert code == 0 and set(listed) == {"requestId", "componentVersionList"}
    (entry,) = listed["componentVersionList"]
    assert entry.pop("dateCreated").endswith("Z")
    assert entry == {"arn": f"{ARN}/install-tool/1.0.0", "name": "Install Tool", "version": "1.0.0",
                     "description": "the tool", "platform": "Linux", "type": "BUILD", "owner": "123456789012"}
    code, got = cli(capsys, "get-component", "--component-build-version-arn", f"{ARN}/install-tool/1.0.0/1")
    component = got["component"]
    assert code == 0 and component["data"] == DOCUMENT
    assert {key: component[key] for key in ("arn", "name", "version", "type", "platform", "owner", "encrypted",
                                            "tags", "state")} == {
        "arn": f"{ARN}/install-tool/1.0.0/1", "name": "Install Tool", "version": "1.0.0", "type": "BUILD",
        "platform": "Linux", "owner": "123456789012", "encrypted": False, "tags": {}, "state": {"status": "ACTIVE"}}
    code, deleted = cli(capsys, "delete-component", "--component-build-version-arn", f"{ARN}/install-tool/1.0.0/1")
    assert code == 0 and deleted["componentBuildVersionArn"] == f"{ARN}/install-tool/1.0.0/1"
    assert cli(capsys, "list-components")[1]["componentVersionList"] == []
    state = Path(os.environ["PARACLUSTER_STATE_DIR"])
    assert list((state / "imagebuilder" / "components").iterdir()) == []  # nothing left behind


def test_create_from_a_bucket_uri(capsys, document_file):
    with pytest.raises(SystemExit):
        main(["s3", "cp", str(document_file), "s3://component-docs/tools/install.yaml"])
    capsys.readouterr()
    code, created = cli(capsys, "create-component", "--name", "from-bucket", "--semantic-version", "2.0.1",
                        "--uri", "s3://component-docs/tools/install.yaml", "--region", "eu-west-1")
    assert code == 0
    assert created["componentBuildVersionArn"] == (
        "arn:aws:imagebuilder:eu-west-1:123456789012:component/from-bucket/2.0.1/1")
    assert cli(capsys, "list-components")[1]["componentVersionList"] == []  # another region
    listed = cli(capsys, "list-components", "--region", "eu-west-1")[1]["componentVersionList"]
    assert [item["name"] for item in listed] == ["from-bucket"]
    code, missing = cli(capsys, "create-component", "--name", "nope", "--semantic-version", "1.0.0",
                        "--uri", "s3://component-docs/tools/missing.yaml")
    assert code == 1 and missing["message"].startswith("object s3://component-docs/tools/missing.yaml does not exist")


def test_the_region_comes_from_the_aws_environment(capsys, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    created = cli(capsys, "create-component", "--name", "envregion", "--semantic-version", "1.0.0",
                  "--data", DOCUMENT)[1]
    assert created["componentBuildVersionArn"].startswith("arn:aws:imagebuilder:ap-south-1:")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert cli(capsys, "list-components")[1]["componentVersionList"] == []


def test_the_account_is_the_account_id_setting(capsys, monkeypatch):
    monkeypatch.setenv("PARACLUSTER_ACCOUNT_ID", "111122223333")
    created = cli(capsys, "create-component", "--name", "mine", "--semantic-version", "1.0.0", "--data", DOCUMENT)[1]
    arn = created["componentBuildVersionArn"]
    assert arn == "arn:aws:imagebuilder:us-east-1:111122223333:component/mine/1.0.0/1"
    assert cli(capsys, "get-component", "--component-build-version-arn", arn)[1]["component"]["owner"] == (
        "111122223333")
    monkeypatch.setenv("PARACLUSTER_ACCOUNT_ID", "123456789012")
    code, body = cli(capsys, "get-component", "--component-build-version-arn", arn)
    assert code == 1 and body["message"] == (
        f"component {arn} belongs to account 111122223333, not to 123456789012 (the account_id setting); set the "
        f"account_id setting to 111122223333 to use that account's ARNs")
    monkeypatch.setenv("PARACLUSTER_ACCOUNT_ID", "12345")
    code, body = cli(capsys, "list-components")
    assert code == 1 and body["message"] == "setting account_id '12345' is not an AWS account id (12 digits)"


def test_a_version_cannot_be_created_twice(capsys):
    args = ["create-component", "--name", "twice", "--semantic-version", "1.0.0", "--data", DOCUMENT]
    assert cli(capsys, *args)[0] == 0
    code, body = cli(capsys, *args)
    assert code == 1 and body["message"] == (
        f"component {ARN}/twice/1.0.0/1 already exists; create a new --semantic-version (versions of a component "
        f"cannot be changed)")
    assert cli(capsys, *args[:4], "1.0.1", *args[5:])[0] == 0


def test_an_invalid_document_is_refused_with_every_problem(capsys):
    code, body = cli(capsys, "create-component", "--name", "broken", "--semantic-version", "1.0.0", "--data",
                     "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n        action: Run\n")
    assert code == 1
    assert body == {"message": "Invalid component document --data.", "documentValidationErrors": [
        {"level": "ERROR", "message": "phases[0]/steps[0]/action (line 6): 'Run' is not an action module AWSTOE "
                                      "knows"}]}
    assert cli(capsys, "list-components")[1]["componentVersionList"] == []


@pytest.mark.parametrize("args, message", [
    (["--name", "a", "--semantic-version", "1.0.0"], "--name 'a' is invalid; use 3 to 128 letters, digits, hyphens, "
                                                     "underscores and spaces (not at either end)"),
    (["--name", "good", "--semantic-version", "1.0"], "--semantic-version '1.0' is invalid; write "
                                                      "<major>.<minor>.<patch> such as 1.0.0"),
    (["--name", "good", "--semantic-version", "1.0.0", "--platform", "Windows"],
     "--platform 'Windows' is not supported; ParaCluster builds Linux images (--platform Linux)"),
    (["--name", "good", "--semantic-version", "1.0.0", "--region", "Mars"],
     "region 'Mars' is not a region name such as us-east-1"),
])
def test_create_arguments_are_checked(capsys, args, message):
    code, body = cli(capsys, "create-component", *args, "--data", DOCUMENT)
    assert code == 1 and body == {"message": message}


def test_inline_data_has_image_builders_size_limit(capsys, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(DOCUMENT + "#" * 16000 + "\n")
    code, body = cli(capsys, "create-component", "--name", "big", "--semantic-version", "1.0.0",
                     "--data", f"file://{big}")
    assert code == 1 and body["message"].startswith(f"--data has {len(big.read_text())} characters; Image Builder "
                                                    f"takes 1 to 16000 inline")
    code, body = cli(capsys, "create-component", "--name", "big", "--semantic-version", "1.0.0",
                     "--data", f"file://{tmp_path}/absent.yaml")
    assert code == 1
    assert body["message"] == f"failed to read --data file://{tmp_path}/absent.yaml: No such file or directory"


@pytest.mark.parametrize("arn, message", [
    (f"{ARN}/absent/1.0.0/1", f"component {ARN}/absent/1.0.0/1 does not exist in us-east-1; see `paracluster "
                              f"imagebuilder list-components --region us-east-1`"),
    (f"{ARN}/tool/1.0.0", f"'{ARN}/tool/1.0.0' is not a component build version ARN; it ends in "
                          f"/<major>.<minor>.<patch>/<build>, such as {ARN}/name/1.0.0/1"),
    ("arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1",
     "component arn:aws:imagebuilder:us-east-1:aws:component/update-linux/1.0.0/1 belongs to account aws, not to "
     "123456789012 (the account_id setting); AWS-managed components are not available locally"),
    ("not-an-arn", f"'not-an-arn' is not an Image Builder component ARN such as {ARN}/my-component/1.0.0/1"),
])
def test_get_and_delete_name_what_is_wrong_with_an_arn(capsys, arn, message):
    for verb in ("get-component", "delete-component"):
        assert cli(capsys, verb, "--component-build-version-arn", arn) == (1, {"message": message})


def test_resolve_takes_version_arns_and_wildcards_for_the_build_pipeline(tmp_path):
    store = ComponentStore(tmp_path, "123456789012")
    for version in ("1.2.0", "1.10.0", "2.0.0", "1.9.3"):
        store.create("tool", version, region="us-east-1", data=DOCUMENT.replace("installing", f"v{version}"))
    assert [item["version"] for item in store.list("us-east-1")] == ["1.2.0", "1.9.3", "1.10.0", "2.0.0"]
    assert store.resolve(f"{ARN}/tool/1.x.x")["version"] == "1.10.0"  # numerically highest
    assert store.resolve(f"{ARN}/tool/x.x.x")["version"] == "2.0.0"
    assert store.resolve(f"{ARN}/tool/1.9.x")["version"] == "1.9.3"
    assert store.resolve(f"{ARN}/tool/1.2.0")["arn"] == f"{ARN}/tool/1.2.0/1"
    document = store.document(f"{ARN}/tool/1.2.0/1")
    assert document["phases"][0]["steps"][0]["inputs"] == {"commands": ["echo v1.2.0"]}
    with pytest.raises(NotFoundError, match="does not exist"):
        store.resolve(f"{ARN}/tool/3.x.x")
    with pytest.raises(NotFoundError, match="does not exist"):
        store.resolve(f"{ARN}/tool/1.2.0/2")  # local components have build 1 only
    with pytest.raises(BadRequestError, match="give the document with exactly one of --data and --uri"):
        store.create("tool", "9.0.0", region="us-east-1")


def test_uris_are_read_through_the_injected_reader(tmp_path):
    read = []

    def reader(url: str) -> bytes:
        read.append(url)
        return DOCUMENT.encode()

    store = ComponentStore(tmp_path, "123456789012", read_object=reader)
    record = store.create("remote", "1.0.0", region="us-east-1", uri="s3://elsewhere/doc.yaml")
    assert read == ["s3://elsewhere/doc.yaml"] and record["data"] == DOCUMENT
    with pytest.raises(BadRequestError, match="is not an s3:// URL"):
        store.create("remote", "1.0.1", region="us-east-1", uri="https://example.com/doc.yaml")


def test_account_id_default_is_documented():
    settings = load_settings(environ={})
    assert settings.account_id == "123456789012"
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "| `account_id` | `123456789012` |" in readme


def test_script_components_download_and_run_the_script_as_parallelcluster_wraps_them(tmp_path, monkeypatch):
    buckets, web = tmp_path / "buckets", tmp_path / "web"
    (buckets / "site" / "scripts").mkdir(parents=True)
    (buckets / "site" / "scripts" / "setup.sh").write_text("#!/bin/bash\necho configured > \"$RESULT\"\n")
    (web / "example.com").mkdir(parents=True)
    (web / "example.com" / "fail.sh").write_text("echo about to fail\necho bad news >&2\nexit 7\n")  # no #! line
    transfer = DirectoryTransfer(str(buckets), str(web))
    scripts = tmp_path / "scripts"
    components = [{"name": name, "document": script_document(url, folder=str(scripts))}
                  for name, url in (("setup", "s3://site/scripts/setup.sh"), ("fail", "https://example.com/fail.sh"))]
    monkeypatch.setenv("RESULT", str(tmp_path / "result"))
    progress = runner.run({"components": components, "phases": ["build"]}, tmp_path / "work", transfer=transfer)
    assert (tmp_path / "result").read_text() == "configured\n"
    assert [document["status"] for document in progress["documents"]] == ["success", "failed"]
    assert progress["failure"]["message"] == ("component fail, phase build, step Execute (ExecuteBash) failed: the "
                                              "commands exited with code 1")
    assert progress["failure"]["stdoutTail"] == "about to fail"
    assert progress["failure"]["stderrTail"] == "bad news\nhttps://example.com/fail.sh exited with code 7"
    with pytest.raises(BadRequestError, match="is not an s3:// or https:// URL"):
        script_document("file:///tmp/x.sh")

"""Images on real local builds and clusters: build-image from every kind of component, CustomAmi nodes, stacking,
failures, delete-image while in use, UpdateOsPackages from a local file: repository, and what is left afterwards.

One research-style image (an ARN component from a bucket with a build and a test phase, one from inline data, one
from a file://, a script from the bucket and a script from an https:// server the test runs) and an image stacked on
it are built once; one cluster boots its head node and one queue from the first, a queue from the second and a queue
from the official image. Every job has a time limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
from cluster_support import HEADER, https_site, private_cli, residue

ACCOUNT_ARN = "arn:aws:imagebuilder:us-east-1:123456789012:component"
TOOL = """\
name: ResearchTool
description: installs the group's tool and checks it on a node of the new image
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: InstallTool
        action: CreateFile
        inputs:
          - path: /opt/research/bin/research-tool
            permissions: 755
            content: |
              #!/bin/sh
              echo "research tool 1.0"
  - name: test
    steps:
      - name: ToolRuns
        action: ExecuteBash
        inputs:
          commands:
            - test "$(/opt/research/bin/research-tool)" = "research tool 1.0"
"""
SETTINGS = """\
name: SiteSettings
schemaVersion: 1.0
parameters:
  - Site:
      type: string
      default: campus
phases:
  - name: build
    steps:
      - name: WriteSettings
        action: ExecuteBash
        inputs:
          commands:
            - mkdir -p /etc/research
            - echo "site={{ Site }}" > /etc/research/site.conf
            - echo "scratch notes" > /etc/research/obsolete.txt
            - useradd --system --no-create-home researchsvc
  - name: validate
    steps:
      - name: SettingsThere
        action: Assert
        inputs:
          fileExists: /etc/research/site.conf
"""
MODULES = """\
name: ModuleFiles
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Modulefile
        action: CreateFile
        inputs:
          - path: /usr/share/modules/modulefiles/research/1.0
            content: "#%Module1.0"
"""
STACKED = """\
name: NextRelease
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Upgrade
        action: ExecuteBash
        inputs:
          commands:
            - echo "research tool 2.0 addon" > /opt/research/addon
            - rm /etc/research/obsolete.txt
"""
BROKEN_VALIDATE = """\
name: BrokenCheck
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Install
        action: CreateFile
        inputs:
          - path: /opt/broken/installed
            content: half
  - name: validate
    steps:
      - name: LicenseCheck
        action: ExecuteBash
        inputs:
          commands:
            - echo "checking the license file"
            - test -f /opt/broken/license || { echo "no license file at /opt/broken/license" >&2; exit 4; }
"""


def _run(runner, *args, expect=0):
    return runner.json(*args, expect=expect, timeout=300)


def _official(runner, os_name="alinux2023") -> str:
    return _run(runner, "list-official-images", "--os", os_name)["images"][0]["amiId"]


def _image_config(runner, parent: str, components: list[tuple[str, str]], extra: str = "") -> Path:
    listed = "".join(f"    - Type: {kind}\n      Value: {value}\n" for kind, value in components)
    return runner.config(f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {parent}\n  Components:\n{listed}"
                         + extra)


def _layers(runner) -> set[str]:
    folder = runner.state_dir / "images" / "store" / "layers"
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def _image_namespaces() -> list[str]:
    return [name for name in os.listdir("/run/netns") if name.startswith("paracluster-image.")] \
        if os.path.isdir("/run/netns") else []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An https:// server on the host (self-signed, trusted by the host service) serving a site script."""
    script = "#!/bin/bash\nset -e\nmkdir -p /opt/site\necho from-https > /opt/site/https\n"
    with https_site(tmp_path_factory.mktemp("site"), {"site-setup.sh": script}) as served:
        yield served


@pytest.fixture(scope="module")
def runner(site, tmp_path_factory):
    """A host service of its own (trusting the site's certificate); afterwards nothing of the images is left."""
    _, cert = site
    tmp = tmp_path_factory.mktemp("images")
    with private_cli(tmp, SSL_CERT_FILE=str(cert)) as cli:
        yield cli
        state_dir = cli.state_dir
    assert _image_namespaces() == []
    left = residue(state_dir)
    assert (left["mounts"], left["loop devices"], left["processes"]) == ([], [], [])


@pytest.fixture(scope="module")
def images(runner, site):
    """The research image (five components) and an image stacked on it: {"research": ami, "stacked": ami}."""
    url, _ = site
    docs = runner.tmp / "docs"
    docs.mkdir()
    for name, text in (("tool.yaml", TOOL), ("settings.yaml", SETTINGS), ("modules.yaml", MODULES),
                       ("stacked.yaml", STACKED), ("setup.sh", "#!/bin/bash\necho bucket-script > /etc/site-s3\n")):
        (docs / name).write_text(text)
    _run(runner, "s3", "cp", str(docs / "tool.yaml"), "s3://pcl-img-research/components/tool.yaml")
    _run(runner, "s3", "cp", str(docs / "setup.sh"), "s3://pcl-img-research/scripts/setup.sh")
    _run(runner, "imagebuilder", "create-component", "--name", "research-tool", "--semantic-version", "1.0.0",
         "--uri", "s3://pcl-img-research/components/tool.yaml")
    _run(runner, "imagebuilder", "create-component", "--name", "site-settings", "--semantic-version", "1.2.0",
         "--data", SETTINGS)
    _run(runner, "imagebuilder", "create-component", "--name", "module-files", "--semantic-version", "0.1.0",
         "--data", f"file://{docs / 'modules.yaml'}")
    _run(runner, "imagebuilder", "create-component", "--name", "next-release", "--semantic-version", "2.0.0",
         "--data", STACKED)
    research = _image_config(runner, _official(runner), [
        ("arn", f"{ACCOUNT_ARN}/research-tool/1.0.0/1"), ("arn", f"{ACCOUNT_ARN}/site-settings/1.x.x"),
        ("arn", f"{ACCOUNT_ARN}/module-files/0.1.0/1"), ("script", "s3://pcl-img-research/scripts/setup.sh"),
        ("script", f"{url}/site-setup.sh"),
    ], "Image:\n  Name: research-2024\n  Tags:\n    - Key: group\n      Value: genomics\n")
    built = _run(runner, "build-image", "-i", "research", "-c", str(research), "--wait")
    stacked = _image_config(runner, built["ec2AmiInfo"]["amiId"], [("arn", f"{ACCOUNT_ARN}/next-release/2.0.0/1")])
    on_top = _run(runner, "build-image", "-i", "research-next", "-c", str(stacked), "--wait")
    return {"research": built["ec2AmiInfo"]["amiId"], "stacked": on_top["ec2AmiInfo"]["amiId"],
            "described": built}


def _queue(name: str, ami: str | None = None) -> str:
    image = f"      Image:\n        CustomAmi: {ami}\n" if ami else ""
    return (f"    - Name: {name}\n{image}      ComputeResources:\n        - Name: c5\n          InstanceType: c5.large\n"
            f"          MinCount: 1\n          MaxCount: 1\n      Networking:\n"
            f"        SubnetIds: [subnet-0123456789abcdef0]\n")


@pytest.fixture(scope="module")
def cluster(runner, images):
    header = HEADER.replace("  Ssh:", f"  Image:\n    CustomAmi: {images['research']}\n  Ssh:")
    config = header + "Scheduling:\n  Scheduler: slurm\n  SlurmQueues:\n" + _queue("custom", images["research"]) + \
        _queue("stacked", images["stacked"]) + _queue("plain")
    assert runner.create("imgc", config)["clusterStatus"] == "CREATE_COMPLETE"
    return "imgc"


def test_a_research_image_builds_from_every_kind_of_component(runner, images):
    described = images["described"]
    assert described["imageBuildStatus"] == "BUILD_COMPLETE" and described["imageId"] == "research"
    ami = described["ec2AmiInfo"]
    assert re.fullmatch(r"ami-[0-9a-f]{17}", ami["amiId"]) and ami["state"] == "AVAILABLE"
    assert ami["amiName"].startswith("research-2024 ") and ami["architecture"] == "x86_64"
    tags = {tag["key"]: tag["value"] for tag in ami["tags"]}
    assert tags["group"] == "genomics" and tags["parallelcluster:image_id"] == "research"
    listed = _run(runner, "list-images", "--image-status", "AVAILABLE")["images"]
    assert {image["imageId"] for image in listed} == {"research", "research-next"}
    stream = _run(runner, "list-image-log-streams", "-i", "research")["logStreams"][0]["logStreamName"]
    messages = [event["message"] for event in _run(runner, "get-image-log-events", "-i", "research",
                                                   "--log-stream-name", stream, "--start-from-head", "true")["events"]]
    for step in ("research-tool / build / InstallTool", "site-settings / validate / SettingsThere",
                 "module-files / build / Modulefile", "research-tool / test / ToolRuns"):
        assert f"{step} (" in "\n".join(messages), step
    events = _run(runner, "get-image-stack-events", "-i", "research")["events"]
    assert (events[0]["logicalResourceId"], events[0]["resourceStatus"]) == ("research", "CREATE_COMPLETE")
    # The layer holds what the components did, not what booting the build node wrote (its units, machine id, ...).
    layer = runner.state_dir / "images" / "store" / "layers" / ami["amiId"]
    in_etc = sorted(str(path.relative_to(layer)) for path in (layer / "etc").rglob("*") if path.is_file())
    assert "etc/research/site.conf" in in_etc and "etc/passwd" in in_etc  # a component added an account
    assert not [name for name in in_etc if name.startswith(("etc/systemd", "etc/machine-id", "etc/hostname"))]
    assert not (layer / "var/log/journal").exists()
    archive = runner.tmp / "research-logs.tar.gz"
    assert _run(runner, "export-image-logs", "-i", "research", "--bucket", "pcl-img-research", "--output-file",
                str(archive)) == {"path": str(archive)}
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(name.endswith("research-cfn-events") for name in names) and any(stream in name for name in names)


def test_nodes_booted_from_the_image_have_what_its_components_installed(runner, cluster):
    check = ("/opt/research/bin/research-tool; cat /etc/research/site.conf /etc/site-s3 /opt/site/https; "
             "test -f /usr/share/modules/modulefiles/research/1.0 && echo modulefile; getent passwd researchsvc "
             "| cut -d: -f1")
    head = runner.ssh(cluster, check)
    assert head.stdout.split("\n")[:6] == ["research tool 1.0", "site=campus", "bucket-script", "from-https",
                                           "modulefile", "researchsvc"], head.stdout + head.stderr
    compute = runner.ssh(cluster, f"srun -t 1 -p custom sh -c '{check}'")
    assert "research tool 1.0" in compute.stdout and "modulefile" in compute.stdout, compute.stdout + compute.stderr
    assert "researchsvc" in compute.stdout
    plain = runner.ssh(cluster, "srun -t 1 -p plain sh -c 'test -e /opt/research && echo has-tool || echo no-tool; "
                                "getent passwd researchsvc || echo no-account'")
    assert plain.stdout.split() == ["no-tool", "no-account"], plain.stdout + plain.stderr


def test_a_stacked_image_adds_and_removes_over_its_parent(runner, cluster):
    out = runner.ssh(cluster, "srun -t 1 -p stacked sh -c '/opt/research/bin/research-tool; cat /opt/research/addon; "
                              "test -e /etc/research/obsolete.txt && echo still-there || echo removed'")
    assert out.stdout.splitlines() == ["research tool 1.0", "research tool 2.0 addon", "removed"], out.stdout + out.stderr
    parent = runner.ssh(cluster, "cat /etc/research/obsolete.txt")
    assert parent.stdout.strip() == "scratch notes"  # the head node boots from the parent, which keeps it


def test_a_failing_validate_phase_fails_the_build_with_its_step_and_output(runner):
    _run(runner, "imagebuilder", "create-component", "--name", "broken-check", "--semantic-version", "1.0.0",
         "--data", BROKEN_VALIDATE)
    config = _image_config(runner, _official(runner), [("arn", f"{ACCOUNT_ARN}/broken-check/1.0.0/1")])
    layers = _layers(runner)
    failed = _run(runner, "build-image", "-i", "broken", "-c", str(config), "--wait", expect=1)
    assert failed["imageBuildStatus"] == "BUILD_FAILED" and failed["cloudformationStackStatus"] == "CREATE_FAILED"
    reason = failed["imagebuilderImageStatusReason"]
    for part in ("broken-check", "phase validate", "LicenseCheck", "exited with code 4",
                 "no license file at /opt/broken/license"):
        assert part in reason, reason
    assert failed["message"].startswith("failed to build image 'broken': ")
    assert _layers(runner) == layers and _image_namespaces() == []  # no layer and no node are left
    assert [i["imageId"] for i in _run(runner, "list-images", "--image-status", "FAILED")["images"]] == ["broken"]
    # TerminateInstanceOnFailure: false keeps the failed node running for debugging, until delete-image.
    kept = _image_config(runner, _official(runner), [("arn", f"{ACCOUNT_ARN}/broken-check/1.0.0/1")],
                         "DevSettings:\n  TerminateInstanceOnFailure: false\n")
    _run(runner, "build-image", "-i", "broken-kept", "-c", str(kept), "--wait", expect=1)
    record = json.loads((runner.state_dir / "images" / "broken-kept" / "image.json").read_text())
    assert record["kept_node"]["role"] == "build" and _image_namespaces() == ["paracluster-image.broken-kept-build"]
    node = subprocess.run(["nsenter", "-t", str(record["kept_node"]["pid"]), "-a", "cat", "/opt/broken/installed"],
                          capture_output=True, text=True)
    assert node.stdout == "half"
    for image in ("broken", "broken-kept"):
        assert _run(runner, "delete-image", "-i", image)["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert _image_namespaces() == [] and not Path(f"/proc/{record['kept_node']['pid']}").exists()


def test_a_custom_ami_that_is_not_here_is_refused_before_anything_is_made(runner):
    config = HEADER.replace("  Ssh:", "  Image:\n    CustomAmi: ami-0123456789abcdef0\n  Ssh:") + \
        "Scheduling:\n  Scheduler: slurm\n  SlurmQueues:\n" + _queue("q")
    refused = runner.json("create-cluster", "-n", "imgbad", "-c", str(runner.config(config)), expect=1)
    assert refused["message"] == "Invalid cluster configuration."
    [error] = refused["configurationValidationErrors"]
    assert error["type"] == "InstanceTypeBaseAMICompatibleValidator"
    assert error["message"].startswith("HeadNode/Image/CustomAmi (line") and "ami-0123456789abcdef0" in error["message"]
    assert "imgbad" not in [c["clusterName"] for c in _run(runner, "list-clusters")["clusters"]]


def _package(folder: Path, version: str) -> Path:
    tree = folder / f"pcl-hello-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "usr/share/pcl-hello").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text(f"Package: pcl-hello\nVersion: {version}\nArchitecture: all\n"
                                         "Maintainer: tests <tests@example.com>\nDescription: a test package\n")
    (tree / "usr/share/pcl-hello/version").write_text(version + "\n")
    deb = folder / f"pcl-hello_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(tree), str(deb)], check=True, capture_output=True)
    return deb


def test_update_os_packages_upgrades_from_a_local_file_repository(runner):
    # Outside the nodes' private /tmp: the host reads file: sources at the same path as the node.
    repo_root = Path(f"/var/tmp/paracluster-test-repo-{os.getpid()}")
    try:
        old = _package(repo_root / "build", "1.0")
        new = _package(repo_root / "repo", "2.0")
        data = new.read_bytes()
        (repo_root / "repo" / "Packages").write_text(
            f"Package: pcl-hello\nVersion: 2.0\nArchitecture: all\nMaintainer: tests <tests@example.com>\n"
            f"Filename: ./{new.name}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
            "Description: a test package\n\n")
        # The parent image has version 1.0 and only the local repository as its apt source (no network here).
        base = f"""\
name: PackageBase
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: InstallOld
        action: ExecuteBash
        inputs:
          commands:
            - dpkg -i {old}
            - rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
            - echo "deb [trusted=yes] file:{repo_root}/repo ./" > /etc/apt/sources.list.d/pcl-test.list
"""
        check = """\
name: PackageCheck
schemaVersion: 1.0
phases:
  - name: test
    steps:
      - name: Upgraded
        action: ExecuteBash
        inputs:
          commands:
            - test "$(cat /usr/share/pcl-hello/version)" = 2.0
"""
        _run(runner, "imagebuilder", "create-component", "--name", "package-base", "--semantic-version", "1.0.0",
             "--data", base)
        _run(runner, "imagebuilder", "create-component", "--name", "package-check", "--semantic-version", "1.0.0",
             "--data", check)
        parent = _run(runner, "build-image", "-i", "pkg-base", "-c", str(_image_config(
            runner, _official(runner, "ubuntu2204"), [("arn", f"{ACCOUNT_ARN}/package-base/1.0.0/1")])), "--wait")
        config = _image_config(runner, parent["ec2AmiInfo"]["amiId"], [("arn", f"{ACCOUNT_ARN}/package-check/1.0.0/1")],
                               "").read_text().replace("  Components:", "  UpdateOsPackages:\n    Enabled: true\n"
                                                                        "  Components:")
        upgraded = _run(runner, "build-image", "-i", "pkg-upgraded", "-c", str(runner.config(config)), "--wait")
        assert upgraded["imageBuildStatus"] == "BUILD_COMPLETE"
        messages = "\n".join(e["message"] for e in _run(runner, "get-image-log-events", "-i", "pkg-upgraded",
                                                        "--log-stream-name", "0.1.0/1", "--start-from-head",
                                                        "true")["events"])
        assert "Unpacking pcl-hello (2.0) over (1.0)" in messages
        assert "UpdateAndReboot / build / RebootAfterUpdate (Reboot): reboot requested" in messages
        for image in ("pkg-upgraded", "pkg-base"):
            _run(runner, "delete-image", "-i", image)
    finally:
        subprocess.run(["rm", "-rf", str(repo_root)], check=False)


def test_delete_image_is_refused_while_a_cluster_uses_it(runner, cluster, images):
    refused = _run(runner, "delete-image", "-i", "research", expect=1)
    assert refused["message"].startswith("Unable to delete image and stack: Image research is used by instances")
    assert cluster in refused["message"]
    # Forced, the image is gone for new nodes, but the running ones keep their root (its layer stays while used).
    assert _run(runner, "delete-image", "-i", "research-next", "--force", "true")["image"]["imageId"] == "research-next"
    assert images["stacked"] in _layers(runner)
    still = runner.ssh(cluster, "srun -t 1 -p stacked cat /opt/research/addon")
    assert still.stdout.strip() == "research tool 2.0 addon", still.stdout + still.stderr
    runner.run("delete-cluster", "-n", cluster, "--wait", timeout=300)
    assert images["stacked"] not in _layers(runner)  # nothing uses it any more
    assert _run(runner, "delete-image", "-i", "research")["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert not (runner.state_dir / "images" / "store").exists()  # the last image took the layer store with it

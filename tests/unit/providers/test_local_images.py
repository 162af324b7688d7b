"""The local provider's images without a host: official images, the image store's records, the checks of AMI ids
in configs, the build log's events and what the recipe fetches for the nodes."""

from __future__ import annotations

import pytest
from support import MINIMAL_CLUSTER

from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER, IMAGE_CONFIG
from paracluster.errors import ConflictError, NotFoundError
from paracluster.providers.local.images import logs, official, recipe
from paracluster.providers.local.images.store import ImageState, ImageStore
from paracluster.providers.local.images.validate import cluster_findings, image_findings

ARCH = official.host_architecture()
ALINUX = official.official_ami_id("alinux2023", ARCH)


def _image(store: ImageStore, image_id: str, ami_id: str, status="BUILD_COMPLETE", os_name="alinux2023",
           layers=None) -> ImageState:
    record = ImageState(image_id=image_id, ami_id=ami_id, region="us-east-1", version="0.1.0", name=image_id,
                        parent=ALINUX, os=os_name, architecture=ARCH, creation_time="2026-01-02T03:04:05.000Z",
                        layers=[ami_id] if layers is None else layers, build_status=status)
    assert store.create(record, "Build: {}\n")
    return record


def _config(schema, text: str):
    loaded = load_config_text(schema, text)
    assert loaded.config is not None, loaded.problems
    return loaded.config


def test_official_images_are_fixed_per_os_and_filtered():
    listed = official.official_images("0.1.0")
    assert [image.os for image in listed] == ["alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rhel9"]
    assert all(image.ami_id == official.official_ami_id(image.os, ARCH) and len(image.ami_id) == 21
               for image in listed)
    assert listed[0].name == f"aws-parallelcluster-0.1.0-amzn2023-hvm-{ARCH}-paracluster-local"
    assert [image.os for image in official.official_images("0.2.0", "rhel9")] == ["rhel9"]
    assert official.official_images("0.1.0", "rocky9") == []  # ParallelCluster publishes no Rocky AMIs
    other = "arm64" if ARCH == "x86_64" else "x86_64"
    assert official.official_images("0.1.0", architecture=other) == []
    assert official.find_official(ALINUX, "9.9.9").os == "alinux2023"
    assert official.check_filters("centos7", "ppc64") == (
        "centos7 is not one of ['alinux2023', 'ubuntu2204', 'ubuntu2404', 'rhel8', 'rocky8', 'rhel9', 'rocky9']; "
        "ppc64 is not one of ['x86_64', 'arm64']")


def test_the_store_keeps_one_record_per_image_and_resolves_ami_ids(tmp_path):
    store = ImageStore(tmp_path)
    _image(store, "base", "ami-0000000000000000a")
    _image(store, "child", "ami-0000000000000000b", layers=["ami-0000000000000000b", "ami-0000000000000000a"])
    _image(store, "building", "ami-0000000000000000c", status="BUILD_IN_PROGRESS", layers=[])
    assert not store.create(store.load("base"), "again")  # one record per image id
    assert [record.image_id for record in store.records()] == ["base", "building", "child"]
    assert store.resolve("ami-0000000000000000b").layers == ["ami-0000000000000000b", "ami-0000000000000000a"]
    assert store.resolve(ALINUX).layers == [] and store.resolve(ALINUX).os == "alinux2023"
    with pytest.raises(ConflictError, match="is BUILD_IN_PROGRESS"):
        store.resolve("ami-0000000000000000c")
    with pytest.raises(NotFoundError, match="ami-0000000000000000f does not exist on the local provider"):
        store.resolve("ami-0000000000000000f")
    changed = store.update("base", lambda record: setattr(record, "progress", "step"))
    assert store.load("base").progress == "step" == changed.progress
    store.remove("base")
    assert store.load("base") is None


def test_a_clusters_custom_amis_must_be_built_images_of_its_os(tmp_path):
    store = ImageStore(tmp_path)
    _image(store, "tools", "ami-0000000000000000a")
    _image(store, "ubuntu-tools", "ami-0000000000000000b", os_name="ubuntu2204")
    text = MINIMAL_CLUSTER.replace("  Os: alinux2023", "  Os: alinux2023\n  CustomAmi: ami-0000000000000000a")
    assert cluster_findings(tmp_path, _config(CLUSTER, text)) == []
    for ami, kind, fragment in (("ami-0000000000000000f", "InstanceTypeBaseAMICompatibleValidator", "does not exist"),
                                ("ami-0000000000000000b", "AmiOsCompatibleValidator", "is ubuntu2204, it is not "
                                                                                       "compatible with cluster OS "
                                                                                       "alinux2023")):
        config = _config(CLUSTER, text.replace("ami-0000000000000000a", ami))
        [finding] = cluster_findings(tmp_path, config)
        assert (finding.type, finding.level.name) == (kind, "ERROR")
        assert finding.message.startswith("Image/CustomAmi (line 3): ") and fragment in finding.message
        assert cluster_findings(tmp_path, config, suppress=(f"type:{kind}",)) == []


def test_an_image_configs_parent_must_be_here_and_suit_the_build_instance_type(tmp_path):
    def findings(parent: str, instance_type: str = "c5.xlarge"):
        text = f"Build:\n  InstanceType: {instance_type}\n  ParentImage: {parent}\n"
        return [(f.type, f.message) for f in image_findings(tmp_path, _config(IMAGE_CONFIG, text))]

    assert findings(ALINUX) == []
    [(kind, message)] = findings("ami-0000000000000000f")
    assert kind == "InstanceTypeBaseAMICompatibleValidator" and message.startswith("Build/ParentImage (line 3): ")
    [(_, message)] = findings("arn:aws:imagebuilder:us-east-1:aws:image/x/1.0.0")
    assert "Image Builder image ARN" in message
    other = "c6g.xlarge" if ARCH == "x86_64" else "c5.xlarge"
    [(_, message)] = findings(ALINUX, other)
    assert message.startswith("Build/InstanceType (line 2): ") and f"architecture ({ARCH}) is incompatible" in message


def test_the_build_log_merges_the_hosts_lines_and_the_runners_consoles_by_time(tmp_path):
    store = ImageStore(tmp_path)
    record = _image(store, "img", "ami-0000000000000000a")
    directory = store.image_dir("img")
    (directory / "build.log").write_text("[2026-01-02T03:04:05.000Z] build started\n"
                                         "[2026-01-02T03:04:09.000Z] image available\n")
    console = directory / "nodes" / "build" / "toe" / "build" / "console.log"
    console.parent.mkdir(parents=True)
    console.write_text("[2026-01-02T03:04:06.000Z] tool / build / Install (ExecuteBash): attempt 1 of 1\n"
                       "output of the command\n\n[2026-01-02T03:04:07.000Z] tool / build / Install: success\n")
    events = logs.events(store, record)
    assert [(event.timestamp[17:19], event.message) for event in events] == [
        ("05", "build started"), ("06", "tool / build / Install (ExecuteBash): attempt 1 of 1"),
        ("06", "output of the command"), ("07", "tool / build / Install: success"), ("09", "image available")]
    [stream] = logs.streams(store, record, "123456789012")
    assert stream.name == "0.1.0/1" and stream.last_event_time == "2026-01-02T03:04:09.000Z"
    assert stream.arn == ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/imagebuilder/ParallelClusterImage-img"
                          ":log-stream:0.1.0/1")


def test_the_recipe_fetches_the_literal_urls_of_web_downloads():
    document = {"phases": [{"name": "build", "steps": [
        {"action": "WebDownload", "inputs": [{"source": "https://example.com/a.tgz", "destination": "/tmp/a"},
                                             {"source": "{{ build.Url.outputs.stdout }}", "destination": "/tmp/b"}]},
        {"action": "S3Download", "inputs": [{"source": "s3://b/k", "destination": "/tmp/c"}]}]}]}
    assert recipe.web_sources(document) == ["https://example.com/a.tgz"]


def test_a_layer_keeps_what_the_components_changed_and_not_what_booting_the_node_wrote(tmp_path):
    from paracluster.providers.local.images import layer

    upper = tmp_path / "upper"
    for relative, text in (("etc/machine-id", "abc\n"), ("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
                           ("etc/systemd/system/slurmd.service", "[Unit]\n")):
        (upper / relative).parent.mkdir(parents=True, exist_ok=True)
        (upper / relative).write_text(text)
    (upper / "etc/systemd/system/default.target").symlink_to("/lib/systemd/system/multi-user.target")
    baseline = layer.snapshot(upper)
    assert baseline["etc/systemd/system/default.target"] == "link:/lib/systemd/system/multi-user.target"
    # What a component does, and what the node writes while it runs:
    with open(upper / "etc/passwd", "a") as out:
        out.write("svc:x:999:999::/:/usr/sbin/nologin\n")
    (upper / "opt/tool").mkdir(parents=True)
    (upper / "opt/tool/bin").write_text("#!/bin/sh\n")
    (upper / "var/log/journal/x").mkdir(parents=True)
    (upper / "var/log/journal/x/system.journal").write_text("binary")
    removed = layer.clean(upper, baseline)
    assert sorted(removed) == ["etc/machine-id", "etc/systemd/system/default.target",
                               "etc/systemd/system/slurmd.service", "var/log/journal"]
    left = sorted(str(path.relative_to(upper)) for path in upper.rglob("*"))
    assert left == ["etc", "etc/passwd", "opt", "opt/tool", "opt/tool/bin"]  # emptied folders went too


def test_a_node_booted_from_an_image_takes_its_accounts_from_the_images_layers(tmp_path):
    from paracluster.providers.local.nodes.rootfs import lower_file

    top, below = tmp_path / "top", tmp_path / "below"
    (top / "etc").mkdir(parents=True)
    (below / "etc").mkdir(parents=True)
    (top / "etc/passwd").write_text("svc:x:999:999::/:/usr/sbin/nologin\n")
    (below / "etc/group").write_text("svc:x:999:\n")
    assert lower_file(f"{top}:{below}", "/etc/passwd") == "svc:x:999:999::/:/usr/sbin/nologin\n"
    assert lower_file(f"{top}:{below}", "/etc/group") == "svc:x:999:\n"  # from the layer that has it
    assert lower_file(f"{top}:{below}", "/etc/gshadow") == ""

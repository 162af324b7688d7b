"""Planning local storage without creating any: SharedStorage items, existing ids, instance store sizes and method."""

from __future__ import annotations

import pytest

from support import MINIMAL_CLUSTER
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.node.ephemeral import choose_method
from paracluster.providers.local.nodes.instancestore import disk_sizes_mib, ephemeral_mount_dir
from paracluster.plan.inventory import PlannedNode
from paracluster.plan.storage import plan_storage
from paracluster.providers.local.host.state import ClusterState
from paracluster.providers.local.standins.storage import check_existing, node_mounts
from paracluster.providers.local.standins.storage_registry import Registry

STORAGE = """\
SharedStorage:
  - Name: efs
    StorageType: Efs
    MountDir: /efs
    EfsSettings:
      DeletionPolicy: Retain
  - Name: raid
    StorageType: Ebs
    MountDir: /raid
    EbsSettings:
      Size: 10
      Raid:
        Type: 1
        NumberOfVolumes: 3
  - Name: lustre
    StorageType: FsxLustre
    MountDir: /lustre
    FsxLustreSettings:
      StorageCapacity: 1200
      DeploymentType: PERSISTENT_2
      PerUnitStorageThroughput: 125
      DataRepositoryAssociations:
        - Name: a
          DataRepositoryPath: s3://bucket/a
          FileSystemPath: /a
          AutoExportPolicy: [NEW]
        - Name: b
          DataRepositoryPath: s3://bucket/b
          FileSystemPath: /b
  - Name: zfs
    StorageType: FsxOpenZfs
    MountDir: /zfs
    FsxOpenZfsSettings:
      VolumeId: fsvol-0123456789abcdef0
"""


def _config(text: str):
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None, loaded.errors
    return loaded.config


def test_plan_says_what_to_create_and_what_to_attach():
    plan = {item.name: item for item in plan_storage(_config(MINIMAL_CLUSTER + STORAGE))}
    assert plan["efs"].existing_id is None and plan["efs"].deletion_policy == "Retain"
    assert (plan["raid"].count, plan["raid"].raid_type, plan["raid"].size) == (3, 1, 10)
    assert plan["raid"].deletion_policy == "Delete"
    assert [(i.url, i.path) for i in plan["lustre"].imports] == [("s3://bucket/a", "/a"), ("s3://bucket/b", "/b")]
    assert [(e.url, e.path, e.events) for e in plan["lustre"].exports] == [("s3://bucket/a", "/a", ("NEW",))]
    assert plan["zfs"].existing_id == "fsvol-0123456789abcdef0" and plan["zfs"].deletion_policy is None
    assert plan["zfs"].where == "SharedStorage[3]/FsxOpenZfsSettings/VolumeId"


def test_existing_ids_must_be_registered(tmp_path):
    config = _config(MINIMAL_CLUSTER + STORAGE)
    with pytest.raises(NotFoundError, match=r"^SharedStorage\[2\]/FsxLustreSettings/DataRepositoryAssociations\[0\]/"
                                            r"DataRepositoryPath: bucket 'bucket' does not exist"):
        check_existing(config, tmp_path)
    (tmp_path / "buckets" / "bucket").mkdir(parents=True)
    with pytest.raises(NotFoundError, match=r"^SharedStorage\[3\]/FsxOpenZfsSettings/VolumeId: FsxOpenZfs storage "
                                            r"fsvol-0123456789abcdef0 does not exist on the local provider; create "
                                            r"one with `paracluster storage create-volume --type FsxOpenZfs`"):
        check_existing(config, tmp_path)
    registry = Registry(tmp_path)
    entry = registry.create_file_system("FsxOpenZfs")
    check_existing(_config(MINIMAL_CLUSTER + STORAGE.replace("fsvol-0123456789abcdef0", entry["id"])), tmp_path)
    wrong = registry.create_file_system("FsxOntap")
    with pytest.raises(NotFoundError, match=r"\(it is a FsxOntap\)"):
        check_existing(_config(MINIMAL_CLUSTER + STORAGE.replace("fsvol-0123456789abcdef0", wrong["id"])), tmp_path)


def test_storage_made_with_an_accounts_id_runs_the_config_that_names_it(tmp_path):
    (tmp_path / "buckets" / "bucket").mkdir(parents=True)
    registry = Registry(tmp_path)
    made = registry.create_file_system("FsxOpenZfs", storage_id="fsvol-0123456789abcdef0")
    assert made["id"] == "fsvol-0123456789abcdef0" and registry.data_dir(made).is_dir()
    check_existing(_config(MINIMAL_CLUSTER + STORAGE), tmp_path)
    assert registry.create_volume(2, storage_id="vol-0123456789abcdef0")["id"] == "vol-0123456789abcdef0"
    assert registry.create_file_system("Efs", storage_id="fs-01234567")["id"] == "fs-01234567"
    with pytest.raises(ConflictError, match="fsvol-0123456789abcdef0 exists already"):
        registry.create_file_system("FsxOntap", storage_id="fsvol-0123456789abcdef0")


@pytest.mark.parametrize("kind, storage_id", [
    ("FsxLustre", "fs-01234567"),  # FSx for Lustre ids have 17 characters; EFS ids may have 8
    ("Efs", "vol-0123456789abcdef0"),
    ("FileCache", "fc-XYZ"),
    ("FsxOntap", "fsvol-0123"),
])
def test_ids_of_the_wrong_form_are_refused_with_the_configs_own_rule(tmp_path, kind, storage_id):
    with pytest.raises(BadRequestError, match=f"--id {storage_id} is not a valid {kind} id; use "):
        Registry(tmp_path).create_file_system(kind, storage_id=storage_id)
    with pytest.raises(BadRequestError, match="is not a valid Ebs id; use a volume id such as vol-"):
        Registry(tmp_path).create_volume(1, storage_id="vol-12")


def test_node_mounts_list_only_storage_with_a_source():
    record = ClusterState("c", "r", "v", "t", storage=[{"name": "a", "type": "Efs", "mountDir": "/a", "source": "/x"},
                                                        {"name": "b", "type": "Ebs", "mountDir": "/b"}])
    assert node_mounts(record) == [{"name": "a", "type": "Efs", "source": "/x", "target": "/a"}]


@pytest.mark.parametrize(("disks", "cap", "expected"), [
    ((900, 900, 900, 900), 4, [1024] * 4),   # c5d.24xlarge: 3.6 TB scaled to 4 GiB in four equal disks
    ((50,), 100, [47683]),                   # under the cap: the catalog's size (GB -> MiB)
    ((7500,) * 8, 1, [256] * 8),             # never below what btrfs needs per device
    ((), 4, []),
])
def test_instance_store_sizes_scale_to_the_cap(disks, cap, expected):
    assert disk_sizes_mib(disks, cap) == expected


def test_ephemeral_mount_dir_defaults_to_scratch_and_follows_the_queue():
    config = _config(MINIMAL_CLUSTER)
    node = PlannedNode("queue1-dy-cr1-1", "ComputeNode", "c5.xlarge", queue="queue1", compute_resource="cr1")
    assert ephemeral_mount_dir(config, node) == "/scratch"
    text = MINIMAL_CLUSTER.replace("      Networking:\n        SubnetIds:",
                                   "      ComputeSettings:\n        LocalStorage:\n          EphemeralVolume:\n"
                                   "            MountDir: /local\n      Networking:\n        SubnetIds:")
    assert ephemeral_mount_dir(_config(text), node) == "/local"


def test_striping_method_lvm_then_btrfs_then_one_disk(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: "/usr/sbin/" + name)
    disks = ["/dev/loop1", "/dev/loop2"]
    assert choose_method(disks, device_mapper=True, btrfs=True) == "lvm"
    assert choose_method(disks, device_mapper=False, btrfs=True) == "btrfs-raid0"
    assert choose_method(disks, device_mapper=False, btrfs=False) == "ext4"
    assert choose_method(disks[:1], device_mapper=False, btrfs=True) == "ext4"


def test_export_follows_the_auto_export_policy_events(tmp_path):
    from paracluster.providers.local.standins.storage import export_tree

    fs, bucket = tmp_path / "fs", tmp_path / "bucket"
    for root, files in ((fs, {"kept.txt": "same", "changed.txt": "new text", "sub/new.txt": "n"}),
                        (bucket, {"kept.txt": "same", "changed.txt": "old text", "gone.txt": "g"})):
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
    assert export_tree(fs, bucket, {"NEW"}) == ["new sub/new.txt"]
    assert (bucket / "changed.txt").read_text() == "old text"
    assert export_tree(fs, bucket, {"NEW", "CHANGED"}) == ["changed changed.txt"]
    assert (bucket / "gone.txt").exists()
    assert export_tree(fs, bucket, {"NEW", "CHANGED", "DELETED"}) == ["deleted gone.txt"]
    assert sorted(p.relative_to(bucket).as_posix() for p in bucket.rglob("*") if p.is_file()) == \
        ["changed.txt", "kept.txt", "sub/new.txt"]

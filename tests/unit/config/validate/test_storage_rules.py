"""Shared storage validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings

# BASE_CLUSTER has 16 lines, so "SharedStorage:" is line 17 and the first item starts on line 18.


def _item(name: str, mount_dir: str, storage_type: str, settings: str = "") -> str:
    text = f"  - Name: {name}\n    MountDir: {mount_dir}\n    StorageType: {storage_type}\n"
    if settings:
        key = {"FsxOpenZfs": "FsxOpenZfsSettings", "FsxOntap": "FsxOntapSettings"}.get(
            storage_type, f"{storage_type}Settings"
        )
        text += f"    {key}:\n" + "".join(f"      {line}\n" for line in settings.strip().splitlines())
    return text


def with_storage(*items: str, base: str = BASE_CLUSTER) -> str:
    return base + "SharedStorage:\n" + "".join(items)


NEW_EFS = ("Efs", "")
OLD_EFS = ("Efs", "FileSystemId: fs-0123456789abcdef0")
NEW_LUSTRE = ("FsxLustre", "StorageCapacity: 1200")
OLD_LUSTRE = ("FsxLustre", "FileSystemId: fs-0123456789abcdef0")
ZFS = ("FsxOpenZfs", "VolumeId: fsvol-0123456789abcdef0")
EBS = ("Ebs", "")
RAID = ("Ebs", "Raid:\n  Type: 0")


def _storages(*kinds) -> str:
    return with_storage(*(_item(f"s{i}", f"/data{i}", kind, settings) for i, (kind, settings) in enumerate(kinds)))


@pytest.mark.parametrize(
    "kinds",
    [[NEW_EFS, OLD_EFS, OLD_EFS], [NEW_LUSTRE, OLD_LUSTRE, ZFS], [RAID, EBS, EBS, EBS, EBS, EBS]],
)
def test_storage_counts_within_limits(kinds):
    assert findings(_storages(*kinds), "NumberOfStorageValidator") == []


@pytest.mark.parametrize(
    ("kinds", "index", "text"),
    [
        ([NEW_EFS, NEW_EFS], 1, "2nd of 2 new EFS"),
        ([OLD_EFS, NEW_LUSTRE, NEW_LUSTRE], 2, "2nd of 2 new FSx"),
        ([RAID, RAID], 1, "2nd of 2 new RAID"),
        ([EBS] * 6, 5, "6th of 6 EBS"),
    ],
)
def test_too_many_storage(kinds, index, text):
    found = findings(_storages(*kinds), "NumberOfStorageValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"SharedStorage[{index}]/StorageType (line ")
    assert text in found[0][1]
    if kinds[0] == EBS:  # items without settings take 3 lines each, from line 18
        assert found[0][1].startswith(f"SharedStorage[{index}]/StorageType (line {20 + 3 * index}): ")


TWO_SUBNETS = BASE_CLUSTER.replace(
    "          - subnet-12345678\n", "          - subnet-12345678\n          - subnet-87654321\n"
)


def test_managed_fsx_with_one_subnet_or_existing_fsx():
    assert findings(_storages(NEW_LUSTRE), "ManagedFsxMultiAzValidator") == []
    text = with_storage(_item("fsx", "/fsx", *OLD_LUSTRE), base=TWO_SUBNETS)
    assert findings(text, "ManagedFsxMultiAzValidator") == []


def test_managed_fsx_with_several_subnets():
    text = with_storage(_item("fsx", "/fsx", *NEW_LUSTRE), base=TWO_SUBNETS)
    found = findings(text, "ManagedFsxMultiAzValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("SharedStorage[0]/StorageType (line 21): ")
    assert "subnet-12345678, subnet-87654321" in found[0][1]


@pytest.mark.parametrize("mount_dir", ["/shared", "/opt/data", "home", "/optional"])
def test_mount_dir_not_reserved(mount_dir):
    assert findings(with_storage(_item("s", mount_dir, "Efs")), "SharedStorageMountDirValidator") == []


@pytest.mark.parametrize(("mount_dir", "shown"), [("/opt", "/opt"), ("var", "/var"), ("/opt/slurm", "/opt/slurm")])
def test_mount_dir_reserved(mount_dir, shown):
    found = findings(with_storage(_item("s", mount_dir, "Efs")), "SharedStorageMountDirValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"SharedStorage[0]/MountDir (line 19): {shown} is a system")


CACHE = "FileCacheId: fc-0123456789abcdef0"


def test_file_cache_elsewhere_and_efs_home():
    assert findings(with_storage(_item("c", "/cache", "FileCache", CACHE)), "SharedFileCacheNotHomeValidator") == []
    assert findings(with_storage(_item("h", "/home", "Efs")), "SharedFileCacheNotHomeValidator") == []


@pytest.mark.parametrize("mount_dir", ["/home", "home"])
def test_file_cache_as_home(mount_dir):
    found = findings(with_storage(_item("c", mount_dir, "FileCache", CACHE)), "SharedFileCacheNotHomeValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("SharedStorage[0]/MountDir (line 19): a FileCache cannot hold /home")


def test_deletion_policy_quiet_for_existing_and_snapshot():
    text = with_storage(
        _item("e", "/e", *OLD_EFS),
        _item("b", "/b", "Ebs", "DeletionPolicy: Snapshot"),
        _item("z", "/z", *ZFS),
        _item("f", "/f", *OLD_LUSTRE),
    )
    assert findings(text, "DeletionPolicyValidator") == []


def test_deletion_policy_delete_by_default_and_retain():
    text = with_storage(_item("new", "/new", "Efs"), _item("kept", "/kept", "Ebs", "DeletionPolicy: Retain"))
    found = findings(text, "DeletionPolicyValidator")
    assert [level for level, _ in found] == ["INFO", "INFO"]
    assert found[0][1].startswith("SharedStorage[0]/StorageType (line 20): DeletionPolicy is Delete (the default")
    assert found[1][1].startswith("SharedStorage[1]/EbsSettings/DeletionPolicy (line 25): DeletionPolicy is Retain")


def test_distinct_mount_dirs():
    text = with_storage(_item("a", "/a", "Efs"), _item("b", "/b", *OLD_EFS))
    assert findings(text, "DuplicateMountDirValidator") == []


def test_same_mount_dir_twice():
    text = with_storage(_item("a", "/shared", "Efs"), _item("b", "/shared", *OLD_EFS))
    found = findings(text, "DuplicateMountDirValidator")
    assert found == [("ERROR", "SharedStorage[1]/MountDir (line 22): /shared is also the MountDir of "
                      "SharedStorage[0] ('a'); give each shared storage its own mount directory")]


HEAD_WITH_STORE = BASE_CLUSTER.replace("HeadNode:\n  InstanceType: c5.xlarge", "HeadNode:\n  InstanceType: c5d.xlarge")
QUEUE_WITH_STORE = BASE_CLUSTER.replace(
    "          InstanceType: c5.xlarge\n",
    "          InstanceType: m5d.large\n      ComputeSettings:\n        LocalStorage:\n"
    "          EphemeralVolume:\n            MountDir: /local\n",
)


def test_instance_store_dir_needs_instance_store():
    # c5.xlarge has no instance store, so /scratch is free for shared storage.
    assert findings(with_storage(_item("s", "/scratch", "Efs")), "DuplicateMountDirValidator") == []


def test_shared_storage_on_instance_store_dir():
    found = findings(with_storage(_item("s", "/scratch", "Efs"), base=HEAD_WITH_STORE), "DuplicateMountDirValidator")
    assert found == [("WARNING", "SharedStorage[0]/MountDir (line 19): /scratch is also the instance store mount "
                      "directory of the head node (c5d.xlarge); change this MountDir or "
                      "LocalStorage/EphemeralVolume/MountDir")]
    found = findings(with_storage(_item("s", "/local", "Efs"), base=QUEUE_WITH_STORE), "DuplicateMountDirValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("SharedStorage[0]/MountDir (line 23): /local is also the instance store mount "
                                    "directory of queue 'queue1' (m5d.large)")


@pytest.mark.parametrize("dirs", [["/shared", "/data"], ["/shared", "/shared2"], ["/shared", "/shared"]])
def test_mount_dirs_not_nested(dirs):
    text = with_storage(*(_item(f"s{i}", d, "Efs") for i, d in enumerate(dirs)))
    assert findings(text, "OverlappingMountDirValidator") == []


def test_nested_shared_mount_dirs():
    text = with_storage(_item("a", "/shared", "Efs"), _item("b", "/shared/x", *OLD_EFS))
    found = findings(text, "OverlappingMountDirValidator")
    assert found == [("ERROR", "SharedStorage[1]/MountDir (line 22): mount directories cannot be nested, but "
                      "/shared/x is inside /shared; move them apart")]


def test_shared_mount_dir_nested_in_instance_store_dir():
    found = findings(with_storage(_item("s", "/scratch/data", "Efs"), base=HEAD_WITH_STORE),
                     "OverlappingMountDirValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("SharedStorage[0]/MountDir (line 19): ")
    assert "/scratch/data is inside /scratch (instance store)" in found[0][1]
    assert findings(with_storage(_item("s", "/scratch/data", "Efs")), "OverlappingMountDirValidator") == []


def _head_efs(shared_storage_type: str | None) -> str:
    head = "  SharedStorageEfsSettings:\n    Encrypted: true\n"
    if shared_storage_type:
        head = f"  SharedStorageType: {shared_storage_type}\n" + head
    return BASE_CLUSTER.replace("Scheduling:\n", head + "Scheduling:\n", 1)


def test_head_node_efs_settings_need_efs_shared_storage():
    assert findings(_head_efs("Efs"), "SharedStorageEfsSettingsValidator") == []
    expected = ("ERROR", "HeadNode/SharedStorageEfsSettings (line 7): applies only when HeadNode/SharedStorageType "
                "is Efs, not Ebs; set SharedStorageType to Efs or remove SharedStorageEfsSettings")
    assert findings(_head_efs(None), "SharedStorageEfsSettingsValidator") == [expected]
    assert findings(_head_efs("Ebs"), "SharedStorageEfsSettingsValidator") == [
        (expected[0], expected[1].replace("line 7", "line 8"))]

"""EFS and FSx for Lustre validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, BATCH_CLUSTER, findings

FS_ID = "fs-0123456789abcdef0"
ACCESS_POINT = "fsap-0123456789abcdef0"


def shared(storage_type: str, settings: str = "", base: str = BASE_CLUSTER) -> str:
    """`base` plus one shared storage item; with BASE_CLUSTER its settings lines start at line 22."""
    text = base + f"SharedStorage:\n  - Name: data\n    MountDir: /data\n    StorageType: {storage_type}\n"
    if settings:
        text += f"    {storage_type}Settings:\n" + "".join(f"      {line}\n" for line in settings.strip().splitlines())
    return text


def lustre(**settings) -> str:
    """A new FSx for Lustre file system; settings start at line 22 in the order given."""
    return shared("FsxLustre", "\n".join(f"{key}: {value}" for key, value in settings.items()))


def one_error(text: str, validator_type: str, where: str) -> str:
    found = findings(text, validator_type)
    assert len(found) == 1 and found[0][0] == "ERROR", found
    assert found[0][1].startswith(f"{where}: "), found
    return found[0][1]


@pytest.mark.parametrize(
    "settings", ["", "IamAuthorization: false", "EncryptionInTransit: true\nIamAuthorization: true"]
)
def test_efs_iam_with_tls(settings):
    assert findings(shared("Efs", settings), "EfsMountOptionsValidator") == []


def test_efs_iam_without_tls():
    one_error(shared("Efs", "IamAuthorization: true"), "EfsMountOptionsValidator",
              "SharedStorage[0]/EfsSettings/IamAuthorization (line 22)")


def test_efs_access_point_ok():
    settings = f"FileSystemId: {FS_ID}\nAccessPointId: {ACCESS_POINT}\nEncryptionInTransit: true"
    assert findings(shared("Efs", settings), "EfsAccessPointOptionsValidator") == []


def test_efs_access_point_needs_existing_file_system_and_tls():
    message = one_error(shared("Efs", f"AccessPointId: {ACCESS_POINT}\nEncryptionInTransit: true"),
                        "EfsAccessPointOptionsValidator", "SharedStorage[0]/EfsSettings/AccessPointId (line 22)")
    assert "needs the FileSystemId" in message
    message = one_error(shared("Efs", f"FileSystemId: {FS_ID}\nAccessPointId: {ACCESS_POINT}"),
                        "EfsAccessPointOptionsValidator", "SharedStorage[0]/EfsSettings/AccessPointId (line 23)")
    assert "EncryptionInTransit: true" in message


def _associations(count: int) -> str:
    item = "  - Name: dra{i}\n    DataRepositoryPath: s3://bucket/p{i}\n    FileSystemPath: /p{i}\n"
    return "DataRepositoryAssociations:\n" + "".join(item.format(i=i) for i in range(count))


def test_data_repository_associations_ok():
    assert findings(shared("FsxLustre", "StorageCapacity: 1200\n" + _associations(8)), "FsxDraValidator") == []


def test_data_repository_associations_with_import_path_or_too_many():
    text = shared("FsxLustre", "ImportPath: s3://bucket\n" + _associations(1))
    assert "either through DataRepositoryAssociations" in one_error(
        text, "FsxDraValidator", "SharedStorage[0]/FsxLustreSettings/DataRepositoryAssociations (line 23)")
    text = shared("FsxLustre", _associations(9))
    assert "has 9 associations" in one_error(
        text, "FsxDraValidator", "SharedStorage[0]/FsxLustreSettings/DataRepositoryAssociations (line 22)")


def test_s3_settings_with_import_path():
    text = lustre(ImportPath="s3://bucket", ExportPath="s3://bucket/out", AutoImportPolicy="NEW")
    assert findings(text, "FsxS3Validator") == []


@pytest.mark.parametrize("key", ["ExportPath: s3://bucket/out", "ImportedFileChunkSize: 1024", "AutoImportPolicy: NEW"])
def test_s3_settings_without_import_path(key):
    name = key.split(":")[0]
    one_error(shared("FsxLustre", key), "FsxS3Validator", f"SharedStorage[0]/FsxLustreSettings/{name} (line 22)")


@pytest.mark.parametrize(
    "settings", [{}, {"DeploymentType": "PERSISTENT_1", "PerUnitStorageThroughput": 50, "KmsKeyId": "key"}]
)
def test_persistent_options_ok(settings):
    assert findings(lustre(**settings), "FsxPersistentOptionsValidator") == []


def test_persistent_options_wrong():
    message = one_error(lustre(DeploymentType="PERSISTENT_2"), "FsxPersistentOptionsValidator",
                        "SharedStorage[0]/FsxLustreSettings/DeploymentType (line 22)")
    assert "need PerUnitStorageThroughput" in message
    message = one_error(lustre(KmsKeyId="key"), "FsxPersistentOptionsValidator",
                        "SharedStorage[0]/FsxLustreSettings/KmsKeyId (line 22)")
    assert "DeploymentType is SCRATCH_2" in message


def test_backup_options_ok():
    text = lustre(DeploymentType="PERSISTENT_1", PerUnitStorageThroughput=50, AutomaticBackupRetentionDays=7,
                  DailyAutomaticBackupStartTime="'01:00'", CopyTagsToBackups="true")
    assert findings(text, "FsxBackupOptionsValidator") == []


@pytest.mark.parametrize(
    ("settings", "key", "line"),
    [
        ({"DailyAutomaticBackupStartTime": "'01:00'"}, "DailyAutomaticBackupStartTime", 22),
        ({"AutomaticBackupRetentionDays": 0, "CopyTagsToBackups": "false"}, "CopyTagsToBackups", 23),
        ({"AutomaticBackupRetentionDays": 7}, "AutomaticBackupRetentionDays", 22),
        ({"DeploymentType": "PERSISTENT_1", "ImportPath": "s3://b", "AutomaticBackupRetentionDays": 7},
         "AutomaticBackupRetentionDays", 24),
    ],
)
def test_backup_options_wrong(settings, key, line):
    where = f"SharedStorage[0]/FsxLustreSettings/{key} (line {line})"
    one_error(lustre(**settings), "FsxBackupOptionsValidator", where)


@pytest.mark.parametrize(
    "settings",
    [{}, {"StorageType": "HDD", "DeploymentType": "PERSISTENT_1", "PerUnitStorageThroughput": 12,
          "DriveCacheType": "READ"},
     {"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 1000}],
)
def test_storage_type_options_ok(settings):
    assert findings(lustre(**settings), "FsxStorageTypeOptionsValidator") == []


@pytest.mark.parametrize(
    ("settings", "key", "line", "words"),
    [
        ({"StorageType": "HDD", "PerUnitStorageThroughput": 12}, "StorageType", 22, "not SCRATCH_2"),
        ({"StorageType": "HDD", "DeploymentType": "PERSISTENT_1", "PerUnitStorageThroughput": 50},
         "PerUnitStorageThroughput", 24, "12 or 40, not 50"),
        ({"DriveCacheType": "READ"}, "DriveCacheType", 22, "only on HDD"),
        ({"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 50}, "PerUnitStorageThroughput", 23,
         "125, 250, 500, 1000, not 50"),
        # As in ParallelCluster, a SCRATCH throughput yields this one finding, even with a drive cache too.
        ({"DriveCacheType": "READ", "PerUnitStorageThroughput": 50}, "PerUnitStorageThroughput", 23,
         "type SCRATCH_2 have no per-unit throughput"),
    ],
)
def test_storage_type_options_wrong(settings, key, line, words):
    message = one_error(lustre(**settings), "FsxStorageTypeOptionsValidator",
                        f"SharedStorage[0]/FsxLustreSettings/{key} (line {line})")
    assert words in message


@pytest.mark.parametrize(
    "text",
    [lustre(StorageCapacity=1200), lustre(StorageCapacity=4800),
     lustre(StorageCapacity=7200, DeploymentType="SCRATCH_1"),
     lustre(StorageCapacity=6000, StorageType="HDD", DeploymentType="PERSISTENT_1", PerUnitStorageThroughput=12),
     # The size of an existing file system or of a backup is not ours to check.
     lustre(BackupId="backup-0123456789abcdef0"), lustre(FileSystemId=FS_ID)],
)
def test_storage_capacity_ok(text):
    assert findings(text, "FsxStorageCapacityValidator") == []


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"StorageCapacity": 1000}, "SCRATCH_2 file systems take 1200 or a multiple of 2400"),
        ({"StorageCapacity": 4800, "DeploymentType": "SCRATCH_1"}, "1200, 2400 or a multiple of 3600"),
        ({"StorageCapacity": 2400, "StorageType": "HDD", "DeploymentType": "PERSISTENT_1",
          "PerUnitStorageThroughput": 40}, "40 MB/s/TiB take a multiple of 1800"),
    ],
)
def test_storage_capacity_wrong(settings, words):
    message = one_error(lustre(**settings), "FsxStorageCapacityValidator",
                        "SharedStorage[0]/FsxLustreSettings/StorageCapacity (line 22)")
    assert words in message


def test_storage_capacity_missing():
    message = one_error(lustre(DeploymentType="SCRATCH_2"), "FsxStorageCapacityValidator",
                        "SharedStorage[0]/StorageType (line 20)")
    assert "needs FsxLustreSettings/StorageCapacity" in message




def test_aws_batch_without_fsx():
    assert findings(shared("Efs", base=BATCH_CLUSTER), "AwsBatchFsxValidator") == []
    assert findings(shared("FsxLustre", "StorageCapacity: 1200"), "AwsBatchFsxValidator") == []


def test_aws_batch_with_fsx():
    text = shared("FsxOntap", "VolumeId: fsvol-0123456789abcdef0", base=BATCH_CLUSTER)
    message = one_error(text, "AwsBatchFsxValidator", "SharedStorage[0]/StorageType (line 23)")
    assert "cannot mount FsxOntap storage" in message


def test_s3_uris_ok():
    text = shared("FsxLustre", "StorageCapacity: 1200\n" + _associations(2))
    assert findings(text, "S3BucketUriValidator") == []
    assert findings(lustre(ImportPath="s3://bucket", ExportPath="s3://bucket/out"), "S3BucketUriValidator") == []


def test_s3_uris_wrong():
    message = one_error(lustre(ImportPath="s3://bucket", ExportPath="https://bucket/out"), "S3BucketUriValidator",
                        "SharedStorage[0]/FsxLustreSettings/ExportPath (line 23)")
    assert "'https://bucket/out' is not an S3 URI" in message
    text = shared("FsxLustre", _associations(1).replace("s3://bucket/p0", "bucket/p0"))
    one_error(text, "S3BucketUriValidator",
              "SharedStorage[0]/FsxLustreSettings/DataRepositoryAssociations[0]/DataRepositoryPath (line 24)")

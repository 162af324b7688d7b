"""EBS volume and KMS validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings


def shared(storage_type: str = "Ebs", **settings) -> str:
    """BASE_CLUSTER plus one shared storage item; its settings start on line 22 in the order given."""
    text = BASE_CLUSTER + f"SharedStorage:\n  - Name: data\n    MountDir: /data\n    StorageType: {storage_type}\n"
    if settings:
        text += f"    {storage_type}Settings:\n" + "".join(f"      {k}: {v}\n" for k, v in settings.items())
    return text


def head_root(**settings) -> str:
    """BASE_CLUSTER with a head node root volume; its settings start on line 9."""
    volume = "  LocalStorage:\n    RootVolume:\n" + "".join(f"      {k}: {v}\n" for k, v in settings.items())
    return BASE_CLUSTER.replace("Scheduling:\n", volume + "Scheduling:\n", 1)


def queue_root(**settings) -> str:
    """BASE_CLUSTER with a queue root volume; its settings start on line 20."""
    volume = "      ComputeSettings:\n        LocalStorage:\n          RootVolume:\n" + "".join(
        f"            {k}: {v}\n" for k, v in settings.items()
    )
    return BASE_CLUSTER + volume


@pytest.mark.parametrize(
    "text",
    [BASE_CLUSTER, shared(), shared(Throughput=1000, Iops=4000), shared(VolumeType="gp2", Throughput=5),
     head_root(Throughput=125)],
)
def test_gp3_throughput_in_range(text):
    assert findings(text, "EbsVolumeThroughputValidator") == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (shared(Throughput=1001, Iops=5000), "SharedStorage[0]/EbsSettings/Throughput (line 22)"),
        (head_root(Throughput=100), "HeadNode/LocalStorage/RootVolume/Throughput (line 9)"),
        (queue_root(Throughput=1200), "Scheduling/SlurmQueues[0]/ComputeSettings/LocalStorage/RootVolume/Throughput "
                                      "(line 20)"),
    ],
)
def test_gp3_throughput_out_of_range(text, where):
    found = findings(text, "EbsVolumeThroughputValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: ")


@pytest.mark.parametrize("text", [shared(Throughput=750), shared(Throughput=1000, Iops=4000), head_root(Iops=3000)])
def test_gp3_throughput_per_iops_ok(text):
    assert findings(text, "EbsVolumeThroughputIopsValidator") == []


def test_gp3_throughput_per_iops_too_high():
    found = findings(shared(Throughput=751), "EbsVolumeThroughputIopsValidator")
    assert found == [("ERROR", "SharedStorage[0]/EbsSettings/Throughput (line 22): a gp3 volume gives at most 0.25 "
                      "MB/s per IOPS, so Throughput 751 MB/s needs Iops of at least 3004 but Iops is 3000; raise Iops "
                      "or lower Throughput")]


@pytest.mark.parametrize(
    "text",
    [shared(), shared(VolumeType="io1", Size=4), shared(VolumeType="st1", Size=500), head_root(VolumeType="st1"),
     queue_root(Size=16384)],
)
def test_volume_size_fits_type(text):
    # A root volume without Size takes its AMI's size, which is not known offline, so it is not checked.
    assert findings(text, "EbsVolumeTypeSizeValidator") == []


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (shared(VolumeType="io1", Size=3), "SharedStorage[0]/EbsSettings/Size (line 23)", "at least 4 GiB"),
        (shared(VolumeType="st1"), "SharedStorage[0]/EbsSettings/VolumeType (line 22)", "Size is 40 (the default)"),
        (head_root(VolumeType="standard", Size=2000), "HeadNode/LocalStorage/RootVolume/Size (line 10)",
         "more than the 1024 GiB"),
        (queue_root(Size=20000), "Scheduling/SlurmQueues[0]/ComputeSettings/LocalStorage/RootVolume/Size (line 20)",
         "more than the 16384 GiB"),
    ],
)
def test_volume_size_outside_type_bounds(text, where, words):
    found = findings(text, "EbsVolumeTypeSizeValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: ") and words in found[0][1]


@pytest.mark.parametrize(
    "text",
    [shared(), shared(Iops=16000), shared(VolumeType="io1", Iops=2000), shared(VolumeType="gp2"),
     head_root(VolumeType="io1", Iops=5000)],
)
def test_iops_fit_type_and_size(text):
    assert findings(text, "EbsVolumeIopsValidator") == []


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (shared(Iops=17000), "SharedStorage[0]/EbsSettings/Iops (line 22)", "outside the 3000 to 16000"),
        (shared(VolumeType="io1", Iops=2001), "SharedStorage[0]/EbsSettings/Iops (line 23)",
         "at most 50 IOPS per GiB, 2000 for 40 GiB"),
        # The default 3000 IOPS of gp3 is too many for 5 GiB.
        (shared(Size=5), "SharedStorage[0]/EbsSettings/Size (line 22)", "2500 for 5 GiB"),
        (shared(VolumeType="gp2", Iops=100), "SharedStorage[0]/EbsSettings/Iops (line 23)", "no provisioned IOPS"),
        (queue_root(VolumeType="io2", Size=10, Iops=20000),
         "Scheduling/SlurmQueues[0]/ComputeSettings/LocalStorage/RootVolume/Iops (line 22)", "10000 for 10 GiB"),
    ],
)
def test_iops_outside_bounds(text, where, words):
    found = findings(text, "EbsVolumeIopsValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: ") and words in found[0][1]


@pytest.mark.parametrize(
    "text",
    [shared(KmsKeyId="key"), shared("Efs", KmsKeyId="key", Encrypted="true"), shared("Efs", Encrypted="false")],
)
def test_kms_key_on_encrypted_storage(text):
    assert findings(text, "KmsKeyIdEncryptedValidator") == []


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (shared(KmsKeyId="key", Encrypted="false"), "SharedStorage[0]/EbsSettings/Encrypted (line 23)",
         "Encrypted is false;"),
        (shared("Efs", KmsKeyId="key"), "SharedStorage[0]/EfsSettings/KmsKeyId (line 22)",
         "Encrypted is false (the default for Efs)"),
    ],
)
def test_kms_key_on_unencrypted_storage(text, where, words):
    found = findings(text, "KmsKeyIdEncryptedValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith(f"{where}: KmsKeyId key is set") and words in found[0][1]


def test_shared_ebs_bottleneck_beyond_100_compute_nodes():
    # ParallelCluster 3.13 warns when more than 100 compute nodes (the sum of MaxCounts) share an EBS volume.
    def with_max_count(text: str, count: int) -> str:
        return text.replace("          InstanceType: c5.xlarge\n",
                            f"          InstanceType: c5.xlarge\n          MaxCount: {count}\n")

    assert findings(with_max_count(shared(), 100), "SharedEbsPerformanceBottleNeckValidator") == []
    assert findings(with_max_count(shared("Efs"), 101), "SharedEbsPerformanceBottleNeckValidator") == []
    assert findings(with_max_count(shared(), 101), "SharedEbsPerformanceBottleNeckValidator") == [
        ("WARNING", "SharedStorage[0]/StorageType (line 21): this EBS volume is shared to the compute nodes from the "
                    "head node, whose network link limits the 101 compute nodes the queues may run; use EFS or FSx "
                    "for data that many nodes read or write")]

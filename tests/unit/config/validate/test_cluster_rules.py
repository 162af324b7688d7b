"""Cluster-wide validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

from helpers import BASE_CLUSTER, BATCH_CLUSTER, findings

# BASE_CLUSTER has 16 lines: Image/Os is line 2, HeadNode line 3, the first queue line 10, its cr1 line 12.



def _os(os: str, base: str = BASE_CLUSTER) -> str:
    return base.replace("Os: alinux2023", f"Os: {os}").replace("Os: alinux2\n", f"Os: {os}\n")


def _cr(extra: str, capacity_type: str | None = None) -> str:
    """BASE_CLUSTER with lines added under cr1 (line 14 on) and optionally a queue CapacityType (line 11)."""
    text = BASE_CLUSTER.replace("          InstanceType: c5.xlarge\n", "          InstanceType: c5.xlarge\n" + extra)
    if capacity_type:
        text = text.replace("    - Name: queue1\n", f"    - Name: queue1\n      CapacityType: {capacity_type}\n")
    return text


def test_scheduler_os():
    assert findings(BASE_CLUSTER, "SchedulerOsValidator") == []
    assert findings(BATCH_CLUSTER, "SchedulerOsValidator") == []
    found = findings(_os("ubuntu2204", BATCH_CLUSTER), "SchedulerOsValidator")
    assert found == [("ERROR", "Image/Os (line 2): the awsbatch scheduler does not support ubuntu2204; "
                      "use one of alinux2, alinux2023")]


def test_os_custom_ami():
    assert findings(_os("rocky9\n  CustomAmi: ami-12345678"), "OsCustomAmiValidator") == []
    assert findings(_os("rhel9"), "OsCustomAmiValidator") == []
    found = findings(_os("rocky8"), "OsCustomAmiValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Image/Os (line 2): ParallelCluster has no official AMI for rocky8")


def test_disable_sudo_with_awsbatch():
    settings = "DeploymentSettings:\n  DisableSudoAccessForDefaultUser: true\n"
    assert findings(BASE_CLUSTER + settings, "SchedulerDisableSudoAccessForDefaultUserValidator") == []
    found = findings(BATCH_CLUSTER + settings, "SchedulerDisableSudoAccessForDefaultUserValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("DeploymentSettings/DisableSudoAccessForDefaultUser (line 21): ")


def test_compute_resource_size():
    assert findings(_cr("          MinCount: 2\n          MaxCount: 2\n"), "ComputeResourceSizeValidator") == []
    found = findings(_cr("          MinCount: 5\n          MaxCount: 2\n"), "ComputeResourceSizeValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/ComputeResources[0]/MinCount (line 14): 5 is more than "
                      "MaxCount 2; make MinCount at most MaxCount")]
    # MaxCount defaults to 10.
    found = findings(_cr("          MinCount: 11\n"), "ComputeResourceSizeValidator")
    assert len(found) == 1 and "11 is more than MaxCount 10" in found[0][1]


def test_compute_resource_size_with_capacity_block():
    ok = _cr("          MinCount: 2\n          MaxCount: 2\n", "CAPACITY_BLOCK")
    assert findings(ok, "ComputeResourceSizeValidator") == []
    found = findings(_cr("          MaxCount: 4\n", "CAPACITY_BLOCK"), "ComputeResourceSizeValidator")
    assert [level for level, _ in found] == ["ERROR", "ERROR"]
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/MaxCount (line 15): 4 differs")
    assert found[1][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/MinCount (line 13): is 0")


def test_head_node_imds():
    assert findings(BASE_CLUSTER, "HeadNodeImdsValidator") == []
    assert findings(BATCH_CLUSTER, "HeadNodeImdsValidator") == []
    found = findings(BATCH_CLUSTER.replace("  Imds:\n    Secured: false\n", ""), "HeadNodeImdsValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("HeadNode/Imds/Secured (line 3): is true (the default) but the awsbatch scheduler")
    found = findings(BATCH_CLUSTER.replace("Secured: false", "Secured: true"), "HeadNodeImdsValidator")
    assert found[0][1].startswith("HeadNode/Imds/Secured (line 8): is true but")


def test_intel_hpc_os():
    intel = "AdditionalPackages:\n  IntelSoftware:\n    IntelHpcPlatform: {}\n"
    assert findings(BASE_CLUSTER + intel.format("false"), "IntelHpcOsValidator") == []
    found = findings(BASE_CLUSTER + intel.format("true"), "IntelHpcOsValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("AdditionalPackages/IntelSoftware/IntelHpcPlatform (line 19): ")


def _dcv(os: str = "ubuntu2204", instance_type: str = "c5.xlarge", dcv: str = "Enabled: true") -> str:
    head_type = "  InstanceType: c5.xlarge\n  Networking:"
    text = _os(os).replace(head_type, head_type.replace("c5.xlarge", instance_type))
    return text.replace("HeadNode:\n", "HeadNode:\n  Dcv:\n" + "".join(f"    {line}\n" for line in dcv.splitlines()))


RESTRICTED = "Enabled: true\nAllowedIps: 10.0.0.0/16"


def test_dcv_passes():
    assert findings(_dcv(instance_type="g4dn.xlarge", dcv=RESTRICTED), "DcvValidator") == []
    assert findings(_dcv(os="alinux2023", dcv="Enabled: false"), "DcvValidator") == []
    # Since ParallelCluster 3.14 DCV runs on every OS of 3.16, on both architectures.
    for os in ("alinux2023", "ubuntu2404", "rhel9"):
        assert findings(_dcv(os, "g5g.xlarge", RESTRICTED), "DcvValidator") == []


def test_dcv_os():
    # ubuntu2004 (removed in 3.14) never had DCV on arm64.
    found = findings(_dcv("ubuntu2004", "g5g.xlarge", RESTRICTED), "DcvValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("HeadNode/Dcv/Enabled (line 5): DCV does not run on ubuntu2004 with arm64")


def test_dcv_warnings():
    found = findings(_dcv(instance_type="t3.micro"), "DcvValidator")
    assert [level for level, _ in found] == ["WARNING", "WARNING", "WARNING"]
    assert found[0][1].startswith("HeadNode/InstanceType (line 6): t3.micro may become unstable")
    assert found[1][1].startswith("HeadNode/Dcv/AllowedIps (line 4): DCV port 8443 is open to the whole internet")
    assert found[2][1] == ("HeadNode/InstanceType (line 6): instance type t3.micro has no GPU; DCV desktops work "
                           "best on a GPU instance type")


def test_dcv_skips_instance_type_checks_for_unknown_types():
    assert findings(_dcv("ubuntu2004", "x9.unknown", RESTRICTED), "DcvValidator") == []


LOGIN = """\
LoginNodes:
  Pools:
    - Name: login
      InstanceType: {instance_type}
      Count: 1
      Networking:
        SubnetIds:
          - subnet-12345678
      Dcv:
        Enabled: true
"""


def test_dcv_on_login_nodes():
    text = _os("ubuntu2204") + LOGIN.format(instance_type="g4dn.xlarge")
    found = findings(text, "DcvValidator")
    assert len(found) == 1 and found[0][1].startswith("LoginNodes/Pools[0]/Dcv/AllowedIps (line 25): ")
    found = findings(_os("alinux2023") + LOGIN.format(instance_type="t3.nano"), "DcvValidator")
    assert [level for level, _ in found] == ["WARNING", "WARNING", "WARNING"]
    assert found[0][1].startswith("LoginNodes/Pools[0]/InstanceType (line 20): t3.nano may become unstable")


def test_login_nodes_scheduler():
    login = LOGIN.format(instance_type="c5.large")
    assert findings(BASE_CLUSTER + login, "LoginNodesSchedulerValidator") == []
    found = findings(BATCH_CLUSTER + login, "LoginNodesSchedulerValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("LoginNodes (line 20): login nodes need the slurm scheduler")


QUEUE = """\
    - Name: {name}
      ComputeResources:
        - Name: cr1
          InstanceType: c5.xlarge
      Networking:
        SubnetIds:
          - subnet-12345678
"""


def _second_queue(queue_extra: str = "", networking_extra: str = "") -> str:
    queue = QUEUE.format(name="queue2")
    queue = queue.replace("    - Name: queue2\n", "    - Name: queue2\n" + queue_extra)
    return BASE_CLUSTER + queue.replace("      Networking:\n", "      Networking:\n" + networking_extra)


ENCRYPTION = "      ComputeSettings:\n        LocalStorage:\n          RootVolume:\n            Encrypted: {}\n"


def test_root_volume_encryption_consistency():
    assert findings(_second_queue(ENCRYPTION.format("true")), "RootVolumeEncryptionConsistencyValidator") == []
    found = findings(_second_queue(ENCRYPTION.format("false")), "RootVolumeEncryptionConsistencyValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith(
        "Scheduling/SlurmQueues[1]/ComputeSettings/LocalStorage/RootVolume/Encrypted (line 21): queue 'queue2' has "
        "root volume encryption false but queue 'queue1' has true"
    )


HEAD_GROUPS = "    SecurityGroups:\n      - sg-12345678\n"
QUEUE_GROUPS = "        SecurityGroups:\n          - sg-12345678\n"


def _with_head_groups(text: str) -> str:
    return text.replace("    SubnetId: subnet-12345678\n", "    SubnetId: subnet-12345678\n" + HEAD_GROUPS, 1)


def test_mixed_security_groups_passes():
    assert findings(_second_queue(), "MixedSecurityGroupOverwriteValidator") == []
    both = _with_head_groups(_second_queue(networking_extra=QUEUE_GROUPS))
    first_queue = "      Networking:\n        SubnetIds:"
    both = both.replace(first_queue, "      Networking:\n" + QUEUE_GROUPS + "        SubnetIds:", 1)
    assert findings(both, "MixedSecurityGroupOverwriteValidator") == []
    subnet = "    SubnetId: subnet-12345678\n"
    empty = BASE_CLUSTER.replace(subnet, subnet + "    SecurityGroups: []\n")
    assert findings(empty, "MixedSecurityGroupOverwriteValidator") == []


def test_mixed_security_groups():
    found = findings(_with_head_groups(_second_queue(networking_extra=QUEUE_GROUPS)),
                     "MixedSecurityGroupOverwriteValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("HeadNode/Networking/SecurityGroups (line 7): the head node replaces the managed "
                                  "security groups but queue 'queue1' keeps them")
    found = findings(_second_queue(networking_extra=QUEUE_GROUPS), "MixedSecurityGroupOverwriteValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Scheduling/SlurmQueues[1]/Networking/SecurityGroups (line 22): queue 'queue2' ")


def test_feature_region_passes():
    dcv = _dcv(dcv=RESTRICTED)
    assert findings(BATCH_CLUSTER, "FeatureRegionValidator") == []  # no Region: the provider decides
    assert findings(BATCH_CLUSTER + "Region: us-east-1\n", "FeatureRegionValidator") == []
    # ParallelCluster 3.16 no longer checks DCV's regions.
    assert findings(dcv + "Region: us-isob-east-1\n", "FeatureRegionValidator") == []


def test_feature_region():
    for region in ("ap-northeast-3", "ap-southeast-7"):
        found = findings(BATCH_CLUSTER + f"Region: {region}\n", "FeatureRegionValidator")
        assert found == [("ERROR", f"Scheduling/Scheduler (line 10): AWS Batch is not available in region {region}; "
                          "remove it or use another region")]


def _storage(storage_type: str, settings: str) -> str:
    return (BASE_CLUSTER + f"SharedStorage:\n  - Name: fs\n    MountDir: /fsx\n    StorageType: {storage_type}\n"
            f"    {storage_type}Settings:\n      {settings}\n")


def test_feature_region_for_storage():
    # Since ParallelCluster 3.16 FSx for Lustre is offered everywhere and ONTAP is missing only from us-iso-w*.
    lustre = _storage("FsxLustre", "StorageCapacity: 1200")
    assert findings(lustre + "Region: us-isob-east-1\n", "FeatureRegionValidator") == []
    ontap = _storage("FsxOntap", "VolumeId: fsvol-0123456789abcdef0")
    assert findings(ontap + "Region: us-iso-east-1\n", "FeatureRegionValidator") == []
    found = findings(ontap + "Region: us-iso-west-1\n", "FeatureRegionValidator")
    assert found == [("ERROR", "SharedStorage[0]/StorageType (line 20): FSx for NetApp ONTAP is not available in "
                      "region us-iso-west-1; remove it or use another region")]
    zfs = _storage("FsxOpenZfs", "VolumeId: fsvol-0123456789abcdef0")
    assert len(findings(zfs + "Region: us-isob-east-1\n", "FeatureRegionValidator")) == 1


def _batch_vcpus(values: str) -> str:
    lines = "".join(f"          {line}\n" for line in values.splitlines())
    return BATCH_CLUSTER.replace("        - Name: cr1\n", "        - Name: cr1\n" + lines)


def test_awsbatch_compute_resource_size():
    assert findings(BATCH_CLUSTER, "AwsBatchComputeResourceSizeValidator") == []
    ok = _batch_vcpus("MinvCpus: 2\nDesiredvCpus: 4\nMaxvCpus: 8")
    assert findings(ok, "AwsBatchComputeResourceSizeValidator") == []
    found = findings(_batch_vcpus("MinvCpus: 4\nDesiredvCpus: 2\nMaxvCpus: 8"), "AwsBatchComputeResourceSizeValidator")
    assert found == [("ERROR", "Scheduling/AwsBatchQueues[0]/ComputeResources[0]/DesiredvCpus (line 16): 2 is less "
                      "than MinvCpus 4; make DesiredvCpus at least MinvCpus")]
    found = findings(_batch_vcpus("MinvCpus: 20"), "AwsBatchComputeResourceSizeValidator")
    # DesiredvCpus defaults to MinvCpus, so it and MinvCpus both exceed the default MaxvCpus 10.
    assert [message.split(": ")[0] for _, message in found] == [
        "Scheduling/AwsBatchQueues[0]/ComputeResources[0]/DesiredvCpus (line 14)",
        "Scheduling/AwsBatchQueues[0]/ComputeResources[0]/MaxvCpus (line 14)",
    ]


def test_key_pair_missing_warns_and_present_passes():
    found = findings(BASE_CLUSTER, "KeyPairValidator")
    assert found == [("WARNING", "HeadNode/Ssh (line 3): no KeyName is set, so no key pair can log in to the head "
                      "node with SSH; set HeadNode/Ssh/KeyName to a key pair name")]
    with_key = BASE_CLUSTER.replace("    SubnetId: subnet-12345678\n",
                                    "    SubnetId: subnet-12345678\n  Ssh:\n    KeyName: mykey\n")
    assert findings(with_key, "KeyPairValidator") == []


def test_region_from_the_command_line_reaches_validators():
    text = BASE_CLUSTER + "DirectoryService:\n  DomainName: corp.example.com\n  DomainAddr: ldaps://corp.example.com\n" \
        "  PasswordSecretArn: arn:aws:ssm:us-east-1:111111111111:parameter/pw\n  DomainReadOnlyUser: cn=ro\n"
    from helpers import run
    outcome = run(text)
    no_region = [f for f in outcome.findings if f.type == "PasswordSecretArnValidator"]
    from paracluster.config.validate import validate_config
    import textwrap
    with_region = validate_config(None, text=textwrap.dedent(text), region="us-east-1", cluster_name="mycluster")
    assert no_region == [] and any(f.type == "PasswordSecretArnValidator" for f in with_region.findings)

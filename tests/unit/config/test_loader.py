"""The loader: the key tree, defaults, strict errors with YAML paths and lines, YAML syntax errors."""

from __future__ import annotations

import pytest

from support import MINIMAL_CLUSTER
from paracluster.config.load import load_config_text, load_cluster_config
from paracluster.config.schema import CLUSTER, IMAGE_CONFIG
from paracluster.config.schema.types import ListOf, Section
from paracluster.errors import ConfigFileError


def load(text: str):
    return load_config_text(CLUSTER, text)


def messages(loaded) -> list[str]:
    return [str(problem) for problem in loaded.problems]


def test_minimal_cluster_loads_with_no_problem():
    loaded = load(MINIMAL_CLUSTER)
    assert loaded.problems == []
    assert loaded.config.scheduling.slurm_queues[0].compute_resources[0].instance_type == "c5.xlarge"


def _keys(spec, prefix=""):
    if isinstance(spec, Section):
        for key, child in spec.fields.items():
            yield f"{prefix}{key}"
            yield from _keys(child, f"{prefix}{key}/")
    elif isinstance(spec, ListOf):
        yield from _keys(spec.item, prefix)


# Every section and a sample of keys of ParallelCluster 3's key tree (pcluster-cli-config.md, section 2).
@pytest.mark.parametrize(
    "path",
    [
        "Region", "Image/Os", "Image/CustomAmi", "HeadNode/InstanceType", "HeadNode/Networking/ElasticIp",
        "HeadNode/Ssh/AllowedIps", "HeadNode/LocalStorage/RootVolume/DeleteOnTermination",
        "HeadNode/LocalStorage/EphemeralVolume/MountDir", "HeadNode/SharedStorageType", "HeadNode/Dcv/Port",
        "HeadNode/CustomActions/OnNodeUpdated/Sequence/Script", "HeadNode/Iam/S3Access/EnableWriteAccess",
        "HeadNode/Imds/Secured", "HeadNode/Image/CustomAmi", "Scheduling/ScalingStrategy",
        "Scheduling/SlurmSettings/Dns/UseEc2Hostnames", "Scheduling/SlurmSettings/Database/DatabaseName",
        "Scheduling/SlurmSettings/ExternalSlurmdbd/Port", "Scheduling/SlurmSettings/MungeKeySecretArn",
        "Scheduling/SlurmSettings/CustomSlurmSettingsIncludeFile", "Scheduling/SlurmQueues/CapacityType",
        "Scheduling/SlurmQueues/ComputeSettings/LocalStorage/RootVolume/Throughput",
        "Scheduling/SlurmQueues/CapacityReservationTarget/CapacityReservationResourceGroupArn",
        "Scheduling/SlurmQueues/AllocationStrategy", "Scheduling/SlurmQueues/ComputeResources/Instances/InstanceType",
        "Scheduling/SlurmQueues/ComputeResources/Efa/GdrSupport",
        "Scheduling/SlurmQueues/ComputeResources/Networking/PlacementGroup/Name",
        "Scheduling/SlurmQueues/ComputeResources/HealthChecks/Gpu/Enabled",
        "Scheduling/SlurmQueues/ComputeResources/StaticNodePriority", "Scheduling/SlurmQueues/JobExclusiveAllocation",
        "Scheduling/AwsBatchQueues/ComputeResources/DesiredvCpus", "Scheduling/AwsBatchSettings",
        "SharedStorage/EbsSettings/Raid/NumberOfVolumes", "SharedStorage/EfsSettings/AccessPointId",
        "SharedStorage/FsxLustreSettings/DataRepositoryAssociations/AutoImportPolicy",
        "SharedStorage/FsxOpenZfsSettings/VolumeId", "SharedStorage/FsxOntapSettings/VolumeId",
        "SharedStorage/FileCacheSettings/FileCacheId", "LoginNodes/Pools/GracetimePeriod",
        "LoginNodes/Pools/CustomActions/OnNodeStart", "Monitoring/Logs/CloudWatch/RetentionInDays",
        "Monitoring/Dashboards/CloudWatch/Enabled", "Monitoring/Alarms/Enabled", "Tags/Key",
        "AdditionalPackages/IntelSoftware/IntelHpcPlatform", "Iam/ResourcePrefix", "DirectoryService/LdapTlsReqCert",
        "Imds/ImdsSupport", "CustomS3Bucket", "AdditionalResources", "DevSettings/Timeouts/ComputeNodeBootstrapTimeout",
        "DevSettings/AmiSearchFilters/Owner", "DeploymentSettings/LambdaFunctionsVpcConfig/SubnetIds",
        "DeploymentSettings/DisableSudoAccessForDefaultUser", "DeploymentSettings/DefaultUserHome",
    ],
)
def test_key_tree_has_key(path):
    assert path in set(_keys(CLUSTER))


@pytest.mark.parametrize(
    "path",
    ["Build/InstanceType", "Build/ParentImage", "Build/Components/Type", "Build/UpdateOsPackages/Enabled",
     "Build/Imds/ImdsSupport", "Build/Iam/CleanupLambdaRole", "Image/Name", "Image/RootVolume/KmsKeyId",
     "DevSettings/DistributionConfiguration/Regions", "DevSettings/DisableKernelUpdate", "CustomS3Bucket",
     "DeploymentSettings/LambdaFunctionsVpcConfig/SecurityGroupIds"],
)
def test_image_key_tree_has_key(path):
    assert path in set(_keys(IMAGE_CONFIG))


def test_defaults_match_parallelcluster():
    config = load(MINIMAL_CLUSTER).config
    slurm = config.scheduling.slurm_settings
    queue = config.scheduling.slurm_queues[0]
    cr = queue.compute_resources[0]
    assert (slurm.scaledown_idletime, slurm.queue_update_strategy, slurm.enable_memory_based_scheduling) == (
        10, "COMPUTE_FLEET_STOP", False)
    assert config.scheduling.scaling_strategy == "all-or-nothing"
    assert (cr.min_count, cr.max_count, cr.static_node_priority, cr.dynamic_node_priority) == (0, 10, 1, 1000)
    assert (cr.efa.enabled, cr.disable_simultaneous_multithreading, cr.custom_slurm_settings) == (False, False, {})
    assert (queue.capacity_type, queue.allocation_strategy, queue.job_exclusive_allocation) == ("ONDEMAND", None, False)
    root = config.head_node.local_storage.root_volume
    assert (root.volume_type, root.iops, root.throughput, root.encrypted, root.delete_on_termination) == (
        "gp3", 3000, 125, True, True)
    assert config.head_node.local_storage.ephemeral_volume.mount_dir == "/scratch"
    assert (config.head_node.ssh.allowed_ips, config.head_node.shared_storage_type) == ("0.0.0.0/0", "Ebs")
    assert config.head_node.imds.secured is True
    assert config.imds.imds_support == "v2.0"
    # ParallelCluster 3.13 raised the bootstrap timeouts from 1800 s to 2100 s; 3.16 added ComputeInstanceInfoTimeout.
    timeouts = config.dev_settings.timeouts
    assert (timeouts.head_node_bootstrap_timeout, timeouts.compute_node_bootstrap_timeout) == (2100, 2100)
    assert timeouts.compute_instance_info_timeout == 90
    assert config.head_node.shared_storage_efs_settings.encrypted is False
    cloudwatch = config.monitoring.logs.cloud_watch
    assert (cloudwatch.enabled, cloudwatch.retention_in_days, cloudwatch.deletion_policy) == (True, 180, "Retain")
    assert config.deployment_settings.default_user_home == "Shared"
    assert not config.monitoring.present and not config.head_node.dcv.present


def test_dynamic_defaults_follow_other_keys():
    text = MINIMAL_CLUSTER + """\
SharedStorage:
  - Name: ebs1
    MountDir: /ebs
    StorageType: Ebs
    EbsSettings:
      VolumeType: io2
  - Name: old
    MountDir: /old
    StorageType: Ebs
    EbsSettings:
      VolumeId: vol-12345678
  - Name: lustre
    MountDir: /fsx
    StorageType: FsxLustre
"""
    config = load(text).config
    new, existing, lustre = config.shared_storage
    assert (new.ebs_settings.iops, new.ebs_settings.throughput, new.ebs_settings.size) == (100, None, 40)
    assert (new.ebs_settings.deletion_policy, existing.ebs_settings.deletion_policy) == ("Delete", None)
    assert lustre.fsx_lustre_settings.deployment_type == "SCRATCH_2"


def test_all_problems_reported_at_once_with_paths_and_lines():
    text = """\
Image:
  Os: windows
HeadNode:
  InstanceType: 5
  Networking:
    SubnetId: subnet-12345678
  Unknown: 1
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources:
        - Name: cr1
          InstanceType: c5.xlarge
          MaxCount: zero
      Networking:
        SubnetIds: [subnet-bad]
"""
    found = messages(load(text))
    assert "Image/Os (line 2): 'windows' is not allowed; use one of: " in found[0]
    assert "HeadNode/InstanceType (line 4): must be a string, not an integer (5)" in found
    assert any(m.startswith("HeadNode/Unknown (line 7): is not a known key of the HeadNode section") for m in found)
    assert "Scheduling/SlurmQueues[0]/ComputeResources[0]/MaxCount (line 15): must be an integer, not a string ('zero')" in found
    assert any(m.startswith("Scheduling/SlurmQueues[0]/Networking/SubnetIds[0] (line 17): 'subnet-bad' is invalid") for m in found)
    assert len(found) == 5


def test_missing_required_key_names_the_section_line():
    loaded = load("Image:\n  Os: alinux2023\nHeadNode:\n  InstanceType: c5.xlarge\n")
    found = messages(loaded)
    assert "HeadNode/Networking (line 3): is required in the HeadNode section; add it" in found
    assert "Scheduling: is required in the cluster configuration section; add it" in " ".join(found) or any(
        m.startswith("Scheduling (line 1): is required") for m in found)
    assert loaded.config is None


def test_misspelt_key_gets_a_suggestion():
    found = messages(load(MINIMAL_CLUSTER.replace("Scheduler:", "Schedular:")))
    assert any("did you mean 'Scheduler'?" in m for m in found)


def test_null_value_is_an_error():
    found = messages(load(MINIMAL_CLUSTER + "Region:\n"))
    assert found == ["Region (line 17): has no value; give it a value or remove the key"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("'true'", True), ("on", True), ("0", False), ("'no'", False)],
)
def test_booleans_accept_parallelcluster_spellings(value, expected):
    config = load(MINIMAL_CLUSTER + f"Monitoring:\n  DetailedMonitoring: {value}\n").config
    assert config.monitoring.detailed_monitoring is expected


@pytest.mark.parametrize(("value", "expected"), [("'12'", 12), ("12", 12), ("12.7", 12)])
def test_integers_coerce_like_marshmallow(value, expected):
    config = load(MINIMAL_CLUSTER.replace("InstanceType: c5.xlarge\n      Net",
                                          f"InstanceType: c5.xlarge\n          MaxCount: {value}\n      Net")).config
    assert config.scheduling.slurm_queues[0].compute_resources[0].max_count == expected


@pytest.mark.parametrize(
    ("os_value", "level"), [("alinux2", "WARNING"), ("ubuntu2004", "WARNING"), ("alinux2023", None)]
)
def test_removed_os_values_load_with_a_warning(os_value, level):
    loaded = load(MINIMAL_CLUSTER.replace("alinux2023", os_value))
    assert loaded.config is not None
    assert [p.level for p in loaded.problems] == ([level] if level else [])


def test_login_nodes_ssh_key_name_loads_with_a_warning():
    text = MINIMAL_CLUSTER + """\
LoginNodes:
  Pools:
    - Name: login
      InstanceType: t3.small
      Count: 1
      Networking:
        SubnetIds: [subnet-12345678]
      Ssh:
        KeyName: mykey
"""
    loaded = load(text)
    assert loaded.config is not None
    assert [(p.path, p.level) for p in loaded.problems] == [("LoginNodes/Pools[0]/Ssh/KeyName", "WARNING")]


def test_cross_key_rules_run_when_section_is_valid():
    text = MINIMAL_CLUSTER.replace("          InstanceType: c5.xlarge\n",
                                   "          InstanceType: c5.xlarge\n          Instances:\n            - InstanceType: c5.large\n")
    found = messages(load(text))
    assert found == ["Scheduling/SlurmQueues[0]/ComputeResources[0] (line 12): needs either InstanceType or Instances, not both"]


def test_custom_action_needs_script_or_sequence():
    text = MINIMAL_CLUSTER.replace(
        "Scheduling:\n", "  CustomActions:\n    OnNodeStart:\n      Args: [a]\nScheduling:\n", 1
    )
    found = messages(load(text))
    assert found == ["HeadNode/CustomActions/OnNodeStart (line 8): needs a Script (with optional Args) or a Sequence of them"]


def test_duplicate_keys_warn(write_config):
    loaded = load(MINIMAL_CLUSTER + "Region: a\nRegion: b\n")
    assert loaded.config.region == "b"
    assert [p.level for p in loaded.problems] == ["WARNING"]


def test_yaml_syntax_error_names_file_line_and_column(write_config):
    path = write_config("Image:\n  Os: [alinux2\nHeadNode: {}\n")
    with pytest.raises(ConfigFileError, match=r"config.yaml \(line 3, column 9\): .*fix the YAML syntax"):
        load_cluster_config(path)


def test_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(ConfigFileError, match="file not found; pass the path of an existing configuration file"):
        load_cluster_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_empty_or_non_mapping_file(text):
    loaded = load(text)
    assert loaded.config is None and len(loaded.errors) == 1


def test_view_rejects_unknown_attribute():
    config = load(MINIMAL_CLUSTER).config
    with pytest.raises(AttributeError, match="has no key for attribute 'nope'"):
        _ = config.head_node.nope
    assert config.head_node.where("InstanceType") == "HeadNode/InstanceType (line 4)"


@pytest.mark.parametrize(
    "addition",
    [
        # ParallelCluster 3.15: launch template overrides and the EFA interface type.
        ("Scheduling", "          LaunchTemplateOverrides:\n            LaunchTemplateId: lt-0123\n            Version: 2\n"),
        ("top", "DevSettings:\n  EfaInterfaceType: efa\n"),
        # ParallelCluster 3.14: prioritized allocation strategies.
        ("queue", "      AllocationStrategy: prioritized\n"),
    ],
)
def test_keys_of_later_releases_load(addition):
    where, text = addition
    if where == "top":
        config_text = MINIMAL_CLUSTER + text
    elif where == "queue":
        config_text = MINIMAL_CLUSTER.replace("      ComputeResources:\n", text + "      ComputeResources:\n")
    else:
        config_text = MINIMAL_CLUSTER.replace("          InstanceType: c5.xlarge\n",
                                              "          InstanceType: c5.xlarge\n" + text)
    loaded = load(config_text)
    assert loaded.problems == [] and loaded.config is not None


@pytest.mark.parametrize(
    ("old_text", "new_text"),
    [
        ("Os: alinux2023", "Os: centos7"),
        ("Os: alinux2023", "Os: ubuntu1804"),
        ("    SubnetId: subnet-12345678\n",
         "    SubnetId: subnet-12345678\n  LocalStorage:\n    RootVolume:\n      KmsKeyId: key\n"),
    ],
)
def test_values_and_keys_of_older_releases_load_with_a_warning(old_text, new_text):
    loaded = load(MINIMAL_CLUSTER.replace(old_text, new_text))
    assert loaded.config is not None
    assert [problem.level for problem in loaded.problems] == ["WARNING"]
    assert "removed in ParallelCluster" in loaded.problems[0].message


def test_image_installation_section_of_3_12():
    loaded = load_config_text(IMAGE_CONFIG, """\
Build:
  InstanceType: c5.xlarge
  ParentImage: ami-12345678
  Installation:
    LustreClient:
      Enabled: false
""")
    assert loaded.problems == []
    build = loaded.config.build
    assert (build.installation.lustre_client.enabled, build.installation.nvidia_software.enabled) == (False, False)


def _spec(root, path: str):
    spec = root
    for key in path.split("/"):
        spec = spec.item if isinstance(spec, ListOf) else spec
        spec = spec.fields[key]
    return spec


def test_parallelcluster_3_16_ranges():
    lustre = MINIMAL_CLUSTER + ("SharedStorage:\n  - Name: fs\n    MountDir: /fsx\n    StorageType: FsxLustre\n"
                                "    FsxLustreSettings:\n      DeploymentType: PERSISTENT_2\n"
                                "      AutomaticBackupRetentionDays: {days}\n")
    assert load(lustre.format(days=90)).config is not None  # 35 at most before 3.16
    assert messages(load(lustre.format(days=91))) == [
        "SharedStorage[0]/FsxLustreSettings/AutomaticBackupRetentionDays (line 23): 91 is out of range; use a value "
        "at least 0 and at most 90"]
    image = ("Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-12345678\n"
             "DevSettings:\n  CliAttributeOverrides: '{}'\n")
    assert load_config_text(IMAGE_CONFIG, image).problems == []


@pytest.mark.parametrize(("path", "policy"), [
    ("HeadNode/LocalStorage", "UNSUPPORTED"),
    ("HeadNode/LocalStorage/RootVolume", "UNSUPPORTED"),
    ("HeadNode/SharedStorageEfsSettings/Encrypted", "UNSUPPORTED"),
    ("Tags", "SUPPORTED_UNLESS_ADC"),
    ("Tags/Key", "UNSUPPORTED"),
    ("Tags/Value", "SUPPORTED_UNLESS_ADC"),
    ("DevSettings/Cookbook", "IGNORED"),
    ("DevSettings/EfaInterfaceType", "QUEUE_UPDATE_STRATEGY"),
    ("DevSettings/Timeouts/ComputeInstanceInfoTimeout", "SUPPORTED"),
    ("Scheduling/SlurmQueues/ComputeResources/LaunchTemplateOverrides/Version", "QUEUE_UPDATE_STRATEGY"),
])
def test_update_policies_of_parallelcluster_3_16(path, policy):
    assert _spec(CLUSTER, path).policy == policy

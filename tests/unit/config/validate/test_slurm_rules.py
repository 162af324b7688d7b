"""Slurm settings validators: a passing and a failing case each, messages naming the YAML path and line."""

from __future__ import annotations

import pytest

from helpers import BASE_CLUSTER, findings

DATABASE = """\
    Database:
      Uri: db.example.com:3306
      UserName: admin
      PasswordSecretArn: arn:aws:secretsmanager:us-east-1:111111111111:secret:pw
"""
MUNGE_KEY = "    MungeKeySecretArn: arn:aws:secretsmanager:us-east-1:111111111111:secret:munge\n"
EXTERNAL_SLURMDBD = "    ExternalSlurmdbd:\n      Host: slurmdbd.example.com\n"


def with_settings(block: str) -> str:
    """BASE_CLUSTER with a SlurmSettings section (its keys indented by 4) starting on line 9."""
    return BASE_CLUSTER.replace("  Scheduler: slurm\n", "  Scheduler: slurm\n  SlurmSettings:\n" + block)


def with_queue(block: str) -> str:
    """BASE_CLUSTER with queue keys (indented by 6) starting on line 11."""
    return BASE_CLUSTER.replace("    - Name: queue1\n", "    - Name: queue1\n" + block)


def with_compute_resource(block: str) -> str:
    """BASE_CLUSTER with compute resource keys (indented by 10) starting on line 14."""
    return BASE_CLUSTER.replace("          InstanceType: c5.xlarge\n", "          InstanceType: c5.xlarge\n" + block)


def test_custom_slurm_settings_allowed():
    text = with_settings("""\
    CustomSlurmSettings:
      - SlurmdTimeout: 300
      - NodeName: gpu[1-2]
        Prolog: /opt/prolog.sh
""")
    assert findings(text, "CustomSlurmSettingsValidator") == []


def test_custom_slurm_settings_denied_at_cluster_level():
    text = with_settings("""\
    CustomSlurmSettings:
      - SlurmdTimeout: 300
      - slurmctldhost: myhost
""")
    assert findings(text, "CustomSlurmSettingsValidator") == [
        ("ERROR", "Scheduling/SlurmSettings/CustomSlurmSettings[1] (line 12): slurmctldhost is managed by ParaCluster "
                  "and cannot be overridden; remove it")
    ]


def test_accounting_settings_denied_only_with_database():
    block = "    CustomSlurmSettings:\n      - AccountingStorageType: accounting_storage/none\n"
    assert findings(with_settings(block), "CustomSlurmSettingsValidator") == []
    found = findings(with_settings(block + DATABASE), "CustomSlurmSettingsValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmSettings/CustomSlurmSettings[0] (line 11): AccountingStorageType ")


def test_custom_slurm_settings_denied_at_queue_level():
    text = with_queue("      CustomSlurmSettings:\n        State: UP\n        MaxTime: 60\n        Nodes: x\n")
    assert findings(text, "CustomSlurmSettingsValidator") == [
        ("ERROR", "Scheduling/SlurmQueues[0]/CustomSlurmSettings (line 11): ParaCluster writes Nodes and State in the "
                  "queue's Slurm partition line itself; remove them")
    ]
    allowed = with_queue("      CustomSlurmSettings:\n        MaxTime: 60\n")
    assert findings(allowed, "CustomSlurmSettingsValidator") == []


def test_custom_slurm_settings_denied_at_compute_resource_level():
    text = with_compute_resource("          CustomSlurmSettings:\n            Weight: 5\n")
    found = findings(text, "CustomSlurmSettingsValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/ComputeResources[0]/CustomSlurmSettings (line 14): "
                               "ParaCluster writes Weight in the compute resource's Slurm node line itself; remove it")]
    text = with_compute_resource("          CustomSlurmSettings:\n            RealMemory: 1000\n")
    assert findings(text, "CustomSlurmSettingsValidator") == []
    # ParallelCluster 3.15 took Features off the compute resource deny-list.
    text = with_compute_resource("          CustomSlurmSettings:\n            Features: fast\n")
    assert findings(text, "CustomSlurmSettingsValidator") == []


@pytest.mark.parametrize(("name", "ok"), [("gpu[1-2]", True), ("queue1-st-gpu-1", False), ("x-dy-y", False)])
def test_custom_slurm_node_names(name, ok):
    text = with_settings(f"    CustomSlurmSettings:\n      - NodeName: {name}\n        CPUs: 4\n")
    found = findings(text, "CustomSlurmNodeNamesValidator")
    assert (found == []) is ok
    if not ok:
        assert found[0][0] == "ERROR"
        assert found[0][1].startswith(f"Scheduling/SlurmSettings/CustomSlurmSettings[0] (line 11): the custom node "
                                      f"name '{name}' contains ")


def test_include_file_only():
    include = "    CustomSlurmSettingsIncludeFile: https://example.com/slurm.conf\n"
    assert findings(with_settings(include), "CustomSlurmSettingsIncludeFileOnlyValidator") == []
    text = with_settings(include + "    CustomSlurmSettings:\n      - SlurmdTimeout: 300\n")
    found = findings(text, "CustomSlurmSettingsIncludeFileOnlyValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmSettings/CustomSlurmSettingsIncludeFile (line 10): ")


def test_node_priorities():
    assert findings(with_compute_resource("          MinCount: 1\n"), "SlurmNodePrioritiesWarningValidator") == []
    text = with_compute_resource("          MinCount: 1\n          StaticNodePriority: 2000\n")
    found = findings(text, "SlurmNodePrioritiesWarningValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources (line 11): in queue 'queue1', ")
    assert "static priorities cr1=2000 are not below the lowest dynamic priority (1000)" in found[0][1]


def test_external_slurmdbd_with_database():
    assert findings(with_settings(DATABASE), "ExternalSlurmdbdVsDatabaseIncompatibility") == []
    both = with_settings(DATABASE + EXTERNAL_SLURMDBD + MUNGE_KEY)
    found = findings(both, "ExternalSlurmdbdVsDatabaseIncompatibility")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmSettings/ExternalSlurmdbd (line 14): ")


def test_external_slurmdbd_needs_munge_key():
    assert findings(with_settings(EXTERNAL_SLURMDBD + MUNGE_KEY), "ExternalSlurmdbdRequiresCustomMungeKey") == []
    found = findings(with_settings(EXTERNAL_SLURMDBD), "ExternalSlurmdbdRequiresCustomMungeKey")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmSettings/ExternalSlurmdbd (line 10): ")


def test_external_slurmdbd_traffic_warning():
    assert findings(with_settings(DATABASE), "ExternalSlurmdbdTrafficNotEncrypted") == []
    found = findings(with_settings(EXTERNAL_SLURMDBD + MUNGE_KEY), "ExternalSlurmdbdTrafficNotEncrypted")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Scheduling/SlurmSettings/ExternalSlurmdbd (line 10): ")


@pytest.mark.parametrize(
    ("uri", "level", "says"),
    [
        ("db.example.com:3306", None, None),
        ("10.0.0.1:3306", None, None),
        ("db.example.com", "INFO", "names no port, so the MySQL default 3306 is used"),
        ("/db.example.com:3306", "ERROR", "starts with '/'"),
        ("mysql://db.example.com:3306", "ERROR", "remove the scheme 'mysql://'"),
        ("db.example.com:abc", "ERROR", "has an invalid port"),
        ("db.example.com:99999", "ERROR", "has an invalid port"),
        ("'[::1'", "ERROR", "is not a valid address"),
    ],
)
def test_database_uri(uri, level, says):
    found = findings(with_settings(DATABASE.replace("db.example.com:3306", uri)), "DatabaseUriValidator")
    if level is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0][0] == level
        assert found[0][1].startswith("Scheduling/SlurmSettings/Database/Uri (line 11): ") and says in found[0][1]


@pytest.mark.parametrize(
    ("memory", "expected"),
    [(8000, []), (9000, ["ERROR"]), (4000, ["INFO"]), (0, ["ERROR", "INFO"])],
)
def test_schedulable_memory(memory, expected):
    found = findings(with_compute_resource(f"          SchedulableMemory: {memory}\n"), "SchedulableMemoryValidator")
    assert [level for level, _ in found] == expected
    assert all(m.startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/SchedulableMemory (line 14): ")
               for _, m in found)


def test_schedulable_memory_uses_smallest_flexible_type():
    text = BASE_CLUSTER.replace("          InstanceType: c5.xlarge\n", """\
          Instances:
            - InstanceType: m5.xlarge
            - InstanceType: c5.xlarge
          SchedulableMemory: 9000
""")
    found = findings(text, "SchedulableMemoryValidator")
    assert found == [("ERROR", "Scheduling/SlurmQueues[0]/ComputeResources[0]/SchedulableMemory (line 16): 9000 MiB "
                               "is more than the 8192 MiB of instance type c5.xlarge; set at most 8192")]


def _custom_type(memory: int, scheduling: bool) -> str:
    data = (
        '{"x9.large": {"VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": %d}, '
        '"ProcessorInfo": {"SupportedArchitectures": ["x86_64"]}}}' % memory
    )
    text = with_settings(f"    EnableMemoryBasedScheduling: {str(scheduling).lower()}\n")
    return text.replace("InstanceType: c5.xlarge\n      Networking", "InstanceType: x9.large\n      Networking") + (
        f"DevSettings:\n  InstanceTypesData: '{data}'\n"
    )


def test_instance_type_memory_info():
    assert findings(_custom_type(4096, True), "InstanceTypeMemoryInfoValidator") == []
    assert findings(_custom_type(0, False), "InstanceTypeMemoryInfoValidator") == []
    found = findings(_custom_type(0, True), "InstanceTypeMemoryInfoValidator")
    assert len(found) == 1 and found[0][0] == "ERROR"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/InstanceType (line 15): ")


def _flexible(types: list[str], scheduling: bool) -> str:
    text = with_settings(f"    EnableMemoryBasedScheduling: {str(scheduling).lower()}\n")
    listed = "".join(f"            - InstanceType: {name}\n" for name in types)
    return text.replace("          InstanceType: c5.xlarge\n", "          Instances:\n" + listed)


def test_instances_memory_scheduling_warning():
    assert findings(_flexible(["c5.large", "c5.2xlarge"], False), "InstancesMemorySchedulingWarningValidator") == []
    assert findings(_flexible(["c5.xlarge", "c5a.xlarge"], True), "InstancesMemorySchedulingWarningValidator") == []
    found = findings(_flexible(["c5.large", "c5.2xlarge"], True), "InstancesMemorySchedulingWarningValidator")
    assert len(found) == 1 and found[0][0] == "WARNING"
    assert found[0][1].startswith("Scheduling/SlurmQueues[0]/ComputeResources[0]/Instances (line 15): ")

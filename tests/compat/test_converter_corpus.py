"""The v2 converter against ParallelCluster's converter test data: same v3 config key for key, same notes and warnings.

ParallelCluster's data (`../shared/corpus/pcluster/cli/tests/pcluster3_config_converter/`) holds v2 INI inputs and
the v3 YAML its converter wrote for them, from a commit before 3.16. ParaCluster follows the 3.16.1 converter; every
difference is a case below with its reason. Our notes and warnings are worded our own way, so they are compared by
what triggered them: (kind, subject) in order, against the messages ParallelCluster's tests expect.
"""

from __future__ import annotations

import pytest
import yaml

from support import CORPUS
from paracluster.config.validate import validate_config
from paracluster.convert import ConversionError, convert_v2, to_yaml

DATA = CORPUS / "pcluster/cli/tests/pcluster3_config_converter/test_pcluster3_config_converter"
CASES_DIR = DATA / "test_pcluster3_config_converter"
COMMAND_DIR = DATA / "test_pcluster3_config_converter_command"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="the shared ParallelCluster corpus is not present")

ENCRYPTION = ("encryption", "Encrypted")
IMDS = ("imds", "HeadNode/Imds/Secured")
DEFAULT_EBS = ("default_ebs", "SharedStorage")
COMMON = [ENCRYPTION, IMDS, ("ignored", "vpc_id"), ("ignored", "update_check"), ("ignored", "ssh")]
AMBIGUOUS_FULL = [("ambiguous", key) for key in (
    "additional_iam_policies", "s3_read_write_resource", "s3_read_resource", "pre_install", "post_install",
    "proxy_server", "additional_sg", "vpc_security_group_id")]

# name -> (input, -t, --force-convert, the messages ParallelCluster's tests expect (ParallelCluster prints its
# default-EBS note too, and writes it into the YAML, but its tests do not list it))
CONVERTED = {
    "slurm_full": (CASES_DIR / "slurm_full.ini", "default", True, [
        *COMMON, ("ignored", "encrypted_ephemeral"), *AMBIGUOUS_FULL,
        ("dev_settings", "extra_json, custom_chef_cookbook, template_url, instance_types_data"),
        ("duplicate_name", "custom1"),
        ("underscore", "compute_resource ondemand_i1"), ("underscore", "compute_resource ondemand_i3"),
        ("ignored", "initial_count"), ("underscore", "compute_resource ondemand_i2"),
    ]),
    "slurm_required": (CASES_DIR / "slurm_required.ini", "cluster_label1", False, [*COMMON, DEFAULT_EBS]),
    "sit_base": (CASES_DIR / "sit_base.ini", None, False, [*COMMON, DEFAULT_EBS]),
    "sit_full": (CASES_DIR / "sit_full.ini", None, False, [
        *COMMON, ("ambiguous", "s3_read_write_resource"), ("ambiguous", "s3_read_resource"),
        ("ambiguous", "disable_hyperthreading"), ("ambiguous", "pre_install"), ("ambiguous", "post_install"),
        DEFAULT_EBS, ("ignored", "initial_queue_size"),
    ]),
    "command": (COMMAND_DIR / "pcluster.config.ini", None, False, [
        *COMMON, ("ignored", "encrypted_ephemeral"), ("ambiguous", "additional_iam_policies"),
        ("ambiguous", "pre_install"), ("ambiguous", "post_install"),
    ]),
}

# Converted configs that do not pass validation, because ParallelCluster's expected output does not either:
# name -> the findings (validator type, YAML path) that reject it, each explained.
INVALID_EXPECTED = {
    # Placeholder ids in the v2 test input (ami-12345, fs-12345, sg-xxxxxx, ssh_from = string), an existing FSx file
    # system given together with settings only a new one takes, and ec2_iam_role with additional_iam_policies and
    # S3 access, which v3 refuses together (an InstanceRole carries its own policies).
    "slurm_full": {
        ("ConfigSchemaValidator", "Image/CustomAmi"),
        ("ConfigSchemaValidator", "SharedStorage[3]/EfsSettings/FileSystemId"),
        *{("ConfigSchemaValidator", f"SharedStorage[4]/FsxLustreSettings/{key}") for key in (
            "AutoImportPolicy", "KmsKeyId", "StorageCapacity", "DeploymentType", "StorageType",
            "ImportedFileChunkSize", "ExportPath", "ImportPath", "WeeklyMaintenanceStartTime",
            "AutomaticBackupRetentionDays", "CopyTagsToBackups", "DailyAutomaticBackupStartTime",
            "PerUnitStorageThroughput", "BackupId", "DriveCacheType")},
        ("ConfigSchemaValidator", "HeadNode/Networking/SecurityGroups[0]"),
        ("ConfigSchemaValidator", "HeadNode/Networking/AdditionalSecurityGroups[0]"),
        ("ConfigSchemaValidator", "HeadNode/Ssh/AllowedIps"),
        ("ConfigSchemaValidator", "HeadNode/Iam"),
        *{("ConfigSchemaValidator", f"Scheduling/SlurmQueues[{i}]/{key}") for i in (0, 1) for key in (
            "Iam", "Networking/SecurityGroups[0]", "Networking/AdditionalSecurityGroups[0]")},
    },
    # `enable_efa = compute` with c5.xlarge compute nodes, which have no EFA (and so no placement group was chosen).
    "sit_full": {
        ("EfaValidator", "Scheduling/SlurmQueues[0]/ComputeResources[0]/Efa/Enabled"),
        ("EfaPlacementGroupValidator", "Scheduling/SlurmQueues[0]/ComputeResources[0]/Efa/Enabled"),
    },
}


def _convert(name: str):
    path, template, force, _ = CONVERTED[name]
    return convert_v2(path.read_text(), source=path.name, cluster_template=template, force=force,
                      account_id=lambda: "1234567", region=lambda: "us-west-1")


@pytest.mark.parametrize("name", CONVERTED)
def test_same_config_key_for_key(name):
    conversion = _convert(name)
    expected = CONVERTED[name][0].with_suffix(".yaml").read_text()
    assert yaml.safe_load(to_yaml(conversion)) == yaml.safe_load(expected)


def _without_comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("name", CONVERTED)
def test_same_yaml_line_for_line(name):
    # Keys come out in ParallelCluster's order and lists indented as it writes them; only the comments differ.
    expected = CONVERTED[name][0].with_suffix(".yaml").read_text()
    assert _without_comments(to_yaml(_convert(name))) == _without_comments(expected)


@pytest.mark.parametrize("name", CONVERTED)
def test_same_notes_and_warnings(name):
    conversion = _convert(name)
    assert [(m.kind, m.subject) for m in conversion.messages] == CONVERTED[name][3]
    # As in ParallelCluster, every note and warning but the "ambiguous" ones is also a comment atop the YAML.
    commented = [m for m in conversion.messages if m.kind != "ambiguous"]
    assert conversion.comments == "".join(f"# {m.text}\n" for m in commented)


@pytest.mark.parametrize("name", CONVERTED)
def test_output_validates_unless_parallelclusters_does_not(name):
    outcome = validate_config(None, text=to_yaml(_convert(name)), cluster_name="converted")
    blocking = {(f.type, f.message.split(" (line")[0]) for f in outcome.findings if f.level.name == "ERROR"}
    assert blocking == INVALID_EXPECTED.get(name, set())
    # The expected output is judged the same way: what rejects ours rejects ParallelCluster's.
    expected = CONVERTED[name][0].with_suffix(".yaml").read_text()
    theirs = validate_config(None, text=expected, cluster_name="converted")
    assert {(f.type, f.message.split(" (line")[0]) for f in theirs.findings if f.level.name == "ERROR"} == blocking


# name -> (input, -t, --force-convert, what our error says, why it differs from the corpus, if it does)
REFUSED = {
    "slurm_full without --force-convert": (
        CASES_DIR / "slurm_full.ini", None, False,
        "sets extra_json, custom_chef_cookbook, template_url, instance_types_data, which ParallelCluster 3 takes "
        "only as DevSettings that are not officially supported; rerun with --force-convert", None),
    "compute_subnet_cidr": (
        CASES_DIR / "compute_subnet_cidr.ini", None, False,
        "[vpc vpc] compute_subnet_cidr = 0.0.0.0/16 is not supported by ParallelCluster 3", None),
    "missing_vpc": (CASES_DIR / "missing_vpc.ini", None, False, "[cluster default] has no vpc_settings", None),
    "unknown cluster template": (
        CASES_DIR / "slurm_full.ini", "invalid_cluster_label", False,
        "has no [cluster invalid_cluster_label] section; pass -t with one of: default", None),
    "awsbatch_required": (
        CASES_DIR / "awsbatch_required.ini", None, False,
        "scheduler = awsbatch cannot be converted: ParallelCluster 3.16 removed AWS Batch",
        "the corpus YAML was written by a converter before 3.16, which still converted AWS Batch clusters; "
        "ParallelCluster 3.16.1's converter refuses scheduler = awsbatch, as we do"),
    "awsbatch_full": (
        CASES_DIR / "awsbatch_full.ini", "default", True,
        "scheduler = awsbatch cannot be converted: ParallelCluster 3.16 removed AWS Batch",
        "as awsbatch_required"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_refused_as_parallelcluster_refuses(name):
    path, template, force, message, differs = REFUSED[name]
    with pytest.raises(ConversionError) as error:
        convert_v2(path.read_text(), source=path.name, cluster_template=template, force=force,
                   account_id=lambda: "1234567")
    assert str(error.value).startswith(f"{path.name}: ") and message in str(error.value)


def test_every_corpus_file_is_covered():
    # Each v2 input is converted or refused above; each expected YAML is compared, or its refusal says why it differs.
    inputs = {*CASES_DIR.glob("*.ini"), *COMMAND_DIR.glob("*.ini")}
    assert inputs == {case[0] for case in (*CONVERTED.values(), *REFUSED.values())}
    compared = {case[0].with_suffix(".yaml") for case in CONVERTED.values()}
    explained = {case[0].with_suffix(".yaml") for case in REFUSED.values() if case[4]}
    assert {*CASES_DIR.glob("*.yaml"), *COMMAND_DIR.glob("*.yaml")} == compared | explained

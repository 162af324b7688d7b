"""The cluster template: golden files for the project's examples and three corpus configs, cfn-lint on each, and
what the template must say (least-privilege IAM, tags, deletion policies, login pool ports, market options).

Golden files are `tests/golden/aws/<case>.json`. To accept a deliberate change of the output:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/providers/aws/test_template.py

and review the diff before committing it. The corpus configs are ParallelCluster's own, labelled valid by its schema
(`../shared/corpus/pcluster/verdicts.json`); some trip ParaCluster's semantic validators (gp2 with Iops, EFA on a
type without it), which the template builder, a pure function of whatever loads, does not need to reject. Together
with the examples they use every resource kind the template has: managed and custom security groups, roles with
InstanceRole / InstanceProfile / AdditionalIamPolicies, spot and capacity-block market options, capacity
reservations, placement groups, EFA interfaces, an Elastic IP, login pools (two in one config), EFS, FSx for Lustre
with data repository associations, EBS with RAID, the EFS behind SharedStorageType Efs, and existing storage ids.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import sys

import pytest

from support import CORPUS, PROJECT
from paracluster.config.load import load_config_text
from paracluster.config.schema import CLUSTER
from paracluster.plan import build_plan
from paracluster.providers.aws.images import NodeImage
from paracluster.providers.aws.lookups import node_groups
from paracluster.providers.aws.naming import TAG_CLUSTER, TAG_COMPUTE_RESOURCE, TAG_NODE_TYPE, TAG_QUEUE
from paracluster.providers.aws.template import TemplateFacts, build_template, template_body, template_text
from paracluster.providers.aws.template.context import cluster_subnets

GOLDEN = PROJECT / "tests" / "golden" / "aws"
PCLUSTER_TESTS = CORPUS / "pcluster" / "cli" / "tests" / "pcluster"
# The corpus's placeholder KMS key id is not a key id at all; a well-formed one stands in (as the examples'
# placeholder subnet is replaced in the moto tests).
PLACEHOLDERS = {"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx": "1234abcd-12ab-34cd-56ef-1234567890ab"}
CASES = {
    "basic": (PROJECT / "examples" / "basic.yaml", {}),
    "research": (PROJECT / "examples" / "research.yaml", {"users": (8787,)}),
    "accounting": (PROJECT / "examples" / "accounting.yaml", {}),
    "corpus-slurm-full": (PCLUSTER_TESTS / "example_configs" / "slurm.full.yaml", {}),
    "corpus-spot-capacity-block": (PCLUSTER_TESTS / "validators" / "test_all_validators" /
                                   "test_slurm_validators_are_called_with_correct_argument" / "slurm.yaml", {}),
    "corpus-rhel8-raid": (PCLUSTER_TESTS / "templates" / "test_cw_dashboard_builder" / "test_cw_dashboard_builder" /
                          "rhel8.slurm.full.yaml", {}),
}
AMIS = {"x86_64": "ami-0a1b2c3d4e5f60001", "arm64": "ami-0a1b2c3d4e5f60002"}


def fake_facts(config, plan, extra_login_ports=None) -> TemplateFacts:
    """Facts as AWS would give them, made up deterministically: subnets alternate between two zones."""
    subnets = cluster_subnets(config)
    images = {group: NodeImage(custom or AMIS[arch], "/dev/xvda", arch)
              for group, custom, _, arch in node_groups(config, plan.catalog)}
    return TemplateFacts(
        region="us-east-1", vpc_id="vpc-0123456789abcdef0", vpc_cidr="10.0.0.0/16",
        subnet_zones={subnet: "us-east-1" + "ab"[index % 2] for index, subnet in enumerate(subnets)},
        public_subnets=frozenset(subnets[:1]), images=images, bucket="paracluster-0123456789ab-us-east-1",
        prefix=f"paracluster/clusters/{plan.name}", stamp="202601011200", version="0.1.0",
        extra_login_ports=extra_login_ports or {})


def load(text: str):
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    loaded = load_config_text(CLUSTER, text)
    assert loaded.config is not None, [str(problem) for problem in loaded.problems]
    return loaded.config


def build(text: str, name: str = "cluster", extra_login_ports=None):
    config = load(text)
    plan = build_plan(name, config)
    return build_template(config, plan, fake_facts(config, plan, extra_login_ports))


@functools.cache
def case_template(case: str) -> dict:
    path, ports = CASES[case]
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared corpus is beside the project)")
    return build(path.read_text(), case, ports).to_dict()


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_template(case):
    text = json.dumps(case_template(case), indent=1, sort_keys=True) + "\n"
    golden = GOLDEN / f"{case}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} differs; see the module docstring to accept a change"


@pytest.mark.parametrize("case", sorted(CASES))
def test_template_is_cfn_lint_clean(case):
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(case_template(case)), config=ManualArgs(regions=["us-east-1"]))
    assert [str(match) for match in matches] == []


def test_template_is_the_same_for_the_same_input():
    text = (PROJECT / "examples" / "research.yaml").read_text()
    assert template_text(build(text)) == template_text(build(text))


def test_building_a_template_does_not_import_boto3():
    code = ("import sys; from paracluster.providers.aws.template import build_template; "
            "print('boto3' in sys.modules, 'botocore' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.split() == ["False", "False"]


def _resources(template: dict, kind: str) -> dict:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def _statements(template: dict) -> dict:
    policy = template["Resources"]["HeadNodePolicy"]["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_head_node_may_terminate_and_rename_only_its_clusters_instances():
    statements = _statements(case_template("research"))
    for sid in ("TerminateClusterInstances", "NameClusterInstances"):
        assert statements[sid]["Condition"] == {"StringEquals": {f"ec2:ResourceTag/{TAG_CLUSTER}": "research"}}
    assert statements["TerminateClusterInstances"]["Action"] == ["ec2:TerminateInstances"]
    # No other statement grants TerminateInstances.
    granting = [sid for sid, statement in statements.items() if "ec2:TerminateInstances" in statement["Action"]]
    assert granting == ["TerminateClusterInstances"]


def test_head_node_launches_only_from_its_templates_subnets_groups_and_amis():
    template = case_template("research")
    launch = _statements(template)["LaunchComputeNodes"]
    text = json.dumps(launch["Resource"])
    compute_templates = [key for key, value in _resources(template, "AWS::EC2::LaunchTemplate").items()
                         if key.startswith("LaunchTemplate")]
    assert len(compute_templates) == 4
    for key in compute_templates:
        assert json.dumps({"Ref": key}) in text
    assert "HeadNodeLaunchTemplate" not in text and "LoginPoolUsersLaunchTemplate" not in text
    assert "subnet/subnet-0123456789abcdef0" in text and "image/ami-0a1b2c3d4e5f60001" in text
    assert '"GroupId"]' in text and "ComputeSecurityGroup" in text
    assert "launch-template/*" not in text and "subnet/*" not in text and "image/*" not in text


def test_head_node_passes_only_the_compute_roles():
    template = case_template("research")
    passing = _statements(template)["PassComputeRoles"]
    assert passing["Action"] == ["iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    roles = sorted(item["Fn::GetAtt"][0] for item in passing["Resource"])
    assert roles == ["QueueCpuRole", "QueueDebugRole", "QueueScratchRole"]


def test_head_node_reaches_only_its_table_stack_and_files():
    statements = _statements(case_template("research"))
    assert statements["ClusterTable"]["Resource"][0] == {"Fn::GetAtt": ["ClusterTable", "Arn"]}
    assert statements["ClusterStack"]["Resource"] == [{"Ref": "AWS::StackId"}]
    assert statements["ClusterFiles"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::paracluster-0123456789ab-us-east-1/paracluster/clusters/research/*"}]
    scripts = statements["CustomActionScripts"]["Resource"]
    assert scripts == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::research-site/bootstrap/head-configured.sh"}]


def test_storage_keeps_its_deletion_policy():
    template = case_template("research")
    expected = {"EfsProjects": "Retain", "FsxReference": "Delete", "EbsApps": "Snapshot"}
    for key, policy in expected.items():
        assert template["Resources"][key]["DeletionPolicy"] == policy
        assert template["Resources"][key]["UpdateReplacePolicy"] == policy
    associations = _resources(template, "AWS::FSx::DataRepositoryAssociation")
    assert [value["Properties"]["S3"]["AutoExportPolicy"]["Events"] for value in associations.values()] == [
        ["NEW", "CHANGED"]]
    attachments = _resources(template, "AWS::EC2::VolumeAttachment")
    assert [value["Properties"]["Device"] for value in attachments.values()] == ["/dev/sdf"]


def test_compute_launch_templates_carry_parallelclusters_tags():
    text = """\
        Image: {Os: alinux2023}
        Tags: [{Key: team, Value: physics}]
        HeadNode: {InstanceType: c5.xlarge, Networking: {SubnetId: subnet-12345678}}
        Scheduling:
          Scheduler: slurm
          SlurmQueues:
            - Name: q1
              Tags: [{Key: budget, Value: queue}]
              CapacityType: SPOT
              ComputeResources:
                - {Name: cr1, InstanceType: c5.xlarge, SpotPrice: 0.5, Tags: [{Key: budget, Value: resource}]}
              Networking: {SubnetIds: [subnet-12345678]}
    """
    template = build(_dedent(text), "tagged").to_dict()
    data = template["Resources"]["LaunchTemplateQ1Cr1"]["Properties"]["LaunchTemplateData"]
    tags = {tag["Key"]: tag["Value"] for tag in data["TagSpecifications"][0]["Tags"]}
    assert tags == {TAG_CLUSTER: "tagged", TAG_NODE_TYPE: "Compute", TAG_QUEUE: "q1", TAG_COMPUTE_RESOURCE: "cr1",
                    "team": "physics", "budget": "resource", "Name": "Compute"}
    assert data["InstanceMarketOptions"] == {
        "MarketType": "spot", "SpotOptions": {"InstanceInterruptionBehavior": "terminate", "MaxPrice": "0.5",
                                              "SpotInstanceType": "one-time"}}
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"


def test_efa_placement_group_and_reservation():
    text = """\
        Image: {Os: alinux2023}
        HeadNode: {InstanceType: c5n.18xlarge, Networking: {SubnetId: subnet-12345678}}
        Scheduling:
          Scheduler: slurm
          SlurmQueues:
            - Name: hpc
              Networking:
                SubnetIds: [subnet-12345678]
                PlacementGroup: {Enabled: true}
              CapacityReservationTarget: {CapacityReservationId: cr-0123456789abcdef0}
              ComputeResources:
                - {Name: efa, InstanceType: c5n.18xlarge, Efa: {Enabled: true}}
    """
    template = build(_dedent(text), "hpc").to_dict()
    data = template["Resources"]["LaunchTemplateHpcEfa"]["Properties"]["LaunchTemplateData"]
    assert data["Placement"] == {"GroupName": {"Ref": "PlacementGroupHpcEfa"}}
    assert template["Resources"]["PlacementGroupHpcEfa"]["Properties"]["Strategy"] == "cluster"
    assert [interface["InterfaceType"] for interface in data["NetworkInterfaces"]] == ["efa"]
    assert "SecurityGroupIds" not in data  # the interfaces carry the groups
    assert data["CapacityReservationSpecification"] == {
        "CapacityReservationTarget": {"CapacityReservationId": "cr-0123456789abcdef0"}}
    launch = json.dumps(_statements(template)["LaunchComputeNodes"]["Resource"])
    assert "capacity-reservation/cr-0123456789abcdef0" in launch and "PlacementGroupHpcEfa" in launch


def test_login_pool_serves_its_extra_ports_through_the_balancer():
    template = case_template("research")
    listeners = _resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert sorted(value["Properties"]["Port"] for value in listeners.values()) == [22, 8787]
    groups = _resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert sorted(value["Properties"]["Port"] for value in groups.values()) == [22, 8787]
    scaling = template["Resources"]["LoginPoolUsersAutoScalingGroup"]["Properties"]
    assert scaling["MinSize"] == scaling["MaxSize"] == scaling["DesiredCapacity"] == "2"
    assert len(scaling["TargetGroupARNs"]) == 2
    ingress = template["Resources"]["LoginNodesSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert {rule["FromPort"] for rule in ingress} == {22, 8787}
    balancer = template["Resources"]["LoginPoolUsersLoadBalancer"]["Properties"]
    assert balancer["Type"] == "network" and balancer["Scheme"] == "internet-facing"


def test_user_data_stays_far_below_ec2s_limit():
    template = case_template("research")
    for value in _resources(template, "AWS::EC2::LaunchTemplate").values():
        script = value["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
        assert len(base64.b64encode(script.encode())) < 16 * 1024 // 4


def test_a_large_cluster_has_a_template_over_the_body_limit():
    from paracluster.providers.aws.template import TEMPLATE_BODY_LIMIT

    assert len(template_body(build(large_cluster_text(12), "large")).encode()) > TEMPLATE_BODY_LIMIT


def large_cluster_text(queues: int, subnet: str = "subnet-12345678") -> str:
    """A valid config of `queues` queues of two compute resources each (10 nodes each by default, so a head node
    with 16 GiB): its template exceeds 51,200 bytes."""
    lines = ["Image: {Os: alinux2023}", f"HeadNode: {{InstanceType: c5.2xlarge, Networking: {{SubnetId: {subnet}}}}}",
             "Scheduling:", "  Scheduler: slurm", "  SlurmQueues:"]
    for index in range(queues):
        lines += [f"    - Name: queue{index}", f"      Networking: {{SubnetIds: [{subnet}]}}",
                  "      ComputeResources:", "        - {Name: small, InstanceType: c5.large}",
                  "        - {Name: large, InstanceType: c5.2xlarge}"]
    return "\n".join(lines) + "\n"


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)

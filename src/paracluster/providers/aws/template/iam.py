"""IAM of the template: a role and instance profile per node group, and least-privilege policies.

The head node launches compute instances only from the cluster's launch templates, into the queues' subnets and
security groups, from the queues' AMIs; it terminates and renames only instances tagged with its cluster, passes
only the compute roles, and reaches only its own table, stack, bucket prefix, log group and secrets. Compute and
login nodes read what their bootstrap needs. A node group with its own InstanceRole or InstanceProfile gets no role
(an InstanceRole still gets an instance profile); AdditionalIamPolicies are attached to the role ParaCluster makes.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, iam

from paracluster.plan.actions import scripts_of
from paracluster.plan.inventory import PlannedNode
from paracluster.providers.aws.naming import INSTANCE_ID_INDEX, TAG_CLUSTER
from paracluster.providers.aws.template.context import HEAD, Builder, pool_key, queue_key

ROLE_PATH = "/paracluster/"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# Resource types RunInstances and CreateFleet create (and so need permission on), besides the template's.
LAUNCHED = ("instance/*", "volume/*", "network-interface/*", "spot-instances-request/*", "fleet/*")


def _statement(sid: str, actions: list[str], resources, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions,
                 "Resource": resources if isinstance(resources, list) else [resources]}
    if condition:
        statement["Condition"] = condition
    return statement


def _groups(b: Builder) -> list[tuple[str, object, PlannedNode]]:
    """(node group, its config section, a planned node of it) for the head node, every queue and login pool."""
    groups = [(HEAD, b.config.head_node, b.plan.head)]
    for queue in b.config.scheduling.slurm_queues:
        groups.append((queue_key(queue.name), queue, PlannedNode("", "ComputeNode", "", queue=queue.name)))
    for pool in b.config.login_nodes.pools:
        groups.append((pool_key(pool.name), pool, PlannedNode("", "LoginNode", pool.instance_type, pool=pool.name)))
    return groups


def add_roles(b: Builder) -> None:
    """Roles and instance profiles, before the launch templates that name the profiles."""
    boundary = b.config.iam.permissions_boundary
    for group, section, node in _groups(b):
        settings = section.iam
        prefix = {HEAD: "HeadNode"}.get(group) or ("Queue" if group.startswith("queue/") else "LoginPool")
        label = "" if group == HEAD else group.split("/", 1)[1]
        if settings.instance_profile:
            b.instance_profiles[group] = settings.instance_profile
            if group.startswith("queue/"):
                # The role inside a given profile is not known here; the head node may pass roles to EC2 only.
                b.passed_roles.append(b.arn("iam", "role/*", region=False))
            continue
        if settings.instance_role:
            role_name = settings.instance_role.rsplit("/", 1)[-1]
            profile = b.add(iam.InstanceProfile(b.unique_id(prefix, label, "InstanceProfile"), Path=ROLE_PATH,
                                                Roles=[role_name]))
            b.instance_profiles[group] = GetAtt(profile, "Arn")
            if group.startswith("queue/"):
                b.passed_roles.append(settings.instance_role)
            continue
        values = {
            "AssumeRolePolicyDocument": EC2_TRUST, "Path": ROLE_PATH, "Tags": b.tags(),
            "Description": f"{'head node' if group == HEAD else group.replace('/', ' ')} of cluster {b.name}",
        }
        managed = [item.policy for item in settings.additional_iam_policies]
        if managed:
            values["ManagedPolicyArns"] = managed
        if boundary:
            values["PermissionsBoundary"] = boundary
        if group != HEAD:
            # The head node's policy names launch templates, so it is its own resource, added after them.
            values["Policies"] = [iam.Policy(PolicyName="ParaClusterNode", PolicyDocument={
                "Version": "2012-10-17", "Statement": _node_statements(b, group, section, node)})]
        role = b.add(iam.Role(b.unique_id(prefix, label, "Role"), **values))
        b.roles[group] = role
        profile = b.add(iam.InstanceProfile(b.unique_id(prefix, label, "InstanceProfile"), Path=ROLE_PATH,
                                            Roles=[Ref(role)]))
        b.instance_profiles[group] = GetAtt(profile, "Arn")
        if group.startswith("queue/"):
            b.passed_roles.append(GetAtt(role, "Arn"))


def _common_statements(b: Builder, section, node: PlannedNode, secrets: list[str]) -> list[dict]:
    """What every node reads: the cluster's files, its scripts' objects, its secrets, its S3Access; its logs."""
    statements = [_statement("ClusterFiles", ["s3:GetObject"], b.bucket_arn(objects=True))]
    scripts = sorted({step["url"] for steps in scripts_of(b.config, node).values() for step in steps
                      if step["url"].startswith("s3://")})
    if scripts:
        statements.append(_statement("CustomActionScripts", ["s3:GetObject"],
                                     [Sub("arn:${AWS::Partition}:s3:::" + url[5:]) for url in scripts]))
    for index, access in enumerate(getattr(section.iam, "s3_access", None) or []):
        key = (access.key_name or "").rstrip("*")
        actions = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if access.enable_write_access else [])
        statements.append(_statement(f"S3Access{index}", actions,
                                     Sub(f"arn:${{AWS::Partition}}:s3:::{access.bucket_name}/{key}*")))
        statements.append(_statement(f"S3AccessList{index}", ["s3:ListBucket"],
                                     Sub(f"arn:${{AWS::Partition}}:s3:::{access.bucket_name}")))
    if secrets:
        statements.append(_statement("Secrets", ["secretsmanager:GetSecretValue"], sorted(set(secrets))))
    if b.log_group is not None:
        statements.append(_statement("Logs", ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                     GetAtt(b.log_group, "Arn")))
    return statements


def _node_secrets(b: Builder, head: bool) -> list[str]:
    settings = b.config.scheduling.slurm_settings
    secrets = [settings.munge_key_secret_arn] if settings.munge_key_secret_arn else []
    if b.config.directory_service.present:
        secrets.append(b.config.directory_service.password_secret_arn)
    if head and settings.database.present:
        secrets.append(settings.database.password_secret_arn)
    return [arn for arn in secrets if arn.startswith("arn:") and ":secretsmanager:" in arn]


def _table_arns(b: Builder) -> list:
    return [GetAtt(b.table, "Arn"), Sub("${Table}/index/*", Table=GetAtt(b.table, "Arn"))]


def _node_statements(b: Builder, group: str, section, node: PlannedNode) -> list[dict]:
    statements = _common_statements(b, section, node, _node_secrets(b, head=False))
    if group.startswith("queue/"):
        # A compute node finds its Slurm name in the table by its instance id, and may report on it.
        statements += [
            _statement("NodeName", ["dynamodb:Query"], [
                GetAtt(b.table, "Arn"), Sub("${Table}/index/" + INSTANCE_ID_INDEX, Table=GetAtt(b.table, "Arn"))]),
            _statement("NodeStatus", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                       GetAtt(b.table, "Arn")),
            _statement("ClusterStack", ["cloudformation:DescribeStackResource"], Ref("AWS::StackId")),
            _statement("Describe", ["ec2:DescribeInstanceAttribute"], "*"),
        ]
    return statements


def add_head_node_policy(b: Builder) -> None:
    """The head node's policy (after the launch templates, which it names)."""
    role = b.roles.get(HEAD)
    if role is None:
        return
    config = b.config
    tag_condition = {"StringEquals": {f"ec2:ResourceTag/{TAG_CLUSTER}": b.name}}
    launch_resources: list = []
    for template in b.launch_templates.values():
        launch_resources.append(Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:launch-template/"
                                    "${Template}", Template=Ref(template)))
    subnets = sorted({subnet for queue in config.scheduling.slurm_queues for subnet in queue.networking.subnet_ids})
    launch_resources += [b.arn("ec2", f"subnet/{subnet}") for subnet in subnets]
    groups = []
    for queue in config.scheduling.slurm_queues:
        groups += [group for group in b.node_security_groups[queue_key(queue.name)] if group not in groups]
    launch_resources += [Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/${Group}",
                             Group=group) for group in groups]
    images = sorted({b.image(queue_key(queue.name)).image_id for queue in config.scheduling.slurm_queues})
    launch_resources += [b.arn("ec2", f"image/{image}", account=False) for image in images]
    launch_resources += [b.arn("ec2", kind) for kind in LAUNCHED]
    if b.key_name():
        launch_resources.append(b.arn("ec2", f"key-pair/{b.key_name()}"))
    for group in b.placement_groups:
        launch_resources.append(Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:placement-group/"
                                    "${Group}", Group=group))
    for reservation in sorted(set(b.capacity_reservations)):
        if reservation.startswith("arn:"):
            launch_resources.append(reservation)  # a resource group of capacity reservations
        else:
            launch_resources.append(b.arn("ec2", f"capacity-reservation/{reservation}"))
    statements = [
        _statement("DescribeFleet", ["ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
                                     "ec2:DescribeInstanceAttribute", "ec2:DescribeInstanceTypes",
                                     "ec2:DescribeVolumes", "ec2:DescribeCapacityReservations"], "*"),
        _statement("LaunchComputeNodes", ["ec2:RunInstances", "ec2:CreateFleet"], launch_resources),
        _statement("TagLaunchedResources", ["ec2:CreateTags"], [b.arn("ec2", kind) for kind in LAUNCHED],
                   {"StringEquals": {"ec2:CreateAction": ["RunInstances", "CreateFleet"]}}),
        _statement("NameClusterInstances", ["ec2:CreateTags"], b.arn("ec2", "instance/*"), tag_condition),
        _statement("TerminateClusterInstances", ["ec2:TerminateInstances"], b.arn("ec2", "instance/*"),
                   tag_condition),
        _statement("ClusterTable", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                    "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
                                    "dynamodb:Query", "dynamodb:Scan"], _table_arns(b)),
        _statement("ClusterStack", ["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource",
                                    "cloudformation:SignalResource"], Ref("AWS::StackId")),
        _statement("ListClusterFiles", ["s3:ListBucket"], b.bucket_arn(),
                   {"StringLike": {"s3:prefix": f"{b.facts.prefix}/*"}}),
    ]
    if b.passed_roles:
        statements.append(_statement("PassComputeRoles", ["iam:PassRole"], b.passed_roles,
                                     {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}))
    statements += _common_statements(b, config.head_node, b.plan.head, _node_secrets(b, head=True))
    policy = b.add(iam.PolicyType("HeadNodePolicy", PolicyName="ParaClusterHeadNode", Roles=[Ref(role)],
                                  PolicyDocument={"Version": "2012-10-17", "Statement": statements}))
    b.head_dependencies.append(policy.title)

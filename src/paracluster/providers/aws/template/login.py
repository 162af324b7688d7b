"""Login pools in the template: per pool a launch template, a network load balancer with a TCP target group and
listener per port (22, then the pool's extra ports), and an Auto Scaling group of `Count` nodes behind it.

The Auto Scaling group waits for the head node's wait condition (login nodes need the head node's munge key and
Slurm configuration), and a termination lifecycle hook gives a leaving node `GracetimePeriod` minutes, as in
ParallelCluster. The balancer is internet-facing when the pool's subnet gives public addresses, else internal.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, autoscaling, ec2
from troposphere import elasticloadbalancingv2 as elb

from paracluster.providers.aws.naming import TAG_LOGIN_POOL, TAG_NODE_TYPE, launch_template_name
from paracluster.providers.aws.template.context import Builder, pool_key
from paracluster.providers.aws.template.nodes import metadata_options, tag_specifications
from paracluster.providers.aws.template.userdata import user_data

SSH_PORT = 22


def pool_ports(b: Builder, pool_name: str) -> tuple[int, ...]:
    return (SSH_PORT, *(port for port in b.facts.extra_login_ports.get(pool_name, ()) if port != SSH_PORT))


def add_login_pools(b: Builder) -> dict[str, dict]:
    """Add every pool; return {pool name: {"balancer": resource, "target_groups": {port: resource}}}."""
    added = {}
    for pool in b.config.login_nodes.pools:
        added[pool.name] = _pool(b, pool)
    return added


def _pool(b: Builder, pool) -> dict:
    group = pool_key(pool.name)
    image = b.image(group)
    node_tags = {TAG_NODE_TYPE: "LoginNode", TAG_LOGIN_POOL: pool.name}
    data = {
        "ImageId": image.image_id,
        "InstanceType": pool.instance_type,
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=b.instance_profiles[group]),
        "SecurityGroupIds": b.node_security_groups[group],
        "MetadataOptions": metadata_options(b),
        # Login pools have no LocalStorage section: an encrypted gp3 root volume of the AMI's size.
        "BlockDeviceMappings": [ec2.LaunchTemplateBlockDeviceMapping(
            DeviceName=image.root_device,
            Ebs=ec2.EBSBlockDevice(VolumeType="gp3", Encrypted=True, DeleteOnTermination=True))],
        "TagSpecifications": tag_specifications(b, node_tags, name="LoginNode"),
        "UserData": user_data(b, "LoginNode", {"pool_name": pool.name}),
    }
    # LoginNodes/Pools/Ssh/KeyName was removed in ParallelCluster 3.15: login nodes take the head node's key pair.
    if b.key_name():
        data["KeyName"] = b.key_name()
    template = b.add(ec2.LaunchTemplate(
        b.unique_id("LoginPool", pool.name, "LaunchTemplate"),
        LaunchTemplateName=launch_template_name(b.name, "login", pool.name),
        LaunchTemplateData=ec2.LaunchTemplateData(**data),
        TagSpecifications=[ec2.TagSpecifications(ResourceType="launch-template", Tags=b.tags())]))
    subnets = list(pool.networking.subnet_ids)
    public = all(subnet in b.facts.public_subnets for subnet in subnets)
    balancer = b.add(elb.LoadBalancer(
        b.unique_id("LoginPool", pool.name, "LoadBalancer"), Type="network",
        Scheme="internet-facing" if public else "internal", Subnets=subnets, Tags=b.tags(node_tags)))
    target_groups = {}
    for port in pool_ports(b, pool.name):
        label = "" if port == SSH_PORT else f"Port{port}"
        target_group = b.add(elb.TargetGroup(
            b.unique_id("LoginPool", pool.name, "TargetGroup", label), Protocol="TCP", Port=port,
            TargetType="instance", VpcId=b.facts.vpc_id, HealthCheckProtocol="TCP", Tags=b.tags(node_tags)))
        b.add(elb.Listener(
            b.unique_id("LoginPool", pool.name, "Listener", label), LoadBalancerArn=Ref(balancer), Protocol="TCP",
            Port=port, DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]))
        target_groups[port] = target_group
    count = str(pool.count)
    scaling_group = b.add(autoscaling.AutoScalingGroup(
        b.unique_id("LoginPool", pool.name, "AutoScalingGroup"),
        MinSize=count, MaxSize=count, DesiredCapacity=count, VPCZoneIdentifier=subnets,
        LaunchTemplate=autoscaling.LaunchTemplateSpecification(LaunchTemplateId=Ref(template),
                                                               Version=GetAtt(template, "LatestVersionNumber")),
        TargetGroupARNs=[Ref(target_group) for target_group in target_groups.values()],
        Tags=autoscaling.Tags(**b.cluster_tags(), **{TAG_LOGIN_POOL: pool.name}),
        DependsOn=b.wait_condition.title))
    b.add(autoscaling.LifecycleHook(
        b.unique_id("LoginPool", pool.name, "TerminationHook"), AutoScalingGroupName=Ref(scaling_group),
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", DefaultResult="CONTINUE",
        HeartbeatTimeout=pool.gracetime_period * 60))
    return {"balancer": balancer, "target_groups": target_groups}


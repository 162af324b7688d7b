"""The head node in the template: its network interface (an address known before it boots), an Elastic IP when
asked, its launch template and instance, the wait condition it reports to, and its shared EBS volumes."""

from __future__ import annotations

from troposphere import GetAtt, Ref, cloudformation, ec2

from paracluster.providers.aws.naming import TAG_NODE_TYPE, launch_template_name
from paracluster.providers.aws.template.context import HEAD, Builder
from paracluster.providers.aws.template.nodes import cpu_options, metadata_options, root_volume, tag_specifications
from paracluster.providers.aws.template.userdata import user_data

# EBS device names for shared volumes on the head node, in order (ParallelCluster's /dev/sdf onwards).
EBS_DEVICES = [f"/dev/sd{letter}" for letter in "fghijklmnopqrstuvwxyz"]


def add_head_node(b: Builder) -> None:
    head = b.config.head_node
    networking = head.networking
    interface = b.add(ec2.NetworkInterface(
        "HeadNodeNetworkInterface", Description=f"Head node of cluster {b.name}", SubnetId=networking.subnet_id,
        GroupSet=b.node_security_groups[HEAD], Tags=b.tags({TAG_NODE_TYPE: "HeadNode"}, name="HeadNode")))
    _elastic_ip(b, networking.elastic_ip, interface)
    b.wait_handle = b.add(cloudformation.WaitConditionHandle("HeadNodeWaitConditionHandle"))
    image = b.image(HEAD)
    root = head.local_storage.root_volume
    data = {
        "ImageId": image.image_id,
        "InstanceType": head.instance_type,
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=b.instance_profiles[HEAD]),
        "NetworkInterfaces": [ec2.NetworkInterfaces(DeviceIndex=0, NetworkInterfaceId=Ref(interface))],
        "MetadataOptions": metadata_options(b),
        "BlockDeviceMappings": [root_volume(image.root_device, root, root.delete_on_termination)],
        "TagSpecifications": tag_specifications(b, {TAG_NODE_TYPE: "HeadNode"}, name="HeadNode"),
        "UserData": user_data(b, "HeadNode", signal=True),
    }
    if b.key_name():
        data["KeyName"] = b.key_name()
    cpu = cpu_options(b, head.instance_type, head.disable_simultaneous_multithreading)
    if cpu is not None:
        data["CpuOptions"] = cpu
    template = b.add(ec2.LaunchTemplate(
        "HeadNodeLaunchTemplate", LaunchTemplateName=launch_template_name(b.name, "head-node"),
        LaunchTemplateData=ec2.LaunchTemplateData(**data),
        TagSpecifications=[ec2.TagSpecifications(ResourceType="launch-template", Tags=b.tags())]))
    depends = {"DependsOn": sorted(set(b.head_dependencies))} if b.head_dependencies else {}
    b.head_instance = b.add(ec2.Instance(
        "HeadNode",
        LaunchTemplate=ec2.LaunchTemplateSpecification(LaunchTemplateId=Ref(template),
                                                       Version=GetAtt(template, "LatestVersionNumber")),
        **depends,
    ))
    b.wait_condition = b.add(cloudformation.WaitCondition(
        "HeadNodeWaitCondition", Handle=Ref(b.wait_handle),
        Timeout=str(b.config.dev_settings.timeouts.head_node_bootstrap_timeout), DependsOn="HeadNode"))
    for device, (name, volume) in enumerate(b.volume_ids):
        b.add(ec2.VolumeAttachment(b.unique_id("Attach", name, str(device)), InstanceId=Ref(b.head_instance),
                                   VolumeId=volume, Device=EBS_DEVICES[device]))


def _elastic_ip(b: Builder, setting, interface) -> None:
    """ElasticIp true: a new Elastic IP; an allocation id: that one; false or unset: none."""
    if setting is True or (isinstance(setting, str) and setting.lower() == "true"):
        address = b.add(ec2.EIP("HeadNodeElasticIp", Domain="vpc", Tags=b.tags(name="HeadNode")))
        allocation = GetAtt(address, "AllocationId")
    elif isinstance(setting, str) and setting.startswith("eipalloc-"):
        allocation = setting
    else:
        return
    b.add(ec2.EIPAssociation("HeadNodeElasticIpAssociation", AllocationId=allocation,
                             NetworkInterfaceId=Ref(interface)))

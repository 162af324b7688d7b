"""Compute launch templates of the template: one per compute resource (`<cluster>-<queue>-<compute resource>`).

The head node's fleet (part 2) launches compute instances from these with RunInstances or CreateFleet, passing the
subnet and, for flexible compute resources, the instance types. A template carries the AMI, the instance type when
there is one, the instance profile, spot or capacity block market options, the capacity reservation, the placement
group, EFA network interfaces, the root volume, IMDS settings, ParallelCluster's tags and the user data.
"""

from __future__ import annotations

from troposphere import ec2

from paracluster.providers.aws.naming import (
    TAG_COMPUTE_RESOURCE, TAG_NODE_TYPE, TAG_QUEUE, launch_template_name,
)
from paracluster.providers.aws.template.context import Builder, queue_key
from paracluster.providers.aws.template.nodes import (
    cpu_options, instance_store, merged_tags, metadata_options, root_volume, tag_specifications,
)
from paracluster.providers.aws.template.userdata import user_data


def add_compute_launch_templates(b: Builder) -> None:
    for queue in b.config.scheduling.slurm_queues:
        for resource in queue.compute_resources:
            _launch_template(b, queue, resource)


def _types(resource) -> list[str]:
    if resource.instances:
        return [item.instance_type for item in resource.instances]
    return [resource.instance_type] if resource.instance_type else []


def _launch_template(b: Builder, queue, resource) -> None:
    group = queue_key(queue.name)
    types = _types(resource)
    info = b.plan.catalog.get(types[0]) if types else None
    image = b.image(group)
    security_groups = b.node_security_groups[group]
    data = {
        "ImageId": image.image_id,
        "IamInstanceProfile": ec2.IamInstanceProfile(Arn=b.instance_profiles[group]),
        "InstanceInitiatedShutdownBehavior": "terminate",  # a compute node that shuts down is gone
        "MetadataOptions": metadata_options(b),
        "BlockDeviceMappings": [root_volume(image.root_device, queue.compute_settings.local_storage.root_volume),
                                *instance_store(len(info.instance_store_disks) if info else 0)],
        "TagSpecifications": tag_specifications(b, {
            **merged_tags(queue, resource), TAG_NODE_TYPE: "Compute", TAG_QUEUE: queue.name,
            TAG_COMPUTE_RESOURCE: resource.name}, name="Compute"),
        "UserData": user_data(b, "ComputeFleet", {"queue_name": queue.name, "compute_resource": resource.name}),
    }
    if len(types) == 1 and not resource.instances:
        data["InstanceType"] = types[0]  # flexible compute resources get their types per launch (CreateFleet)
    if b.key_name():
        data["KeyName"] = b.key_name()
    if b.config.monitoring.detailed_monitoring:
        data["Monitoring"] = ec2.Monitoring(Enabled=True)  # 1-minute EC2 metrics of the compute nodes
    cpu = cpu_options(b, types[0] if len(types) == 1 else None, resource.disable_simultaneous_multithreading)
    if cpu is not None:
        data["CpuOptions"] = cpu
    market = _market_options(queue, resource)
    if market is not None:
        data["InstanceMarketOptions"] = market
    reservation = _reservation(b, queue, resource)
    if reservation is not None:
        data["CapacityReservationSpecification"] = reservation
    placement = _placement_group(b, queue, resource)
    if placement is not None:
        data["Placement"] = ec2.Placement(GroupName=placement)
    public_ip = queue.networking.assign_public_ip
    if resource.efa.enabled:
        cards = max(1, info.network_cards if info else 1)
        data["NetworkInterfaces"] = [
            ec2.NetworkInterfaces(NetworkCardIndex=card, DeviceIndex=0 if card == 0 else 1, InterfaceType="efa",
                                  Groups=security_groups, DeleteOnTermination=True,
                                  **({"AssociatePublicIpAddress": public_ip} if public_ip is not None and card == 0
                                     else {}))
            for card in range(cards)]
    elif public_ip is not None:
        data["NetworkInterfaces"] = [ec2.NetworkInterfaces(DeviceIndex=0, AssociatePublicIpAddress=public_ip,
                                                           Groups=security_groups, DeleteOnTermination=True)]
    else:
        data["SecurityGroupIds"] = security_groups
    template = b.add(ec2.LaunchTemplate(
        b.unique_id("LaunchTemplate", queue.name, resource.name),
        LaunchTemplateName=launch_template_name(b.name, queue.name, resource.name),
        LaunchTemplateData=ec2.LaunchTemplateData(**data),
        TagSpecifications=[ec2.TagSpecifications(ResourceType="launch-template", Tags=b.tags())],
    ))
    b.launch_templates[(queue.name, resource.name)] = template


def _market_options(queue, resource) -> ec2.InstanceMarketOptions | None:
    if queue.capacity_type == "SPOT":
        spot = {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"}
        if resource.spot_price:
            spot["MaxPrice"] = str(resource.spot_price)
        return ec2.InstanceMarketOptions(MarketType="spot", SpotOptions=ec2.SpotOptions(**spot))
    if queue.capacity_type == "CAPACITY_BLOCK":
        return ec2.InstanceMarketOptions(MarketType="capacity-block")
    return None


def _reservation(b: Builder, queue, resource) -> ec2.CapacityReservationSpecification | None:
    target = resource.capacity_reservation_target
    if not target.present:
        target = queue.capacity_reservation_target
    if not target.present:
        return None
    if target.capacity_reservation_id:
        b.capacity_reservations.append(target.capacity_reservation_id)
        spec = ec2.CapacityReservationTarget(CapacityReservationId=target.capacity_reservation_id)
    else:
        b.capacity_reservations.append(target.capacity_reservation_resource_group_arn)
        spec = ec2.CapacityReservationTarget(
            CapacityReservationResourceGroupArn=target.capacity_reservation_resource_group_arn)
    return ec2.CapacityReservationSpecification(CapacityReservationTarget=spec)


def _placement_group(b: Builder, queue, resource):
    """The placement group name: the compute resource's setting, else the queue's; a managed one when enabled."""
    setting = resource.networking.placement_group
    if not setting.present:
        setting = queue.networking.placement_group
    existing = setting.name or setting.id
    if existing:
        b.placement_groups.append(existing)
        return existing
    if not setting.enabled:
        return None
    group = b.add(ec2.PlacementGroup(b.unique_id("PlacementGroup", queue.name, resource.name), Strategy="cluster",
                                     Tags=b.tags()))
    name = b.ref(group)
    b.placement_groups.append(name)
    return name

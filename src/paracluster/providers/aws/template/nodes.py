"""Pieces every launch template of the template shares: root volume, instance metadata, SMT and tags."""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import ec2

from paracluster.providers.aws.template.context import Builder

_VOLUME_TYPES_WITH_IOPS = ("io1", "io2", "gp3")


def root_volume(root_device: str, volume, delete_on_termination: bool = True) -> ec2.LaunchTemplateBlockDeviceMapping:
    """The root volume of a node from a RootVolume section; without Size it keeps the AMI's size."""
    ebs = {"VolumeType": volume.volume_type, "Encrypted": volume.encrypted,
           "DeleteOnTermination": delete_on_termination}
    if volume.size:
        ebs["VolumeSize"] = volume.size
    if volume.volume_type in _VOLUME_TYPES_WITH_IOPS and volume.iops:
        ebs["Iops"] = volume.iops
    if volume.volume_type == "gp3" and volume.throughput:
        ebs["Throughput"] = volume.throughput
    return ec2.LaunchTemplateBlockDeviceMapping(DeviceName=root_device, Ebs=ec2.EBSBlockDevice(**ebs))


def instance_store(disks: int) -> list[ec2.LaunchTemplateBlockDeviceMapping]:
    """Mappings of an instance type's instance store disks (ephemeral0, ...), as ParallelCluster adds them."""
    letters = "bcdefghijklmnopqrstuvwxy"
    return [ec2.LaunchTemplateBlockDeviceMapping(DeviceName=f"/dev/xvdb{letters[index]}",
                                                 VirtualName=f"ephemeral{index}")
            for index in range(min(disks, len(letters)))]


def metadata_options(b: Builder) -> ec2.MetadataOptions:
    """IMDS as `Imds/ImdsSupport` asks: v2.0 requires session tokens (IMDSv2), v1.0 allows both."""
    tokens = "required" if b.config.imds.imds_support == "v2.0" else "optional"
    return ec2.MetadataOptions(HttpEndpoint="enabled", HttpTokens=tokens, HttpPutResponseHopLimit=2)


def cpu_options(b: Builder, instance_type: str | None, disable_smt: bool) -> ec2.CpuOptions | None:
    """One thread per core when DisableSimultaneousMultithreading is set and the type has more."""
    info = b.plan.catalog.get(instance_type) if instance_type else None
    if not disable_smt or info is None or (info.threads_per_core or 1) < 2:
        return None
    return ec2.CpuOptions(CoreCount=info.cores, ThreadsPerCore=1)


def tag_specifications(b: Builder, extra: Mapping[str, str], name: str) -> list[ec2.TagSpecifications]:
    """Tags of the instances and volumes a launch template starts: the cluster's, the node's, and a Name."""
    return [ec2.TagSpecifications(ResourceType=kind, Tags=b.tags(extra, name=name)) for kind in ("instance", "volume")]


def merged_tags(*sections) -> dict[str, str]:
    """Tags of nested sections (queue, then compute resource): the inner one wins, as in ParallelCluster."""
    tags: dict[str, str] = {}
    for section in sections:
        tags.update({tag.key: tag.value for tag in section.tags})
    return tags

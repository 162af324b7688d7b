"""AWS validators of node images: the AMI exists for the node's architecture, and root volumes fit it."""

from __future__ import annotations

from paracluster.config.validate.core import Report, validator
from paracluster.providers.aws.lookups import node_groups
from paracluster.providers.aws.template.context import HEAD, queue_key
from paracluster.providers.aws.validate import KIND, AwsContext


def _image_of(context: AwsContext, custom: str | None, arch: str) -> dict | None:
    if custom:
        return context.lookups.image(custom)
    return context.lookups.base_image(context.config.image.os, arch)


@validator("InstanceTypeBaseAMICompatibleValidator", kind=KIND)
def node_images(context: AwsContext, report: Report) -> None:
    config = context.config
    reported = set()
    for group, custom, where, arch in node_groups(config, context.catalog):
        image = _image_of(context, custom, arch)
        if image is None and (custom or arch) in reported:
            continue
        if image is None and custom:
            reported.add(custom)
            report.error(f"{where}: AMI {custom} does not exist in {context.region}, or the account cannot use it; "
                         "use an AMI id of this region")
        elif image is None:
            reported.add(arch)
            report.error(f"{config.image.where('Os')}: no {config.image.os} base AMI for {arch} was found in "
                         f"{context.region}; set Image/CustomAmi to an AMI of this region")
        elif image.get("Architecture") and image["Architecture"] != arch:
            label = "the head node" if group == HEAD else group.replace("/", " ")
            report.error(f"{where}: AMI {image['ImageId']} is for {image['Architecture']}, but the instance type of "
                         f"{label} is {arch}; use an {arch} AMI")


def _root_volume_sites(config) -> dict[str, object]:
    sites = {HEAD: config.head_node.local_storage.root_volume}
    for queue in config.scheduling.slurm_queues:
        sites[queue_key(queue.name)] = queue.compute_settings.local_storage.root_volume
    return sites


def _image_size(image: dict) -> int | None:
    root = image.get("RootDeviceName")
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == root and "Ebs" in mapping:
            return mapping["Ebs"].get("VolumeSize")
    return None


@validator("RootVolumeSizeValidator", kind=KIND)
def root_volume_sizes(context: AwsContext, report: Report) -> None:
    volumes = _root_volume_sites(context.config)
    for group, custom, _, arch in node_groups(context.config, context.catalog):
        volume = volumes.get(group)
        if volume is None or not volume.size:
            continue
        image = _image_of(context, custom, arch)
        size = _image_size(image) if image else None
        if size and volume.size < size:
            report.error(f"{volume.where('Size')}: {volume.size} GiB is smaller than the {size} GiB of AMI "
                         f"{image['ImageId']}; use at least {size}")

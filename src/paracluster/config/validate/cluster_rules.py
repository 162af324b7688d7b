"""Validators of cluster-wide choices: scheduler and OS, images, node counts, IMDS, DCV, regions and AWS Batch sizes."""

from __future__ import annotations

import re

from paracluster.config.validate.core import Context, Report, validator
from paracluster.config.versions import SUPPORTED_OSES

OSES_BY_SCHEDULER = {"slurm": SUPPORTED_OSES, "awsbatch": ("alinux2", "alinux2023")}
PRIVATE_OSES = ("rocky8", "rocky9")  # ParallelCluster publishes no AMI for these: users build their own
SCHEDULERS_WITH_SECURED_IMDS = ("slurm",)
# Since ParallelCluster 3.14 DCV runs on every OS on both architectures (3.12 had none for alinux2023, and none for
# ubuntu2004 on arm64, which 3.14 removed).
DCV_OSES_BY_ARCHITECTURE = {
    "x86_64": SUPPORTED_OSES,
    "arm64": tuple(os for os in SUPPORTED_OSES if os != "ubuntu2004"),
}
_SMALL_INSTANCE = re.compile(r"(micro)|(nano)")
ALL_IPS = "0.0.0.0/0"
CAPACITY_BLOCK = "CAPACITY_BLOCK"

# Region name prefixes where a feature is not offered (prefix match: us-iso also covers us-isob-east-1), as of
# ParallelCluster 3.16, which no longer checks DCV and offers FSx for Lustre everywhere.
UNSUPPORTED_FEATURE_REGIONS = {
    "AWS Batch": ("ap-northeast-3", "ap-southeast-5", "ap-southeast-7", "us-iso"),
    "FSx for Lustre": (),
    "FSx for OpenZFS": ("us-iso",),
    "FSx for NetApp ONTAP": ("us-iso-w",),
    "Amazon File Cache": ("us-iso",),
}
STORAGE_FEATURES = {
    "FsxLustre": "FSx for Lustre",
    "FsxOpenZfs": "FSx for OpenZFS",
    "FsxOntap": "FSx for NetApp ONTAP",
    "FileCache": "Amazon File Cache",
}


def _os_list(oses) -> str:
    return ", ".join(oses)


@validator("SchedulerOsValidator")
def scheduler_os(context: Context, report: Report) -> None:
    config = context.config
    scheduler, os = config.scheduling.scheduler, config.image.os
    supported = OSES_BY_SCHEDULER.get(scheduler, ())
    if os not in supported:
        report.error(
            f"{config.image.where('Os')}: the {scheduler} scheduler does not support {os}; "
            f"use one of {_os_list(supported)}"
        )


@validator("OsCustomAmiValidator")
def os_custom_ami(context: Context, report: Report) -> None:
    image = context.config.image
    if image.os in PRIVATE_OSES and not image.custom_ami:
        report.error(
            f"{image.where('Os')}: ParallelCluster has no official AMI for {image.os}; build one with "
            "`build-image` and set Image/CustomAmi to it"
        )


@validator("SchedulerDisableSudoAccessForDefaultUserValidator")
def disable_sudo(context: Context, report: Report) -> None:
    config = context.config
    settings = config.deployment_settings
    if settings.present and settings.disable_sudo_access_for_default_user and config.scheduling.scheduler == "awsbatch":
        report.error(
            f"{settings.where('DisableSudoAccessForDefaultUser')}: cannot be used with the awsbatch scheduler; "
            "remove it or use slurm"
        )


@validator("ComputeResourceSizeValidator")
def compute_resource_size(context: Context, report: Report) -> None:
    for queue in context.config.scheduling.slurm_queues:
        block = queue.capacity_type == CAPACITY_BLOCK
        for resource in queue.compute_resources:
            low, high = resource.min_count, resource.max_count
            if high < low:
                report.error(
                    f"{resource.where('MinCount')}: {low} is more than MaxCount {high}; make MinCount at most MaxCount"
                )
            # A capacity block reserves a fixed number of instances, so the node count cannot float.
            if block and high != low:
                report.error(
                    f"{resource.where('MaxCount')}: {high} differs from MinCount {low} in a CAPACITY_BLOCK queue; "
                    "set both to the number of reserved instances"
                )
            if block and low == 0:
                report.error(
                    f"{resource.where('MinCount')}: is 0 in a CAPACITY_BLOCK queue; "
                    "set it to the number of reserved instances"
                )


@validator("HeadNodeImdsValidator")
def head_node_imds(context: Context, report: Report) -> None:
    config = context.config
    scheduler, imds = config.scheduling.scheduler, config.head_node.imds
    if imds.secured and scheduler not in SCHEDULERS_WITH_SECURED_IMDS:
        default = "" if imds.is_set("Secured") else " (the default)"
        report.error(
            f"{imds.where('Secured')}: is true{default} but the {scheduler} scheduler cannot run with secured IMDS; "
            "set HeadNode/Imds/Secured to false"
        )


@validator("IntelHpcOsValidator")
def intel_hpc_os(context: Context, report: Report) -> None:
    intel = context.config.additional_packages.intel_software
    if intel.intel_hpc_platform:
        # The Intel HPC Platform packages exist only for centos7, which no supported OS list includes any more.
        report.error(
            f"{intel.where('IntelHpcPlatform')}: Intel HPC Platform software needs centos7, "
            f"which is not supported with Image/Os {context.config.image.os}; remove IntelHpcPlatform"
        )


def node_architecture(context: Context, instance_type: str) -> str | None:
    """The architecture ParallelCluster derives for a node type (x86_64 or arm64), or None when unknown."""
    facts = context.instance_type(instance_type)
    return facts.architecture if facts is not None else None


def _check_dcv(context: Context, report: Report, node) -> None:
    dcv = node.dcv
    if not dcv.enabled:
        return
    os = context.config.image.os
    architecture = node_architecture(context, node.instance_type)
    if architecture is not None and os not in DCV_OSES_BY_ARCHITECTURE[architecture]:
        report.error(
            f"{dcv.where('Enabled')}: DCV does not run on {os} with {architecture} instances; use one of "
            f"{_os_list(DCV_OSES_BY_ARCHITECTURE[architecture])} or disable DCV"
        )
    if _SMALL_INSTANCE.search(node.instance_type):
        report.warning(
            f"{node.where('InstanceType')}: {node.instance_type} may become unstable with the DCV desktop packages; "
            "use an instance type with at least 1.7 GB of memory for DCV"
        )
    if dcv.allowed_ips == ALL_IPS:
        report.warning(
            f"{dcv.where('AllowedIps')}: DCV port {dcv.port} is open to the whole internet ({ALL_IPS}); "
            "set AllowedIps to the addresses that need access"
        )
    facts = context.instance_type(node.instance_type)
    if facts is not None and not facts.gpus:  # ParallelCluster 3.14
        report.warning(
            f"{node.where('InstanceType')}: instance type {node.instance_type} has no GPU; DCV desktops work best "
            "on a GPU instance type"
        )


@validator("DcvValidator")
def dcv(context: Context, report: Report) -> None:
    config = context.config
    nodes = [config.head_node, *config.login_nodes.pools]
    for node in nodes:
        if node.dcv.present:
            _check_dcv(context, report, node)


@validator("LoginNodesSchedulerValidator")
def login_nodes_scheduler(context: Context, report: Report) -> None:
    config = context.config
    scheduler = config.scheduling.scheduler
    if config.login_nodes.present and scheduler != "slurm":
        report.error(
            f"{config.login_nodes.where()}: login nodes need the slurm scheduler, not {scheduler}; "
            "remove LoginNodes or use slurm"
        )


@validator("RootVolumeEncryptionConsistencyValidator")
def root_volume_encryption(context: Context, report: Report) -> None:
    queues = context.config.scheduling.slurm_queues
    if not queues:
        return
    reference = queues[0]
    expected = reference.compute_settings.local_storage.root_volume.encrypted
    for queue in queues[1:]:
        volume = queue.compute_settings.local_storage.root_volume
        if volume.encrypted != expected:
            report.warning(
                f"{volume.where('Encrypted')}: queue '{queue.name}' has root volume encryption "
                f"{str(volume.encrypted).lower()} but queue '{reference.name}' has {str(expected).lower()}; "
                "use one value in every queue, as a Service Control Policy enforcing encryption would block some"
            )


@validator("MixedSecurityGroupOverwriteValidator")
def mixed_security_groups(context: Context, report: Report) -> None:
    config = context.config
    if config.scheduling.scheduler != "slurm":
        return
    head = config.head_node.networking
    head_groups = head.raw.get("SecurityGroups")  # None when absent; an explicit [] never warns, as in ParallelCluster
    queues = config.scheduling.slurm_queues
    custom = [queue for queue in queues if queue.networking.security_groups]
    managed = [queue for queue in queues if not queue.networking.security_groups]
    advice = "make sure every node can reach every other node, or use AdditionalSecurityGroups instead"
    if head_groups and managed:
        report.warning(
            f"{head.where('SecurityGroups')}: the head node replaces the managed security groups but queue "
            f"'{managed[0].name}' keeps them; {advice}"
        )
    elif head_groups is None and custom:
        report.warning(
            f"{custom[0].networking.where('SecurityGroups')}: queue '{custom[0].name}' replaces the managed "
            f"security groups but the head node keeps them; {advice}"
        )


def _feature_uses(config) -> list[tuple[str, str]]:
    """(feature, where) for each place ParallelCluster checks that a feature exists in the cluster's region."""
    uses = []
    for storage in config.shared_storage:
        feature = STORAGE_FEATURES.get(storage.storage_type)
        if feature:
            uses.append((feature, storage.where("StorageType")))
    if config.scheduling.scheduler == "awsbatch":
        uses.append(("AWS Batch", config.scheduling.where("Scheduler")))
    return uses


@validator("FeatureRegionValidator")
def feature_region(context: Context, report: Report) -> None:
    config = context.config
    region = context.region
    if not region:  # the region comes from the provider then; it checks this itself
        return
    for feature, where in _feature_uses(config):
        if any(region.startswith(prefix) for prefix in UNSUPPORTED_FEATURE_REGIONS[feature]):
            report.error(f"{where}: {feature} is not available in region {region}; remove it or use another region")


@validator("AwsBatchComputeResourceSizeValidator")
def awsbatch_size(context: Context, report: Report) -> None:
    for queue in context.config.scheduling.aws_batch_queues:
        for resource in queue.compute_resources:
            low, desired, high = resource.min_vcpus, resource.desired_vcpus, resource.max_vcpus
            if desired < low:
                report.error(
                    f"{resource.where('DesiredvCpus')}: {desired} is less than MinvCpus {low}; "
                    "make DesiredvCpus at least MinvCpus"
                )
            if desired > high:
                report.error(
                    f"{resource.where('DesiredvCpus')}: {desired} is more than MaxvCpus {high}; "
                    "make DesiredvCpus at most MaxvCpus"
                )
            if high < low:
                report.error(
                    f"{resource.where('MaxvCpus')}: {high} is less than MinvCpus {low}; make MaxvCpus at least MinvCpus"
                )



@validator("KeyPairValidator")
def key_pair(context: Context, report: Report) -> None:
    # Whether the key pair exists is a provider check; without a name nobody can log in with SSH at all.
    ssh = context.config.head_node.ssh
    if not ssh.key_name:
        report.warning(
            f"{ssh.where()}: no KeyName is set, so no key pair can log in to the head node with SSH; "
            "set HeadNode/Ssh/KeyName to a key pair name"
        )

"""Validators of image configs (build-image): build components, networking, and the AMI's root volume.

Provider checks left out here because they need AWS: InstanceTypeBaseAMICompatibleValidator, AMIVolumeSizeValidator,
SecurityGroupsValidator, KmsKeyValidator, RoleValidator, InstanceProfileValidator, IamPolicyValidator,
AdditionalIamPolicyValidator, LambdaFunctionsVpcConfigValidator, S3BucketValidator and S3BucketRegionValidator.
"""

from __future__ import annotations

from paracluster.config.schema.image import MAX_COMPONENTS
from paracluster.config.validate.core import Context, Report, validator
from paracluster.config.validate.ebs_rules import SIZE_BOUNDS

# EC2 Image Builder always gives the new AMI a gp3 root volume.
ROOT_VOLUME_TYPE = "gp3"


@validator("ComponentsValidator", kind="image")
def component_count(context: Context, report: Report) -> None:
    build = context.config.build
    count = len(build.components)
    if count > MAX_COMPONENTS:
        report.error(
            f"{build.where('Components')}: has {count} components; an image build can have at most {MAX_COMPONENTS}"
        )


@validator("SecurityGroupsAndSubnetValidator", kind="image")
def subnet_needs_security_groups(context: Context, report: Report) -> None:
    build = context.config.build
    if build.subnet_id and not build.security_group_ids:
        report.error(
            f"{build.where('SubnetId')}: a build in subnet {build.subnet_id} also needs SecurityGroupIds for its "
            "instance; add them"
        )


@validator("EbsVolumeTypeSizeValidator", kind="image")
def root_volume_size(context: Context, report: Report) -> None:
    volume = context.config.image.root_volume
    size = volume.size
    if not size:  # ParallelCluster checks only a size that is given; 0 means none
        return
    low, high = SIZE_BOUNDS[ROOT_VOLUME_TYPE]
    if size > high:
        report.error(f"{volume.where('Size')}: {size} GiB is more than the {high} GiB a gp3 root volume allows")
    elif size < low:
        report.error(f"{volume.where('Size')}: {size} GiB is less than the {low} GiB a gp3 root volume needs")


@validator("KmsKeyIdEncryptedValidator", kind="image")
def root_volume_kms_key(context: Context, report: Report) -> None:
    volume = context.config.image.root_volume
    if volume.kms_key_id and not volume.encrypted:
        where = volume.where("Encrypted") if volume.is_set("Encrypted") else volume.where("KmsKeyId")
        default = "" if volume.is_set("Encrypted") else " (the default)"
        report.error(
            f"{where}: KmsKeyId {volume.kms_key_id} is set but Encrypted is false{default}; set Encrypted: true or "
            "remove KmsKeyId"
        )

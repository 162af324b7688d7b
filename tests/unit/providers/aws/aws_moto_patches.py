"""Test-only patches for gaps of moto 5.2.1's CloudFormation that the cluster template runs into.

1. `AWS::ElasticLoadBalancingV2::LoadBalancer` drops `Type`, so every balancer is an application one and the login
   pools' TCP listeners fail; the patch passes Type (and Scheme) on.
2. `AWS::FSx::FileSystem` has no CloudFormation model (moto's FSx API exists); the patch adds one over the API.
3. `AWS::EC2::Instance` ignores `LaunchTemplate`; the patch resolves the head node's launch template (AMI, type,
   key, network interface, instance tags, instance profile), as CloudFormation does.
4. A block device mapping without VolumeSize (EC2 then takes the AMI's size) makes moto fail with
   MissingParameter size/snapshot; the patch gives such volumes the size of moto's own AMI snapshots (15 GiB).

They are checked against the pinned moto version: a moto upgrade must re-check each gap and drop fixed ones.
"""

from __future__ import annotations

import moto
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.elastic_block_store import EBSBackend
from moto.ec2.models.instances import Instance
from moto.elbv2 import models as elbv2_models
from moto.fsx.models import fsx_backends

MOTO_VERSION = "5.2.1"


def _load_balancer_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json["Properties"]
    return elbv2_models.elbv2_backends[account_id][region_name].create_load_balancer(
        resource_name, properties.get("SecurityGroups"), properties.get("Subnets"),
        scheme=properties.get("Scheme", "internet-facing"), loadbalancer_type=properties.get("Type"))


class FsxFileSystemModel(CloudFormationModel):
    """AWS::FSx::FileSystem on moto's FSx API backend."""

    __module__ = "moto.fsx.cfn_patch"  # moto's model map derives the service name from the module path

    def __init__(self, file_system):
        self.file_system = file_system

    @staticmethod
    def cloudformation_type():
        return "AWS::FSx::FileSystem"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.file_system.file_system_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        file_system = fsx_backends[account_id][region_name].create_file_system(
            client_request_token=None, file_system_type=properties["FileSystemType"],
            storage_capacity=properties.get("StorageCapacity"), storage_type=properties.get("StorageType"),
            subnet_ids=properties["SubnetIds"], security_group_ids=properties.get("SecurityGroupIds"),
            tags=properties.get("Tags"), kms_key_id=properties.get("KmsKeyId"), windows_configuration=None,
            lustre_configuration=properties.get("LustreConfiguration"), ontap_configuration=None,
            file_system_type_version=properties.get("FileSystemTypeVersion"), open_zfs_configuration=None)
        return cls(file_system)

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("DNSName", "LustreMountName", "ResourceARN")

    def get_cfn_attribute(self, attribute_name):
        return {"DNSName": self.file_system.dns_name, "LustreMountName": "fsx",
                "ResourceARN": self.file_system.resource_arn}[attribute_name]

    def delete(self, account_id, region_name):
        fsx_backends[account_id][region_name].delete_file_system(self.file_system.file_system_id, None, None, None,
                                                                 None)


_original_instance_from_cfn = Instance.create_from_cloudformation_json.__func__


def _instance_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = dict(cloudformation_json["Properties"])
    spec = properties.pop("LaunchTemplate", None)
    if spec:
        backend = ec2_backends[account_id][region_name]
        data = backend.get_launch_template(spec["LaunchTemplateId"]).latest_version().data
        resolved = {key: data[key] for key in ("ImageId", "InstanceType", "KeyName") if key in data}
        for interface in data.get("NetworkInterfaces", []):
            if interface.get("NetworkInterfaceId"):
                eni = backend.get_network_interface(interface["NetworkInterfaceId"])
                resolved.update(SubnetId=eni.subnet.id, PrivateIpAddress=eni.private_ip_address,
                                SecurityGroups=[group.id for group in eni.group_set])
        for spec_item in data.get("TagSpecifications", []):
            if spec_item.get("ResourceType") == "instance":
                resolved["Tags"] = spec_item.get("Tags", [])
        profile = (data.get("IamInstanceProfile") or {}).get("Arn")
        if profile:
            resolved["IamInstanceProfile"] = profile.rsplit("/", 1)[-1]
        properties = {**resolved, **properties}
    return _original_instance_from_cfn(cls, resource_name, {**cloudformation_json, "Properties": properties},
                                       account_id, region_name, **kwargs)


_original_create_volume = EBSBackend.create_volume
AMI_VOLUME_GIB = 15


def _create_volume(self, size=None, zone_name=None, snapshot_id=None, *args, **kwargs):
    if size is None and snapshot_id is None:
        size = AMI_VOLUME_GIB
    return _original_create_volume(self, size, zone_name, snapshot_id, *args, **kwargs)


def apply() -> None:
    assert moto.__version__ == MOTO_VERSION, f"re-check these patches for moto {moto.__version__}"
    elbv2_models.FakeLoadBalancer.create_from_cloudformation_json = classmethod(_load_balancer_from_cfn)
    Instance.create_from_cloudformation_json = classmethod(_instance_from_cfn)
    EBSBackend.create_volume = _create_volume
    # The model maps are cached on first use; rebuild them so that the FSx model is found.
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
